"""BM25 keyword search over chunks, in SQLite FTS5: persisted, updated incrementally on ingest and delete,
and filtered by collection inside the query (the same filter the vector search applies)."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from storage.records import Chunk, ScoredChunk
from storage.sqlite import open_database

_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_text USING fts5(
    text, title,
    chunk_id UNINDEXED, document_id UNINDEXED, collection UNINDEXED, file_name UNINDEXED,
    page UNINDEXED, start UNINDEXED, "end" UNINDEXED, idx UNINDEXED,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS vocabulary (
    collection TEXT NOT NULL, term TEXT NOT NULL, chunks INTEGER NOT NULL, PRIMARY KEY (collection, term)
) WITHOUT ROWID;
"""

_TERM = re.compile(r"\w+", re.UNICODE)
_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)  # vocabulary words: letters only, three or more
_STOP = frozenset("""a an the and or but if of in on at to for from by with about as is are was were be been do does
did what which who whom how when where why can could may might will would shall should i me my we our you your it its
they them their this that these those there here not no any all some than then so such into over under per
""".split())


class KeywordIndex(Protocol):
    def add(self, chunks: Sequence[Chunk], titles: Sequence[str]) -> None: ...
    def search(self, query: str, k: int, collections: Sequence[str] | None = None,
               document_ids: Sequence[str] | None = None,
               exclude_document_ids: Sequence[str] | None = None) -> list[ScoredChunk]: ...
    def delete_document(self, collection: str, document_id: str) -> None: ...
    def count(self, collection: str | None = None, document_id: str | None = None) -> int: ...
    def vocabulary(self, collections: Sequence[str] | None = None) -> Mapping[str, int]: ...


def match_expression(query: str) -> str:
    """Any of the question's content words (quoted, so FTS syntax in a question is just text); BM25 ranks them."""
    terms = [t.lower() for t in _TERM.findall(query)]
    kept = list(dict.fromkeys(t for t in terms if t not in _STOP and (len(t) > 1 or t.isdigit())))
    return " OR ".join(f'"{t}"' for t in kept)


def chunk_words(text: str) -> set[str]:
    """The distinct vocabulary words of one chunk (lower case), as counted for spelling correction."""
    return {w.lower() for w in _WORD.findall(text)}


