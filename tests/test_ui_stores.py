"""The app's own small stores and exports: assistant settings, feedback, chat Markdown, document summaries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import Engine

from rag.answering import Answer, Citation
from rag.summary import page_groups, summarise
from storage.collections import CollectionSettings, CollectionSettingsStore, valid_collection_name
from storage.feedback import FeedbackStore
from storage.records import Chunk, ScoredChunk
from storage.registry import SqliteRegistry
from tests.fakes import ExtractiveChat
from ui.sources import cited_sentences, cited_spans, highlighted_html
from ui.transcript import Turn, chat_markdown, chat_pdf


def chunk(page: int, text: str, index: int = 0) -> Chunk:
    return Chunk("doc", "hr", "policy.pdf", page, 0, len(text), text, index)


def test_collection_settings_round_trip_next_to_the_registry(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite3"
    registry = SqliteRegistry(path)
    store = CollectionSettingsStore(path)
    assert store.get("hr") == CollectionSettings("hr")
    store.put(CollectionSettings("hr", " HR assistant ", "Point to HR.", ["How much leave?", " ", "Dental?"]))
    reopened = CollectionSettingsStore(path)
    assert reopened.get("hr") == CollectionSettings("hr", "HR assistant", "Point to HR.", ["How much leave?", "Dental?"])
    assert reopened.names() == ["hr"] and reopened.get("hr").display_title == "HR assistant"
    assert registry.documents() == []  # the registry's own table is untouched
    assert valid_collection_name("hr policies") is None
    assert valid_collection_name("../x") is not None and valid_collection_name(" ") is not None


def test_feedback_stored_and_thumbs_down_exported_as_eval_questions(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "registry.sqlite3")
    store.add("q1", "a1 [1]", [{"n": 1, "file": "policy.pdf", "page": 3}], "up")
    store.add("q2", "a2 [1]", [{"n": 1, "file": "policy.pdf", "page": 4}], "down", "wrong plan")
    assert [f.rating for f in store.all()] == ["up", "down"]
    [line] = store.eval_questions_jsonl().splitlines()
    row = json.loads(line)
    assert row["question"] == "q2" and row["wrong_answer"] == "a2 [1]" and row["comment"] == "wrong plan"
    assert row["evidence"] == [{"file": "policy.pdf", "page": 4}]


def test_collections_and_feedback_on_every_records_backend(records: Engine) -> None:
    """The same stores over the records database: a SQLite file, and PostgreSQL (tests/conftest.py)."""
    assistants, feedback = CollectionSettingsStore(records), FeedbackStore(records)
    assistants.put(CollectionSettings("hr", "HR", "Be brief.", ["Leave?"]))
    assistants.put(CollectionSettings("hr", "HR assistant", "Be brief.", ["Leave?", "Dental?"]))  # replaces
    assistants.put(CollectionSettings("board"))
    assert assistants.get("hr") == CollectionSettings("hr", "HR assistant", "Be brief.", ["Leave?", "Dental?"])
    assert assistants.names() == ["board", "hr"]
    assistants.delete("board")
    assert assistants.names() == ["hr"] and assistants.get("board") == CollectionSettings("board")
    first = feedback.add("q1", "a1", [], "up")
    second = feedback.add("q2", "a2 [1]", [{"n": 1, "file": "policy.pdf", "page": 4}], "down", " wrong plan ")
    assert second > first
    assert [(f.question, f.rating, f.comment) for f in feedback.all()] == [("q1", "up", ""),
                                                                           ("q2", "down", "wrong plan")]
    assert [f.question for f in feedback.all("down")] == ["q2"]
    with pytest.raises(ValueError):
        feedback.add("q3", "a3", [], "sideways")  # type: ignore[arg-type]


def test_chat_markdown_has_citations_and_flags() -> None:
    c = chunk(3, "Employees get sixteen weeks of paid leave.")
    answer = Answer("How much leave?", "Sixteen weeks of paid leave. [1]", False, "fake", [ScoredChunk(c, 0.8)],
                    [Citation(1, c)], unsupported=["Also a bonus."])
    declined = Answer("Pets?", "I don't know based on the provided documents.", True, "fake", [],
                      message="No passage is relevant.")
    text = chat_markdown([Turn("How much leave?", answer, "collections hr"), Turn("Pets?", declined, "collections hr")])
    assert "## Q: How much leave?" in text
    assert "- [1] policy.pdf, page 3: “Employees get sixteen weeks of paid leave.”" in text
    assert "left out, not supported by the documents: Also a bonus." in text
    assert "> Not answered from the documents. No passage is relevant." in text


def test_chat_pdf_holds_questions_answers_and_quoted_sources(tmp_path: Path) -> None:
    c = chunk(3, "Employees in Zürich get sixteen weeks of paid leave (Отпуск — “full pay”).")
    answer = Answer("How much leave?", "Sixteen weeks of paid leave [1].", False, "fake", [ScoredChunk(c, 0.8)],
                    [Citation(1, c)], unsupported=["Also a bonus."])
    turns = [Turn("How much leave?", answer, "collections hr"),
             Turn("And for part-time staff?", None, "collections hr", state="interrupted", partial="Part-ti")]
    out = tmp_path / "chat.pdf"
    out.write_bytes(chat_pdf(turns, "Leave questions"))
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(out).pages).split())
    assert text.startswith("Leave questions")
    assert "Q: How much leave?" in text and "Sixteen weeks of paid leave [1]." in text
    assert "[1] policy.pdf, page 3: “Employees in Zürich get sixteen weeks of paid leave (Отпуск — “full pay”).”" in text
    assert "Left out, not supported by the documents: Also a bonus." in text
    assert "Q: And for part-time staff? Asked: collections hr The answer was interrupted" in text
    assert "Part-ti" not in text  # what the model had written was never checked: not exported


def test_cited_span_is_highlighted_and_escaped() -> None:
    passage = "Intro <b>bold</b> text here. Employees get sixteen weeks of paid leave. Other things."
    claims = cited_sentences("They get sixteen weeks of paid leave [1]. Office opens at eight [2].", 1)
    assert claims == ["They get sixteen weeks of paid leave."]
    # a period after an abbreviation ends no sentence: the claim is the whole sentence, not "Murray."
    assert cited_sentences("Leave is approved by Dr. Murray [1]. Office opens at eight [2].", 1) == [
        "Leave is approved by Dr. Murray."]
    rendered = highlighted_html(passage, cited_spans(passage, claims))
    assert "<mark>Employees get sixteen weeks of paid leave.</mark>" in rendered
    assert "&lt;b&gt;bold&lt;/b&gt;" in rendered


def test_summary_maps_over_page_groups_with_citations() -> None:
    chunks = [chunk(p, f"Page {p} says rule number {p} applies to every employee.", p) for p in range(1, 21)]
    groups = page_groups(chunks, max_groups=4, max_chars=10_000)
    assert len(groups) == 4 and [g[0].page for g in groups] == [1, 6, 11, 16]
    model = ExtractiveChat()
    summary = summarise(chunks, model, max_groups=4)
    assert len(model.calls) == 4
    assert len(summary.points) == 4 and summary.points[0].endswith("[1]")
    assert [c.chunk.page for c in summary.citations] == [1, 6, 11, 16]


def test_highlights_keep_numbers_whole_and_skip_headings_and_signature_lines() -> None:
    passage = ("Parental leave. Employees receive 10.26 weeks of paid leave under Section 4.2 of the U.S. plan. "
               "By: J. Smith.")
    claims = ["Employees receive 10.26 weeks of paid parental leave [1]."]
    marked = [passage[a:b] for a, b in cited_spans(passage, [cited_sentences(c, 1)[0] for c in claims])]
    assert marked == ["Employees receive 10.26 weeks of paid leave under Section 4.2 of the U.S. plan."]
