"""LlamaIndex's default pipeline, the baseline: SimpleDirectoryReader → SentenceSplitter() → HuggingFaceEmbedding
(the same packaged MiniLM weights Confidant uses) → ChromaVectorStore on a persistent Chroma client.

The embed model is always passed explicitly and the global LLM is disabled, so nothing falls back to OpenAI.
As LlamaIndex does by default, each node is embedded under a metadata header holding its page_label and its
absolute file_path; MiniLM reads only 256 word pieces, so the folder the documents sit in moves the results a little
(contracts-dev recall@5 0.667 here, 0.707 with the same files under /tmp/confidant-clone/shared/eval; without
file_path, financebench-dev falls from 0.395 to 0.279: the file name carries company and year). Compare numbers
from the same folder.
"""

from __future__ import annotations

import contextlib
import io
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.records import Chunk, ScoredChunk

COLLECTION = "llamaindex-baseline"


def disable_global_llm() -> None:
    """Settings.llm = None (a MockLLM); it prints a notice, which must not reach --json output."""
    from llama_index.core import Settings

    with contextlib.redirect_stdout(io.StringIO()):
        Settings.llm = None


def load_embed_model(model_dir: Path) -> Any:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    return HuggingFaceEmbedding(model_name=str(model_dir))


@dataclass
class BaselineIndex:
    index: Any  # VectorStoreIndex
    client: Any  # chromadb client (kept so the collection stays open)
    pages: int
    chunks: int
    page_label_mismatches: int  # pages whose page_label is not their 1-based physical page number
    documents: list[Any]  # the page Documents the reader produced


def page_label_mismatches(documents: list[Any]) -> int:
    """SimpleDirectoryReader's PDF reader yields one Document per page, in order, per file."""
    seen: dict[str, int] = defaultdict(int)
    bad = 0
    for doc in documents:
        path = str(doc.metadata.get("file_path", doc.metadata.get("file_name", "")))
        seen[path] += 1
        if str(doc.metadata.get("page_label")) != str(seen[path]):
            bad += 1
    return bad


def physical_page(label: object) -> int:
    """page_label as a 1-based page number (0 when it is not a number, e.g. a roman-numeral label)."""
    text = str(label)
    return int(text) if text.isdigit() else 0


def build_index(docs_dir: Path, chroma_dir: Path, embed_model: Any) -> BaselineIndex:
    """From an empty folder to a searchable index (this is what the ingest benchmark times)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.vector_stores.chroma import ChromaVectorStore

    client = chromadb.PersistentClient(path=str(chroma_dir), settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_or_create_collection(COLLECTION)
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    documents = SimpleDirectoryReader(str(docs_dir), recursive=True).load_data()
    index = VectorStoreIndex.from_documents(documents, storage_context=storage, embed_model=embed_model,
                                            transformations=[SentenceSplitter()])
    return BaselineIndex(index, client, len(documents), int(collection.count()),
                         page_label_mismatches(documents), documents)


def open_index(chroma_dir: Path, embed_model: Any) -> Any:
    """The VectorStoreIndex over a Chroma folder that build_index filled (nothing is embedded again)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    client = chromadb.PersistentClient(path=str(chroma_dir), settings=ChromaSettings(anonymized_telemetry=False))
    store = ChromaVectorStore(chroma_collection=client.get_collection(COLLECTION))
    return VectorStoreIndex.from_vector_store(store, embed_model=embed_model)


def embed_token_counts(documents: list[Any], tokenizer: Any) -> list[int]:
    """Word pieces (with [CLS]/[SEP]) of each default node's embedded text: its metadata header plus the text."""
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.schema import MetadataMode

    nodes = SentenceSplitter().get_nodes_from_documents(documents)
    texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=True, verbose=False)["input_ids"]]


def searcher(index: Any) -> Callable[[str, int], list[ScoredChunk]]:
    """A rag.evaluation Search over the baseline: retrieved nodes as chunks with file name and page."""
    retrievers: dict[int, Any] = {}

    def search(question: str, k: int) -> list[ScoredChunk]:
        if k not in retrievers:
            retrievers[k] = index.as_retriever(similarity_top_k=k)
        hits: list[ScoredChunk] = []
        for rank, found in enumerate(retrievers[k].retrieve(question)):
            node, meta = found.node, found.node.metadata
            chunk = Chunk(str(node.ref_doc_id or ""), "baseline", str(meta.get("file_name", "")),
                          physical_page(meta.get("page_label")), int(node.start_char_idx or 0),
                          int(node.end_char_idx or 0), node.get_content(), rank)
            hits.append(ScoredChunk(chunk, float(found.score or 0.0)))
        return hits

    return search
