"""Background grid runs (confidant/grid_runs.py): one person may keep only a few waiting at once, a waiting one is
cancelled at once, and they take turns."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from confidant.grid_runs import GridRun, RunState
from confidant.limits import LimitExceeded
from rag.embedders import Embedder
from rag.grid import Grid
from tests.test_access import World, build_world

QUESTION = "What is the dental deductible?"


@pytest.fixture
def world(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[World]:
    w = build_world(tmp_path_factory.mktemp("grid-runs"), embedder)
    yield w
    w.services.close()


def test_a_person_keeps_at_most_three_grids_waiting_and_a_waiting_one_is_cancelled_at_once(world: World) -> None:
    release = threading.Event()
    runs = world.services.grid_runs
    blocker = runs.submit(GridRun("", "root", "hr", [QUESTION], []),
                          lambda on_cell: Grid([], []) if release.wait(60) else Grid([], []))
    alice = world.workspace("alice")
    waiting = [alice.start_grid("hr", [QUESTION]) for _ in range(3)]
    assert [r.state for r in waiting] == [RunState.QUEUED] * 3  # behind root's grid
    with pytest.raises(LimitExceeded, match="3 of your grids are still waiting or running; at most 3"):
        alice.start_grid("hr", [QUESTION])
    [refusal] = world.workspace("root").audit_events(user="alice", action="refused", limit=1)
    assert "at most 3 at once" in refusal.detail
    alice.cancel_grid(waiting[0].id)
    assert waiting[0].state is RunState.CANCELLED and waiting[0].finished  # at once, not when its turn comes
    waiting.append(alice.start_grid("hr", [QUESTION]))  # its place is free
    release.set()
    deadline = time.monotonic() + 120
    while not all(r.finished for r in [blocker, *waiting]):
        assert time.monotonic() < deadline, [r.describe() for r in waiting]
        time.sleep(0.05)
    assert [r.state for r in waiting] == [RunState.CANCELLED, RunState.DONE, RunState.DONE, RunState.DONE]
    assert waiting[0].cells == {} and all(len(r.cells) == 1 for r in waiting[1:])
    # the turns were taken in order: each run finished after the one started before it
    finished = [r.finished_at or 0.0 for r in [blocker, *waiting[1:]]]
    assert finished == sorted(finished)
