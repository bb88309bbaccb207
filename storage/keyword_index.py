"""BM25 keyword search over chunks in a Tantivy index (a Lucene-style inverted index: top-k by block-max WAND,
so a search reads a few postings blocks instead of scoring every chunk that shares a word with the question).

Beside it, in SQLite, a per-collection vocabulary (word → number of chunks holding it) for spelling correction.
The two are kept in step by a write-ahead flag: a write marks the vocabulary stale, commits Tantivy, then updates the
counts and clears the flag in one transaction; whoever finds the flag set after a crash rebuilds the counts from
the index. Writers in several processes take turns on Tantivy's own writer lock."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from storage.records import Chunk, ScoredChunk
from storage.sqlite import open_database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vocabulary (
    collection TEXT NOT NULL, term TEXT NOT NULL, chunks INTEGER NOT NULL, PRIMARY KEY (collection, term)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS vocabulary_state (one INTEGER PRIMARY KEY CHECK (one = 1), stale INTEGER NOT NULL);
INSERT OR IGNORE INTO vocabulary_state VALUES (1, 0);
"""

_TERM = re.compile(r"\w+", re.UNICODE)
_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)  # vocabulary words: letters only, three or more
_STOP = frozenset("""a an the and or but if of in on at to for from by with about as is are was were be been do does
did what which who whom how when where why can could may might will would shall should i me my we our you your it its
they them their this that these those there here not no any all some than then so such into over under per
""".split())
TITLE_WEIGHT = 0.25  # a word of the document title counts a quarter (python -m bench.title_weight)
ANALYZER = "confidant_en"  # split on non-alphanumerics, lower case, fold accents (é → e), English stems
_WRITER_HEAP = 64_000_000
_LOCK_WAIT_S = 120.0


class KeywordIndex(Protocol):
    def add(self, chunks: Sequence[Chunk], titles: Sequence[str]) -> None: ...
    def search(self, query: str, k: int, collections: Sequence[str] | None = None,
               document_ids: Sequence[str] | None = None,
               exclude_document_ids: Sequence[str] | None = None) -> list[ScoredChunk]: ...
    def delete_document(self, collection: str, document_id: str) -> None: ...
    def count(self, collection: str | None = None, document_id: str | None = None) -> int: ...
    def document_chunks(self, collection: str, document_id: str) -> list[Chunk]: ...
    def vocabulary(self, collections: Sequence[str] | None = None) -> Mapping[str, int]: ...


class NamingIndex(KeywordIndex, Protocol):
    """A keyword index that can also tell which of some entries name a word (the document router's needs)."""

    def search_among(self, query: str, chunk_ids: Sequence[str], k: int, *,
                     title_weight: float = 1.0) -> list[ScoredChunk]: ...
    def count_among(self, word: str, chunk_ids: Sequence[str]) -> int: ...
    def analyze(self, text: str) -> list[str]: ...


def query_terms(query: str) -> list[str]:
    """The question's content words, lower case, once each; BM25 ranks chunks holding any of them."""
    terms = [t.lower() for t in _TERM.findall(query)]
    return list(dict.fromkeys(t for t in terms if t not in _STOP and (len(t) > 1 or t.isdigit())))


def chunk_words(text: str) -> set[str]:
    """The distinct vocabulary words of one chunk (lower case), as counted for spelling correction."""
    return {w.lower() for w in _WORD.findall(text)}


def _tantivy() -> Any:
    import tantivy  # native library: loaded when an index is opened, not at import

    return tantivy


def _schema() -> Any:
    tantivy = _tantivy()
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("text", stored=True, tokenizer_name=ANALYZER)
    builder.add_text_field("title", stored=False, tokenizer_name=ANALYZER)
    for name in ("chunk_id", "document_id", "collection", "file_name"):
        builder.add_text_field(name, stored=True, tokenizer_name="raw", index_option="basic")
    for name in ("page", "start", "end", "idx"):
        builder.add_integer_field(name, stored=True)
    return builder.build()


def _analyzer() -> Any:
    tantivy = _tantivy()
    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.remove_long(40))
            .filter(tantivy.Filter.lowercase()).filter(tantivy.Filter.ascii_fold())
            .filter(tantivy.Filter.stemmer("english")).build())


