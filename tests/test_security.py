"""Issue #17's smaller holes, each closed: a private data folder, originals that go with their document, limits on
what a client sends, refusals audited (and bursts shown), tokens and accounts managed from the CLI, and every page
checking the caller's role itself."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from confidant.access import AccessDenied, Caller
from confidant.cli import app
from confidant.data_folder import loose_modes_warning
from confidant.limits import LimitExceeded
from confidant.refusal_bursts import refusal_bursts
from confidant.services import build_services
from confidant.settings import Settings
from ingest.uploads import Upload
from rag.embedders import Embedder
from storage.audit import AuditEvent
from storage.records import DocState
from tests.documents import make_pdf
from tests.test_access import World, build_world
from ui.context import AppContext

runner = CliRunner()


@pytest.fixture
def world(tmp_path: Path, embedder: Embedder) -> Iterator[World]:
    w = build_world(tmp_path, embedder)
    yield w
    w.services.close()


def modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]
            if not p.is_symlink()}


# --- the data folder is private ------------------------------------------------------------------------------------
def test_the_data_folder_and_everything_in_it_is_private(world: World) -> None:
    root = world.services.settings.data_dir
    [result] = world.workspace("bob").ingest_uploads(
        [Upload("nda.pdf", world.pdf("nda.pdf", ["The nondisclosure term lasts five years."]))], "legal")
    assert result.state is DocState.INDEXED
    found = modes(root)
    assert any(name.startswith("files/") for name in found) and any(name.startswith("chroma") for name in found)
    loose = {name: oct(mode) for name, mode in found.items() if mode & 0o077}
    assert loose == {}, loose
    assert found["."] == 0o700
    assert loose_modes_warning(root) is None


def test_a_folder_with_looser_modes_is_reported_with_the_fix(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    (home / "registry.sqlite3").write_bytes(b"")
    os.chmod(home / "registry.sqlite3", 0o644)
    warning = loose_modes_warning(home)
    assert warning is not None and "registry.sqlite3" in warning and f"chmod -R go-rwx {home}" in warning
    env = {"CONFIDANT_HOME": str(home)}
    result = runner.invoke(app, ["docs", "list"], env=env)
    assert result.exit_code == 0 and "can be read by other users" in result.stderr


# --- originals go with their document ------------------------------------------------------------------------------
def test_deleting_a_document_deletes_its_uploaded_original(world: World) -> None:
    bob, files = world.workspace("bob"), world.services.settings.files_dir
    [result] = bob.ingest_uploads([Upload("nda.pdf", world.pdf("nda.pdf", ["The term lasts five years."]))], "legal")
    original = Path(world.services.registry.get("legal", result.id).source_path)  # type: ignore[union-attr]
    assert original.is_file() and files in original.parents
    bob.delete("legal", result.id)
    assert not original.exists() and not original.parent.exists()


def test_an_original_shared_with_another_collection_stays_until_the_last_goes(world: World) -> None:
    root = world.workspace("root")
    data = world.pdf("policy.pdf", ["Parking costs ten dollars per month."])
    [a] = root.ingest_uploads([Upload("policy.pdf", data)], "hr")
    [b] = root.ingest_uploads([Upload("policy.pdf", data)], "legal")
    assert a.state is b.state is DocState.INDEXED
    original = Path(world.services.registry.get("hr", a.id).source_path)  # type: ignore[union-attr]
    root.delete("hr", a.id)
    assert original.is_file()  # legal still uses it
    root.delete("legal", b.id)
    assert not original.exists()


def test_a_file_the_cli_ingested_from_the_users_folder_is_never_deleted(world: World) -> None:
    mine = make_pdf(world.scratch / "mine.pdf", ["My own notes about leave."])
    root = world.workspace("root")
    [result] = root.ingest_files([mine], "hr")
    root.delete("hr", result.id)
    assert mine.is_file()


def test_a_rejected_upload_leaves_no_file_behind(world: World) -> None:
    files = world.services.settings.files_dir
    before = sorted(files.rglob("*"))
    results = world.workspace("bob").ingest_uploads(
        [Upload("broken.pdf", b"%PDF-1.7\nthis is not really a pdf"), Upload("empty.pdf", b""),
         Upload("script.exe", b"MZ...")], "legal")
    assert [r.state for r in results] == [DocState.INVALID, DocState.INVALID, DocState.UNSUPPORTED]
    assert sorted(files.rglob("*")) == before


# --- limits on what a client sends, refusals audited ----------------------------------------------------------------
@pytest.mark.parametrize(("call", "message"), [
    (lambda ws: ws.search("x" * 4001, 5), "at most 4,000"),
    (lambda ws: ws.search("dental", 51), "k must be between 1 and 50"),
    (lambda ws: ws.search("dental", 5, ["hr/../legal"]), "invalid collection name"),
    (lambda ws: ws.search("dental", 5, ["x" * 65]), "invalid collection name"),
    (lambda ws: ws.search("dental", 5, None, ["not-an-id"]), "invalid document id"),
    (lambda ws: ws.ask("x" * 4001), "at most 4,000"),
    (lambda ws: ws.ask("and dental?", history=["q"] * 21), "at most 20"),
    (lambda ws: ws.ask("and dental?", history=["q" * 4001]), "at most 4,000"),
    (lambda ws: ws.ask("   "), "empty"),
])
def test_limits_refuse_with_a_clear_reason_and_are_audited(world: World, call, message) -> None:  # type: ignore[no-untyped-def]
    alice = world.workspace("alice", client="api 10.0.0.7")
    with pytest.raises(LimitExceeded, match=message):
        call(alice)
    [event] = world.workspace("root").audit_events(user="alice", action="refused")
    assert message.split()[-1] in event.detail and event.client == "api 10.0.0.7"


def test_a_collection_the_caller_may_not_see_is_refused_and_audited(world: World) -> None:
    with pytest.raises(AccessDenied):
        world.workspace("alice", client="ui 10.0.0.8").search("indemnification cap", 5, ["legal"])
    [event] = world.workspace("root").audit_events(user="alice", action="refused")
    assert "collection 'legal'" in event.detail and event.client == "ui 10.0.0.8"


def test_the_cli_refuses_an_overlong_question_with_its_reason(tmp_path: Path) -> None:
    env = {"CONFIDANT_HOME": str(tmp_path / "home")}
    result = runner.invoke(app, ["search", "x" * 4001], env=env)
    assert result.exit_code == 2 and "at most 4,000" in result.stderr
    result = runner.invoke(app, ["search", "leave", "--k", "500"], env=env)
    assert result.exit_code == 2 and "k must be between 1 and 50" in result.stderr


def test_bursts_of_refusals_from_one_client_are_found() -> None:
    start = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)

    def refused(seconds: float, client: str, user: str = "anonymous") -> AuditEvent:
        return AuditEvent(at=(start + timedelta(seconds=seconds)).isoformat(), user=user, action="refused",
                          collections=(), client=client, detail="401 POST /api/ask: invalid token")

    events = [refused(i * 2.5, "api 10.0.0.9", f"u{i % 3}") for i in range(24)]  # 24 in 57.5 s
    events += [refused(i * 10, "api 10.0.0.10") for i in range(30)]  # 6 a minute: slow, not a burst
    events += [AuditEvent(at=start.isoformat(), user="x", action="ask", collections=(), client="api 10.0.0.11")] * 30
    [burst] = refusal_bursts(events, threshold=20)
    assert (burst.client, burst.most_in_a_minute, burst.refusals) == ("api 10.0.0.9", 24, 24)
    assert burst.users == ("u0", "u1", "u2")
    assert refusal_bursts(events[:19], threshold=20) == []


# --- the CLI audits what it does ------------------------------------------------------------------------------------
def test_every_cli_action_on_documents_is_audited(tmp_path: Path) -> None:
    env = {"CONFIDANT_HOME": str(tmp_path / "home"), "CONFIDANT_LLM_MODE": "ollama",
           "CONFIDANT_OLLAMA_HOST": "http://127.0.0.1:9"}  # no model: ask still returns passages
    folder = tmp_path / "docs"
    folder.mkdir()
    make_pdf(folder / "leave.pdf", ["Annual leave is 25 days per year."])
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "1", "question": "How much annual leave?", "answer": "25 days",
                                     "evidence": [{"file": "leave.pdf", "page": 1}]}) + "\n")
    steps = [["ingest", str(folder), "-c", "hr"], ["search", "annual leave", "-c", "hr"],
             ["ask", "How much annual leave?", "-c", "hr"], ["eval", str(questions), "-c", "hr"],
             ["sync", str(folder), "-c", "hr"]]
    for step in steps:
        result = runner.invoke(app, step, env=env)
        assert result.exit_code == 0, (step, result.output)
    doc_id = json.loads(runner.invoke(app, ["docs", "list", "--json"], env=env).stdout)[0]["id"]
    assert runner.invoke(app, ["docs", "delete", doc_id[:12]], env=env).exit_code == 0
    s = build_services(Settings(home=tmp_path / "home"))
    try:
        events = list(reversed(s.audit.events(include_global=True)))
    finally:
        s.close()
    assert [e.action for e in events] == ["ingest", "search", "ask", "eval", "sync", "delete"]
    assert all(e.client == "cli" and e.user.startswith("local:") for e in events)
    assert events[1].question == "annual leave" and events[5].documents == ("leave.pdf",)


# --- tokens and accounts from the CLI ---------------------------------------------------------------------------------
def test_tokens_are_listed_and_revoked_one_by_one_and_accounts_disabled(tmp_path: Path) -> None:
    env = {"CONFIDANT_HOME": str(tmp_path / "home")}
    assert runner.invoke(app, ["users", "add", "carol"], env=env, input="correct horse battery\n").exit_code == 0
    first = runner.invoke(app, ["users", "token", "carol", "--label", "wiki"], env=env).stdout.strip()
    second = runner.invoke(app, ["users", "token", "carol", "--label", "bot"], env=env).stdout.strip()
    listed = json.loads(runner.invoke(app, ["users", "tokens", "carol", "--json"], env=env).stdout)
    assert [(t["label"], t["revoked"]) for t in listed] == [("wiki", False), ("bot", False)]
    assert first not in json.dumps(listed) and all(first.startswith(t["prefix"]) or second.startswith(t["prefix"])
                                                   for t in listed)
    assert runner.invoke(app, ["users", "token-revoke", "carol", str(listed[0]["id"])], env=env).exit_code == 0
    s = build_services(Settings(home=tmp_path / "home"))
    try:
        with pytest.raises(Exception, match="revoked"):
            s.accounts.user_for_token(first)
        assert s.accounts.user_for_token(second).username == "carol"
    finally:
        s.close()
    assert runner.invoke(app, ["users", "disable", "carol"], env=env).exit_code == 0
    s = build_services(Settings(home=tmp_path / "home"))
    try:
        with pytest.raises(Exception, match="disabled"):
            s.accounts.user_for_token(second)
    finally:
        s.close()
    assert runner.invoke(app, ["users", "enable", "carol"], env=env).exit_code == 0
    assert runner.invoke(app, ["users", "token", "carol", "--days", "0"], env=env).exit_code == 2
    assert runner.invoke(app, ["audit", "--days", "0"], env=env).exit_code == 2
    audit = runner.invoke(app, ["audit", "--csv"], env=env).stdout
    for action in ("token_issued", "token_revoked", "user_disabled", "user_enabled"):
        assert action in audit


# --- every page checks the role itself ----------------------------------------------------------------------------
def run_page(ctx, page, caller) -> None:  # type: ignore[no-untyped-def]  # AppTest runs this source alone
    page(ctx.for_caller(caller))


@pytest.fixture
def app_ctx(world: World) -> Iterator[AppContext]:
    ctx = AppContext.create(world.services)
    yield ctx
    ctx.close()


@pytest.mark.parametrize(("page_name", "username"), [("admin", "bob"), ("collections", "bob"), ("upload", "alice"),
                                                    ("admin", "alice")])
def test_a_page_refuses_a_caller_without_the_role_even_when_asked_for_directly(
        world: World, app_ctx: AppContext, page_name: str, username: str) -> None:
    from ui.admin_page import admin_page
    from ui.collections_page import collections_page
    from ui.upload import upload_page

    page = {"admin": admin_page, "collections": collections_page, "upload": upload_page}[page_name]
    user = world.services.accounts.get_user(username)
    assert user is not None
    caller = Caller.for_user(user, world.services.accounts.collections_of(username), "ui 10.1.1.1")
    at = AppTest.from_function(run_page, args=(app_ctx, page, caller), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] and "Ask an administrator" in at.error[0].value
    assert not at.dataframe and not at.button and not at.text_input  # nothing of the page itself
    [event] = world.workspace("root").audit_events(user=username, action="refused")
    assert event.client == "ui 10.1.1.1" and "page" in event.detail


def test_the_admin_page_shows_a_burst_of_refusals(world: World, app_ctx: AppContext) -> None:
    from ui.admin_page import admin_page

    for _ in range(25):
        world.services.audit.record(AuditEvent(at="", user="anonymous", action="refused", collections=(),
                                               client="api 10.9.9.9", detail="401 GET /api/search: invalid token"))
    root = world.services.accounts.get_user("root")
    assert root is not None
    at = AppTest.from_function(run_page, args=(app_ctx, admin_page, Caller.for_user(root, set())), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    assert any("refused 20+ times within a minute" in e.value for e in at.error)
    assert any("api 10.9.9.9" in df.value.to_csv() for df in at.dataframe)


def test_disabling_an_account_ends_its_signed_in_session(world: World) -> None:
    from tests.test_ui_login import signed_in

    world.services.settings.__dict__["auth"] = "accounts"
    ctx = AppContext.create(world.services)
    at = signed_in(ctx, "alice", "correct horse battery")
    assert at.chat_input
    world.services.accounts.set_disabled("alice", True)
    at.run()
    assert not at.chat_input and at.text_input(key="login_user") is not None
