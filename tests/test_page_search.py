"""Search by whole page and by question part: the page index (BM25 over whole pages) kept in step with the chunks,
filled for documents indexed before it existed, fused per page; and questions in several parts searched part by part.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from confidant.services import Services
from ingest.page_passages import page_passages, pages_from_chunks
from ingest.readers import PdfReader, ReadLimits
from rag.embedders import Embedder
from rag.evaluation import load_questions
from rag.retriever import fuse_pages, interleave, page_of, sub_questions
from storage.records import Chunk, ScoredChunk
from tests.conftest import make_services
from tests.documents import HR_DOCS, HR_QUESTIONS, make_pdf


def hit(doc: str, page: int, index: int, score: float = 0.0) -> ScoredChunk:
    return ScoredChunk(Chunk(doc, "hr", f"{doc}.pdf", page, 0, 1, "x", index), score)


def test_a_question_is_split_only_where_a_new_question_starts() -> None:
    assert sub_questions("How does the plan treat out-of-network providers, and what are the exceptions to prior "
                         "authorization?") == ["How does the plan treat out-of-network providers",
                                               "what are the exceptions to prior authorization"]
    assert sub_questions("How I know if hospital in-network and what I pay for injections?") == [
        "How I know if hospital in-network", "what I pay for injections"]
    # "and" between nouns, or before anything but a question word, is not a new question
    assert sub_questions("What do the Standard and Plus plans cover for vision and dental care?") == []
    assert sub_questions("What is covered?") == []
    assert sub_questions("") == []


def test_pages_are_fused_by_reciprocal_rank_and_keep_their_passages() -> None:
    chunks = [hit("a", 1, 0), hit("a", 2, 3), hit("a", 1, 1), hit("b", 7, 0)]
    pages = [hit("b", 9, 9), hit("a", 2, 2)]
    fused = fuse_pages(chunks, pages, weight=0.5, k=10)
    # chunk order reaches pages a1, a2, b7 (ranks 1, 2, 3); the page ranking has b9 (rank 1) and a2 (rank 2)
    assert [key for key, _, _ in fused] == [("hr", "a", 2), ("hr", "a", 1), ("hr", "b", 7), ("hr", "b", 9)]
    assert [round(score, 4) for _, score, _ in fused] == [round(1 / 12 + 0.5 / 12, 4), round(1 / 11, 4),
                                                          round(1 / 13, 4), round(0.5 / 11, 4)]
    passages = {key: [p.chunk.index for p in found] for key, _, found in fused}
    assert passages == {("hr", "a", 1): [0, 1], ("hr", "a", 2): [3], ("hr", "b", 7): [0], ("hr", "b", 9): []}


def test_interleave_takes_turns_and_never_repeats() -> None:
    full = [hit("a", 1, 0), hit("a", 2, 1), hit("a", 3, 2)]
    part = [hit("a", 2, 1), hit("b", 5, 0)]
    merged = interleave([full, part], key=lambda h: page_of(h.chunk))
    assert [(h.chunk.document_id, h.chunk.page) for h in merged] == [("a", 1), ("a", 2), ("b", 5), ("a", 3)]
    assert interleave([], key=lambda h: h.chunk.chunk_id) == []


def test_page_passages_skip_empty_pages() -> None:
    passages = page_passages("d", "hr", "d.pdf", ["first page", "  \n", "third page"])
    assert [(p.page, p.index, p.start, p.end, p.text) for p in passages] == [
        (1, 1, 0, 10, "first page"), (3, 3, 0, 10, "third page")]


def test_page_text_is_rebuilt_from_the_real_splitters_chunks(services: Services) -> None:
    """Documents indexed before the page index get their pages from their chunks: the same words in the same order
    as the page the reader gave (chunks overlap; the gaps between them are only whitespace)."""
    parsed = PdfReader().read(HR_DOCS / "PerksPlus.pdf", ReadLimits(ocr=False))
    splitter = services.pipeline.splitter
    chunks = [Chunk("d", "hr", "PerksPlus.pdf", number, span.start, span.end, text[span.start:span.end], 0)
              for number, text in enumerate(parsed.pages, start=1) for span in splitter.split(text)]
    assert len(chunks) > len(parsed.pages)  # several chunks per page, or the test proves nothing
    rebuilt = pages_from_chunks(chunks)
    expected = page_passages("d", "hr", "PerksPlus.pdf", parsed.pages)
    assert [p.page for p in rebuilt] == [p.page for p in expected]
    for got, want in zip(rebuilt, expected, strict=True):
        assert got.text.split() == want.text.split(), got.page
        assert len(got.text) == got.end - got.start


def test_page_index_follows_ingest_reingest_and_delete(services: Services, tmp_path: Path) -> None:
    a = make_pdf(tmp_path / "a.pdf", ["Orthodontic braces are covered for children. " * 30, "Second page. " * 40])
    b = make_pdf(tmp_path / "b.pdf", ["Another document about parking permits. " * 20])
    results = services.pipeline.ingest([a, b], "c1")
    services.pipeline.ingest([a], "c1")  # re-ingest: a duplicate, nothing added
    assert [services.pages.count(document_id=r.id) for r in results] == [2, 1]
    hits = services.pages.search("parking permits", 5, ["c1"])
    assert [(h.chunk.file_name, h.chunk.page) for h in hits] == [("b.pdf", 1)]
    assert services.pages.search("parking permits", 5, ["other"]) == []
    services.pipeline.delete("c1", results[1].id)
    assert services.pages.count() == 2 and services.pages.search("parking permits", 5) == []


def test_a_page_only_the_page_index_found_is_shown_by_its_nearest_passage(services: Services,
                                                                          tmp_path: Path) -> None:
    words = "Eligibility rules for the wellness stipend. " * 25
    pdf = make_pdf(tmp_path / "w.pdf", [words + "Yoga classes are reimbursed up to 40 dollars a month. " + words])
    [result] = services.pipeline.ingest([pdf], "c1")
    assert result.chunks > 1
    retriever = services.retriever
    vector = services.embedder.embed_query("How much is reimbursed for yoga classes?")
    [shown] = retriever._by_page([(("c1", result.id, 1), 0.25, [])], vector, resolve=1)
    assert "Yoga classes" in shown.chunk.text  # the page's passage nearest the question, not its first
    assert shown.score == 0.25 and shown.similarity is not None and shown.similarity > 0.5
    assert retriever._by_page([(("c1", result.id, 1), 0.25, [])], vector, resolve=0) == []


def test_documents_indexed_before_the_page_index_get_their_pages(tmp_path: Path, embedder: Embedder) -> None:
    home = tmp_path / "home"
    first = make_services(home, embedder)
    results = first.pipeline.ingest([HR_DOCS / "PerksPlus.pdf", HR_DOCS / "Benefit_Options.pdf"], "hr")
    question = "How much can I get back for a gym membership?"
    fresh = [(h.chunk.chunk_id, round(h.score, 6)) for h in first.retriever.search(question, 5, ["hr"])]
    pages = {r.id: first.pages.count("hr", r.id) for r in results}
    first.close()
    data = first.settings.data_dir
    # an older data folder: chunks, but no page index and no record of having filled one
    shutil.rmtree(data / "pages.tantivy")
    (data / "pages.sqlite3").unlink()
    (data / "pages.filled").unlink()

    upgraded = make_services(home, embedder)
    assert {r.id: upgraded.pages.count("hr", r.id) for r in results} == pages
    assert (data / "pages.filled").exists()
    again = [(h.chunk.chunk_id, round(h.score, 6)) for h in upgraded.retriever.search(question, 5, ["hr"])]
    assert again == fresh
    upgraded.close()


@pytest.mark.parametrize("qid", ["hr-032", "hr-211"])
def test_a_question_in_two_parts_finds_its_evidence_part_by_part(hr_services: Services, qid: str) -> None:
    """Two-part HR questions whose evidence pages the whole question misses in the top 5 (each part's words pull
    towards a different page); searched part by part as well, an evidence page is in."""
    [q] = [q for q in load_questions(HR_QUESTIONS) if q.id == qid]
    evidence = {(e.file, p) for e in q.evidence for p in (e.page, (e.page or 0) + 1)}
    retriever = hr_services.retriever
    found = {}
    for split in (False, True):
        retriever.split_questions = split
        found[split] = {(h.chunk.file_name, h.chunk.page) for h in retriever.search(q.question, 5, ["hr"])}
    assert sub_questions(q.question)
    assert found[True] & evidence, (found[True], evidence)
    assert not found[False] & evidence, "the whole question now finds it: this test no longer shows splitting"


def test_asking_one_short_document_reaches_all_of_its_passages(services: Services, tmp_path: Path) -> None:
    """One passage per page first, then the pages' other passages: a two-page contract asked with k = 8 yields 8
    passages, not 2 (the distinct-pages rule used to stop at the page count whatever k was)."""
    clause = ("The Licensee shall pay the royalty within thirty days of each quarter end, by wire transfer to the "
              "account the Licensor names in writing, together with a statement of units sold in that quarter. ")
    pdf = make_pdf(tmp_path / "licence.pdf", [clause * 12, clause.replace("royalty", "renewal fee") * 12])
    [result] = services.pipeline.ingest([pdf], "legal")
    assert result.chunks >= 8, result
    hits = services.retriever.search("When is the royalty paid?", 8, ["legal"], [result.id])
    assert len(hits) == 8
    assert {h.chunk.page for h in hits[:2]} == {1, 2}
    assert len({h.chunk.chunk_id for h in hits}) == 8
