from pathlib import Path

import numpy as np

from storage.records import Chunk, DocState, DocumentRecord
from storage.registry import SqliteRegistry
from storage.vector_store import ChromaStore


def chunk(doc: str, collection: str, index: int, page: int = 1) -> Chunk:
    return Chunk(doc, collection, f"{doc}.pdf", page, 0, 10, f"text {doc} {index}", index)


def unit(i: int, dim: int = 8) -> list[float]:
    v = np.zeros(dim, dtype=np.float32)
    v[i % dim] = 1.0
    return v.tolist()


def test_registry_lifecycle(tmp_path: Path) -> None:
    reg = SqliteRegistry(tmp_path / "r.sqlite3")
    reg.begin(DocumentRecord("abc", "hr", "a.pdf", "/x/a.pdf", 10, DocState.PENDING))
    assert reg.get("hr", "abc").state is DocState.PENDING  # type: ignore[union-attr]
    reg.finish("hr", "abc", DocState.INDEXED, pages=3, chunks=7, characters=99)
    rec = reg.get("hr", "abc")
    assert rec is not None and (rec.state, rec.pages, rec.chunks, rec.characters) == (DocState.INDEXED, 3, 7, 99)
    assert reg.get("legal", "abc") is None
    assert [r.id for r in reg.documents(state=DocState.INDEXED)] == ["abc"]
    assert reg.collections() == ["hr"]
    reg.delete("hr", "abc")
    assert reg.documents() == []


def test_registry_survives_reopen(tmp_path: Path) -> None:
    SqliteRegistry(tmp_path / "r.sqlite3").begin(DocumentRecord("d1", "c", "f", "", 1, DocState.PENDING))
    assert SqliteRegistry(tmp_path / "r.sqlite3").get("c", "d1") is not None


def test_chroma_store_add_query_filter_delete(tmp_path: Path) -> None:
    store = ChromaStore.persistent(tmp_path / "chroma", "test-index")
    chunks = [chunk("d1", "hr", 0), chunk("d1", "hr", 1), chunk("d2", "legal", 0)]
    store.add(chunks, [unit(0), unit(1), unit(0)])
    assert store.count() == 3
    hits = store.query(unit(0), 5)
    assert {h.chunk.document_id for h in hits[:2]} == {"d1", "d2"}
    assert abs(hits[0].score - 1.0) < 1e-5
    only_hr = store.query(unit(0), 5, collections=["hr"])
    assert {h.chunk.collection for h in only_hr} == {"hr"}
    assert store.query(unit(0), 5, collections=[]) == []
    # upserting the same chunk ids adds nothing
    store.add(chunks, [unit(0), unit(1), unit(0)])
    assert store.count() == 3
    store.delete_document("hr", "d1")
    assert store.count() == 1 and store.count(collection="hr") == 0
    assert store.document_ids() == {("legal", "d2")}


def test_chroma_store_persists(tmp_path: Path) -> None:
    ChromaStore.persistent(tmp_path / "chroma", "idx").add([chunk("d1", "hr", 0, page=4)], [unit(2)])
    again = ChromaStore.persistent(tmp_path / "chroma", "idx")
    got = again.get_document_chunks("hr", "d1")
    assert [(c.page, c.text) for c in got] == [(4, "text d1 0")]
