"""Pipeline behaviour on small generated documents (real model, real Chroma)."""

import shutil
from pathlib import Path

import pytest

from confidant.services import Services
from storage.records import DocState
from tests.documents import HR_DOCS, make_docx, make_pdf


def test_mixed_folder_each_file_gets_a_clear_state(services: Services, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    (folder / "sub").mkdir(parents=True)
    make_pdf(folder / "policy.pdf", ["Remote work is allowed two days per week.", "Equipment is provided."])
    make_docx(folder / "sub" / "memo.docx", ["The office closes at 6 pm on Fridays."])
    (folder / "notes.md").write_text("# Notes\n\nParking passes are renewed every January.", encoding="utf-8")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a photo")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\n garbage")
    (folder / ".hidden.pdf").write_bytes(b"ignored")
    results = {r.file: r for r in services.pipeline.ingest([folder], "c1")}
    assert {name: r.state for name, r in results.items()} == {
        "policy.pdf": DocState.INDEXED,
        "memo.docx": DocState.INDEXED,
        "notes.md": DocState.INDEXED,
        "photo.jpg": DocState.UNSUPPORTED,
        "broken.pdf": DocState.INVALID,
    }
    assert results["policy.pdf"].pages == 2
    assert all(r.reason for r in results.values() if r.state is not DocState.INDEXED)
    hit = services.retriever.search("When does the office close on Friday?", 1, ["c1"])[0]
    assert (hit.chunk.file_name, hit.chunk.page) == ("memo.docx", 1)


def test_same_bytes_under_another_name_is_a_duplicate(services: Services, tmp_path: Path) -> None:
    a = make_pdf(tmp_path / "a.pdf", ["Holiday allowance is 25 days."])
    b = tmp_path / "copy of a.pdf"
    shutil.copy(a, b)
    results = services.pipeline.ingest([a, b], "c1")
    assert [r.state for r in results] == [DocState.INDEXED, DocState.DUPLICATE]
    assert "a.pdf" in results[1].reason
    # the same bytes in another collection are indexed there too
    assert services.pipeline.ingest([b], "c2")[0].state is DocState.INDEXED


def test_delete_removes_every_chunk(services: Services, tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "d.pdf", ["Some text. " * 200, "More text. " * 200])
    result = services.pipeline.ingest([path], "c1")[0]
    assert result.chunks > 2 and services.store.count(document_id=result.id) == result.chunks
    assert services.pipeline.delete("c1", result.id)
    assert services.store.count(document_id=result.id) == 0
    assert services.registry.get("c1", result.id) is None
    assert not services.pipeline.delete("c1", result.id)


def test_too_large_file_is_not_parsed(tmp_path: Path, embedder: object) -> None:
    from tests.conftest import make_services

    s = make_services(tmp_path / "home", embedder, max_file_mb=0.001)  # type: ignore[arg-type]
    path = make_pdf(tmp_path / "big.pdf", ["x " * 2000])
    result = s.pipeline.ingest([path], "c1")[0]
    assert result.state is DocState.TOO_LARGE and "limit" in result.reason
    assert s.registry.get("c1", result.id).state is DocState.TOO_LARGE  # type: ignore[union-attr]


def test_failed_embedding_leaves_no_chunks(services: Services, tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "e.pdf", [f"Paragraph {i}. " * 60 for i in range(12)])

    class BreaksAfterFirstBatch:
        def __init__(self, inner: object) -> None:
            self.inner, self.calls = inner, 0

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

        def embed_documents(self, texts: list[str]) -> object:
            self.calls += 1
            if self.calls > 1:
                raise RuntimeError("disk full")
            return self.inner.embed_documents(texts)  # type: ignore[attr-defined]

    services.pipeline.embedder = BreaksAfterFirstBatch(services.embedder)  # type: ignore[assignment]
    import ingest.pipeline as pipeline_module

    old = pipeline_module.EMBED_BATCH
    pipeline_module.EMBED_BATCH = 4
    try:
        result = services.pipeline.ingest([path], "c1")[0]
    finally:
        pipeline_module.EMBED_BATCH = old
    assert result.state is DocState.FAILED and "disk full" in result.reason
    assert services.store.count(document_id=result.id) == 0
    assert services.registry.get("c1", result.id).state is DocState.FAILED  # type: ignore[union-attr]


