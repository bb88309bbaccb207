"""BM25 keyword search over chunks, in SQLite FTS5: persisted, updated incrementally on ingest and delete,
and filtered by collection inside the query (the same filter the vector search applies)."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
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
"""

_TERM = re.compile(r"\w+", re.UNICODE)
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


def match_expression(query: str) -> str:
    """Any of the question's content words (quoted, so FTS syntax in a question is just text); BM25 ranks them."""
    terms = [t.lower() for t in _TERM.findall(query)]
    kept = list(dict.fromkeys(t for t in terms if t not in _STOP and (len(t) > 1 or t.isdigit())))
    return " OR ".join(f'"{t}"' for t in kept)


class SqliteKeywordIndex:
    def __init__(self, path: Path) -> None:
        self._conn = open_database(path, _SCHEMA)
        self._lock = threading.Lock()

    def add(self, chunks: Sequence[Chunk], titles: Sequence[str]) -> None:
        """Insert chunks, replacing any with the same id (so a redone document is never counted twice)."""
        if not chunks:
            return
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany("DELETE FROM chunk_text WHERE chunk_id = ?", [(c.chunk_id,) for c in chunks])
                self._conn.executemany(
                    'INSERT INTO chunk_text (text, title, chunk_id, document_id, collection, file_name, page, start, '
                    '"end", idx) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
                    [(c.text, t, c.chunk_id, c.document_id, c.collection, c.file_name, c.page, c.start, c.end, c.index)
                     for c, t in zip(chunks, titles, strict=True)],
                )
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
            self._conn.execute("DELETE FROM chunk_text WHERE collection = ? AND document_id = ?",
                               (collection, document_id))

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
