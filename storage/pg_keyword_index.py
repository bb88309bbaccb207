"""Keyword search in PostgreSQL, so that every app node of a team searches the same passages and pages.

The embedded default is Tantivy in the data folder (storage/keyword_index.py); with the records database on
PostgreSQL, the passages and the whole pages are kept in the table `keyword_entries` instead (one row per entry; the
index it belongs to in `index_name`), with PostgreSQL full-text search: English stems, a GIN index over the words of
the text and the document title.

Ranking is BM25 (k1 = 1.2, b = 0.75, as Tantivy's), computed in SQL from the stems' positions: an entry scores the
sum, over the question's words it holds, of idf × tf·(k1 + 1) / (tf + k1·(1 − b + b·length / average length)), with
idf = ln(1 + (N − df + 0.5) / (df + 0.5)) over that index; a word only the document's title holds counts
`title_weight` × idf. (PostgreSQL's own ts_rank knows no document frequencies: a word every passage has would count
as much as the one rare word that matters.) `bench/keyword_backends.py` measures it against Tantivy's BM25 on the
three development sets.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION, TEXT

from storage.keyword_index import TITLE_WEIGHT, chunk_words, query_terms
from storage.records import Chunk, ScoredChunk
from storage.sql import keyword_changes, keyword_entries, reading, writing

K, KC = keyword_entries.c, keyword_changes.c
_WORDS = re.compile(r"\w+")

_STEMS = "(SELECT coalesce(jsonb_object_agg(u.lexeme, cardinality(u.positions)), '{{}}') FROM unnest({}) AS u)"
_INSERT = text(
    "INSERT INTO keyword_entries (index_name, chunk_id, collection, document_id, file_name, page, start, \"end\", idx, "
    "text, text_stems, title_stems, tokens, words, vocab) VALUES (:index_name, :chunk_id, :collection, :document_id, "
    ":file_name, :page, :start, :end, :idx, :text, "
    + _STEMS.format("to_tsvector('english', :text)") + ", " + _STEMS.format("to_tsvector('english', :title)") + ", "
    ":tokens, to_tsvector('english', :text) || setweight(to_tsvector('english', :title), 'B'), :vocab)"
).bindparams(bindparam("vocab", type_=ARRAY(TEXT)))

# BM25 per entry: the question's stems it holds, each by its idf and term frequency (a stem only the title holds:
# title_weight × idf); the candidates are the entries the GIN index finds holding any of them
_RANKED = """
SELECT e.document_id, e.collection, e.file_name, e.page, e.start, e."end", e.text, e.idx,
       (SELECT sum(w.idf * CASE WHEN e.text_stems ? w.lexeme
                                THEN (e.text_stems ->> w.lexeme)::float8 * 2.2
                                     / ((e.text_stems ->> w.lexeme)::float8
                                        + 1.2 * (0.25 + 0.75 * e.tokens / :average_tokens))
                                WHEN e.title_stems ? w.lexeme THEN :title_weight
                                ELSE 0 END)
          FROM unnest(:lexemes, :idf) AS w(lexeme, idf)) AS score
  FROM keyword_entries e
 WHERE e.index_name = :name AND e.words @@ to_tsquery('english', :any_word) {filters}
 ORDER BY score DESC, e.chunk_id
 LIMIT :k
