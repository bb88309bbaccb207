"""Retrieval: the passages most similar to a question, within the collections a caller may see.

Only chunks of `indexed` documents are returned: a document being indexed (or left half-done by a crash) is
invisible until it is complete.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.embedders import Embedder
from storage.records import DocState, ScoredChunk
from storage.registry import Registry
from storage.vector_store import VectorStore


class VectorRetriever:
    def __init__(self, embedder: Embedder, store: VectorStore, registry: Registry) -> None:
        self.embedder = embedder
        self.store = store
        self.registry = registry

    def search(self, query: str, k: int, collections: Sequence[str] | None = None,
               document_ids: Sequence[str] | None = None) -> list[ScoredChunk]:
        if not query.strip() or k <= 0:
            return []
        hits = self.store.query(self.embedder.embed_query(query), k * 2, collections, document_ids)
        return self.only_indexed(hits)[:k]

    def only_indexed(self, hits: Sequence[ScoredChunk]) -> list[ScoredChunk]:
        states: dict[tuple[str, str], bool] = {}
        kept = []
        for hit in hits:
            key = (hit.chunk.collection, hit.chunk.document_id)
            if key not in states:
                record = self.registry.get(*key)
                states[key] = record is not None and record.state is DocState.INDEXED
            if states[key]:
                kept.append(hit)
        return kept
