"""Confidant's search as a LlamaIndex retriever: LlamaIndex users plug the access-checked hybrid search of one
caller's Workspace into their own query engines, chat engines or agents.

    from confidant.llamaindex_retriever import ConfidantRetriever
    from confidant.services import build_services

    services = build_services()
    retriever = ConfidantRetriever(services.workspace(), collections=["hr"], k=5)
    for hit in retriever.retrieve("What is the dental deductible?"):
        print(hit.score, hit.node.metadata["file"], hit.node.metadata["page"], hit.node.text[:80])
    # RetrieverQueryEngine.from_args(retriever, llm=your_local_llm) answers from these passages

Every search goes through the Workspace: only the caller's collections are searched, limits apply, and each search is
in the audit log. A node's id is the passage's id (collection/document/position); its metadata says where it is
(file, page, character span, collection, document id), and its text is the passage word for word.
"""

from __future__ import annotations

from collections.abc import Sequence

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from confidant.workspace import Workspace
from rag.retriever import Mode


class ConfidantRetriever(BaseRetriever):
    """A LlamaIndex retriever over one caller's Workspace (hybrid search by default)."""

    def __init__(self, workspace: Workspace, collections: Sequence[str] | None = None, k: int | None = None,
                 mode: Mode | None = None) -> None:
        super().__init__()
        self.workspace = workspace
        self.collections = list(collections) if collections is not None else None
        self.k = k
        self.mode = mode

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self.workspace.search(query_bundle.query_str, self.k, self.collections, mode=self.mode)
        return [NodeWithScore(node=TextNode(
            id_=h.chunk.chunk_id, text=h.chunk.text, start_char_idx=h.chunk.start, end_char_idx=h.chunk.end,
            metadata={"file": h.chunk.file_name, "page": h.chunk.page, "collection": h.chunk.collection,
                      "document_id": h.chunk.document_id, "start": h.chunk.start, "end": h.chunk.end}),
            score=h.score) for h in hits]
