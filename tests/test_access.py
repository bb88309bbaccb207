"""Who may see what, through a Workspace: a reader of hr gets nothing of legal, roles limit changes, all is audited."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from confidant.access import NOT_FOUND, AccessDenied, Caller
from confidant.services import Services, build_services
from confidant.settings import Settings
from confidant.workspace import Workspace
from ingest.uploads import Upload
from rag.embedders import Embedder
from rag.evaluation import Evidence, Question
from storage.accounts import SqlAccounts
from storage.records import DocState
from tests.documents import make_pdf
from tests.fakes import ExtractiveChat

HR_FILE, LEGAL_FILE = "benefits.pdf", "supply_contract.pdf"
HR_PAGES = ["The dental deductible is 50 dollars per year for employees enrolled in the Quokkaplan dental insurance.",
            "Quokkaplan members may claim orthodontic care after twelve months of membership in the Quokkaplan."]
LEGAL_PAGES = ["The indemnification cap is twice the purchase price under the Zephyrine supply agreement.",
               "Zephyrine obligations survive termination of the supply agreement for three years."]
LEGAL_QUESTION = "What is the indemnification cap under the supply agreement?"
ROLE_MESSAGE = "your role may read but not change documents"


@dataclass
class World:
    services: Services
    hr_id: str
    legal_id: str
    scratch: Path  # outside the home: where test PDFs are made

    def workspace(self, username: str, client: str = "ui") -> Workspace:
        accounts = self.services.accounts
        user = accounts.get_user(username)
        assert user is not None
        return self.services.workspace(Caller.for_user(user, accounts.collections_of(username), client))

    def pdf(self, name: str, pages: list[str]) -> bytes:
        return make_pdf(self.scratch / name, pages).read_bytes()


def build_world(root: Path, embedder: Embedder, **settings: object) -> World:
    """A home with collections hr and legal (one PDF each), and users alice (reader, hr), bob (editor, legal), root."""
    services = build_services(Settings(home=root / "home", **settings), embedder=embedder,  # type: ignore[arg-type]
                              chat_model=ExtractiveChat())
    accounts = SqlAccounts(services.records, hasher=PasswordHasher(time_cost=1, memory_cost=8192))
    services.__dict__["accounts"] = accounts
    for name, role, collection in (("alice", "reader", "hr"), ("bob", "editor", "legal"), ("root", "admin", None)):
        accounts.add_user(name, "correct horse battery", role)
        if collection:
            accounts.grant(name, collection)
    scratch = root / "scratch"
    scratch.mkdir()
    world = World(services, "", "", scratch)
    admin = world.workspace("root")
    [hr] = admin.ingest_uploads([Upload(HR_FILE, world.pdf(HR_FILE, HR_PAGES))], "hr")
    [legal] = admin.ingest_uploads([Upload(LEGAL_FILE, world.pdf(LEGAL_FILE, LEGAL_PAGES))], "legal")
    assert hr.state is DocState.INDEXED and legal.state is DocState.INDEXED, (hr, legal)
    world.hr_id, world.legal_id = hr.id, legal.id
    return world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[World]:
    w = build_world(tmp_path_factory.mktemp("access"), embedder)
    yield w
    w.services.close()


def refusal(call: Callable[[], object]) -> str:
    with pytest.raises(AccessDenied) as caught:
        call()
    return str(caught.value)


def test_alice_searches_only_hr_whatever_she_asks_for(world: World) -> None:
    alice, root = world.workspace("alice"), world.workspace("root")
    assert {h.chunk.collection for h in root.search("indemnification cap Zephyrine", 10)} >= {"legal"}
    hits = alice.search("indemnification cap Zephyrine purchase price", 10)
    assert hits and {h.chunk.collection for h in hits} == {"hr"}
    assert not any("zephyrine" in h.chunk.text.lower() for h in hits)
    assert "dental deductible" in alice.search("dental deductible", 3)[0].chunk.text
    for requested in (["legal"], ["hr", "legal"], ["nosuch"]):
        assert refusal(partial(alice.search, "indemnification cap", 5, requested)) == NOT_FOUND
    assert alice.search("indemnification cap", 5, document_ids=[world.legal_id]) == []
    # the page index is searched inside the same filter: legal's page is there, but not for a search of hr
    s = world.services
    legal_pages = s.pages.search("indemnification cap Zephyrine", 5)
    assert legal_pages and {h.chunk.collection for h in legal_pages} == {"legal"}
    assert s.pages.search("indemnification cap Zephyrine", 5, ["hr"]) == []


def test_alice_answers_come_only_from_hr(world: World) -> None:
    alice, root = world.workspace("alice"), world.workspace("root")
    dental = alice.ask("What is the dental deductible?")
    assert not dental.declined and "50 dollars" in dental.text
    assert {c.chunk.file_name for c in dental.citations} == {HR_FILE}
    assert LEGAL_FILE in {c.chunk.file_name for c in root.ask(LEGAL_QUESTION).citations}  # legal does answer it
    for answer in (alice.ask(LEGAL_QUESTION), alice.ask(LEGAL_QUESTION, document_ids=[world.legal_id])):
        assert {p.chunk.collection for p in answer.passages} <= {"hr"}
        assert {c.chunk.collection for c in answer.citations} <= {"hr"}
        assert "twice the purchase price" not in answer.text
    assert alice.ask(LEGAL_QUESTION, document_ids=[world.legal_id]).passages == []
    assert refusal(lambda: alice.ask(LEGAL_QUESTION, ["legal"])) == NOT_FOUND


def test_alice_cannot_list_open_or_probe_legal(world: World) -> None:
    alice = world.workspace("alice")
    assert alice.collections() == ["hr"]
    assert [(d.collection, d.file_name) for d in alice.documents()] == [("hr", HR_FILE)]
    assert alice.chunks("hr", world.hr_id) and alice.original_file("hr", world.hr_id).is_file()
    legal, missing = world.legal_id, "0" * 64
    calls: list[Callable[[], object]] = [
        lambda: alice.documents("legal"), lambda: alice.documents("nosuch"),
        lambda: alice.document("legal", legal), lambda: alice.original_file("legal", legal),
        lambda: alice.chunks("legal", legal), lambda: alice.document("hr", legal), lambda: alice.document("hr", missing),
        lambda: alice.document("nosuch", legal), lambda: alice.original_file("legal", missing),
    ]
    assert {refusal(call) for call in calls} == {NOT_FOUND}


def test_evaluation_cannot_reach_legal_evidence(world: World) -> None:
    question = Question("q1", LEGAL_QUESTION, "twice the purchase price", (Evidence(LEGAL_FILE, 1),), True)
    assert world.workspace("root").evaluate([question], 5).recall(5, "file") == 1.0
    alice = world.workspace("alice")
    report = alice.evaluate([question], 5)
    assert report.recall(10) == 0.0 and report.recall(10, "file") == 0.0
    assert all(h.chunk.collection == "hr" for r in report.results for h in r.hits)
    assert refusal(lambda: alice.evaluate([question], 5, ["legal"])) == NOT_FOUND


def test_spelling_never_corrects_toward_a_legal_word(world: World) -> None:
    speller = world.services.retriever.speller
    assert speller is not None
    assert speller.correct("Zephyrune obligations", ["legal"]) == "Zephyrine obligations"  # the word is correctable
    assert speller.correct("Zephyrune obligations", ["hr"]) == "Zephyrune obligations"
    assert speller.correct("quokkaplen members", ["hr"]) == "quokkaplan members"
    hits = world.workspace("alice").search("Zephyrune obligations survive termination", 10)
    assert not any("zephyrine" in h.chunk.text.lower() for h in hits)


def test_reader_may_not_change_hr(world: World) -> None:
    alice = world.workspace("alice")
    files_before = sorted(world.services.settings.files_dir.rglob("*"))
    upload = Upload("new.pdf", world.pdf("new.pdf", ["A reader tries to add a policy about parking."]))
    assert refusal(lambda: alice.ingest_uploads([upload], "hr")) == ROLE_MESSAGE
    assert refusal(lambda: alice.delete("hr", world.hr_id)) == ROLE_MESSAGE
    assert refusal(lambda: alice.reindex("hr", world.hr_id)) == ROLE_MESSAGE
    assert sorted(world.services.settings.files_dir.rglob("*")) == files_before
    record = world.services.registry.get("hr", world.hr_id)
    assert record is not None and record.state is DocState.INDEXED


def test_editor_changes_only_own_collection_and_a_refusal_writes_only_its_audit_entry(world: World) -> None:
    s, bob = world.services, world.workspace("bob")
    upload = Upload("nda.pdf", world.pdf("nda.pdf", ["The nondisclosure term lasts five years after signing."]))
    before = (sorted(s.settings.files_dir.rglob("*")), s.registry.documents(), s.keywords.count())
    audited = s.audit.count()
    assert refusal(lambda: bob.ingest_uploads([upload], "hr")) == NOT_FOUND
    assert refusal(lambda: bob.delete("hr", world.hr_id)) == NOT_FOUND
    after = (sorted(s.settings.files_dir.rglob("*")), s.registry.documents(), s.keywords.count())
    assert after == before
    assert s.audit.count() == audited + 2
    refused = world.workspace("root").audit_events(user="bob", action="refused", limit=2)
    assert [e.detail for e in refused] == [f"{NOT_FOUND}: change 'hr'"] * 2 and refused[0].collections == ()
    [result] = bob.ingest_uploads([upload], "legal")
    assert result.state is DocState.INDEXED and result.collection == "legal"
    assert bob.search("nondisclosure term", 1)[0].chunk.file_name == "nda.pdf"
    assert bob.delete("legal", result.id).file_name == "nda.pdf"
    assert s.registry.get("legal", result.id) is None
    events = world.workspace("root").audit_events(user="bob")
    assert [(e.action, e.collections, e.documents) for e in events[:3]] == [
        ("delete", ("legal",), ("nda.pdf",)), ("search", ("legal",), ("nda.pdf",)), ("ingest", ("legal",), ("nda.pdf",))]
    assert "nda.pdf: indexed" in events[2].detail and events[1].question == "nondisclosure term"


def test_admin_sees_both_collections(world: World) -> None:
    root = world.workspace("root")
    assert {"hr", "legal"} <= set(root.collections())
    assert {(d.collection, d.file_name) for d in root.documents()} == {("hr", HR_FILE), ("legal", LEGAL_FILE)}
    assert root.search("Zephyrine indemnification", 1)[0].chunk.collection == "legal"
    assert root.search("Quokkaplan dental deductible", 1)[0].chunk.collection == "hr"
    assert root.original_file("legal", world.legal_id).read_bytes().startswith(b"%PDF")
    assert root.chunks("legal", world.legal_id)[0].text.startswith("The indemnification cap")


def test_every_read_and_write_is_audited_and_alice_sees_only_her_own(world: World) -> None:
    alice, root = world.workspace("alice", client="ui 10.0.0.7"), world.workspace("root")
    root.search("Zephyrine obligations", 3)
    alice.search("Quokkaplan orthodontic care", 3)
    answer = alice.ask("What is the dental deductible?")
    alice.original_file("hr", world.hr_id)
    download, ask, search = root.audit_events(user="alice", limit=3)
    assert (search.action, search.collections, search.question) == ("search", ("hr",), "Quokkaplan orthodontic care")
    assert HR_FILE in search.documents and search.client == "ui 10.0.0.7"
    assert (ask.action, ask.collections, ask.question) == ("ask", ("hr",), "What is the dental deductible?")
    assert ask.documents == (HR_FILE,) and ask.model == answer.model == "fake extractive model"
    assert (download.action, download.collections, download.documents) == ("download", ("hr",), (HR_FILE,))
    mine = alice.audit_events()
    assert len(mine) >= 3 and {e.user for e in mine} == {"alice"}
    assert all(e.collections and set(e.collections) <= {"hr"} for e in mine)
    assert not any(LEGAL_FILE in e.documents or e.question == "Zephyrine obligations" for e in mine)
    assert any(e.user == "root" and "legal" in e.collections for e in root.audit_events())
