"""The HR documents end to end: real PDFs, the real MiniLM model, real Chroma on a temp dir."""

from pathlib import Path

from confidant.services import Services
from rag.evaluation import evaluate, load_questions
from storage.records import DocState, FileResult
from tests.documents import HR_DOCS, HR_QUESTIONS

EXPECTED_PAGES = {
    "Benefit_Options.pdf": 4,
    "employee_handbook.pdf": 11,
    "Financial Market Analysis Report 2023.pdf": 10,
    "Northwind_Health_Plus_Benefits_Details.pdf": 109,
    "Northwind_Standard_Benefits_Details.pdf": 104,
    "PerksPlus.pdf": 4,
    "role_library.pdf": 31,
}


def test_every_document_indexed_with_right_page_count(hr_home: tuple[Path, list[FileResult]]) -> None:
    _, results = hr_home
    assert {r.file: (r.state, r.pages) for r in results} == {
        name: (DocState.INDEXED, pages) for name, pages in EXPECTED_PAGES.items()
    }
    assert all(r.chunks > 0 for r in results)


def test_registry_and_store_agree(hr_services: Services) -> None:
    records = hr_services.registry.documents(collection="hr")
    assert sum(r.chunks for r in records) == hr_services.store.count(collection="hr")
    for r in records:
        assert hr_services.store.count(collection="hr", document_id=r.id) == r.chunks


def test_chunks_cite_exact_page_spans(hr_services: Services) -> None:
    from ingest.readers import ReadLimits, read_document

    record = next(r for r in hr_services.registry.documents("hr") if r.file_name == "PerksPlus.pdf")
    pages = read_document(HR_DOCS / "PerksPlus.pdf", ReadLimits()).pages
    chunks = hr_services.store.get_document_chunks("hr", record.id)
    assert len(chunks) == record.chunks
    for c in chunks:
        assert 1 <= c.page <= 4
        assert pages[c.page - 1][c.start:c.end] == c.text


def test_search_finds_evidence_page_in_top_5_for_75_percent(hr_services: Services) -> None:
    questions = [q for q in load_questions(HR_QUESTIONS) if q.answerable]
    report = evaluate(questions, lambda q, k: hr_services.retriever.search(q, k, ["hr"]), k=5)
    recall = report.recall(5)
    print(f"HR page recall@5 = {recall:.3f} over {len(questions)} questions")
    assert recall >= 0.75


def test_reingest_adds_nothing(hr_services: Services) -> None:
    before = hr_services.store.count()
    results = hr_services.pipeline.ingest([HR_DOCS / "PerksPlus.pdf", HR_DOCS / "employee_handbook.pdf"], "hr")
    assert [r.state for r in results] == [DocState.DUPLICATE, DocState.DUPLICATE]
    assert all("already indexed" in r.reason for r in results)
    assert hr_services.store.count() == before


def test_other_collection_is_filtered(hr_services: Services) -> None:
    assert hr_services.retriever.search("deductible", 5, ["legal"]) == []