"""


class PostgresKeywordIndex:
    """One named keyword index (`keywords` for passages, `pages` for whole pages) in the records database."""

    def __init__(self, engine: Engine, name: str, *, count_words: bool = True,
                 title_weight: float = TITLE_WEIGHT) -> None:
        self.engine = engine
        self.name = name
        self._count_words = count_words
        self.title_weight = title_weight
        self._lock = threading.Lock()
        self._vocabulary_cache: dict[tuple[str, ...] | None, tuple[int, dict[str, int]]] = {}

    # --- writing ----------------------------------------------------------------------------------------------------
    def add(self, chunks: Sequence[Chunk], titles: Sequence[str]) -> None:
        """Insert chunks, replacing any with the same id (so a redone document is never counted twice)."""
        if not chunks:
            return
        rows = [{"index_name": self.name, "chunk_id": c.chunk_id, "collection": c.collection,
                 "document_id": c.document_id, "file_name": c.file_name, "page": c.page, "start": c.start,
                 "end": c.end, "idx": c.index, "text": c.text, "title": title, "tokens": len(_WORDS.findall(c.text)),
                 "vocab": sorted(chunk_words(c.text)) if self._count_words else []}
                for c, title in zip(chunks, titles, strict=True)]
        with writing(self.engine, f"keywords:{self.name}") as conn:
            conn.execute(keyword_entries.delete().where(K.index_name == self.name,
                                                        K.chunk_id.in_([c.chunk_id for c in chunks])))
            conn.execute(_INSERT, rows)
            self._changed(conn)

    def delete_document(self, collection: str, document_id: str) -> None:
        with writing(self.engine, f"keywords:{self.name}") as conn:
            gone = conn.execute(keyword_entries.delete().where(
                K.index_name == self.name, K.collection == collection, K.document_id == document_id)).rowcount
            if gone:
                self._changed(conn)

    def _changed(self, conn: Connection) -> None:
        if not conn.execute(keyword_changes.update().where(KC.index_name == self.name)
                            .values(version=KC.version + 1)).rowcount:
            conn.execute(keyword_changes.insert().values(index_name=self.name, version=1))

    # --- reading ----------------------------------------------------------------------------------------------------
    def search(self, query: str, k: int, collections: Sequence[str] | None = None,
               document_ids: Sequence[str] | None = None,
               exclude_document_ids: Sequence[str] | None = None) -> list[ScoredChunk]:
        if k <= 0 or (collections is not None and not collections) or document_ids == []:
            return []
        filters, params = [], {}
        if collections is not None:
            filters.append("AND e.collection = ANY(:collections)")
            params["collections"] = list(collections)
        if document_ids is not None:
            filters.append("AND e.document_id = ANY(:document_ids)")
            params["document_ids"] = list(document_ids)
        if exclude_document_ids:
            filters.append("AND NOT (e.document_id = ANY(:excluded))")
            params["excluded"] = list(exclude_document_ids)
        return self._ranked(query, k, " ".join(filters), params, self.title_weight)

    def search_among(self, query: str, chunk_ids: Sequence[str], k: int, *,
                     title_weight: float = 1.0) -> list[ScoredChunk]:
        """The ranking over the named entries only; word statistics are the whole index's."""
        if not chunk_ids or k <= 0:
            return []
        return self._ranked(query, k, "AND e.chunk_id = ANY(:chunk_ids)", {"chunk_ids": list(chunk_ids)},
                            title_weight)

    def _ranked(self, query: str, k: int, filters: str, params: dict[str, Any],
                title_weight: float) -> list[ScoredChunk]:
        terms = query_terms(query)
        if not terms:
            return []
        with reading(self.engine) as conn:
            weights, average = self._statistics(conn, terms)
            if not weights:
                return []
            statement = text(_RANKED.format(filters=filters)).bindparams(
                bindparam("lexemes", type_=ARRAY(TEXT)),
                bindparam("idf", type_=ARRAY(DOUBLE_PRECISION)),
                *[bindparam(name, type_=ARRAY(TEXT)) for name in params])
            rows = conn.execute(statement, {
                "name": self.name, "lexemes": [lexeme for lexeme, _ in weights.values()],
                "idf": [idf for _, idf in weights.values()], "average_tokens": average,
                "title_weight": title_weight, "any_word": " | ".join(weights), "k": k, **params}).mappings().all()
        return [ScoredChunk(Chunk(r["document_id"], r["collection"], r["file_name"], r["page"], r["start"], r["end"],
                                  r["text"], r["idx"]), float(r["score"])) for r in rows]

    def _statistics(self, conn: Connection, terms: list[str]) -> tuple[dict[str, tuple[str, float]], float]:
        """Each word's stem and inverse document frequency in this index (words the English dictionary drops, such
        as stop words, and words no entry holds are left out), and the entries' average length in words."""
        total, average = conn.execute(select(func.count(), func.coalesce(func.avg(K.tokens), 1.0))
                                      .where(K.index_name == self.name)).one()
        found = conn.execute(text(
            "SELECT t.term, (SELECT u.lexeme FROM unnest(to_tsvector('english', t.term)) AS u LIMIT 1), "
            "(SELECT count(*) FROM keyword_entries e WHERE e.index_name = :name "
            "AND e.words @@ to_tsquery('english', t.term)) AS df "
            "FROM unnest(:terms) AS t(term) WHERE numnode(to_tsquery('english', t.term)) > 0"
        ).bindparams(bindparam("terms", type_=ARRAY(TEXT))), {"name": self.name, "terms": terms}).all()
        weights = {term: (lexeme, math.log(1 + (total - df + 0.5) / (df + 0.5)))
                   for term, lexeme, df in found if df and lexeme}
        return weights, max(float(average), 1.0)

    def count_among(self, word: str, chunk_ids: Sequence[str]) -> int:
        """How many of the named entries hold the word (in their text or title)."""
        if not chunk_ids or not query_terms(word):
            return 0
        with reading(self.engine) as conn:
            return int(conn.execute(text(
                "SELECT count(*) FROM keyword_entries WHERE index_name = :name AND chunk_id = ANY(:ids) "
                "AND words @@ phraseto_tsquery('english', :word)"
            ).bindparams(bindparam("ids", type_=ARRAY(TEXT))), {"name": self.name, "ids": list(chunk_ids),
                                                                "word": word}).scalar_one())

    def analyze(self, text_: str) -> list[str]:
        """The index's own terms for a text (lower case, English stems)."""
        with reading(self.engine) as conn:
            return list(conn.execute(text("SELECT lexeme FROM unnest(to_tsvector('english', :t))"),
                                     {"t": text_}).scalars())

    def count(self, collection: str | None = None, document_id: str | None = None) -> int:
        where = [K.index_name == self.name]
        if collection is not None:
            where.append(K.collection == collection)
        if document_id is not None:
            where.append(K.document_id == document_id)
        with reading(self.engine) as conn:
            return int(conn.execute(select(func.count()).where(*where)).scalar_one())

    def document_chunks(self, collection: str, document_id: str) -> list[Chunk]:
        """Every chunk of one document, in order: the text that is searchable at once, before its vectors land."""
        with reading(self.engine) as conn:
            rows = conn.execute(select(K.document_id, K.collection, K.file_name, K.page, K.start, K.end, K.text, K.idx)
                                .where(K.index_name == self.name, K.collection == collection,
                                       K.document_id == document_id).order_by(K.idx)).all()
        return [Chunk(*row) for row in rows]

    def vocabulary(self, collections: Sequence[str] | None = None) -> Mapping[str, int]:
        """Word → number of entries holding it, over these collections only; cached until any node writes."""
        if not self._count_words:
            return {}
        key = None if collections is None else tuple(sorted(set(collections)))
        with reading(self.engine) as conn:
            stamp = conn.execute(select(KC.version).where(KC.index_name == self.name)).scalar() or 0
            with self._lock:
                cached = self._vocabulary_cache.get(key)
                if cached is not None and cached[0] == stamp:
                    return cached[1]
            sql = ("SELECT w, count(*) FROM keyword_entries e CROSS JOIN unnest(e.vocab) AS w "
                   "WHERE e.index_name = :name" + ("" if key is None else " AND e.collection = ANY(:collections)")
                   + " GROUP BY w")
            statement = text(sql).bindparams(bindparam("collections", type_=ARRAY(TEXT))) if key is not None \
                else text(sql)
            words = {str(w): int(n) for w, n in conn.execute(
                statement, {"name": self.name, **({"collections": list(key)} if key is not None else {})})}
        with self._lock:
            if len(self._vocabulary_cache) > 32:
                self._vocabulary_cache.clear()
            self._vocabulary_cache[key] = (int(stamp), words)
        return words

    def close(self) -> None:
        pass  # the engine belongs to the records database
