from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from confidant.offline import enforce_offline
from confidant.services import Services, build_services
from confidant.settings import Settings
from rag.embedders import Embedder
from rag.onnx_embedders import bge_small_embedder
from storage.records import DocState, FileResult
from tests.documents import HR_DOCS


def pytest_configure(config: pytest.Config) -> None:
    """The tests' own process stays offline too: telemetry switches set before any test imports a library (some
    tests import onnxruntime directly)."""
    enforce_offline()


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The default embedding model (bge-small INT8 from its PyPI package) as the app sets it up, loaded once per test
    session."""
    return bge_small_embedder(Settings().embedding_batch_size)


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


@pytest.fixture(scope="session")
def answer_model_path() -> Path:
    """The default answer model (Qwen2.5-Coder-1.5B GGUF), as scripts/install assembled it from its PyPI parts."""
    from rag.model_files import resolve_model_path

    settings = Settings()
    return resolve_model_path(settings.embedded_model, settings.models_dir)


@pytest.fixture(scope="session")
def real_model(answer_model_path: Path) -> Iterator[object]:
    """The embedded llama.cpp server with the default model, one thread (the other core runs the tests)."""
    from rag.llamacpp_chat import LlamaCppChat

    model = LlamaCppChat(answer_model_path, label="qwen2.5-coder-1.5b", threads=1, context=4096, timeout_s=600)
    yield model
    model.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server on loopback for the whole session (tests/servers.py)."""
    from tests.servers import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def chroma_address() -> Iterator[tuple[str, int]]:
    """A Chroma server (`chroma run`) on loopback for the whole session."""
    from tests.servers import chroma_server

    with chroma_server() as address:
        yield address


@pytest.fixture(params=["embedded", "server"])
def records(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A new records database: a SQLite file, or a fresh database on the PostgreSQL test server."""
    from storage.sql import open_records

    if request.param == "embedded":
        engine = open_records(tmp_path / "records.sqlite3")
    else:
        engine = open_records(fresh_database(request.getfixturevalue("postgres_url")))
    yield engine
    engine.dispose()


def fresh_database(server_url: str) -> str:
    """A new empty database on the test server; its URL."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server_url.rsplit("/", 1)[0] + f"/{name}"
