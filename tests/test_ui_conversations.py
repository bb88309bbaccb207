"""Conversations on the chat page (issue #21), driven by AppTest: listed in the sidebar newest first, reopened after a
reload from the URL, kept across "Ask this document", renamed, searched and deleted; an interrupted answer says so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from confidant.services import build_services
from confidant.settings import Settings
from rag.embedders import Embedder
from storage.records import DocState
from tests.documents import make_pdf
from tests.fakes import ExtractiveChat
from tests.test_ui_app import run_app
from ui.context import AppContext

OFFICE = "When does the office open?"
PARKING = "Where do staff park?"


@pytest.fixture
def ctx(tmp_path: Path, embedder: Embedder) -> Iterator[AppContext]:
    services = build_services(Settings(home=tmp_path / "home"), embedder=embedder, chat_model=ExtractiveChat())
    for name, text in (("handbook.pdf", "Office hours. The office opens at eight in the morning."),
                       ("parking.pdf", "Parking. Staff park for free in the north garage.")):
        [result] = services.pipeline.ingest([make_pdf(tmp_path / name, [text])], "hr")
        assert result.state is DocState.INDEXED
    context = AppContext(services.gate())
    yield context
    services.close()


def browser(ctx: AppContext, conversation: str | None = None) -> AppTest:
    """A new browser session (a reload), opened at ?c=<conversation> when given."""
    at = AppTest.from_function(run_app, args=(ctx,), default_timeout=60)
    if conversation:
        at.query_params["c"] = conversation
    at.run()
    assert not at.exception, at.exception
    return at


def listed(at: AppTest) -> list[str]:
    return [b.label for b in at.sidebar.button if b.key and b.key.startswith("conversation-open-")]


def shown_questions(at: AppTest) -> list[str]:
    return [t.value for t in at.text]


def test_a_conversation_is_listed_and_comes_back_after_a_reload(ctx: AppContext) -> None:
    at = browser(ctx)
    assert listed(at) == []
    at.chat_input[0].set_value(OFFICE).run()
    assert not at.exception, at.exception
    at.chat_input[0].set_value(PARKING).run()
    assert listed(at) == [OFFICE]  # titled from its first question
    conversation = at.query_params["c"]
    assert conversation
    again = browser(ctx, conversation[0] if isinstance(conversation, list) else conversation)
    assert shown_questions(again) == [OFFICE, PARKING]
    text = "\n".join(m.value for m in again.markdown)
    assert "eight in the morning" in text and "north garage" in text


def test_new_conversation_keeps_the_old_one_and_the_list_is_newest_first(ctx: AppContext) -> None:
    at = browser(ctx)
    at.chat_input[0].set_value(OFFICE).run()
    at.sidebar.button(key="conversation-new").click().run()
    assert shown_questions(at) == []
    at.chat_input[0].set_value(PARKING).run()
    assert listed(at) == [PARKING, OFFICE]
    first = next(b for b in at.sidebar.button if b.label == OFFICE)
    first.click().run()
    assert shown_questions(at) == [OFFICE]
    at.sidebar.text_input(key="conversation-search").input("park").run()
    assert listed(at) == [PARKING]


def test_ask_this_document_starts_a_new_conversation_that_keeps_its_scope(ctx: AppContext) -> None:
    at = browser(ctx)
    at.chat_input[0].set_value(OFFICE).run()
    at.sidebar.radio(key="page").set_value("Documents").run()
    picker = at.selectbox(key="docs_selected")
    picker.set_value(next(o for o in picker.options if "parking.pdf" in o)).run()
    at.button(key="doc-ask").click().run()
    assert not at.exception, at.exception
    assert shown_questions(at) == []
    at.chat_input[0].set_value(PARKING).run()
    conversation = at.query_params["c"]
    again = browser(ctx, conversation[0] if isinstance(conversation, list) else conversation)
    assert any("Asking only **parking.pdf**" in i.value for i in again.info)  # the scope came back too
    assert listed(again) == [PARKING, OFFICE]


def test_rename_and_delete(ctx: AppContext) -> None:
    at = browser(ctx)
    at.chat_input[0].set_value(OFFICE).run()
    [title] = [t for t in at.sidebar.text_input if t.label == "Title"]
    title.input("Office hours").run()
    next(b for b in at.sidebar.button if b.label == "Save title").click().run()
    assert listed(at) == ["Office hours"]
    next(b for b in at.sidebar.button if b.label == "Delete this conversation").click().run()
    assert listed(at) == [] and shown_questions(at) == []
    assert ctx.ws.conversations() == []


def test_an_interrupted_answer_keeps_its_question_and_offers_to_ask_again(ctx: AppContext) -> None:
    ws = ctx.ws
    talk = ws.start_conversation(OFFICE, {"collections": ["hr"]})
    events = ws.stream_answer_in(talk.id, OFFICE, {"collections": ["hr"]})
    next(events)
    events.close()  # the page was left while the model was reading
    at = browser(ctx, talk.id)
    assert shown_questions(at) == [OFFICE]
    assert any("interrupted" in w.value for w in at.warning)
    at.button(key=f"ask-again-{ws.conversation(talk.id).turns[0].id}").click().run()
    assert not at.exception, at.exception
    assert [t.state for t in ws.conversation(talk.id).turns] == ["interrupted", "answered"]
    assert "eight in the morning" in "\n".join(m.value for m in at.markdown)


def test_the_model_picker_keeps_a_persons_choice(ctx: AppContext) -> None:
    at = browser(ctx)
    picker = at.sidebar.selectbox(key="answer-model")
    assert picker.value == "default"
    assert picker.options[0] == "fake extractive model (default) · as configured · speed not measured yet"
    assert "smollm2-135m · packaged with Confidant · speed not measured yet" in picker.options
    picker.set_value("packaged:smollm2-135m").run()
    assert not at.exception, at.exception
    assert ctx.ws.answer_model() == "packaged:smollm2-135m"
    again = browser(ctx)  # a reload: the choice is kept on the server
    assert again.sidebar.selectbox(key="answer-model").value == "packaged:smollm2-135m"
    assert any("Answers by **embedded llama.cpp · smollm2-135m**" in c.value for c in again.caption)


def test_answer_actions_copy_ask_again_and_keep_as_an_evaluation_question(ctx: AppContext) -> None:
    at = browser(ctx)
    at.chat_input[0].set_value(OFFICE).run()
    [turn] = ctx.ws.conversation(ctx.ws.conversations()[0].id).turns
    copied = "\n".join(c.value for c in at.code)
    assert "## Q: When does the office open?" in copied and "handbook.pdf, page 1" in copied
    at.button(key=f"eval-{turn.id}").click().run()
    assert not at.exception, at.exception
    assert at.button(key=f"eval-{turn.id}").disabled
    [kept] = ctx.ws.eval_set()
    assert (kept.question, [(e.file, e.page) for e in kept.evidence], kept.answerable) == (
        OFFICE, [("handbook.pdf", 1)], True)
    at.button(key=f"regenerate-{turn.id}").click().run()
    assert shown_questions(at) == [OFFICE, OFFICE]
    # the Evaluate page runs the kept question on a button, and shows the result until the next run
    at.sidebar.radio(key="page").set_value("Evaluate").run()
    assert at.radio(key="eval_source").value == "My evaluation set (1 questions)"
    at.button(key="eval_run").click().run()
    assert not at.exception, at.exception
    assert [m.value for m in at.metric][:2] == ["1.00", "1.00"]  # recall@1 and recall@5 of the kept question
    at.slider(key="eval_k").set_value(5).run()
    assert [m.value for m in at.metric][:2] == ["1.00", "1.00"]  # a rerun does not search again or lose it
