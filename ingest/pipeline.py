"""Files in, indexed passages out: hash → registry (pending) → parse in the worker → split → embed → store → indexed.

A document is `indexed` only after all its chunks are stored. Any failure removes its chunks. A crash leaves it
`pending`, and `recover()` (run before every ingest) removes its chunks and indexes it again.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingest.page_passages import page_passages, pages_from_chunks
from ingest.reading import ParsedDocument, ReadFailure
from ingest.splitter import TokenSplitter
from ingest.worker import ParseWorker
from rag.embedders import Embedder, document_title, embedding_text
from storage.keyword_index import KeywordIndex
from storage.records import Chunk, DocState, DocumentRecord, FileResult
from storage.registry import Registry
from storage.vector_store import VectorStore

EMBED_BATCH = 60  # chunks embedded and stored per step (5 model batches of 12): bounds memory on long documents


@dataclass(frozen=True)
class Progress:
    """One step of an ingest run, for progress bars."""

    file: Path
    index: int  # 0-based position of the file in this run
    total: int
    pages: int = 0  # pages of this file embedded so far
    file_pages: int = 0  # pages of this file (known once it is parsed)
    result: FileResult | None = None  # set when the file is finished


ProgressCallback = Callable[[Progress], None]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def discover(paths: Iterable[Path]) -> list[Path]:
    """Files named, and files under folders named (recursively, skipping hidden ones), in a stable order."""
    return [path for path, _ in discover_with_keys(paths)]


def discover_with_keys(paths: Iterable[Path]) -> list[tuple[Path, str]]:
    """Each file with its source key — its path inside the folder named, or its name when named itself. A file
    with the same key and new content later becomes the next version of the same document."""
    found: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found.extend((Path(root) / f, (Path(root) / f).relative_to(path).as_posix())
                             for f in sorted(files) if not f.startswith("."))
        else:
            found.append((path, path.name))
    return found


def file_date(path: Path) -> str:
    """The file's own date (last modified, UTC) as YYYY-MM-DD; the user can set another."""
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC).date().isoformat()
    except OSError:
        return ""


def fill_passage_index(registry: Registry, store: VectorStore, passages: KeywordIndex) -> int:
    """Keyword entries for indexed documents that have none (indexed while keyword search was kept per node), from
    their stored chunks. Returns how many documents it filled; safe to run beside ingests, as fill_page_index."""
    filled = 0
    for record in registry.documents(state=DocState.INDEXED):
        if passages.count(record.collection, record.id) == 0:
            chunks = store.get_document_chunks(record.collection, record.id)
            passages.add(chunks, [document_title(c.file_name) for c in chunks])
            filled += bool(chunks)
    return filled


def fill_page_index(registry: Registry, store: VectorStore, pages: KeywordIndex) -> int:
    """Page passages for indexed documents that have none (indexed before the page index existed), put together
    from their stored chunks. Returns how many documents it filled.

    Needs no ingest lock, so a search never waits for an ingest: a document being indexed is pending (its pages come
    with it), pages of a document deleted meanwhile are never shown (searches return passages of indexed documents
    only), and filling a document twice replaces its pages."""
    filled = 0
    for record in registry.documents(state=DocState.INDEXED):
        if pages.count(record.collection, record.id) == 0:
            passages = pages_from_chunks(store.get_document_chunks(record.collection, record.id))
            pages.add(passages, [document_title(p.file_name) for p in passages])
            filled += bool(passages)
    return filled


