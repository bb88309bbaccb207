"""Retrieval: the passages that best match a question, within the collections a caller may see.

Modes: `vector` (embedding similarity in Chroma), `keyword` (BM25 in Tantivy), `hybrid` (both, fused by
reciprocal rank fusion, then fused per page with BM25 over whole pages, which finds a page whose words the question
shares across several of its chunks). Misspelled question words are first corrected against the searched
collections' words. A question in several parts ("How do I …, and what …?") is also searched part by part and the
rankings interleaved, so each part's page gets a place in the top k.
Every stage applies the same collection/document filter. Only chunks of `indexed`
documents are returned: a document being indexed, or left half-done by a crash, is invisible until complete.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from rag.embedders import Embedder
from rag.routing import DocumentRouter
from rag.spelling import SpellingCorrector
from storage.keyword_index import KeywordIndex
from storage.records import Chunk, DocState, DocumentRecord, ScoredChunk
from storage.registry import Registry
from storage.vector_store import Vector, VectorStore

Mode = Literal["hybrid", "vector", "keyword"]
PageKey = tuple[str, str, int]  # collection, document id, page
# ", and what …" / " and how …": where a question starts its next part
_NEXT_PART = re.compile(r",?\s+and\s+(?=(?:what|how|which|when|where|who|why|are|is|does|do|can|should)\b)",
                        re.IGNORECASE)


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


def page_of(chunk: Chunk) -> PageKey:
    return chunk.collection, chunk.document_id, chunk.page


@dataclass(frozen=True)
class _Scope:
    """Where one search looks: the caller's collections and documents, minus hidden documents."""

    collections: Sequence[str] | None
    document_ids: Sequence[str] | None
    hidden: list[str]
    older: bool


def pages_first(hits: Sequence[ScoredChunk]) -> list[ScoredChunk]:
    """The best-ranked passage of each page first, so k results cover k different pages where there are that
    many; then the pages' other passages in rank order, so a short document still yields k passages."""
    seen: set[PageKey] = set()
    first: list[ScoredChunk] = []
    rest: list[ScoredChunk] = []
    for hit in hits:
        key = page_of(hit.chunk)
        (rest if key in seen else first).append(hit)
        seen.add(key)
    return first + rest


def fuse_pages(hits: Sequence[ScoredChunk], page_hits: Sequence[ScoredChunk], weight: float,
               k: int = 60) -> list[tuple[PageKey, float, list[ScoredChunk]]]:
    """Pages ranked by reciprocal rank fusion of the order in which `hits` first reach each page (weight 1) and a
    ranking of whole pages (`weight`); each with its passages from `hits`, in order (none for a page only the
    page ranking found)."""
    passages: dict[PageKey, list[ScoredChunk]] = {}
    for hit in hits:
        passages.setdefault(page_of(hit.chunk), []).append(hit)
    scores = {key: 1.0 / (k + rank) for rank, key in enumerate(passages, start=1)}
    for rank, hit in enumerate(page_hits, start=1):
        key = page_of(hit.chunk)
        scores[key] = scores.get(key, 0.0) + weight / (k + rank)
    order = sorted(scores, key=lambda key: scores[key], reverse=True)
    return [(key, scores[key], passages.get(key, [])) for key in order]


def sub_questions(question: str) -> list[str]:
    """The parts of a question that asks several things ("How does X …, and what are Y?"), or [] for one part."""
    parts = [part.strip(" ?") for part in _NEXT_PART.split(question)]
    parts = [part for part in parts if part]
    return parts if len(parts) > 1 else []


def interleave(rankings: Sequence[Sequence[ScoredChunk]],
               key: Callable[[ScoredChunk], Hashable]) -> list[ScoredChunk]:
    """Round robin over the rankings (first of each, then second of each, …), each item once."""
    seen: set[Hashable] = set()
    merged = []
    for rank in range(max((len(r) for r in rankings), default=0)):
        for ranking in rankings:
            if rank < len(ranking) and key(ranking[rank]) not in seen:
                seen.add(key(ranking[rank]))
                merged.append(ranking[rank])
    return merged


@dataclass(frozen=True)
class RetrieverOptions:
    """How searches run; built from Settings by the wiring (confidant/services.py), so it has no defaults of its
    own that could disagree with them."""

    mode: Mode  # hybrid, vector or keyword
    candidates: int  # candidates each stage contributes to the fusion
    rrf_k: int  # reciprocal rank fusion constant
    rerank_depth: int  # fused candidates the reranker reorders
    distinct_pages: bool  # one passage per page first, then the rest
    page_weight: float  # weight of the whole-page BM25 stage (0 = off)
    split_questions: bool  # a question of several parts is also searched part by part


