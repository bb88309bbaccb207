"""Two app nodes — two data folders, as on two machines — against one PostgreSQL and one Chroma server, each acting
in its own processes: whatever one node does, the other sees, and nothing either keeps locally is needed by the
other (issue #20)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from confidant.access import Caller
from confidant.services import Services, build_services
from confidant.settings import Settings
from ingest.uploads import Upload
from rag.embedders import Embedder
from storage.accounts import Role
from storage.records import DocState
from tests.conftest import fresh_database
from tests.documents import make_pdf
from tests.servers import free_port

PASSWORD = "correct horse battery"


@dataclass
class Team:
    url: str
    chroma: str
    root: Path

    def env(self, node: str) -> dict[str, str]:
        return {**os.environ, "CONFIDANT_HOME": str(self.root / node), "CONFIDANT_REGISTRY_URL": self.url,
                "CONFIDANT_CHROMA_SERVER": self.chroma, "CONFIDANT_FILES_FOLDER": str(self.files),
                "CONFIDANT_EMBEDDING_THREADS": "1"}

    @property
    def files(self) -> Path:
        return self.root / "shared-files"  # a folder every node mounts

    def cli(self, node: str, *args: str, stdin: str = "", timeout: float = 300) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "confidant.cli", *args], env=self.env(node), input=stdin,
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, (args, done.stderr[-2000:])
        return done

    def services(self, node: str, embedder: Embedder) -> Services:
        return build_services(Settings(home=self.root / node, registry_url=self.url, chroma_server=self.chroma,
                                       files_folder=self.files), embedder=embedder)


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, postgres_url: str, chroma_address: tuple[str, int]) -> Team:
    return Team(fresh_database(postgres_url), f"{chroma_address[0]}:{chroma_address[1]}",
                tmp_path_factory.mktemp("team"))


def searched(team: Team, node: str, question: str, mode: str, collection: str = "hr") -> list[tuple[str, int, int]]:
    out = team.cli(node, "search", question, "-c", collection, "--mode", mode, "-k", "5", "--json").stdout
    return [(h["file"], h["page"], h["start"]) for h in json.loads(out)]


def test_what_one_node_does_the_other_sees(team: Team, tmp_path: Path, embedder: Embedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(docs / "leave.pdf", ["Parental leave. Employees receive sixteen weeks of paid parental leave.",
                                  "Sick leave. Up to ten days a year are paid; a note is needed after three days."])
    make_pdf(docs / "travel.pdf", ["Travel. Hotel costs abroad are reimbursed up to 180 euros per night."])
    ingested = json.loads(team.cli("node-a", "ingest", str(docs), "-c", "hr", "--json").stdout)
    assert {r["state"] for r in ingested} == {"indexed"}
    for mode in ("keyword", "vector", "hybrid"):  # B sees A's documents in every stage, the same passages
        for question in ("How many weeks of parental leave?", "hotel limit per night abroad"):
            on_a, on_b = searched(team, "node-a", question, mode), searched(team, "node-b", question, mode)
            assert on_a and on_b == on_a, (mode, question, on_a, on_b)
    assert searched(team, "node-b", "sixteen weeks parental", "keyword")[0][:2] == ("leave.pdf", 1)

    # a user added on B signs in on A, and both nodes' actions are in one audit log
    team.cli("node-b", "users", "add", "dana", "--role", "reader", "-c", "hr", stdin=PASSWORD + "\n" + PASSWORD + "\n")
    node_a = team.services("node-a", embedder)
    try:
        dana = node_a.gate().sign_in("dana", PASSWORD, "ui 10.0.0.9")
        assert dana.role is Role.READER and dana.collections == frozenset({"hr"})
        hits = node_a.gate().workspace(dana).search("hotel abroad", 3)
        assert hits and {h.chunk.collection for h in hits} == {"hr"}
        audit = node_a.workspace(Caller("root", Role.ADMIN, None, "test")).audit_events(limit=None)
        actions = {(e.action, e.client) for e in audit}
        assert ("ingest", "cli") in actions and ("user_added", "cli") in actions and ("login", "ui 10.0.0.9") in actions
        assert {e.user for e in audit if e.action == "search"} >= {"dana"}
        # dana's conversation on A is hers on B: listed, opened, asked in, and nobody else's
        on_a = node_a.gate().workspace(dana)
        talk = on_a.start_conversation("How many weeks of parental leave?", {"collections": ["hr"]})
        node_b = team.services("node-b", embedder)
        try:
            on_b = node_b.gate().workspace(node_b.gate().sign_in("dana", PASSWORD, "ui 10.0.0.7"))
            assert [c.id for c in on_b.conversations()] == [talk.id]
            turn = on_b.parts.conversations().start_turn("dana", talk.id, "And sick leave?", "collections hr")
            assert [t.id for t in on_a.conversation(talk.id).turns] == [turn]
            assert node_b.workspace(Caller("root", Role.ADMIN, None, "test")).conversations() == []
        finally:
            node_b.close()
    finally:
        node_a.close()

    # an upload on A: B shows its pages (the original, checked by sha256, from the shared files folder)
    node_a, node_b = team.services("node-a", embedder), team.services("node-b", embedder)
    try:
        data = make_pdf(tmp_path / "dress-code.pdf", ["Dress code. Business casual on weekdays."]).read_bytes()
        [uploaded] = node_a.workspace().ingest_uploads([Upload("dress-code.pdf", data)], "hr")
        assert node_b.workspace().original_file("hr", uploaded.id).read_bytes() == data
        assert not (team.root / "node-a" / "files").exists()
    finally:
        node_a.close()
        node_b.close()

    # a delete on B is gone on A, from every stage
    travel = next(r for r in ingested if r["file"] == "travel.pdf")
    team.cli("node-b", "docs", "delete", travel["id"][:12], "-c", "hr")
    for mode in ("keyword", "vector", "hybrid"):
        assert all(f != "travel.pdf" for f, _, _ in searched(team, "node-a", "hotel costs abroad", mode)), mode


def test_a_node_killed_while_storing_vectors_leaves_the_rest_to_the_other(
        team: Team, tmp_path: Path, embedder: Embedder) -> None:
    big = make_pdf(tmp_path / "handbook.pdf", [f"Chapter {i}. The zanzibarite allowance is paid in month {i}. "
                                               + "Employees keep records of every claim. " * 40 for i in range(1, 61)])
    run = subprocess.Popen([sys.executable, "-m", "confidant.cli", "ingest", str(big), "-c", "ops"],
                           env=team.env("node-a"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watcher = team.services("node-b", embedder)
    try:
        deadline = time.monotonic() + 180
        while True:  # kill -9 once A has read the document and stored some, not all, of its vectors
            waiting = [r for r in watcher.registry.documents("ops", DocState.INDEXED) if r.vectors_pending]
            if waiting and 0 < watcher.store.count("ops") < waiting[0].chunks:
                break
            assert run.poll() is None and time.monotonic() < deadline, "the ingest ended before it could be killed"
            time.sleep(0.05)
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
        # B finds all of it by keywords already, and says it is still being indexed
        hits = watcher.workspace().search("zanzibarite allowance month 60", 5, ["ops"], mode="keyword")
        assert hits and hits[0].chunk.page == 60
        assert watcher.workspace().indexing_queue(["ops"]).documents == 1
    finally:
        watcher.close()
    # B's next ingest finds the file already read, and finishes its vectors
    finished = json.loads(team.cli("node-b", "ingest", str(big), "-c", "ops", "--json").stdout)
    assert [r["state"] for r in finished] == ["duplicate"], finished
    check = team.services("node-a", embedder)
    try:
        [record] = check.registry.documents("ops")
        assert record.state is DocState.INDEXED and record.chunks > 60
        assert check.store.count("ops") == check.keywords.count("ops") == record.chunks  # nothing stored twice
        assert check.workspace().search("zanzibarite allowance", 3, ["ops"])[0].chunk.file_name == "handbook.pdf"
    finally:
        check.close()


@dataclass
class Api:
    url: str
    process: subprocess.Popen[bytes]


@pytest.fixture
def two_apis(team: Team) -> Iterator[list[str]]:
    apis = []
    for node in ("node-a", "node-b"):
        port = free_port()
        process = subprocess.Popen([sys.executable, "-m", "confidant.cli", "api", "--port", str(port)],
                                   env=team.env(node), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        apis.append(Api(f"http://127.0.0.1:{port}", process))
    try:
        for api in apis:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(api.url + "/api/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert api.process.poll() is None and time.monotonic() < deadline, "an API node did not start"
                time.sleep(0.2)
        yield [api.url for api in apis]
    finally:
        for api in apis:
            api.process.terminate()
            api.process.wait(timeout=30)


def test_twenty_clients_over_both_nodes_get_only_their_collections(team: Team, tmp_path: Path,
                                                                     two_apis: list[str]) -> None:
    docs = tmp_path / "legal"
    docs.mkdir()
    make_pdf(docs / "nda.pdf", ["Confidentiality. The nondisclosure term lasts five years after signing."])
    team.cli("node-a", "ingest", str(docs), "-c", "legal")
    team.cli("node-a", "users", "add", "erin", "--role", "reader", "-c", "legal",
             stdin=PASSWORD + "\n" + PASSWORD + "\n")
    team.cli("node-b", "users", "add", "frank", "--role", "reader", "-c", "hr",
             stdin=PASSWORD + "\n" + PASSWORD + "\n")
    tokens = {user: team.cli("node-a" if user == "frank" else "node-b", "users", "token", user).stdout.strip()
              for user in ("erin", "frank")}  # each token issued on the other node
    allowed = {"erin": "legal", "frank": "hr"}
    errors: list[str] = []
    lock = threading.Lock()

    def client(n: int) -> set[str]:
        user = ("erin", "frank")[n % 2]
        url = two_apis[(n // 2) % 2]  # every user on both nodes
        response = httpx.get(url + "/api/search", params={"q": "nondisclosure term leave weeks", "k": 5},
                             headers={"Authorization": f"Bearer {tokens[user]}"}, timeout=120)
        if response.status_code != 200:
            with lock:
                errors.append(f"{user}@{url}: {response.status_code} {response.text[:200]}")
            return set()
        found = {h["collection"] for h in response.json()}
        if found - {allowed[user]}:
            with lock:
                errors.append(f"{user} saw {found}")
        return found

    with ThreadPoolExecutor(max_workers=20) as pool:
        seen = list(pool.map(client, range(20)))
    assert not errors, errors
    assert all(seen), seen  # every client found passages of its own collection