class IngestPipeline:
    def __init__(self, registry: Registry, store: VectorStore, keywords: KeywordIndex, embedder: Embedder,
                 splitter: TokenSplitter, worker: ParseWorker, *, max_file_bytes: int, lock_path: Path,
                 pages: KeywordIndex | None = None) -> None:
        self.registry = registry
        self.store = store
        self.keywords = keywords
        self.pages = pages  # whole pages for page-level BM25 (see ingest.page_passages)
        self.embedder = embedder
        self.splitter = splitter
        self.worker = worker
        self.max_file_bytes = max_file_bytes
        self.lock_path = lock_path

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One ingest at a time per data folder (across processes), and per shared PostgreSQL registry; a killed
        process releases both locks."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock_path.open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                with self.registry.exclusive("confidant-ingest"):
                    yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # --- public -----------------------------------------------------------------------
    def ingest(self, paths: Iterable[Path], collection: str,
               on_progress: ProgressCallback | None = None) -> list[FileResult]:
        """Ingest files and folders. Parsing of the next file overlaps embedding of the current one."""
        return self.ingest_keyed(discover_with_keys(paths), collection, on_progress)

    def ingest_keyed(self, files: list[tuple[Path, str]], collection: str,
                     on_progress: ProgressCallback | None = None) -> list[FileResult]:
        """Ingest files with their source keys (see discover_with_keys)."""
        with self._exclusive():
            self._recover()
            return self._ingest(files, collection, on_progress)

    def _ingest(self, keyed: list[tuple[Path, str]], collection: str,
                on_progress: ProgressCallback | None) -> list[FileResult]:
        results: list[FileResult] = []
        files = [path for path, _ in keyed]
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="confidant-parse") as parser:
            for index, (path, job) in enumerate(self._prefetch(keyed, collection, parser)):
                if on_progress:
                    on_progress(Progress(path, index, len(files)))
                result = self._finish_file(path, collection, job, index, len(files), on_progress)
                results.append(result)
                if on_progress:
                    on_progress(Progress(path, index, len(files), pages=result.pages, result=result))
        return results

    def _recover(self) -> list[FileResult]:
        results = []
        for record in self.registry.documents(state=DocState.PENDING):
            self._remove_chunks(record.collection, record.id)
            source = Path(record.source_path)
            if source.is_file() and sha256_file(source) == record.id:
                self.registry.delete(record.collection, record.id)
                results.append(self._ingest([(source, record.source_key or source.name)], record.collection,
                                            None)[0])
            else:
                self.registry.finish(record.collection, record.id, DocState.FAILED,
                                     "interrupted while indexing and the original file is no longer there")
        return results

    def delete(self, collection: str, document_id: str) -> bool:
        """Remove a document's chunks, then its record. Returns False when it was not there."""
        if self.registry.get(collection, document_id) is None:
            return False
        with self._exclusive():
            self._remove_chunks(collection, document_id)
            self.registry.delete(collection, document_id)
        return True

    def _remove_chunks(self, collection: str, document_id: str) -> None:
        self.store.delete_document(collection, document_id)
        self.keywords.delete_document(collection, document_id)
        if self.pages is not None:
            self.pages.delete_document(collection, document_id)

    # --- steps ------------------------------------------------------------------------
    def _prefetch(self, files: list[tuple[Path, str]], collection: str,
                  parser: ThreadPoolExecutor) -> Iterator[tuple[Path, _Prepared]]:
        pending: Future[_Prepared] | None = None
        for i, (path, key) in enumerate(files):
            job = pending.result() if pending is not None else self._prepare(path, key, collection)
            pending = parser.submit(self._prepare, *files[i + 1], collection) if i + 1 < len(files) else None
            yield path, job

    def _prepare(self, path: Path, key: str, collection: str) -> _Prepared:
        """Check, hash and parse a file (no writes). Runs ahead of embedding in a helper thread."""
        prepared = self._check_and_parse(path, collection)
        prepared.key = key
        existing = self.registry.get(collection, prepared.doc_id) if prepared.doc_id else None
        if (prepared.result is not None and prepared.result.state is DocState.DUPLICATE and existing is not None
                and not existing.current and existing.source_key == key):
            # an earlier version's content came back: it becomes the current version again
            prepared.result = FileResult(path.name, existing.id, collection, DocState.INDEXED,
                                         f"same content as version {existing.version}; current again",
                                         existing.pages, existing.chunks)
            prepared.restore = True
        return prepared

    def _check_and_parse(self, path: Path, collection: str) -> _Prepared:
        name = path.name
        try:
            size = path.stat().st_size
        except OSError as exc:
            return _Prepared(FileResult(name, "", collection, DocState.INVALID, f"cannot read the file: {exc.strerror}"))
        if not path.is_file():
            return _Prepared(FileResult(name, "", collection, DocState.INVALID, "not a regular file"))
        try:
            doc_id = sha256_file(path)
        except OSError as exc:
            return _Prepared(FileResult(name, "", collection, DocState.INVALID, f"cannot read the file: {exc.strerror}"))
        if size > self.max_file_bytes:
            reason = f"{size / 2**20:,.1f} MB is more than the {self.max_file_bytes / 2**20:,.0f} MB limit"
            return _Prepared(FileResult(name, doc_id, collection, DocState.TOO_LARGE, reason), doc_id, size)
        existing = self.registry.get(collection, doc_id)
        if existing is not None and existing.state is DocState.INDEXED:
            reason = f"same content as {existing.file_name}, already indexed"
            return _Prepared(FileResult(name, doc_id, collection, DocState.DUPLICATE, reason,
                                        existing.pages, existing.chunks), doc_id, size)
        try:
            parsed: ParsedDocument | ReadFailure = self.worker.parse(path)
        except ReadFailure as failure:
            parsed = failure
        return _Prepared(None, doc_id, size, parsed)

    def _finish_file(self, path: Path, collection: str, job: _Prepared, index: int, total: int,
                     on_progress: ProgressCallback | None) -> FileResult:
        if job.restore:
            self.registry.make_current(collection, job.doc_id)
            return job.result  # type: ignore[return-value]
        if job.result is not None:
            if job.result.state is not DocState.DUPLICATE and job.doc_id:
                self._record_outcome(path, collection, job, job.result.state, job.result.reason)
            return job.result
        # a duplicate may have been indexed earlier in this same run
        existing = self.registry.get(collection, job.doc_id)
        if existing is not None and existing.state is DocState.INDEXED:
            return FileResult(path.name, job.doc_id, collection, DocState.DUPLICATE,
                              f"same content as {existing.file_name}, already indexed", existing.pages, existing.chunks)
        if isinstance(job.parsed, ReadFailure):
            self._record_outcome(path, collection, job, job.parsed.state, job.parsed.reason)
            return FileResult(path.name, job.doc_id, collection, job.parsed.state, job.parsed.reason)
        assert job.parsed is not None
        return self._index(path, job.key, collection, job.doc_id, job.size, job.parsed, index, total, on_progress)

    def _record_outcome(self, path: Path, collection: str, job: _Prepared, state: DocState, reason: str) -> None:
        existing = self.registry.get(collection, job.doc_id)
        if existing is not None and existing.state is DocState.INDEXED:
            return
        self.registry.begin(DocumentRecord(job.doc_id, collection, path.name, str(path.resolve()), job.size,
                                           DocState.PENDING, source_key=job.key, effective_date=file_date(path)))
        self.registry.finish(collection, job.doc_id, state, reason)

    def _index(self, path: Path, key: str, collection: str, doc_id: str, size: int, parsed: ParsedDocument,
               index: int, total: int, on_progress: ProgressCallback | None) -> FileResult:
        name = path.name
        self.registry.begin(DocumentRecord(doc_id, collection, name, str(path.resolve()), size, DocState.PENDING,
                                           source_key=key, effective_date=file_date(path)))
        try:
            chunks = self._chunks(doc_id, collection, name, parsed)
            for lo in range(0, len(chunks), EMBED_BATCH):
                batch = chunks[lo : lo + EMBED_BATCH]
                vectors = self.embedder.embed_documents([embedding_text(c) for c in batch])
                self.store.add(batch, vectors)
                self.keywords.add(batch, [document_title(c.file_name) for c in batch])
                if on_progress:
                    on_progress(Progress(path, index, total, pages=batch[-1].page, file_pages=len(parsed.pages)))
            if self.pages is not None:
                passages = page_passages(doc_id, collection, name, parsed.pages)
                self.pages.add(passages, [document_title(name)] * len(passages))
        except BaseException as exc:
            self._remove_chunks(collection, doc_id)
            reason = (f"indexing failed: {type(exc).__name__}: {exc}"[:300] if isinstance(exc, Exception)
                      else "cancelled while it was being indexed; nothing of it was kept (add it again)")
            self.registry.finish(collection, doc_id, DocState.FAILED, reason)
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt / SystemExit: cleaned up, now stop
            return FileResult(name, doc_id, collection, DocState.FAILED, reason)
        notes = "; ".join(parsed.notes)
        empty = sum(1 for p in parsed.pages if not p.strip())
        if empty:
            notes = "; ".join(filter(None, [notes, f"{empty} page(s) without a text layer"]))
        self.registry.finish(collection, doc_id, DocState.INDEXED, notes, pages=len(parsed.pages),
                             chunks=len(chunks), characters=parsed.characters, ocr_pages=parsed.ocr_pages)
        return FileResult(name, doc_id, collection, DocState.INDEXED, notes, len(parsed.pages), len(chunks))

    def _chunks(self, doc_id: str, collection: str, name: str, parsed: ParsedDocument) -> list[Chunk]:
        chunks: list[Chunk] = []
        for number, text in enumerate(parsed.pages, start=1):
            for span in self.splitter.split(text):
                chunks.append(Chunk(doc_id, collection, name, number, span.start, span.end,
                                    text[span.start:span.end], len(chunks)))
        return chunks


@dataclass
class _Prepared:
    result: FileResult | None  # set when the file's fate is known before indexing
    doc_id: str = ""
    size: int = 0
    parsed: ParsedDocument | ReadFailure | None = None
    key: str = ""  # source key: versions of one document share it
    restore: bool = False  # an earlier version's bytes again: make that version current
