"""The Workspace is the only door: every method checks the caller's role and collections itself and audits a refusal,
and no face (CLI, API, app pages) reaches storage any other way."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest

from confidant.access import AccessDenied
from confidant.grid_runs import GridRun
from confidant.workspace import Workspace
from ingest.sync import SyncPlan
from ingest.uploads import Upload
from rag.answering import Answer
from rag.embedders import Embedder
from rag.evaluation import Evidence, Question
from rag.grid import Grid
from storage.collections import CollectionSettings
from storage.records import DocState
from tests.test_access import LEGAL_QUESTION, World, build_world

ROOT = Path(__file__).resolve().parent.parent
Call = Callable[[Workspace, str, str], object]  # (workspace, a collection the caller may not use, a document id in it)


def _drain(events: Iterator[object]) -> list[object]:
    return list(events)


QUESTION = Question("q1", LEGAL_QUESTION, "twice the purchase price", (Evidence("supply_contract.pdf", 1),), True)

# Every method that a caller without the collection, or without the role, must be refused — with the refusal
# audited. The caller is a reader of hr (alice) or an editor of legal (bob); `other` is the collection they do not use.
REFUSED: dict[str, Call] = {
    # seeing a collection's documents
    "scope": lambda ws, other, doc: ws.scope([other]),
    "documents": lambda ws, other, doc: ws.documents(other),
    "find_documents": lambda ws, other, doc: ws.find_documents(doc[:12], other),
    "document": lambda ws, other, doc: ws.document(other, doc),
    "versions": lambda ws, other, doc: ws.versions(other, doc),
    "original_file": lambda ws, other, doc: ws.original_file(other, doc),
    "note_download": lambda ws, other, doc: ws.note_download(other, doc),
    "chunks": lambda ws, other, doc: ws.chunks(other, doc),
    "indexing_queue": lambda ws, other, doc: ws.indexing_queue([other]),
    "assistant": lambda ws, other, doc: ws.assistant(other),
    # search and answers
    "search": lambda ws, other, doc: ws.search("indemnification cap", 5, [other]),
    "stream_answer": lambda ws, other, doc: _drain(ws.stream_answer(LEGAL_QUESTION, [other])),
    "ask": lambda ws, other, doc: ws.ask(LEGAL_QUESTION, [other]),
    "summarise": lambda ws, other, doc: ws.summarise(other, doc),
    "evaluate": lambda ws, other, doc: ws.evaluate([QUESTION], 5, [other]),
    "evaluate_answers": lambda ws, other, doc: ws.evaluate_answers([QUESTION], [other]),
    # the review grid
    "grid": lambda ws, other, doc: ws.grid(other, ["Which law governs this agreement?"]),
    "start_grid": lambda ws, other, doc: ws.start_grid(other, ["Which law governs this agreement?"]),
    "grid_run": lambda ws, other, doc: ws.grid_run(_roots_grid_run(ws, other)),  # someone else's run
    "cancel_grid": lambda ws, other, doc: ws.cancel_grid(_roots_grid_run(ws, other)),
    "review_grid_cell": lambda ws, other, doc: ws.review_grid_cell(other, doc, "Which law governs?", "Ohio"),
    "grid_templates": lambda ws, other, doc: ws.grid_templates(other),
    "save_grid_template": lambda ws, other, doc: ws.save_grid_template(other, "mine", ["Which law governs?"]),
    # changing documents
    "require_editor": lambda ws, other, doc: ws.require_editor(other),
    "ready_to_ingest": lambda ws, other, doc: ws.ready_to_ingest(),  # a reader's role (an editor may)
    "require_editing": lambda ws, other, doc: ws.require_editing("x"),  # likewise
    "ingest_uploads": lambda ws, other, doc: ws.ingest_uploads([Upload("x.txt", b"a new policy")], other),
    "ingest_files": lambda ws, other, doc: ws.ingest_files([ROOT / "README.md"], other),
    "plan_sync": lambda ws, other, doc: ws.plan_sync(ROOT / "scripts", other),
    "sync_remove": lambda ws, other, doc: ws.sync_remove(SyncPlan(ROOT / "scripts", other)),
    "reindex": lambda ws, other, doc: ws.reindex(other, doc),
    "delete": lambda ws, other, doc: ws.delete(other, doc),
    "set_effective_date": lambda ws, other, doc: ws.set_effective_date(other, doc, "2030-01-01"),
    # administration
    "require_admin": lambda ws, other, doc: ws.require_admin("x"),
    "create_collection": lambda ws, other, doc: ws.create_collection("brand new"),
    "save_assistant": lambda ws, other, doc: ws.save_assistant(CollectionSettings(other, "Taken over")),
    "feedback": lambda ws, other, doc: ws.feedback(),
    "feedback_eval_jsonl": lambda ws, other, doc: ws.feedback_eval_jsonl(),
    "users": lambda ws, other, doc: ws.users(),
    "user": lambda ws, other, doc: ws.user("root"),
    "add_user": lambda ws, other, doc: ws.add_user("eve", "correct horse battery", "admin"),
    "remove_user": lambda ws, other, doc: ws.remove_user("root"),
    "set_password": lambda ws, other, doc: ws.set_password("root", "a brand new password"),
    "set_role": lambda ws, other, doc: ws.set_role(ws.caller.username, "admin"),
    "set_disabled": lambda ws, other, doc: ws.set_disabled("root", True),
    "grant": lambda ws, other, doc: ws.grant(ws.caller.username, other),
    "revoke": lambda ws, other, doc: ws.revoke("root", other),
    "set_memberships": lambda ws, other, doc: ws.set_memberships(ws.caller.username, ["hr", "legal"]),
    "issue_token": lambda ws, other, doc: ws.issue_token("root", "stolen"),
    "tokens": lambda ws, other, doc: ws.tokens("root"),
    "revoke_token": lambda ws, other, doc: ws.revoke_token("root", 1),
    "audit_csv": lambda ws, other, doc: ws.audit_csv(StringIO()),
    # conversations: over a collection the caller does not use, or someone else's
    "start_conversation": lambda ws, other, doc: ws.start_conversation("Who signs?", {"collections": [other]}),
    "stream_answer_in": lambda ws, other, doc: _drain(ws.stream_answer_in(
        _roots_conversation(ws), LEGAL_QUESTION, {"collections": [ws.collections()[0]]})),
    "conversation": lambda ws, other, doc: ws.conversation(_roots_conversation(ws)),
    "rename_conversation": lambda ws, other, doc: ws.rename_conversation(_roots_conversation(ws), "taken"),
    "delete_conversation": lambda ws, other, doc: ws.delete_conversation(_roots_conversation(ws)),
    # answer models: one the machine does not offer; the policy is the administrator's
    "choose_answer_model": lambda ws, other, doc: ws.choose_answer_model("ollama:not-offered"),
    "model_policy": lambda ws, other, doc: ws.model_policy(),
    "set_model_policy": lambda ws, other, doc: ws.set_model_policy("default", []),
}


def _roots_conversation(ws: Workspace) -> str:
    """A conversation of the administrator's (made behind the door, as the test's set-up)."""
    return ws.parts.conversations().create("root", "Board minutes", {"collections": []}).id

def _roots_grid_run(ws: Workspace, collection: str) -> str:
    """A background grid of the administrator's (queued behind the door, as the test's set-up)."""
    run = GridRun("", "root", collection, ["Which law governs this agreement?"], [])
    return ws.parts.grid_runs().submit(run, lambda on_cell: Grid([], [])).id


def _own_grid_runs_only(ws: Workspace, world: World, other: str, doc: str) -> None:
    theirs = _roots_grid_run(ws, other)
    mine = ws.start_grid(ws.collections()[0], ["What is the dental deductible?"])
    listed = [r.id for r in ws.grid_runs()]
    assert mine.id in listed and theirs not in listed


ROLE_ONLY = {"ready_to_ingest", "require_editing"}

# Methods that refuse nothing because they answer only within the caller's own reach; each row checks that.
Check = Callable[[Workspace, World, str, str], None]


def _own_audit_only(ws: Workspace, world: World, other: str, doc: str) -> None:
    events = ws.audit_events(limit=None)
    assert events and {e.user for e in events} == {ws.caller.username}
    assert not any(other in e.collections for e in events)


def _no_provenance_of_other(ws: Workspace, world: World, other: str, doc: str) -> None:
    [chunk, *_] = world.services.store.get_document_chunks(other, doc)
    assert ws.provenance(chunk) == {}


def _answer_json_without_other(ws: Workspace, world: World, other: str, doc: str) -> None:
    [chunk, *_] = world.services.store.get_document_chunks(other, doc)
    from storage.records import ScoredChunk

    data = ws.answer_json(Answer("q", "t", False, "m", [ScoredChunk(chunk, 1.0)]))
    assert "version" not in data["passages"][0]  # type: ignore[index]


def _rating_is_the_callers(ws: Workspace, world: World, other: str, doc: str) -> None:
    ws.rate_answer("What is it?", Answer("What is it?", "It is.", False, "m", []), "up")
    [event] = world.workspace("root").audit_events(action="feedback", limit=1)
    assert event.user == ws.caller.username and event.detail == "up"


def _own_conversations_only(ws: Workspace, world: World, other: str, doc: str) -> None:
    theirs = world.workspace("root").start_conversation("Who signs the supply contract?", {"collections": [other]})
    mine = ws.start_conversation("What is the dental deductible?", {"collections": ws.collections()})
    listed = [c.id for c in ws.conversations()]
    assert mine.id in listed and theirs.id not in listed
    assert ws.conversations("supply contract") == []


def _own_eval_set_only(ws: Workspace, world: World, other: str, doc: str) -> None:
    root = world.workspace("root")
    root.add_to_eval_set("Who signs the supply contract?", Answer("Who signs?", "Bob signs.", False, "m", []))
    ws.add_to_eval_set("What is the dental deductible?", Answer("q", "It is $50.", False, "m", []))
    assert {q.question for q in ws.eval_set()} == {"What is the dental deductible?"}


FILTERED: dict[str, Check] = {
    "collections": lambda ws, world, other, doc: None if other not in ws.collections() else pytest.fail("leaked"),
    "may_see": lambda ws, world, other, doc: None if not ws.may_see(other) else pytest.fail("leaked"),
    "audit_events": _own_audit_only,
    "provenance": _no_provenance_of_other,
    "answer_json": _answer_json_without_other,
    "status": lambda ws, world, other, doc: None if ws.status().data_dir == "" else pytest.fail("leaked"),
    "model_name": lambda ws, world, other, doc: None if ws.model_name() else pytest.fail("no model"),
    "rate_answer": _rating_is_the_callers,
    "conversations": _own_conversations_only,
    "grid_runs": _own_grid_runs_only,
    "add_to_eval_set": _own_eval_set_only,
    "eval_set": _own_eval_set_only,
    "answer_models": lambda ws, world, other, doc: None if "default" in [m.id for m in ws.answer_models()]
    else pytest.fail("no default model"),
    "answer_model": lambda ws, world, other, doc: None if ws.answer_model() == "default" else pytest.fail("not default"),
}


def public_methods() -> set[str]:
    return {name for name, member in inspect.getmembers(Workspace, inspect.isfunction) if not name.startswith("_")}


def test_every_workspace_method_is_in_the_refusal_table() -> None:
    """A new use case must say how it is guarded: refused to callers without the role or collection, or answering
    only within the caller's reach."""
    assert public_methods() == set(REFUSED) | set(FILTERED)
    assert not set(REFUSED) & set(FILTERED)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[World]:
    w = build_world(tmp_path_factory.mktemp("workspace"), embedder)
    yield w
    w.services.close()


