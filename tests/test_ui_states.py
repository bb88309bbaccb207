"""State bugs a person hit in the app (issue #21), each driven by AppTest: ratings belong to one answer, a delete
removes exactly the document chosen, the page remembers its choice, an empty collection says so."""

from __future__ import annotations

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
from tests.test_ui_app import app
from ui.context import AppContext


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


def rate(at: AppTest, rating: str) -> None:
    at.radio[0].set_value(rating)
    next(b for b in at.button if b.label == "Send").click()
    at.run()
    assert not at.exception, at.exception


def test_a_rating_belongs_to_its_answer_not_to_the_first_answer_of_every_later_chat(ctx: AppContext) -> None:
    at = app(ctx)
    at.chat_input[0].set_value("When does the office open?").run()
    rate(at, "👍 right")
    at.run()
    assert "Thank you for the feedback." in [c.value for c in at.caption]
    at.button(key="new-chat").click().run()
    at.chat_input[0].set_value("Where do staff park?").run()
    assert not at.exception, at.exception
    assert "Thank you for the feedback." not in [c.value for c in at.caption]  # the new answer can be rated
    rate(at, "👎 wrong")
    assert [f.rating for f in ctx.gate.parts.feedback().all()] == ["up", "down"]


def test_delete_removes_exactly_the_document_chosen_and_the_next_is_not_armed(ctx: AppContext) -> None:
    at = app(ctx)
    at.sidebar.radio(key="page").set_value("Documents").run()
    [handbook] = [d for d in ctx.gate.parts.registry().documents() if d.file_name == "handbook.pdf"]
    labels = at.selectbox(key="docs_selected").options
    at.selectbox(key="docs_selected").set_value(next(o for o in labels if o.startswith("handbook.pdf"))).run()
    at.button(key=f"doc-delete-{handbook.id}").click().run()
    assert not at.exception, at.exception
    assert [d.file_name for d in ctx.gate.parts.registry().documents()] == ["parking.pdf"]
    # the Delete button of the document that took its place is a new one: a second click does not reach it
    assert not [b for b in at.button if b.key == f"doc-delete-{handbook.id}"]
    at.run()
    assert [d.file_name for d in ctx.gate.parts.registry().documents()] == ["parking.pdf"]


def test_the_documents_page_remembers_the_chosen_document_after_visiting_another_page(ctx: AppContext) -> None:
    at = app(ctx)
    at.sidebar.radio(key="page").set_value("Documents").run()
    parking = next(o for o in at.selectbox(key="docs_selected").options if o.startswith("parking.pdf"))
    at.selectbox(key="docs_selected").set_value(parking).run()
    at.sidebar.radio(key="page").set_value("Chat").run()
    at.sidebar.radio(key="page").set_value("Documents").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="docs_selected").value == parking


def test_an_empty_collection_says_it_has_no_documents(ctx: AppContext) -> None:
    ctx.gate.parts.assistants().put(CollectionSettings("legal"))
    at = app(ctx)
    at.multiselect(key="chat_collections").set_value(["legal"]).run()
    at.chat_input[0].set_value("What is the notice period?").run()
    assert not at.exception, at.exception
    shown = " ".join([w.value for w in at.warning] + [c.value for c in at.caption])
    assert "legal has no documents yet" in shown and "relevant" not in shown
    model = ctx.gate.parts.chat_model()
    assert isinstance(model, ExtractiveChat) and model.calls == []