def test_big_files_get_a_longer_parsing_time_limit(tmp_path: Path) -> None:
    from ingest.worker import ParseWorker, WorkerLimits

    big = tmp_path / "manual.pdf"
    big.write_bytes(b"%PDF-1.4\n" + b"0" * (2 * 2**20))
    worker = ParseWorker(WorkerLimits(timeout_s=120.0, timeout_s_per_mb=60.0))
    assert 239.9 < worker.time_limit(big) < 240.1  # 120 s + 2 MB × 60 s
    assert worker.time_limit(tmp_path / "missing.pdf") == 120.0


def test_the_parse_worker_reads_when_the_process_has_over_1024_open_files(tmp_path: Path) -> None:
    """A long-running server holds many descriptors; the reader's pipe then gets a number above 1023."""
    import os
    import resource

    from ingest.worker import ParseWorker, WorkerLimits

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        import pytest
        pytest.skip(f"the hard open-file limit ({hard}) is too low to reach descriptor 1024")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    worker = ParseWorker(WorkerLimits())
    try:
        doc = worker.parse(make_pdf(tmp_path / "memo.pdf", ["Remote work needs a manager's approval."]))
    finally:
        worker.close()
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert "approval" in doc.pages[0]


def test_cancelling_mid_file_keeps_the_files_before_and_nothing_of_the_one_being_indexed(
        services: Services, tmp_path: Path) -> None:
    """What the app's Cancel does: the page's run is stopped from the progress callback (Streamlit raises a
    BaseException there). The file being indexed ends failed with 'cancelled' and no passage of it anywhere."""
    import pytest

    from ingest.pipeline import Progress

    first = make_pdf(tmp_path / "a.pdf", ["Parking is free for all staff in the north garage."])
    second = make_pdf(tmp_path / "b.pdf", [f"Section {i}. Travel rules number {i} apply abroad. " * 30
                                           for i in range(6)])

    class Stopped(BaseException):
        pass

    def stop_in_b(p: Progress) -> None:
        if p.file.name == "b.pdf" and p.pages:
            raise Stopped

    with pytest.raises(Stopped):
        services.pipeline.ingest([first, second], "c1", stop_in_b)
    [a, b] = sorted(services.registry.documents("c1"), key=lambda d: d.file_name)
    assert a.state is DocState.INDEXED
    assert b.state is DocState.FAILED and "cancelled" in b.reason
    assert services.store.count(document_id=b.id) == 0
    assert not [h for h in services.keywords.search("travel rules abroad", 5, ["c1"]) if h.chunk.document_id == b.id]
    [again] = services.pipeline.ingest([second], "c1")  # added again: indexed in full
    assert again.state is DocState.INDEXED and services.store.count(document_id=b.id) == again.chunks


def test_the_parsing_worker_splits_as_it_reads_exactly_as_the_pipeline_would(services: Services, tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A long PDF is read and split by two processes, a Word file split by the worker after reading it: the same
    passages as splitting in the app's process, which then only indexes them."""
    splitter = services.pipeline.splitter
    assert splitter.identity and splitter.identity.split("|")[0].endswith("tokenizer.json")
    long_pdf = HR_DOCS / "Northwind_Standard_Benefits_Details.pdf"  # 104 pages: read by the worker and a helper
    word = make_docx(tmp_path / "policy.docx", ["Leave policy. Employees accrue twenty days of paid leave.",
                                                "Approval. Requests are approved by the line manager."])
    for path in (long_pdf, word):
        parsed = services.worker.parse(path)
        assert parsed.split_by == splitter.identity, path.name
        assert parsed.spans == [splitter.spans(page) for page in parsed.pages], path.name

    def not_here(text: str) -> list[tuple[int, int]]:
        raise AssertionError("split again in the app's process")

    monkeypatch.setattr(splitter, "spans", not_here)
    results = services.pipeline.ingest([long_pdf, word], "hr", wait=False)
    assert [r.state for r in results] == [DocState.INDEXED, DocState.INDEXED]
    chunks = services.keywords.document_chunks("hr", results[0].id)
    assert len(chunks) == results[0].chunks > 104
    assert all(c.text.strip() and len(c.text) <= 1500 for c in chunks)
