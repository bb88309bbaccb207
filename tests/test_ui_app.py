"""The Streamlit pages driven by AppTest, with the real embedder, a real Chroma store and an honest fake model."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from confidant.services import build_services
from confidant.settings import Settings
from rag.embedders import Embedder
from storage.collections import CollectionSettings
from storage.records import DocState
from tests.documents import make_pdf
from tests.fakes import ExtractiveChat
from ui.context import AppContext

LEAVE = ("Parental leave. Employees receive sixteen weeks of paid parental leave after the birth or adoption "
         "of a child. Managers must approve leave requests within ten working days.")
PAGES = ["Contoso handbook. This handbook describes company policies for all staff.",
         "Office hours. The office opens at eight in the morning and closes at six in the evening.", LEAVE]


def run_app(ctx) -> None:  # type: ignore[no-untyped-def]  # AppTest runs this source alone, without imports
    from ui.main import main

    main(ctx)


@pytest.fixture
def ctx(tmp_path: Path, embedder: Embedder) -> Iterator[AppContext]:
    services = build_services(Settings(home=tmp_path / "home"), embedder=embedder, chat_model=ExtractiveChat())
    pdf = make_pdf(tmp_path / "handbook.pdf", PAGES)
    [result] = services.pipeline.ingest([pdf], "hr")
    assert result.state is DocState.INDEXED
    context = AppContext.create(services)
    yield context
    context.close()
    services.close()


def app(ctx: AppContext) -> AppTest:
    at = AppTest.from_function(run_app, args=(ctx,), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def markdown_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_chat_round_trip_shows_cited_answer_and_page(ctx: AppContext) -> None:
    at = app(ctx)
    assert "fake extractive model" in "\n".join(c.value for c in at.caption)
    at.chat_input[0].set_value("How many weeks of paid parental leave do employees receive?").run()
    assert not at.exception, at.exception
    text = markdown_text(at)
    assert "sixteen weeks of paid parental leave" in text
    assert "[\\[1\\]](#source-0-1)" in text  # the marker links to its source
    assert "handbook.pdf — page 3" in text
    assert "<mark>" in text  # the cited sentence is highlighted in the passage
    assert not at.warning


def test_declined_answer_says_so_and_shows_closest_passages(ctx: AppContext) -> None:
    at = app(ctx)
    at.chat_input[0].set_value("What is the company's policy on parental leave for pets and goldfish?").run()
    assert not at.exception, at.exception
    assert any("Not answered from the documents" in w.value for w in at.warning)
    text = markdown_text(at)
    assert "I don't know based on the provided documents." in text
    assert "Closest passages" in text
    assert "handbook.pdf — page" in text


def test_page_image_shown_on_toggle(ctx: AppContext) -> None:
    at = app(ctx)
    at.chat_input[0].set_value("How many weeks of paid parental leave do employees receive?").run()
    at.toggle(key="page-0-1").set_value(True).run()
    assert not at.exception, at.exception
    [image] = at.get("image")
    assert 'caption: "handbook.pdf, page 3"' in str(image.proto)  # found: no "(passage not located)"
    assert [b.proto.label for b in at.get("download_button") if "handbook" in b.proto.label]


def test_assistant_title_starters_and_instructions(ctx: AppContext) -> None:
    ctx.gate.parts.assistants().put(CollectionSettings("hr", "HR policy assistant", "Point to hr@example.com otherwise.",
                                           ["When does the office open?"]))
    at = app(ctx)
    assert at.title[0].value == "HR policy assistant"
    at.button(key="starter-0").click().run()
    assert not at.exception, at.exception
    assert "eight in the morning" in markdown_text(at)
    model = ctx.gate.parts.chat_model()
    assert isinstance(model, ExtractiveChat)
    assert "hr@example.com" in model.calls[-1][0].content


def test_feedback_is_stored_and_exported(ctx: AppContext) -> None:
    at = app(ctx)
    at.chat_input[0].set_value("When does the office open in the morning?").run()
    at.radio[0].set_value("👎 wrong")
    next(t for t in at.text_input if t.label == "Comment (optional)").input("it also opens on Saturdays")
    next(b for b in at.button if b.label == "Send").click().run()
    assert not at.exception, at.exception
    [fb] = ctx.gate.parts.feedback().all()
    assert fb.rating == "down" and fb.comment == "it also opens on Saturdays"
    assert fb.citations and fb.citations[0]["page"] == 2
    assert '"question": "When does the office open in the morning?"' in ctx.gate.parts.feedback().eval_questions_jsonl()


def test_delete_from_documents_page(ctx: AppContext) -> None:
    at = app(ctx)
    at.sidebar.radio(key="page").set_value("Documents").run()
    assert not at.exception, at.exception
    assert at.dataframe[0].value["file"].tolist() == ["handbook.pdf"]
    [document] = ctx.gate.parts.registry().documents()
    at.button(key=f"doc-delete-{document.id}").click().run()
    assert not at.exception, at.exception
    assert ctx.gate.parts.registry().documents() == []
    assert ctx.gate.parts.store().count() == 0
    assert any("No documents match" in i.value for i in at.info)


def test_ask_one_document_and_summary(ctx: AppContext) -> None:
    at = app(ctx)
    at.sidebar.radio(key="page").set_value("Documents").run()
    at.button(key="doc-summary").click().run()
    assert not at.exception, at.exception
    assert "Summary of handbook.pdf" in [s.value for s in at.subheader]
    assert "[1]" in markdown_text(at)
    at.button(key="doc-ask").click().run()
    assert not at.exception, at.exception
    assert any("Asking only **handbook.pdf**" in i.value for i in at.info)


def test_unsupported_sentences_are_flagged(tmp_path: Path, embedder: Embedder) -> None:
    services = build_services(Settings(home=tmp_path / "home"), embedder=embedder,
                              chat_model=ExtractiveChat(invent="Employees also receive a company yacht every winter."))
    services.pipeline.ingest([make_pdf(tmp_path / "handbook.pdf", PAGES)], "hr")
    context = AppContext.create(services)
    try:
        at = app(context)
        at.chat_input[0].set_value("How many weeks of paid parental leave do employees receive?").run()
        assert not at.exception, at.exception
        flagged = [w.value for w in at.warning if "not supported by the documents" in w.value]
        assert flagged and "company yacht" in flagged[0]
        assert "sixteen weeks" in markdown_text(at) and "yacht" not in markdown_text(at)
    finally:
        context.close()
        services.close()


def test_collections_page_creates_and_edits_an_assistant(ctx: AppContext) -> None:
    at = app(ctx)
    at.sidebar.radio(key="page").set_value("Collections").run()
    at.text_input(key="new_collection_name").input("legal")
    next(b for b in at.button if b.label == "Create collection").click().run()
    assert not at.exception, at.exception
    assert "legal" in ctx.collection_names()
    at.selectbox(key="edit_collection").set_value("legal").run()
    at.text_input[-1].input("Contracts assistant")
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception, at.exception
    assert ctx.gate.parts.assistants().get("legal").title == "Contracts assistant"


def test_empty_collection_declines_without_calling_the_model(ctx: AppContext) -> None:
    ctx.gate.parts.assistants().put(CollectionSettings("legal"))
    at = app(ctx)
    at.multiselect(key="chat_collections").set_value(["legal"]).run()
    at.chat_input[0].set_value("What is the notice period?").run()
    assert not at.exception, at.exception
    assert any("Not answered from the documents" in w.value for w in at.warning)
    assert "No passage was found in the selected documents." in [c.value for c in at.caption]
    model = ctx.gate.parts.chat_model()
    assert isinstance(model, ExtractiveChat) and model.calls == []
    assert "## Q: What is the notice period?" in at.get("code")[0].proto.code_text


def test_review_grid_fills_its_cells_and_offers_the_exports(ctx: AppContext) -> None:
    """The Review grid page: a row per document, a column per question, each cell the document's answer with its
    page, or plainly not found; a second run answers nothing again; the exports are there."""
    at = app(ctx)
    at.sidebar.radio(key="page").set_value("Review grid").run()
    assert not at.exception, at.exception
    at.text_area(key="grid_questions").set_value(
        "How many weeks of paid parental leave do employees receive?\nWhat is the policy on goldfish and pets?").run()
    at.button(key="grid_run").click().run()
    assert not at.exception, at.exception
    finished(at, "2 answered now, 0 kept from before")
    [table] = at.dataframe
    rows = table.value.to_dict("records")
    assert [r["file"] for r in rows] == ["handbook.pdf"]
    leave = rows[0]["How many weeks of paid parental leave do employees receive?"]
    assert leave.startswith("✓") and "sixteen weeks" in leave and "(p. 3)" in leave
    assert rows[0]["What is the policy on goldfish and pets?"].startswith("∅ Not found in this document.")
    labels = [getattr(b, "label", None) for b in at.get("download_button")]
    assert labels == ["Download CSV", "Download Excel", "Download JSON"]
    at.button(key="grid_run").click().run()
    finished(at, "0 answered now, 2 kept from before")
    # a new session of the same person (a reload) finds the grid it started
    again = app(ctx)
    again.sidebar.radio(key="page").set_value("Review grid").run()
    assert any("0 answered now, 2 kept from before" in c.value for c in again.caption)
    assert (again.text_area(key="grid_questions").value or "").splitlines() == [
        "How many weeks of paid parental leave do employees receive?", "What is the policy on goldfish and pets?"]


def finished(at: AppTest, says: str) -> None:
    """Rerun the page (as its two-second refresh does) until the background grid has ended and says so."""
    deadline = time.monotonic() + 120
    while not any(says in c.value for c in at.caption):
        assert not at.exception, at.exception
        assert time.monotonic() < deadline, [c.value for c in at.caption]
        time.sleep(0.2)
        at.run()