@pytest.mark.parametrize(("username", "name"), [("alice", n) for n in sorted(REFUSED)]
                         + [("bob", n) for n in sorted(REFUSED) if n not in ROLE_ONLY])
def test_method_refuses_a_caller_without_the_role_or_collection(world: World, name: str, username: str) -> None:
    ws = world.workspace(username)
    other, doc = ("legal", world.legal_id) if username == "alice" else ("hr", world.hr_id)
    s = world.services
    before = (s.registry.documents(), [(u.username, u.role, u.disabled) for u in s.accounts.users()],
              s.accounts.collections_of(username), s.accounts.tokens("root"), s.assistants.get(other))
    refused_before = len(world.workspace("root").audit_events(user=username, action="refused", limit=None))
    with pytest.raises(AccessDenied):
        REFUSED[name](ws, other, doc)
    after = (s.registry.documents(), [(u.username, u.role, u.disabled) for u in s.accounts.users()],
             s.accounts.collections_of(username), s.accounts.tokens("root"), s.assistants.get(other))
    assert after == before  # nothing changed
    refusals = world.workspace("root").audit_events(user=username, action="refused", limit=None)
    assert len(refusals) == refused_before + 1, f"{name}: the refusal was not audited once"
    assert refusals[0].client == "ui"


@pytest.mark.parametrize("name", sorted(FILTERED))
def test_method_answers_only_within_the_callers_reach(world: World, name: str) -> None:
    alice = world.workspace("alice")
    alice.search("dental deductible", 3)  # something of her own in the audit log
    FILTERED[name](alice, world, "legal", world.legal_id)


