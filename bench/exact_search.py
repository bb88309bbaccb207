"""Brute-force cosine search over vectors a benchmark already has, to score retrieval without HNSW noise.

Chroma's HNSW index is approximate and its results vary slightly with insertion order and batching; comparing
configs on exact search shows which differences come from the chunks and which from the index.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from storage.records import Chunk, ScoredChunk

Search = Callable[[str, int], list[ScoredChunk]]


def exact_searcher(vectors: Any, chunks: Sequence[Chunk], embed_query: Callable[[str], Any]) -> Search:
    matrix = np.asarray(vectors, dtype=np.float32)
    matrix = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)

    def search(question: str, k: int) -> list[ScoredChunk]:
        query = np.asarray(embed_query(question), dtype=np.float32)
        scores = matrix @ (query / max(float(np.linalg.norm(query)), 1e-12))
        top = np.argsort(-scores, kind="stable")[:k]
        return [ScoredChunk(chunks[i], float(scores[i])) for i in top]

    return search


def from_collection(collection: Any, page_of: Callable[[Mapping[str, Any]], int],
                    embed_query: Callable[[str], Any]) -> Search:
    """Exact search over everything a Chroma collection holds; page_of reads the page from a chunk's metadata."""
    got = collection.get(include=["embeddings", "metadatas"])
    chunks = [Chunk(str(m.get("document_id", "")), "exact", str(m.get("file_name", "")), page_of(m), 0, 0, "", i)
              for i, m in enumerate(got["metadatas"] or [])]
    return exact_searcher(got["embeddings"], chunks, embed_query)
