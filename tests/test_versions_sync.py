"""Document versions and folder sync: a changed file becomes the next version (answers use the current one and
say which), older versions stay searchable on request, and `sync` makes a collection match its folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from confidant.cli import app
from confidant.services import Services
from ingest.sync import apply_sync, plan_sync
from storage.records import DocState
from tests.fakes import ExtractiveChat

V1 = "Parking policy. The monthly parking fee for employees is ten dollars, paid by payroll deduction."
V2 = "Parking policy. The monthly parking fee for employees is twenty-five dollars, paid by payroll deduction."


def chunk_counts(services: Services, collection: str, document_id: str) -> tuple[int, int]:
    return (services.store.count(collection, document_id), services.keywords.count(collection, document_id))


def test_a_changed_file_becomes_the_next_version(services: Services, tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    folder.mkdir()
    policy = folder / "parking.txt"
    policy.write_text(V1)
    [first] = services.pipeline.ingest([folder], "hr")
    policy.write_text(V2)
    [second] = services.pipeline.ingest([folder], "hr")
    assert first.state is second.state is DocState.INDEXED and first.id != second.id
    old, new = services.registry.get("hr", first.id), services.registry.get("hr", second.id)
    assert old is not None and new is not None
    assert (old.version, old.current, new.version, new.current) == (1, False, 2, True)
    assert [v.version for v in services.registry.versions("hr", "parking.txt")] == [2, 1]

    # answers and searches use the current version, and say which version they cite
    hits = services.retriever.search("monthly parking fee", 5, ["hr"])
    assert {h.chunk.document_id for h in hits} == {second.id}
    workspace = services.workspace()
    services.__dict__["chat_model"] = ExtractiveChat()
    answer = workspace.answer_json(workspace.ask("What is the monthly parking fee?", ["hr"]))
    cited = answer["citations"]
    assert cited and all(c["version"] == 2 and c["current"] is True for c in cited)  # type: ignore[index,union-attr]
    assert "twenty-five" in str(answer["answer"])

    # older versions on request
    both = services.retriever.search("monthly parking fee", 5, ["hr"], all_versions=True)
    assert {h.chunk.document_id for h in both} == {first.id, second.id}
    only_old = services.retriever.search("monthly parking fee", 5, ["hr"], [first.id])
    assert {h.chunk.document_id for h in only_old} == {first.id}

    # the old content coming back makes version 1's passages current again, without indexing them twice
    before = chunk_counts(services, "hr", first.id)
    policy.write_text(V1)
    [again] = services.pipeline.ingest([folder], "hr")
    assert again.state is DocState.INDEXED and "current again" in again.reason
    assert chunk_counts(services, "hr", first.id) == before
    hits = services.retriever.search("monthly parking fee", 5, ["hr"])
    assert {h.chunk.document_id for h in hits} == {first.id}


def test_sync_makes_the_collection_match_the_folder(services: Services, tmp_path: Path) -> None:
    folder = tmp_path / "shared-drive"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("Alpha policy. Remote work needs a manager's approval in writing.")
    (folder / "b.txt").write_text(V1)
    (folder / "sub" / "c.md").write_text("# Gamma\n\nThe cafeteria closes at three in the afternoon.")
    plan = plan_sync(folder, "drive", services.registry)
    assert sorted(k for _, k in plan.add) == ["a.txt", "b.txt", "sub/c.md"] and not plan.remove
    apply_sync(plan, services.pipeline, services.registry)
    assert current_keys(services) == {"a.txt", "b.txt", "sub/c.md"}

    (folder / "b.txt").write_text(V2)
    c_id = next(r.id for r in services.registry.documents("drive") if r.source_key == "sub/c.md")
    (folder / "sub" / "c.md").unlink()
    (folder / "d.txt").write_text("Delta policy. Bicycles may be parked in the basement.")
    os.utime(folder / "b.txt")
    plan = plan_sync(folder, "drive", services.registry)
    assert [k for _, k in plan.add] == ["d.txt"] and [k for _, k in plan.change] == ["b.txt"]
    assert plan.remove == ["sub/c.md"] and plan.unchanged == ["a.txt"]
    assert current_keys(services) == {"a.txt", "b.txt", "sub/c.md"}  # planning changed nothing

    report = apply_sync(plan, services.pipeline, services.registry)
    assert [r.state for r in report.results] == [DocState.INDEXED, DocState.INDEXED]
    assert current_keys(services) == {"a.txt", "b.txt", "d.txt"}
    assert chunk_counts(services, "drive", c_id) == (0, 0) and services.registry.get("drive", c_id) is None
    assert [v.version for v in services.registry.versions("drive", "b.txt")] == [2, 1]
    # the store holds exactly the chunks the registry lists
    listed = sum(r.chunks for r in services.registry.documents("drive", DocState.INDEXED))
    assert services.store.count("drive") == services.keywords.count("drive") == listed
    assert plan_sync(folder, "drive", services.registry).add == []
    assert plan_sync(folder, "drive", services.registry).change == []


def current_keys(services: Services) -> set[str]:
    return {r.source_key for r in services.registry.documents("drive", DocState.INDEXED) if r.current}


def test_sync_command_dry_run_and_apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFIDANT_HOME", str(tmp_path / "home"))
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "handbook.txt").write_text("Handbook. Holidays are booked through the HR portal.")
    runner = CliRunner()
    dry = runner.invoke(app, ["sync", str(folder), "-c", "hr", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["plan"] == [{"action": "add", "file": "handbook.txt"}]
    listed = runner.invoke(app, ["docs", "list", "--json"])
    assert json.loads(listed.stdout) == []
    done = runner.invoke(app, ["sync", str(folder), "-c", "hr", "--json"])
    assert done.exit_code == 0, done.output
    assert [r["state"] for r in json.loads(done.stdout)["results"]] == ["indexed"]
    versions = runner.invoke(app, ["docs", "versions", json.loads(done.stdout)["results"][0]["id"], "--json"])
    assert [v["version"] for v in json.loads(versions.stdout)] == [1]