def test_an_administrator_may_do_what_the_table_refuses(world: World) -> None:
    """The refusals above are about the caller, not broken methods: root does the same through the same door."""
    root = world.workspace("root")
    assert [r.id for r in root.find_documents(world.legal_id[:12], "legal")] == [world.legal_id]
    assert root.versions("legal", world.legal_id)[0].id == world.legal_id
    root.create_collection("board")
    assert "board" in root.collections()
    with pytest.raises(ValueError, match="already exists"):
        root.create_collection("board")
    root.save_assistant(CollectionSettings("board", "Board papers"))
    assert root.assistant("board").title == "Board papers"
    root.add_user("carol", "correct horse battery", "reader", ["board"])
    assert root.user("carol") is not None and root.user("carol")[1] == {"board"}  # type: ignore[index]
    root.set_memberships("carol", ["hr"])
    token = root.issue_token("carol", "wiki bot")
    assert token.startswith("cfd_") and [t.label for t in root.tokens("carol")] == ["wiki bot"]
    carol = world.services.gate().caller_for_token(token, "api")
    assert carol.collections == frozenset({"hr"})
    root.set_effective_date("legal", world.legal_id, "2030-01-01")
    assert root.document("legal", world.legal_id).effective_date == "2030-01-01"
    root.remove_user("carol")
    csv = StringIO()
    root.audit_csv(csv, since=datetime(2000, 1, 1, tzinfo=UTC))
    actions = csv.getvalue()
    for action in ("collection_created", "assistant_saved", "user_added", "membership_set", "token_issued",
                   "effective_date_set", "user_removed"):
        assert action in actions, action
    assert world.services.registry.get("legal", world.legal_id).state is DocState.INDEXED  # type: ignore[union-attr]