class SqliteKeywordIndex:
    """Chunks in an FTS5 table, plus a per-collection vocabulary (word → number of chunks holding it) kept in the
    same transactions, from which misspelled query words are corrected."""

    def __init__(self, path: Path) -> None:
        self._conn = open_database(path, _SCHEMA)
        self._lock = threading.Lock()
        self._writes = 0
        self._vocabulary_cache: dict[tuple[str, ...] | None, tuple[tuple[int, int], dict[str, int]]] = {}
        with self._lock:
            has_chunks = self._conn.execute("SELECT 1 FROM chunk_text LIMIT 1").fetchone() is not None
            has_words = self._conn.execute("SELECT 1 FROM vocabulary LIMIT 1").fetchone() is not None
            if has_chunks and not has_words:  # an index built before the vocabulary existed
                self._conn.execute("BEGIN")
                self._count_words(self._conn.execute("SELECT collection, text FROM chunk_text"), +1)
                self._conn.execute("COMMIT")

    def _count_words(self, rows: Iterable[tuple[str, str]], sign: int) -> None:
        """Add (+1) or remove (-1) the words of these (collection, text) chunks; caller holds the lock in a transaction."""
        counts: Counter[tuple[str, str]] = Counter()
        for collection, text in rows:
            counts.update((collection, word) for word in chunk_words(text))
        if sign > 0:
            self._conn.executemany(
                "INSERT INTO vocabulary (collection, term, chunks) VALUES (?, ?, ?) "
                "ON CONFLICT (collection, term) DO UPDATE SET chunks = chunks + excluded.chunks",
                [(c, w, n) for (c, w), n in counts.items()])
        else:
            self._conn.executemany("UPDATE vocabulary SET chunks = chunks - ? WHERE collection = ? AND term = ?",
                                   [(n, c, w) for (c, w), n in counts.items()])
            self._conn.execute("DELETE FROM vocabulary WHERE chunks <= 0")
        self._writes += 1

    def add(self, chunks: Sequence[Chunk], titles: Sequence[str]) -> None:
        """Insert chunks, replacing any with the same id (so a redone document is never counted twice)."""
        if not chunks:
            return
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                replaced = [row for c in chunks for row in self._conn.execute(
                    "SELECT collection, text FROM chunk_text WHERE chunk_id = ?", (c.chunk_id,))]
                self._count_words(replaced, -1)
                self._conn.executemany("DELETE FROM chunk_text WHERE chunk_id = ?", [(c.chunk_id,) for c in chunks])
                self._conn.executemany(
                    'INSERT INTO chunk_text (text, title, chunk_id, document_id, collection, file_name, page, start, '
                    '"end", idx) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
                    [(c.text, t, c.chunk_id, c.document_id, c.collection, c.file_name, c.page, c.start, c.end, c.index)
                     for c, t in zip(chunks, titles, strict=True)],
                )
                self._count_words(((c.collection, c.text) for c in chunks), +1)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def search(self, query: str, k: int, collections: Sequence[str] | None = None,
               document_ids: Sequence[str] | None = None,
               exclude_document_ids: Sequence[str] | None = None) -> list[ScoredChunk]:
        expression = match_expression(query)
        if not expression or k <= 0 or (collections is not None and not collections):
            return []
        sql = ('SELECT text, document_id, collection, file_name, page, start, "end", idx, '
               "bm25(chunk_text, 1.0, 0.5) AS rank FROM chunk_text WHERE chunk_text MATCH ?")
        params: list[object] = [expression]
        if collections is not None:
            sql += f" AND collection IN ({','.join('?' * len(collections))})"
            params.extend(collections)
        if document_ids is not None:
            sql += f" AND document_id IN ({','.join('?' * len(document_ids))})"
            params.extend(document_ids)
        if exclude_document_ids:
            sql += f" AND document_id NOT IN ({','.join('?' * len(exclude_document_ids))})"
            params.extend(exclude_document_ids)
        sql += " ORDER BY rank LIMIT ?"
        params.append(k)
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        # FTS5's bm25() is lower-is-better (negative); report the usual positive BM25 score
        return [ScoredChunk(Chunk(str(r[1]), str(r[2]), str(r[3]), int(r[4]), int(r[5]), int(r[6]), str(r[0]),
                                  int(r[7])), -float(r[8])) for r in rows]

    def delete_document(self, collection: str, document_id: str) -> None:
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._count_words(self._conn.execute(
                    "SELECT collection, text FROM chunk_text WHERE collection = ? AND document_id = ?",
                    (collection, document_id)).fetchall(), -1)
                self._conn.execute("DELETE FROM chunk_text WHERE collection = ? AND document_id = ?",
                                   (collection, document_id))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def vocabulary(self, collections: Sequence[str] | None = None) -> Mapping[str, int]:
        """Word → number of chunks holding it, over these collections only (so no other collection's words leak
        into a correction). Cached until this or another process writes to the index."""
        key = None if collections is None else tuple(sorted(set(collections)))
        with self._lock:
            stamp = (int(self._conn.execute("PRAGMA data_version").fetchone()[0]), self._writes)
            cached = self._vocabulary_cache.get(key)
            if cached is not None and cached[0] == stamp:
                return cached[1]
            sql, params = "SELECT term, sum(chunks) FROM vocabulary", list(key or ())
            if key is not None:
                sql += f" WHERE collection IN ({','.join('?' * len(key))})"
            words = {str(term): int(n) for term, n in self._conn.execute(sql + " GROUP BY term", params)}
            if len(self._vocabulary_cache) > 32:
                self._vocabulary_cache.clear()
            self._vocabulary_cache[key] = (stamp, words)
            return words

    def count(self, collection: str | None = None, document_id: str | None = None) -> int:
        sql, params = "SELECT count(*) FROM chunk_text WHERE 1 = 1", []
        if collection is not None:
            sql += " AND collection = ?"
            params.append(collection)
        if document_id is not None:
            sql += " AND document_id = ?"
            params.append(document_id)
        with self._lock:
            return int(self._conn.execute(sql, params).fetchone()[0])

    def close(self) -> None:
        self._conn.close()
