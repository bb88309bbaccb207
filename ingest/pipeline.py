"""Files in, indexed passages out, in two stages, each atomic and crash-safe.

Stage 1 (reading): hash → registry (pending) → parse in the worker → split → keyword indexes → `indexed`. From then
on the document is found by keyword search and the page stage, a second or so after it was read. A failure removes
its chunks; a crash leaves it `pending`, and `recover()` (run before every ingest) removes its chunks and reads it
again.

Stage 2 (vectors): the chunks of `indexed` documents whose `embedded` count is short of their `chunks` are embedded
batch by batch, oldest document first, and each batch's vectors are stored and counted under the ingest lock, so a
delete or a new reading of the document in between drops them. A crash between storing and counting re-embeds that
batch, and the vector store replaces vectors by chunk id: nothing is stored twice. Hybrid search uses the vectors as
they land; the registry is the queue, so whichever process starts next (app, API, CLI) finishes the work.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingest.page_passages import page_passages, pages_from_chunks
from ingest.readers import PictureText
from ingest.reading import ParsedDocument, ReadFailure
from ingest.splitter import TokenSplitter
from ingest.stage_clock import StageClock
from ingest.vector_filler import VectorFiller, VectorQueue
from ingest.worker import ParseWorker
from rag.embedders import Embedder, document_title, embedding_text
from storage.keyword_index import KeywordIndex
from storage.records import Chunk, DocState, DocumentRecord, FileResult
from storage.registry import Registry
from storage.vector_store import VectorStore

EMBED_BATCH = 60  # chunks embedded and stored per step (5 model batches of 12): bounds memory on long documents
log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class VectorProgress:
    """One step of the vector stage: what is left in the whole queue after it."""

    file_name: str  # the document whose chunks were just embedded
    chunks_done: int  # chunks embedded by this run so far
    chunks_left: int  # chunks of indexed documents still without vectors
    documents_left: int  # documents with chunks still without vectors
    picture_pages_left: int = 0  # pages of the documents whose pictures are still to be read
    picture_pages_done: int = 0  # pages whose pictures this pipeline has read, and the time that took: the speed
    picture_seconds: float = 0.0  # of the picture step, which runs after the last vector (a run's last minutes)

    def picture_seconds_left(self) -> float | None:
        """About how long the pictures still to be read will take, at the speed measured so far (None before the
        first document's pictures are read; 0 when none wait)."""
        if not self.picture_pages_left:
            return 0.0
        return self.picture_pages_left * self.picture_seconds / self.picture_pages_done if self.picture_pages_done \
            else None


VectorCallback = Callable[[VectorProgress], None]


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
        self.clock = StageClock()  # seconds per stage (bench/ingest.py prints them)
        self._picture_pages_done = 0  # the picture step's speed, for the ETA
        self._picture_seconds = 0.0

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
    def ingest(self, paths: Iterable[Path], collection: str, on_progress: ProgressCallback | None = None, *,
               wait: bool = True, on_vectors: VectorCallback | None = None) -> list[FileResult]:
        """Ingest files and folders (see ingest_keyed)."""
        return self.ingest_keyed(discover_with_keys(paths), collection, on_progress, wait=wait, on_vectors=on_vectors)

    def ingest_keyed(self, files: list[tuple[Path, str]], collection: str,
                     on_progress: ProgressCallback | None = None, *, wait: bool = True,
                     on_vectors: VectorCallback | None = None) -> list[FileResult]:
        """Ingest files with their source keys (see discover_with_keys). Each file is keyword-searchable as soon as
        it is read; with `wait`, its vectors are embedded meanwhile on another thread (parsing the next file in the
        worker process overlaps embedding this one) and the call returns when every indexed document has them;
        without, the vectors (and the pictures, see read_pictures) are left to `fill_pending` (the app's and the
        API's background filler)."""
        with self._exclusive():
            self._recover()
        if not wait:
            return self._ingest(files, collection, on_progress, self._exclusive)
        filler = VectorFiller(lambda: self, self.registry, on_vectors, poll_s=0.2)
        filler.start()
        try:
            results = self._ingest(files, collection, on_progress, self._exclusive)
            filler.drain()
        except BaseException:
            # Ctrl-C while reading or while waiting for the vectors: the batch being embedded is stored and
            # counted, then the thread stops (left running, it would embed into stores the caller is closing)
            filler.stop()
            raise
        return [self._after_vectors(r) for r in results]

    def _after_vectors(self, result: FileResult) -> FileResult:
        """A file's result once its vectors (and its pictures) are in: `failed`, with the reason, when embedding it
        failed; the pictures' chunks and notes added when they were read."""
        if result.state is not DocState.INDEXED or not result.id:
            return result
        record = self.registry.get(result.collection, result.id)
        if record is None:
            return result
        if record.state is DocState.INDEXED:
            # the record's notes grow by the pictures' note; a restored earlier version keeps saying so
            reason = (record.reason if record.reason.startswith(result.reason)
                      else "; ".join(filter(None, [result.reason, record.reason])))
            return FileResult(result.file, result.id, result.collection, record.state, reason, record.pages,
                              record.chunks)
        return FileResult(result.file, result.id, result.collection, record.state, record.reason)

    def _ingest(self, keyed: list[tuple[Path, str]], collection: str, on_progress: ProgressCallback | None,
                hold: Callable[[], AbstractContextManager[None]]) -> list[FileResult]:
        """Stage 1 for each file, the next one parsed while this one is stored; `hold` is taken per file."""
        results: list[FileResult] = []
        files = [path for path, _ in keyed]
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="confidant-parse") as parser:
            for index, (path, job) in enumerate(self._prefetch(keyed, collection, parser)):
                if on_progress:
                    on_progress(Progress(path, index, len(files)))
                with hold():
                    result = self._finish_file(path, collection, job, index, len(files), on_progress)
                results.append(result)
                if on_progress:
                    on_progress(Progress(path, index, len(files), pages=result.pages, result=result))
        return results

    def _recover(self) -> list[FileResult]:
        """Read again each document a crash left `pending` (the caller holds the ingest lock)."""
        results = []
        for record in self.registry.documents(state=DocState.PENDING):
            self._remove_chunks(record.collection, record.id)
            source = Path(record.source_path)
            if source.is_file() and sha256_file(source) == record.id:
                self.registry.delete(record.collection, record.id)
                results.append(self._ingest([(source, record.source_key or source.name)], record.collection,
                                            None, nullcontext)[0])
            else:
                self.registry.finish(record.collection, record.id, DocState.FAILED,
                                     "interrupted while indexing and the original file is no longer there")
        return results

    def fill_pending(self, on_vectors: VectorCallback | None = None, stop: threading.Event | None = None) -> int:
        """The later stages, until nothing waits or `stop` is set: the vectors of every indexed document first (so
        semantic search covers the text soonest), then the pictures of one document (their text becomes more
        chunks, embedded on the next round). Returns how many chunks it embedded."""
        done = 0
        while stop is None or not stop.is_set():
            done += self.embed_pending(on_vectors, stop, done_before=done)
            waiting = self.registry.awaiting_pictures()
            if not waiting or (stop is not None and stop.is_set()):
                break
            started = time.monotonic()
            self.read_pictures(waiting[0])
            self._picture_pages_done += waiting[0].pages
            self._picture_seconds += time.monotonic() - started
            if on_vectors:
                on_vectors(self._vector_progress(waiting[0].file_name, done))
        return done

    def _vector_progress(self, file_name: str, done: int) -> VectorProgress:
        """What is left of the later stages after a step on `file_name` (`done` chunks embedded by this run)."""
        left = VectorQueue.of(self.registry.awaiting_vectors(), None)
        pictures = sum(r.pages for r in self.registry.awaiting_pictures())
        return VectorProgress(file_name, done, left.chunks, left.documents, pictures, self._picture_pages_done,
                              self._picture_seconds)

    def read_pictures(self, record: DocumentRecord) -> int:
        """Read the large pictures on a document's text pages by OCR (in the parsing worker, under its limits) and add
        their text as chunks after the others, to the keyword indexes at once, the vectors following. Returns how many
        chunks it added. Pictures that cannot be read leave a note; the document stays as it is."""
        text = self.keywords.document_chunks(record.collection, record.id)
        pages = sorted({c.page for c in text} - set(record.ocr_pages))
        source = Path(record.source_path)
        try:
            if not source.is_file() or sha256_file(source) != record.id:
                raise ReadFailure(DocState.FAILED, "the original file is no longer there")
            with self.clock.stage("pictures (OCR in the parsing worker)"):
                pictures = self.worker.read_pictures(source, pages)
        except ReadFailure as failure:
            pictures = PictureText(notes=[f"pictures not read: {failure.reason}"])
        except OSError as exc:
            pictures = PictureText(notes=[f"pictures not read: {exc.strerror or exc}"])
        with self._exclusive():
            current = self.registry.get(record.collection, record.id)
            if (current is None or current.state is not DocState.INDEXED or not current.pictures_pending
                    or current.chunks != record.chunks):
                return 0  # deleted or read again meanwhile
            chunks = self.keywords.document_chunks(record.collection, record.id)
            if len(chunks) != current.chunks:
                self._read_again(current, len(chunks))
                return 0
            added = self._picture_chunks(current, chunks, pictures)
            title = document_title(current.file_name)
            self.keywords.add(added, [title] * len(added))
            if self.pages is not None and added:
                extended = self._pages_with_pictures(current, chunks, pictures)
                self.pages.add(extended, [title] * len(extended))
            reason = "; ".join(filter(None, [current.reason, pictures.describe()]))
            ocr_pages = sorted(set(current.ocr_pages) | set(pictures.pages))
            self.registry.add_pictures(current.collection, current.id, current.chunks, current.chunks + len(added),
                                       reason, ocr_pages)
        return len(added)

    def _picture_chunks(self, record: DocumentRecord, text: Sequence[Chunk], pictures: PictureText) -> list[Chunk]:
        """The pictures' text as chunks of their pages, numbered after the text's chunks, with spans after the page's
        text (the page reads as its text, a blank line, then its pictures' text)."""
        ends = self._page_text_ends(record, text)
        added: list[Chunk] = []
        for number in sorted(pictures.pages):
            words = pictures.pages[number]
            base = ends.get(number, 0) + 2
            for span in self.splitter.split(words):
                added.append(Chunk(record.id, record.collection, record.file_name, number, base + span.start,
                                   base + span.end, words[span.start:span.end], len(text) + len(added)))
        return added

    def _page_text_ends(self, record: DocumentRecord, text: Sequence[Chunk]) -> dict[int, int]:
        """Where each page's text ends (its whole-page passage, or its last chunk)."""
        ends: dict[int, int] = {}
        for chunk in text:
            ends[chunk.page] = max(ends.get(chunk.page, 0), chunk.end)
        if self.pages is not None:
            for page in self.pages.document_chunks(record.collection, record.id):
                ends[page.page] = len(page.text.rstrip())
        return ends

    def _pages_with_pictures(self, record: DocumentRecord, text: Sequence[Chunk],
                             pictures: PictureText) -> list[Chunk]:
        """The whole-page passages of the pages with pictures, their pictures' text after their own."""
        assert self.pages is not None
        known = {p.page: p for p in self.pages.document_chunks(record.collection, record.id)}
        rebuilt = {p.page: p for p in pages_from_chunks(text)}
        extended = []
        for number in sorted(pictures.pages):
            page = known.get(number) or rebuilt.get(number)
            own = page.text.rstrip() if page is not None else ""
            words = f"{own}\n\n{pictures.pages[number]}" if own else pictures.pages[number]
            extended.append(Chunk(record.id, record.collection, record.file_name, number, 0, len(words), words,
                                  number))
        return extended

    def _read_again(self, record: DocumentRecord, found: int) -> None:
        """The keyword entries are not the ones indexed (a crash between writing them and counting them): read the
        file again from the start (the caller holds the ingest lock)."""
        log.warning("%s: %d keyword entries for %d chunks; indexing it again", record.file_name, found, record.chunks)
        self._remove_chunks(record.collection, record.id)
        self.registry.finish(record.collection, record.id, DocState.PENDING)
        self._recover()

    def embed_pending(self, on_vectors: VectorCallback | None = None,
                      stop: threading.Event | None = None, *, done_before: int = 0) -> int:
        """Stage 2: embed the chunks still without vectors, oldest document first, until none are left or `stop`
        is set. Returns how many chunks it embedded (progress counts from `done_before`)."""
        done = 0
        while stop is None or not stop.is_set():
            queue = self.registry.awaiting_vectors()
            if not queue:
                break
            done += self._embed_document(queue[0], done_before + done, on_vectors, stop)
        return done

    def _embed_document(self, record: DocumentRecord, done: int, on_vectors: VectorCallback | None,
                        stop: threading.Event | None) -> int:
        chunks = self.keywords.document_chunks(record.collection, record.id)
        if len(chunks) != record.chunks:  # the keyword entries are not the ones indexed: read the file again
            with self._exclusive():
                current = self.registry.get(record.collection, record.id)
                if current is not None and current.vectors_pending and current.chunks == record.chunks:
                    self._read_again(current, len(self.keywords.document_chunks(record.collection, record.id)))
            return 0
        embedded = 0
        for lo in range(record.embedded, len(chunks), EMBED_BATCH):
            if stop is not None and stop.is_set():
                break
            batch = chunks[lo : lo + EMBED_BATCH]
            try:
                with self.clock.stage("embedding (vectors)"):
                    vectors = self.embedder.embed_documents([embedding_text(c) for c in batch])
            except Exception as exc:  # noqa: BLE001 - any model error ends the document failed, with its reason
                self._vectors_failed(record, exc)
                return embedded
            try:
                with self._exclusive():  # a delete or a new reading in between: its vectors must not be kept
                    current = self.registry.get(record.collection, record.id)
                    if current is None or current.state is not DocState.INDEXED or current.chunks != record.chunks:
                        return embedded
                    if current.embedded >= lo + len(batch):  # another process stored these meanwhile
                        continue
                    with self.clock.stage("vector store"):
                        self.store.add(batch, vectors)
                        self.registry.set_embedded(record.collection, record.id, lo + len(batch))
            except Exception as exc:  # noqa: BLE001 - a store that refuses the vectors (disk full): failed, as a model error
                self._vectors_failed(record, exc)
                return embedded
            embedded += len(batch)
            if on_vectors:
                on_vectors(self._vector_progress(record.file_name, done + embedded))
        return embedded

    def _vectors_failed(self, record: DocumentRecord, exc: Exception) -> None:
        """Embedding a document failed: it ends `failed` with the reason and nothing of it kept, as a reading would."""
        reason = f"indexing failed: {type(exc).__name__}: {exc}"[:300]
        log.warning("%s: %s", record.file_name, reason)
        with self._exclusive():
            self._remove_chunks(record.collection, record.id)
            self.registry.finish(record.collection, record.id, DocState.FAILED, reason)

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
            with self.clock.stage("hashing"):
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
            with self.clock.stage("read and split (parsing worker)"):
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
        with self.clock.stage("registry"):
            self.registry.begin(DocumentRecord(doc_id, collection, name, str(path.resolve()), size, DocState.PENDING,
                                               source_key=key, effective_date=file_date(path)))
        try:
            with self.clock.stage("passages (split here where the worker did not)"):
                chunks = self._chunks(doc_id, collection, name, parsed)
            with self.clock.stage("keyword index"):
                self.keywords.add(chunks, [document_title(name)] * len(chunks))
            if self.pages is not None:
                with self.clock.stage("page index"):
                    passages = page_passages(doc_id, collection, name, parsed.pages)
                    self.pages.add(passages, [document_title(name)] * len(passages))
            if on_progress:
                on_progress(Progress(path, index, total, pages=len(parsed.pages), file_pages=len(parsed.pages)))
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
        with self.clock.stage("registry"):
            self.registry.finish(collection, doc_id, DocState.INDEXED, notes, pages=len(parsed.pages),
                                 chunks=len(chunks), characters=parsed.characters, ocr_pages=parsed.ocr_pages,
                                 pictures_pending=bool(parsed.picture_pages))
        return FileResult(name, doc_id, collection, DocState.INDEXED, notes, len(parsed.pages), len(chunks))

    def _chunks(self, doc_id: str, collection: str, name: str, parsed: ParsedDocument) -> list[Chunk]:
        """The document's passages: as the parsing worker split them while reading (when it split them the way this
        pipeline does), else split here."""
        given = (parsed.spans if parsed.spans is not None and len(parsed.spans) == len(parsed.pages)
                 and self.splitter.identity and parsed.split_by == self.splitter.identity else None)
        chunks: list[Chunk] = []
        for number, text in enumerate(parsed.pages, start=1):
            split = given[number - 1] if given is not None else None
            for start, end in split if split is not None else self.splitter.spans(text):
                chunks.append(Chunk(doc_id, collection, name, number, start, end, text[start:end], len(chunks)))
        return chunks


@dataclass
class _Prepared:
    result: FileResult | None  # set when the file's fate is known before indexing
    doc_id: str = ""
    size: int = 0
    parsed: ParsedDocument | ReadFailure | None = None
    key: str = ""  # source key: versions of one document share it
    restore: bool = False  # an earlier version's bytes again: make that version current