class Retriever:
    def __init__(self, embedder: Embedder, store: VectorStore, keywords: KeywordIndex, registry: Registry,
                 options: RetrieverOptions, *, reranker: Reranker | None = None,
                 speller: SpellingCorrector | None = None, pages: KeywordIndex | None = None,
                 router: DocumentRouter | None = None) -> None:
        self.embedder = embedder
        self.store = store
        self.keywords = keywords
        self.registry = registry
        self.options = options
        self.mode = options.mode
        self.candidates = options.candidates
        self.rrf_k = options.rrf_k
        self.reranker = reranker
        self.rerank_depth = options.rerank_depth
        self.distinct_pages = options.distinct_pages
        self.speller = speller
        self.pages = pages  # whole pages, for page-level BM25 in hybrid mode (weight `page_weight`; 0 = off)
        self.page_weight = options.page_weight
        self.split_questions = options.split_questions
        self.router = router  # narrows a question that names documents to them (rag.routing)

    def search(self, query: str, k: int, collections: Sequence[str] | None = None,
               document_ids: Sequence[str] | None = None, *, mode: Mode | None = None,
               all_versions: bool = False) -> list[ScoredChunk]:
        """The k best passages. Only current versions are searched, unless `all_versions` is set or the documents
        are named in `document_ids` (asking an older version explicitly)."""
        if not query.strip() or k <= 0 or (collections is not None and not collections):
            return []
        mode = mode or self.mode
        query, scope, _ = self._prepared(query, collections, document_ids, all_versions)
        parts = sub_questions(query) if self.split_questions else []
        rankings = [self._ranked(q, k, mode, scope) for q in (query, *parts)]
        if len(rankings) == 1:
            return rankings[0][:k]
        merged = interleave(rankings, lambda h: h.chunk.chunk_id)
        return (pages_first(merged) if self.distinct_pages else merged)[:k]

    def searched_question(self, query: str, collections: Sequence[str] | None = None,
                          document_ids: Sequence[str] | None = None) -> str:
        """What the question asks of the documents it names: when the router narrows the search to them and
        spends their names, the question as searched without the naming words; otherwise the question unchanged
        (the answerer reads a changed question as one about named documents)."""
        if not query.strip() or (collections is not None and not collections):
            return query
        return self._prepared(query, collections, document_ids, False)[2]

    def _prepared(self, query: str, collections: Sequence[str] | None, document_ids: Sequence[str] | None,
                  all_versions: bool) -> tuple[str, _Scope, str]:
        """The query to search (spelling corrected, routed), where to search, and what the question asks of the
        documents it names (the question unchanged when the route spent no names)."""
        given = query
        if self.speller is not None:
            query = self.speller.correct(query, collections)
        # documents being indexed (or left half-done by a crash) are excluded inside each search, so their
        # chunks cannot crowd out the visible ones; only_indexed() stays as the final check
        older = all_versions or document_ids is not None
        records = [r for r in self.registry.documents() if collections is None or r.collection in collections]
        scope = _Scope(collections, document_ids, self._hidden_documents(records, older), older)
        asked = given
        if self.router is not None:
            route = self.router.route(query, self._searched(records, scope))
            if route is not None:
                asked = route.asked or given
                query, scope = route.question, replace(scope, document_ids=route.document_ids)
        return query, scope, asked

    def _ranked(self, query: str, k: int, mode: Mode, scope: _Scope) -> list[ScoredChunk]:
        """One question's passages, best first: at least k, more when they come for free."""
        depth = max(k * 4 if self.distinct_pages else k * 2, self.candidates if mode == "hybrid" else 0,
                    self.rerank_depth if self.reranker else 0)
        rankings: list[list[ScoredChunk]] = []
        vector = self.embedder.embed_query(query) if mode in ("vector", "hybrid") else None
        if vector is not None:
            rankings.append(self.only_indexed(self.store.query(
                vector, depth, scope.collections, scope.document_ids, exclude_document_ids=scope.hidden),
                scope.older))
        if mode in ("keyword", "hybrid"):
            rankings.append(self.only_indexed(self.keywords.search(
                query, depth, scope.collections, scope.document_ids, exclude_document_ids=scope.hidden), scope.older))
        hits = rankings[0] if len(rankings) == 1 else reciprocal_rank_fusion(rankings, self.rrf_k)
        if mode == "hybrid" and vector is not None and self.pages is not None and self.page_weight > 0:
            page_hits = self.only_indexed(self.pages.search(
                query, depth, scope.collections, scope.document_ids, exclude_document_ids=scope.hidden), scope.older)
            hits = self._by_page(fuse_pages(hits, page_hits, self.page_weight, self.rrf_k), vector,
                                 max(k, self.rerank_depth if self.reranker else 0))
        if self.reranker is not None:
            hits = self.reranker.rerank(query, hits[: self.rerank_depth]) + hits[self.rerank_depth:]
        if self.distinct_pages:
            hits = pages_first(hits)
        return hits

    def _by_page(self, pages: list[tuple[PageKey, float, list[ScoredChunk]]], vector: Vector,
                 resolve: int) -> list[ScoredChunk]:
        """The passages of fused pages in page order. A page only the page ranking found is shown by its passage
        nearest the question, looked up for the first `resolve` pages (further down it is left out)."""
        hits: list[ScoredChunk] = []
        for rank, (key, score, passages) in enumerate(pages):
            if not passages and rank < resolve:
                nearest = self.store.best_on_page(vector, *key)
                passages = [nearest] if nearest is not None else []
            hits.extend(ScoredChunk(p.chunk, score, p.similarity) for p in passages)
        return hits

    @staticmethod
    def _searched(records: Sequence[DocumentRecord], scope: _Scope) -> list[DocumentRecord]:
        """The documents a search with this scope reads."""
        hidden = set(scope.hidden)
        return [r for r in records if r.state is DocState.INDEXED and (scope.older or r.current)
                and r.id not in hidden and (scope.document_ids is None or r.id in scope.document_ids)]

    @staticmethod
    def _hidden_documents(records: Sequence[DocumentRecord], older: bool) -> list[str]:
        """Ids to leave out inside each search: pending documents and (unless `older`) superseded versions —
        except where the same bytes are searchable in another of these collections."""
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
