"""Retrieval: the passages that best match a question, within the collections a caller may see.

Modes: `vector` (embedding similarity in Chroma), `keyword` (BM25 in Tantivy), `hybrid` (both, fused by
reciprocal rank fusion). Misspelled question words are first corrected against the searched collections' words.
Every stage applies the same collection/document filter. Only chunks of `indexed`
documents are returned: a document being indexed, or left half-done by a crash, is invisible until complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from rag.embedders import Embedder
from rag.spelling import SpellingCorrector
from storage.keyword_index import KeywordIndex
from storage.records import DocState, ScoredChunk
from storage.registry import Registry
from storage.vector_store import VectorStore

Mode = Literal["hybrid", "vector", "keyword"]


class Reranker(Protocol):
    def rerank(self, query: str, hits: Sequence[ScoredChunk]) -> list[ScoredChunk]: ...


def reciprocal_rank_fusion(rankings: Sequence[Sequence[ScoredChunk]], k: int = 60,
                           weights: Sequence[float] | None = None) -> list[ScoredChunk]:
    """Fuse ranked lists: score = Σ weight / (k + rank). Keeps the vector similarity where a list had it."""
    weights = weights or [1.0] * len(rankings)
    fused: dict[str, float] = {}
    best: dict[str, ScoredChunk] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, hit in enumerate(ranking, start=1):
            key = hit.chunk.chunk_id
            fused[key] = fused.get(key, 0.0) + weight / (k + rank)
            if key not in best or (best[key].similarity is None and hit.similarity is not None):
                best[key] = hit
    order = sorted(fused, key=lambda key: fused[key], reverse=True)
    return [ScoredChunk(best[key].chunk, fused[key], best[key].similarity) for key in order]


def one_per_page(hits: Sequence[ScoredChunk]) -> list[ScoredChunk]:
    """Keep the best-ranked passage of each document page, so k results cover k different pages."""
    seen: set[tuple[str, str, int]] = set()
    kept = []
    for hit in hits:
        key = (hit.chunk.collection, hit.chunk.document_id, hit.chunk.page)
        if key not in seen:
            seen.add(key)
            kept.append(hit)
    return kept


class Retriever:
    def __init__(self, embedder: Embedder, store: VectorStore, keywords: KeywordIndex, registry: Registry, *,
                 mode: Mode = "hybrid", candidates: int = 30, rrf_k: int = 60, reranker: Reranker | None = None,
                 rerank_depth: int = 20, distinct_pages: bool = False, speller: SpellingCorrector | None = None) -> None:
        self.embedder = embedder
        self.store = store
        self.keywords = keywords
        self.registry = registry
        self.mode = mode
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.reranker = reranker
        self.rerank_depth = rerank_depth
        self.distinct_pages = distinct_pages
        self.speller = speller

    def search(self, query: str, k: int, collections: Sequence[str] | None = None,
               document_ids: Sequence[str] | None = None, *, mode: Mode | None = None,
               all_versions: bool = False) -> list[ScoredChunk]:
        """The k best passages. Only current versions are searched, unless `all_versions` is set or the documents
        are named in `document_ids` (asking an older version explicitly)."""
        if not query.strip() or k <= 0 or (collections is not None and not collections):
            return []
        mode = mode or self.mode
        if self.speller is not None:
            query = self.speller.correct(query, collections)
        depth = max(k * 4 if self.distinct_pages else k * 2, self.candidates if mode == "hybrid" else 0,
                    self.rerank_depth if self.reranker else 0)
        # documents being indexed (or left half-done by a crash) are excluded inside each search, so their
        # chunks cannot crowd out the visible ones; only_indexed() stays as the final check
        older = all_versions or document_ids is not None
        hidden = self._hidden_documents(collections, older)
        rankings: list[list[ScoredChunk]] = []
        if mode in ("vector", "hybrid"):
            rankings.append(self.only_indexed(self.store.query(
                self.embedder.embed_query(query), depth, collections, document_ids, exclude_document_ids=hidden),
                older))
        if mode in ("keyword", "hybrid"):
            rankings.append(self.only_indexed(self.keywords.search(
                query, depth, collections, document_ids, exclude_document_ids=hidden), older))
        hits = rankings[0] if len(rankings) == 1 else reciprocal_rank_fusion(rankings, self.rrf_k)
        if self.reranker is not None:
            hits = self.reranker.rerank(query, hits[: self.rerank_depth]) + hits[self.rerank_depth:]
        if self.distinct_pages:
            hits = one_per_page(hits)
        return hits[:k]

    def _hidden_documents(self, collections: Sequence[str] | None, older: bool) -> list[str]:
        """Ids to leave out inside each search: pending documents and (unless `older`) superseded versions —
        except where the same bytes are searchable in another of these collections."""
        records = [r for r in self.registry.documents() if collections is None or r.collection in collections]
        hidden = {r.id for r in records if r.state is DocState.PENDING or
                  (not older and r.state is DocState.INDEXED and not r.current)}
        if not hidden:
            return []
        shown = {r.id for r in records if r.state is DocState.INDEXED and (older or r.current)}
        return sorted(hidden - shown)

    def only_indexed(self, hits: Sequence[ScoredChunk], older: bool = False) -> list[ScoredChunk]:
        """The final check: each hit's document is indexed (and the current version, unless `older`)."""
        states: dict[tuple[str, str], bool] = {}
        kept = []
        for hit in hits:
            key = (hit.chunk.collection, hit.chunk.document_id)
            if key not in states:
                record = self.registry.get(*key)
                states[key] = (record is not None and record.state is DocState.INDEXED
                               and (older or record.current))
            if states[key]:
                kept.append(hit)
        return kept