class TantivyKeywordIndex:
    """Chunks in a Tantivy index at `path` with the suffix `.tantivy`; the vocabulary in the SQLite file `path`
    (unless `count_words` is off: an index of whole pages needs none). An index of the earlier SQLite FTS5 layout in
    that file is moved over on first open."""

    def __init__(self, path: Path, *, count_words: bool = True, title_weight: float = TITLE_WEIGHT) -> None:
        tantivy = _tantivy()
        self._count_words = count_words
        self.title_weight = title_weight
        self._lock = threading.RLock()  # writes: Tantivy's writer and self._conn
        self._read_lock = threading.Lock()  # reads: reloading the searcher and self._read_conn
        self._conn = open_database(path, _SCHEMA)
        self._read_conn = open_database(path, "")
        self._folder = path.with_suffix(".tantivy")
        self._folder.mkdir(parents=True, exist_ok=True)
        self._index = tantivy.Index(_schema(), path=str(self._folder), reuse=True)
        self._text_analyzer = _analyzer()
        self._index.register_tokenizer(ANALYZER, self._text_analyzer)
        self._index.config_reader(reload_policy="Manual")
        self._schema = self._index.schema
        self._seen_meta = self._meta_stamp()
        self._vocabulary_cache: dict[tuple[str, ...] | None, tuple[int, dict[str, int]]] = {}
        self._move_fts5_index()
        if self._stale():
            with self._writer():
                if self._stale():  # still, now that no other process is writing: a write was cut short
                    self._rebuild_vocabulary()

    # --- writing ----------------------------------------------------------------------------------------------------
    def add(self, chunks: Sequence[Chunk], titles: Sequence[str]) -> None:
        """Insert chunks, replacing any with the same id (so a redone document is never counted twice)."""
        if not chunks:
            return
        with self._writer() as writer:
            replaced = (self._texts(self._q_terms("chunk_id", [c.chunk_id for c in chunks]), at_most=len(chunks))
                        if self._count_words else [])
            self._mark_stale()
            _put(writer, chunks, titles)
            writer.commit()
            self._update_vocabulary(removed=replaced, added=[(c.collection, c.text) for c in chunks])

    def delete_document(self, collection: str, document_id: str) -> None:
        with self._writer() as writer:
            query = self._document_query(collection, document_id)
            removed = self._texts(query)  # what the vocabulary must forget (and whether there is anything)
            if not removed:
                return
            self._mark_stale()
            writer.delete_documents_by_query(query)
            writer.commit()
            self._update_vocabulary(removed=removed, added=[])

    # --- reading ----------------------------------------------------------------------------------------------------
    def search(self, query: str, k: int, collections: Sequence[str] | None = None,
               document_ids: Sequence[str] | None = None,
               exclude_document_ids: Sequence[str] | None = None) -> list[ScoredChunk]:
        tantivy = _tantivy()
        terms = query_terms(query)
        if not terms or k <= 0 or (collections is not None and not collections) or document_ids == []:
            return []
        clauses = [(tantivy.Occur.Must, self._words_query(terms, self.title_weight))]
        if collections is not None:
            clauses.append((tantivy.Occur.Must, self._q_terms("collection", collections)))
        if document_ids is not None:
            clauses.append((tantivy.Occur.Must, self._q_terms("document_id", document_ids)))
        if exclude_document_ids:
            clauses.append((tantivy.Occur.MustNot, self._q_terms("document_id", exclude_document_ids)))
        searcher = self._searcher()  # searching needs no lock, so a long write never holds up a question
        hits = searcher.search(tantivy.Query.boolean_query(clauses), k, count=False).hits
        return [ScoredChunk(_chunk(searcher.doc(address)), float(score)) for score, address in hits]

    def search_among(self, query: str, chunk_ids: Sequence[str], k: int, *,
                     title_weight: float = 1.0) -> list[ScoredChunk]:
        """BM25 over the named entries only (e.g. the first pages of some documents), title words weighted
        `title_weight`; word statistics are the whole index's."""
        tantivy = _tantivy()
        terms = query_terms(query)
        if not terms or not chunk_ids or k <= 0:
            return []
        query_among = tantivy.Query.boolean_query([(tantivy.Occur.Must, self._words_query(terms, title_weight)),
                                                   (tantivy.Occur.Must, self._q_terms("chunk_id", chunk_ids))])
        searcher = self._searcher()
        hits = searcher.search(query_among, k, count=False).hits
        return [ScoredChunk(_chunk(searcher.doc(address)), float(score)) for score, address in hits]

    def count_among(self, word: str, chunk_ids: Sequence[str]) -> int:
        """How many of the named entries hold the word (in their text or title)."""
        tantivy = _tantivy()
        if not chunk_ids or not query_terms(word):
            return 0
        query = tantivy.Query.boolean_query([
            (tantivy.Occur.Must, self._index.parse_query(f'"{word}"', ["text", "title"])),
            (tantivy.Occur.Must, self._q_terms("chunk_id", chunk_ids))])
        return int(self._searcher().search(query, 1, count=True).count)

    def analyze(self, text: str) -> list[str]:
        """The index's own terms for a text (lower case, accents folded, English stems)."""
        return list(self._text_analyzer.analyze(text))

    def count(self, collection: str | None = None, document_id: str | None = None) -> int:
        tantivy = _tantivy()
        clauses = []
        if collection is not None:
            clauses.append((tantivy.Occur.Must, self._q_terms("collection", [collection])))
        if document_id is not None:
            clauses.append((tantivy.Occur.Must, self._q_terms("document_id", [document_id])))
        query = tantivy.Query.boolean_query(clauses) if clauses else tantivy.Query.all_query()
        return int(self._searcher().search(query, 1, count=True).count)

    def document_chunks(self, collection: str, document_id: str) -> list[Chunk]:
        """Every chunk of one document, in order: the text that is searchable at once, before its vectors land."""
        return sorted(map(_chunk, self._matching(self._document_query(collection, document_id))), key=lambda c: c.index)

    def vocabulary(self, collections: Sequence[str] | None = None) -> Mapping[str, int]:
        """Word → number of chunks holding it, over these collections only (so no other collection's words leak
        into a correction). Cached until this or another process writes to the index."""
        if not self._count_words:
            return {}
        key = None if collections is None else tuple(sorted(set(collections)))
        with self._read_lock:  # its own connection: data_version changes when any other connection commits
            stamp = int(self._read_conn.execute("PRAGMA data_version").fetchone()[0])
            cached = self._vocabulary_cache.get(key)
            if cached is not None and cached[0] == stamp:
                return cached[1]
            sql, params = "SELECT term, sum(chunks) FROM vocabulary", list(key or ())
            if key is not None:
                sql += f" WHERE collection IN ({','.join('?' * len(key))})"
            words = {str(term): int(n) for term, n in self._read_conn.execute(sql + " GROUP BY term", params)}
            if len(self._vocabulary_cache) > 32:
                self._vocabulary_cache.clear()
            self._vocabulary_cache[key] = (stamp, words)
            return words

    def close(self) -> None:
        self._conn.close()
        self._read_conn.close()

    # --- internals --------------------------------------------------------------------------------------------------
    def _words_query(self, terms: Sequence[str], title_weight: float) -> Any:
        """Any of the words, in the text or (weighted `title_weight`) the document title: BM25-scored."""
        tantivy = _tantivy()
        return tantivy.Query.boolean_query([
            (tantivy.Occur.Should, self._index.parse_query(f'"{t}"', ["text", "title"],
                                                           field_boosts={"title": title_weight}))
            for t in terms])

    def _q_terms(self, field: str, values: Iterable[str]) -> Any:
        """Exact match on a keyword field, scoring nothing (a filter)."""
        tantivy = _tantivy()
        return tantivy.Query.const_score_query(tantivy.Query.term_set_query(self._schema, field, list(values)), 0.0)

    def _document_query(self, collection: str, document_id: str) -> Any:
        tantivy = _tantivy()
        return tantivy.Query.boolean_query([(tantivy.Occur.Must, self._q_terms("collection", [collection])),
                                            (tantivy.Occur.Must, self._q_terms("document_id", [document_id]))])

    def _meta_stamp(self) -> int:
        try:
            return (self._folder / "meta.json").stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    def _searcher(self, reload: bool = False) -> Any:
        """A searcher on the last commit, from this process or another (a commit rewrites meta.json); `reload`
        after this process's own commit, which must show even within the file clock's resolution."""
        with self._read_lock:
            stamp = self._meta_stamp()
            if reload or stamp != self._seen_meta:
                self._index.reload()
                self._seen_meta = stamp
            return self._index.searcher()

    def _texts(self, query: Any, at_most: int | None = None) -> list[tuple[str, str]]:
        """(collection, text) of every chunk the query matches (see _matching)."""
        return [(str(doc["collection"][0]), str(doc["text"][0])) for doc in self._matching(query, at_most)]

    def _matching(self, query: Any, at_most: int | None = None) -> list[Any]:
        """The stored fields of every entry the query matches; `at_most`, when the caller knows a bound, saves
        counting the matches first."""
        searcher = self._searcher()
        total = at_most if at_most is not None else int(searcher.search(query, 1, count=True).count)
        if not total:
            return []
        return [searcher.doc(address) for _, address in searcher.search(query, total, count=False).hits]

    @contextmanager
    def _writer(self) -> Iterator[Any]:
        """Tantivy's writer for one batch of changes; rolled back on error, merges finished and the lock dropped at
        the end, and this process's searcher moved to the new commit."""
        with self._lock:
            writer = self._open_writer()
            try:
                yield writer
            except BaseException:
                writer.rollback()
                raise
            finally:
                try:
                    writer.wait_merging_threads()  # finishes merges, then drops the writer and its lock
                finally:
                    self._searcher(reload=True)

    def _open_writer(self) -> Any:
        """Tantivy's writer, waiting while another process holds it (its lock dies with that process)."""
        deadline = time.monotonic() + _LOCK_WAIT_S
        delay = 0.02
        while True:
            try:
                return self._index.writer(_WRITER_HEAP, 1)
            except ValueError as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(0.5, delay * 2)

    def _stale(self) -> bool:
        return bool(self._conn.execute("SELECT stale FROM vocabulary_state").fetchone()[0])

    def _mark_stale(self) -> None:
        if not self._count_words:
            return
        self._conn.execute("UPDATE vocabulary_state SET stale = 1")

    def _update_vocabulary(self, removed: list[tuple[str, str]], added: list[tuple[str, str]],
                           reset: bool = False) -> None:
        """Apply the word counts of a committed write (or, with reset, count from nothing) and clear the stale flag,
        in one transaction."""
        if not self._count_words:
            return
        counts: Counter[tuple[str, str]] = Counter()
        for collection, text in added:
            counts.update((collection, word) for word in chunk_words(text))
        for collection, text in removed:
            counts.subtract((collection, word) for word in chunk_words(text))
        self._conn.execute("BEGIN")
        try:
            if reset:
                self._conn.execute("DELETE FROM vocabulary")
            self._conn.executemany(
                "INSERT INTO vocabulary (collection, term, chunks) VALUES (?, ?, ?) "
                "ON CONFLICT (collection, term) DO UPDATE SET chunks = chunks + excluded.chunks",
                [(c, w, n) for (c, w), n in counts.items() if n])
            self._conn.execute("DELETE FROM vocabulary WHERE chunks <= 0")
            self._conn.execute("UPDATE vocabulary_state SET stale = 0")
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def _rebuild_vocabulary(self) -> None:
        """Count every chunk's words again (after a write was cut short between the index and the counts), reading
        the last commit, which may be this process's own of a moment ago."""
        self._searcher(reload=True)
        self._update_vocabulary(removed=[], added=self._texts(_tantivy().Query.all_query()), reset=True)

    def _move_fts5_index(self) -> None:
        """Chunks of the earlier FTS5 table (same file) into Tantivy, then drop the table. Safe to repeat after a
        crash: re-adding a chunk id replaces it."""
        exists = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'chunk_text' AND type = 'table'").fetchone()
        if not exists:
            return
        try:
            rows = self._conn.execute('SELECT text, title, chunk_id, document_id, collection, file_name, page, '
                                      'start, "end", idx FROM chunk_text').fetchall()
        except sqlite3.OperationalError:  # written by an SQLite without FTS5: nothing readable to move
            rows = []
        chunks = [Chunk(str(r[3]), str(r[4]), str(r[5]), int(r[6]), int(r[7]), int(r[8]), str(r[0]), int(r[9]))
                  for r in rows]
        with self._writer() as writer:
            _put(writer, chunks, [str(r[1]) for r in rows])
            writer.commit()
            self._rebuild_vocabulary()  # the same counts, or the first ones for an index older than the vocabulary
        self._conn.execute("DROP TABLE chunk_text")


def _put(writer: Any, chunks: Sequence[Chunk], titles: Sequence[str]) -> None:
    """Add chunks to the writer's next commit, replacing any with the same id."""
    tantivy = _tantivy()
    for c in chunks:
        writer.delete_documents_by_term("chunk_id", c.chunk_id)
    for c, title in zip(chunks, titles, strict=True):
        writer.add_document(tantivy.Document(
            text=c.text, title=title, chunk_id=c.chunk_id, document_id=c.document_id, collection=c.collection,
            file_name=c.file_name, page=c.page, start=c.start, end=c.end, idx=c.index))


def _chunk(doc: Any) -> Chunk:
    return Chunk(str(doc["document_id"][0]), str(doc["collection"][0]), str(doc["file_name"][0]),
                 int(doc["page"][0]), int(doc["start"][0]), int(doc["end"][0]), str(doc["text"][0]),
                 int(doc["idx"][0]))
