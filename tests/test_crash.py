"""kill -9 in the middle of an ingest: no chunks of a non-indexed document are visible, and the next run completes."""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from rag.embedders import Embedder
from storage.records import DocState
from tests.conftest import make_services
from tests.documents import HR_DOCS

BIG = "2-Northwind_Standard_Benefits_Details.pdf"
SMALL = "1-PerksPlus.pdf"


def state_of(registry: Path, file_name: str) -> tuple[str, int, int] | None:
    """(state, chunks, embedded) of a file's record, read beside the running ingest."""
    if not registry.exists():
        return None
    try:
        with sqlite3.connect(registry, timeout=5) as db:
            row = db.execute("SELECT state, chunks, embedded FROM documents WHERE file_name = ?",
                             (file_name,)).fetchone()
    except sqlite3.OperationalError:
        return None
    return (str(row[0]), int(row[1]), int(row[2])) if row else None


def test_kill_while_vectors_are_stored_then_resume(tmp_path: Path, embedder: Embedder) -> None:
    """kill -9 in the vector stage: the document read before it stays keyword-searchable with the vectors it got,
    and the next run finishes its vectors without storing any twice."""
    folder = tmp_path / "docs"
    folder.mkdir()
    # discovered in name order: the small file is finished first
    shutil.copy(HR_DOCS / "PerksPlus.pdf", folder / SMALL)
    shutil.copy(HR_DOCS / BIG[2:], folder / BIG)
    home = tmp_path / "home"
    env = {**os.environ, "CONFIDANT_HOME": str(home), "CONFIDANT_EMBEDDING_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "confidant.cli", "ingest", str(folder), "-c", "hr"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while True:  # the big file read, and some but not all of its vectors stored
            state = state_of(home / "registry.sqlite3", BIG)
            if state is not None and state[0] == "indexed" and 0 < state[2] < state[1] - 120:
                break
            assert proc.poll() is None, f"ingest ended before it could be interrupted ({state})"
            assert time.monotonic() < deadline, f"the big file's vectors never started ({state})"
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    services = make_services(home, embedder)
    records = {r.file_name: r for r in services.registry.documents("hr")}
    assert records[SMALL].state is DocState.INDEXED and not records[SMALL].vectors_pending
    big = records[BIG]
    assert big.state is DocState.INDEXED and 0 < big.embedded < big.chunks and big.pages == 104
    assert services.store.count(collection="hr", document_id=big.id) == big.embedded
    # keyword-searchable already, all of it: the last page's passages too
    hits = services.retriever.search("Northwind Standard calendar year deductible", 20, ["hr"], mode="keyword")
    assert any(h.chunk.document_id == big.id for h in hits)
    assert services.keywords.count("hr", big.id) == big.chunks

    results = {r.file: r for r in services.pipeline.ingest([folder], "hr")}  # both known: it finishes the vectors
    assert results[SMALL].state is results[BIG].state is DocState.DUPLICATE
    big = services.registry.get("hr", big.id)  # type: ignore[assignment]
    assert big is not None and big.state is DocState.INDEXED and big.embedded == big.chunks
    assert services.store.count(collection="hr", document_id=big.id) == big.chunks
    total = sum(r.chunks for r in services.registry.documents("hr"))
    assert services.store.count() == services.keywords.count() == total  # no duplicates, no orphans
    services.close()


def test_kill_at_random_points_then_resume_leaves_one_consistent_copy(tmp_path: Path, embedder: Embedder) -> None:
    """Several trials: kill -9 after a random delay (seeded), check nothing half-done is visible, resume, check the
    registry, Chroma and the BM25 index agree chunk for chunk."""
    import random

    from tests.documents import make_pdf

    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(6):
        make_pdf(folder / f"report-{i}.pdf", [f"Report {i}, section {p}. " + "Quarterly figures were reviewed. " * 30
                                               for p in range(8)])
    shutil.copy(HR_DOCS / "PerksPlus.pdf", folder / "perks.pdf")
    home = tmp_path / "home"
    env = {**os.environ, "CONFIDANT_HOME": str(home), "CONFIDANT_EMBEDDING_THREADS": "1"}
    rng = random.Random(20261123)
    for trial in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "confidant.cli", "ingest", str(folder), "-c", "hr"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(4.0, 14.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        services = make_services(home, embedder)
        indexed = {r.id for r in services.registry.documents("hr", DocState.INDEXED)}
        hits = services.retriever.search("quarterly figures report section", 50, ["hr"])
        assert all(h.chunk.document_id in indexed for h in hits), f"trial {trial}: a half-done document is visible"
        services.close()

    services = make_services(home, embedder)
    results = services.pipeline.ingest([folder], "hr")
    assert all(r.state in (DocState.INDEXED, DocState.DUPLICATE) for r in results), results
    records = services.registry.documents("hr")
    assert len(records) == 7 and all(r.state is DocState.INDEXED for r in records)
    assert len({r.id for r in records}) == 7  # no document twice
    for r in records:
        assert services.store.count("hr", r.id) == services.keywords.count("hr", r.id) == r.chunks, r.file_name
        assert services.pages.count("hr", r.id) == r.pages, r.file_name  # every page has text in these files
    assert services.store.document_ids("hr") == {("hr", r.id) for r in records}  # no orphans
    assert services.store.count() == services.keywords.count() == sum(r.chunks for r in records)
    assert services.pages.count() == sum(r.pages for r in records)
    services.close()
