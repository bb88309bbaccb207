"""The CLI contract other tools script against."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from confidant.cli import app
from tests.documents import make_pdf

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"CONFIDANT_HOME": str(tmp_path / "home")}


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.stdout


def test_ingest_list_search_delete(tmp_path: Path, env: dict[str, str]) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    make_pdf(folder / "leave.pdf", ["Annual leave is 25 days per year.", "Sick leave needs a doctor's note after 3 days."])
    (folder / "junk.pdf").write_bytes(b"not a pdf")

    code, stdout = run(env, "ingest", str(folder), "--collection", "hr", "--json")
    assert code == 0
    rows = json.loads(stdout)
    assert {r["file"]: r["state"] for r in rows} == {"leave.pdf": "indexed", "junk.pdf": "invalid"}
    leave = next(r for r in rows if r["file"] == "leave.pdf")
    assert set(leave) == {"file", "id", "collection", "state", "reason", "pages", "chunks"}
    assert (leave["collection"], leave["pages"]) == ("hr", 2) and len(leave["id"]) == 64

    code, stdout = run(env, "docs", "list", "--json")
    assert code == 0 and {d["file"] for d in json.loads(stdout)} == {"leave.pdf", "junk.pdf"}

    code, stdout = run(env, "search", "how many days of sick leave before a note", "--k", "2", "--json")
    hits = json.loads(stdout)
    assert code == 0 and hits[0]["page"] == 2 and hits[0]["file"] == "leave.pdf"
    assert set(hits[0]) == {"rank", "score", "file", "page", "start", "end", "text", "document_id"}
    assert hits[0]["rank"] == 1 and hits[0]["end"] > hits[0]["start"]

    code, stdout = run(env, "search", "leave", "--collection", "legal", "--json")
    assert code == 0 and json.loads(stdout) == []

    code, stdout = run(env, "docs", "delete", leave["id"][:10])
    assert code == 0 and "Deleted leave.pdf" in stdout
    code, stdout = run(env, "search", "sick leave", "--json")
    assert json.loads(stdout) == []


def test_ingest_without_waiting_then_the_next_ingest_finishes_the_vectors(tmp_path: Path, env: dict[str, str]) -> None:
    path = make_pdf(tmp_path / "leave.pdf", ["Annual leave is 25 days per year.", "Sick leave needs a note."])
    code, stdout = run(env, "ingest", str(path), "--no-wait", "--json")
    assert code == 0 and json.loads(stdout)[0]["state"] == "indexed"
    [doc] = json.loads(run(env, "docs", "list", "--json")[1])
    assert doc["embedded"] == 0 < doc["chunks"]
    code, stdout = run(env, "search", "sick leave note", "--mode", "keyword", "--json")
    assert code == 0 and json.loads(stdout)[0]["page"] == 2  # keyword-searchable at once
    assert "keywords only; vectors 0/" in run({**env, "COLUMNS": "250"}, "docs", "list")[1]

    code, stdout = run(env, "ingest", str(path), "--json")
    assert code == 0 and json.loads(stdout)[0]["state"] == "duplicate"
    [doc] = json.loads(run(env, "docs", "list", "--json")[1])
    assert doc["embedded"] == doc["chunks"]
    code, stdout = run(env, "search", "sick leave note", "--mode", "vector", "--json")
    assert json.loads(stdout)[0]["page"] == 2


def test_ingest_table_output(tmp_path: Path, env: dict[str, str]) -> None:
    path = make_pdf(tmp_path / "one.pdf", ["Hello world."])
    code, stdout = run(env, "ingest", str(path))
    assert code == 0 and "one.pdf" in stdout and "indexed" in stdout


def test_missing_path_exits_nonzero(env: dict[str, str]) -> None:
    code, _ = run(env, "ingest", "/no/such/folder", "--json")
    assert code == 1


def test_delete_unknown_id(env: dict[str, str]) -> None:
    code, _ = run(env, "docs", "delete", "deadbeefdeadbeef")
    assert code == 1
