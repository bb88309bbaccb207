"""A running app and a `confidant ingest` in another process share one data folder: the app's open vector store
must see what the other process added and removed (Chroma's embedded client caches its index per process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rag.embedders import Embedder
from tests.conftest import make_services
from tests.documents import make_pdf


def cli(home: Path, *args: str) -> None:
    env = {**os.environ, "CONFIDANT_HOME": str(home), "CONFIDANT_EMBEDDING_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "confidant.cli", *args], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr


def test_an_open_store_sees_another_process_ingest_and_delete(tmp_path: Path, embedder: Embedder) -> None:
    home = tmp_path / "home"
    first = make_pdf(tmp_path / "first.pdf", ["The parking garage opens at seven in the morning."])
    second = make_pdf(tmp_path / "second.pdf", ["The library lends laptops to employees for two weeks."])
    app = make_services(home, embedder)  # like the Streamlit app: opened once, kept open
    [done] = app.pipeline.ingest([first], "hr")
    assert app.retriever.search("parking garage", 3, ["hr"])[0].chunk.file_name == "first.pdf"

    cli(home, "ingest", str(second), "-c", "hr")  # another process writes to the same folder
    hits = app.retriever.search("library laptops", 3, ["hr"])
    assert hits and hits[0].chunk.file_name == "second.pdf"

    cli(home, "docs", "delete", done.id, "-c", "hr")
    assert all(h.chunk.file_name != "first.pdf" for h in app.retriever.search("parking garage", 3, ["hr"]))
    assert app.store.count("hr") == app.registry.documents("hr")[0].chunks
    app.close()
