"""The LlamaIndex face: Confidant's access-checked search as a LlamaIndex retriever."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_index.core.retrievers import BaseRetriever

from confidant.access import NOT_FOUND, AccessDenied
from confidant.llamaindex_retriever import ConfidantRetriever
from rag.embedders import Embedder
from tests.test_access import HR_FILE, LEGAL_QUESTION, World, build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[World]:
    w = build_world(tmp_path_factory.mktemp("llamaindex"), embedder)
    yield w
    w.services.close()


def test_a_reader_retrieves_passages_of_her_collections_only(world: World) -> None:
    retriever = ConfidantRetriever(world.workspace("alice"), k=3)
    assert isinstance(retriever, BaseRetriever)
    [first, *_] = retriever.retrieve("What is the dental deductible?")
    assert first.node.metadata["file"] == HR_FILE and first.node.metadata["page"] == 1
    assert "50 dollars" in first.node.get_content() and first.score is not None
    legal = retriever.retrieve(LEGAL_QUESTION)
    assert {n.node.metadata["collection"] for n in legal} <= {"hr"}  # never a passage of legal
    with pytest.raises(AccessDenied, match=NOT_FOUND):
        ConfidantRetriever(world.workspace("alice"), collections=["legal"]).retrieve(LEGAL_QUESTION)
    root = ConfidantRetriever(world.workspace("root"), collections=["legal"], k=1, mode="keyword")
    assert root.retrieve(LEGAL_QUESTION)[0].node.metadata["collection"] == "legal"
    searches = world.workspace("root").audit_events(user="alice", action="search", limit=None)
    assert len(searches) >= 2  # each retrieval is audited as the caller's search


def test_retrieval_is_read_from_the_passage_text(world: World, tmp_path: Path) -> None:
    [hit] = ConfidantRetriever(world.workspace("root"), collections=["hr"], k=1).retrieve("orthodontic care")
    node = hit.node
    chunk = world.services.store.get_document_chunks("hr", world.hr_id)
    assert node.node_id in {c.chunk_id for c in chunk}
    assert node.get_content() in {c.text for c in chunk}
