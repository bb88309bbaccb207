"""Long work shows progress and can be cancelled (issue #21): a summary reports each token and each part as it
comes, and stopping it (what the app's Cancel does: the page's run is stopped from the progress callback) stops the
model at once. With the real embedded model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from confidant.services import Services, build_services
from confidant.settings import Settings
from rag.embedders import Embedder
from rag.summary import Summary
from storage.records import DocState
from tests.documents import make_pdf
from tests.test_conversations import stopped_slot

pytestmark = pytest.mark.slow

PAGES = ["Parental leave. Employees receive sixteen weeks of paid parental leave after a birth or adoption.",
         "Sick leave. Up to ten days a year are paid; a doctor's note is needed after three days.",
         "Travel. Hotel costs abroad are reimbursed up to 180 euros per night with receipts."]


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, real_model: object) -> Iterator[Services]:
    home = tmp_path_factory.mktemp("long")
    s = build_services(Settings(home=home / "home"), embedder=embedder, chat_model=real_model)  # type: ignore[arg-type]
    [result] = s.pipeline.ingest([make_pdf(home / "policy.pdf", PAGES)], "hr")
    assert result.state is DocState.INDEXED
    yield s
    s.close()


class Cancelled(Exception):
    pass


def test_a_summary_reports_progress_part_by_part(services: Services) -> None:
    ws = services.workspace()
    [doc] = ws.documents("hr")
    seen: list[tuple[int, int, int, bool]] = []

    def progress(done: int, total: int, summary: Summary, writing: str) -> None:
        seen.append((done, total, len(summary.points), bool(writing)))

    summary = ws.summarise("hr", doc.id, on_progress=progress)
    total = seen[0][1]
    assert total >= 2  # a part per page group: each reported on its own
    assert [s[0] for s in seen if not s[3]] == list(range(1, total + 1))  # every part, in order, when done
    assert any(s[3] for s in seen)  # the words as the model writes them
    assert seen[-1][2] == len(summary.points)


def test_cancelling_a_summary_stops_the_model(services: Services, real_model: object) -> None:
    ws = services.workspace()
    [doc] = ws.documents("hr")
    tokens = 0

    def progress(done: int, total: int, summary: Summary, writing: str) -> None:
        nonlocal tokens
        tokens += bool(writing)
        if tokens == 2:
            raise Cancelled

    with pytest.raises(Cancelled):
        ws.summarise("hr", doc.id, on_progress=progress)
    assert stopped_slot(real_model) < 64
