from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from confidant.services import Services, build_services
from confidant.settings import Settings
from rag.embedders import Embedder, minilm_embedder
from storage.records import DocState, FileResult
from tests.documents import HR_DOCS


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real MiniLM model from its PyPI package, loaded once per test session."""
    return minilm_embedder()


def make_services(home: Path, embedder: Embedder, **overrides: object) -> Services:
    return build_services(Settings(home=home, **overrides), embedder=embedder)  # type: ignore[arg-type]


@pytest.fixture
def services(tmp_path: Path, embedder: Embedder) -> Iterator[Services]:
    s = make_services(tmp_path / "home", embedder)
    yield s
    s.close()


@pytest.fixture(scope="session")
def hr_home(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> tuple[Path, list[FileResult]]:
    """The HR documents ingested once per session (about a minute on two cores)."""
    home = tmp_path_factory.mktemp("hr-home")
    s = make_services(home, embedder)
    results = s.pipeline.ingest([HR_DOCS], "hr")
    s.close()
    assert all(r.state is DocState.INDEXED for r in results), results
    return home, results


@pytest.fixture
def hr_services(hr_home: tuple[Path, list[FileResult]], embedder: Embedder) -> Iterator[Services]:
    s = make_services(hr_home[0], embedder)
    yield s
    s.close()