# --- faces are thin: they reach storage only through the Workspace (or, before sign-in, the Gate) --------------------
FACES = sorted([*ROOT.glob("confidant/cli*.py"), *ROOT.glob("confidant/api*.py"), *ROOT.glob("ui/*.py"),
                ROOT / "app.py", ROOT / "confidant" / "llamaindex_retriever.py"])
# the few lines that wire a face: build the services, hand out the Gate or a Workspace, close them at the end
WIRING = {"confidant/cli_common.py", "confidant/cli_admin.py", "ui/context.py", "app.py"}
SERVICES_USE = {"gate", "workspace", "close", "data_folder_warning"}
# what only the Workspace may hold: stores, indexes, the pipeline, the retriever, the model loop
INNER = {"Retriever", "Answerer", "IngestPipeline", "SqlRegistry", "SqliteRegistry", "PostgresRegistry", "ChromaStore",
         "TantivyKeywordIndex", "SqliteAccounts", "SqliteAudit", "FeedbackStore", "CollectionSettingsStore",
         "ConversationStore",
         "apply_sync", "plan_sync", "ingest_uploads", "summarise", "evaluate", "evaluate_answers", "build_services",
         "choose_chat_model", "Database"}


def face_problems(path: Path) -> list[str]:
    name = path.relative_to(ROOT).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if node.attr in ("parts", "services", "__dict__"):
                problems.append(f"{name}:{node.lineno} uses .{node.attr}")
            if (isinstance(node.value, ast.Name) and node.value.id == "services"
                    and node.attr not in SERVICES_USE):
                problems.append(f"{name}:{node.lineno} uses services.{node.attr}")
        elif isinstance(node, ast.ImportFrom):
            imported = {alias.name for alias in node.names}
            inner = imported & INNER - ({"build_services"} if name in WIRING else set())
            if inner:
                problems.append(f"{name}:{node.lineno} imports {sorted(inner)}")
            if node.module in ("storage.database", "storage.sqlite", "storage.registry", "storage.vector_store",
                               "storage.keyword_index"):
                problems.append(f"{name}:{node.lineno} imports {node.module}")
    return problems


def test_faces_reach_storage_only_through_the_workspace() -> None:
    assert len(FACES) >= 15
    problems = [p for face in FACES for p in face_problems(face)]
    assert not problems, "\n".join(problems)


def test_the_face_check_catches_a_face_that_reaches_around_the_workspace(tmp_path: Path) -> None:
    """The check above can fail: a page that lists users from the accounts store directly is caught."""
    page = ROOT / "ui" / "_probe_page.py"
    page.write_text("def page(ctx):\n    return ctx.services.accounts.users()\n", encoding="utf-8")
    try:
        assert face_problems(page) == ["ui/_probe_page.py:2 uses .services"]
    finally:
        page.unlink()
