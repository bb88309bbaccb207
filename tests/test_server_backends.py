"""Teams: several app processes on one machine sharing a PostgreSQL registry and a Chroma server index each file
once, and everything they stored agrees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from confidant.services import build_services
from confidant.settings import Settings
from rag.embedders import Embedder
from storage.records import DocState
from tests.conftest import fresh_database
from tests.documents import make_pdf


def test_two_processes_share_the_server_backends_without_double_indexing(
        tmp_path: Path, postgres_url: str, chroma_address: tuple[str, int], embedder: Embedder) -> None:
    url = fresh_database(postgres_url)
    server = f"{chroma_address[0]}:{chroma_address[1]}"
    folder = tmp_path / "team-docs"
    folder.mkdir()
    for i, topic in enumerate(["parking permits", "travel expenses", "remote work", "jury duty"]):
        make_pdf(folder / f"policy-{i}.pdf", [f"Policy on {topic}. Employees must ask their manager first.",
                                              f"Details on {topic} are kept by human resources."])
    env = {**os.environ, "CONFIDANT_REGISTRY_URL": url, "CONFIDANT_CHROMA_SERVER": server,
           "CONFIDANT_EMBEDDING_THREADS": "1"}
    cli = [sys.executable, "-m", "confidant.cli", "ingest", str(folder), "--collection", "team", "--json"]
    runs = [subprocess.Popen(cli, env={**env, "CONFIDANT_HOME": str(tmp_path / f"home-{n}")},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in (1, 2)]
    outputs = [run.communicate(timeout=600) for run in runs]
    for run, (_, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err
    states = [{r["file"]: r["state"] for r in json.loads(out)} for out, _ in outputs]
    for name in (f"policy-{i}.pdf" for i in range(4)):
        assert sorted(s[name] for s in states) == ["duplicate", "indexed"], states  # indexed by one process only

    services = build_services(Settings(home=tmp_path / "home-1", registry_url=url, chroma_server=server),
                              embedder=embedder)
    records = services.registry.documents("team")
    assert len(records) == 4 and all(r.state is DocState.INDEXED and r.current for r in records)
    assert services.store.count("team") == sum(r.chunks for r in records)
    assert services.store.document_ids("team") == {("team", r.id) for r in records}
    hits = services.retriever.search("jury duty", 3, ["team"], mode="vector")
    assert hits[0].chunk.file_name == "policy-3.pdf"
    services.close()
