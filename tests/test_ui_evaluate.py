"""The Evaluate page: it renders, and a report shows its metrics and its misses with retrieved passages."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from confidant.services import build_services
from confidant.settings import Settings
from rag.embedders import Embedder
from rag.evaluation import Evidence, Question, evaluate
from tests.documents import make_pdf
from tests.fakes import ExtractiveChat
from ui.context import AppContext


def run_app(ctx) -> None:  # type: ignore[no-untyped-def]  # AppTest runs this source alone, without imports
    from ui.main import main

    main(ctx)


def run_report(report) -> None:  # type: ignore[no-untyped-def]
    from ui.evaluate_page import show_report

    show_report(report)


@pytest.fixture
def ctx(tmp_path: Path, embedder: Embedder) -> Iterator[AppContext]:
    services = build_services(Settings(home=tmp_path / "home"), embedder=embedder, chat_model=ExtractiveChat())
    services.pipeline.ingest([make_pdf(tmp_path / "h.pdf", ["Parking is free for staff.", "Dental cover is 80%."])],
                             "hr")
    context = AppContext.create(services)
    yield context
    context.close()
    services.close()


def test_evaluate_page_renders(ctx: AppContext) -> None:
    at = AppTest.from_function(run_app, args=(ctx,), default_timeout=60)
    at.run()
    at.sidebar.radio(key="page").set_value("Evaluate").run()
    assert not at.exception, at.exception
    assert "Evaluate retrieval" in at.header[0].value


def run_answers(report) -> None:  # type: ignore[no-untyped-def]
    from ui.evaluate_page import show_answers

    show_answers(report)


def test_graded_answers_show_their_shares_and_rows(ctx: AppContext) -> None:
    questions = [Question("q1", "How much dental cover is there?", "80%", (Evidence("h.pdf", 2),), True),
                 Question("q2", "Who pays for my visa?", "", (), False)]
    report = ctx.ws.evaluate_answers(questions, ["hr"])
    at = AppTest.from_function(run_answers, args=(report,), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    grades = [r.graded.grade for r in report.results]
    assert metrics["right"] == f"{grades.count('right') / 2:.0%}"
    table = at.dataframe[0].value
    assert list(table["grade"]) == grades and list(table["id"]) == ["q1", "q2"]


def test_report_shows_metrics_and_misses(ctx: AppContext) -> None:
    questions = [Question("q1", "How much dental cover?", "", (Evidence("h.pdf", 2),), True),
                 Question("q2", "Is parking free?", "", (Evidence("h.pdf", 5),), True)]
    report = evaluate(questions, lambda q, k: ctx.gate.parts.retriever().search(q, k, ["hr"]), k=5)
    at = AppTest.from_function(run_report, args=(report,), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["recall@5"] == "0.50"
    assert "Misses (1)" in at.subheader[0].value
    assert at.expander[0].label.startswith("q2")
    assert list(at.dataframe[0].proto.column_order)[:3] == ["id", "page rank", "file rank"]  # visible first
