"""The REST API: tokens or a trusted proxy, the same walls between collections as the app, safe uploads, and many
clients at once against a real uvicorn server on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from confidant.access import NOT_FOUND
from confidant.api import api_server, create_api
from confidant.services import Services
from confidant.workspace import Gate
from rag.embedders import Embedder
from tests.test_access import HR_FILE, LEGAL_FILE, LEGAL_QUESTION, ROLE_MESSAGE, World, build_world

Headers = dict[str, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[World]:
    w = build_world(tmp_path_factory.mktemp("api"), embedder, sso_header="X-Forwarded-User",
                    trusted_proxies=["10.0.0.0/8"])
    yield w
    w.services.close()


@pytest.fixture(scope="module")
def client(world: World) -> TestClient:
    return TestClient(create_api(world.services.gate()))


@pytest.fixture(scope="module")
def tokens(world: World) -> dict[str, Headers]:
    return {name: {"Authorization": f"Bearer {world.services.accounts.issue_token(name, 'test')}"}
            for name in ("alice", "bob", "root")}


@contextmanager
def running_api(services: Services | Gate, host: str = "127.0.0.1") -> Iterator[str]:
    """The API served by uvicorn (as `confidant api` runs it) on a free port of `host`, in a background thread."""
    gate = services if isinstance(services, Gate) else services.gate()
    sock = socket.socket()
    sock.bind((host, 0))
    url = f"http://{host}:{sock.getsockname()[1]}"
    uvicorn_server = api_server(gate, host, 0, log_level="warning")
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uvicorn_server.started:  # poll until the port accepts
        assert thread.is_alive() and time.monotonic() < deadline, "the API server did not start"
        time.sleep(0.02)
    try:
        yield url
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[str]:
    with running_api(world.services) as url:
        yield url


def test_health_needs_no_token_and_reveals_nothing(client: TestClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_every_other_route_refuses_missing_or_bad_tokens(world: World, client: TestClient) -> None:
    accounts, hr = world.services.accounts, world.hr_id
    expired = accounts.issue_token("alice", "old", ttl=timedelta(hours=1), now=datetime.now(UTC) - timedelta(days=1))
    revoked = accounts.issue_token("alice", "revoked")
    [info] = [t for t in accounts.tokens("alice") if t.label == "revoked"]
    accounts.revoke_token("alice", info.id)
    accounts.add_user("carol", "correct horse battery", "editor")
    accounts.grant("carol", "hr")
    gone = accounts.issue_token("carol", "leaver")
    assert client.get("/api/documents", headers={"Authorization": f"Bearer {gone}"}).status_code == 200
    accounts.remove_user("carol")
    upload = {"files": [("files", ("a.pdf", world.pdf("a.pdf", ["An anonymous upload."]), "application/pdf"))],
              "data": {"collection": "hr"}}
    routes: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/api/search?q=dental", {}), ("POST", "/api/ask", {"json": {"question": "dental deductible?"}}),
        ("GET", "/api/documents", {}), ("POST", "/api/documents", upload),
        ("DELETE", f"/api/documents/hr/{hr}", {}), ("GET", f"/api/documents/hr/{hr}/file", {}),
        ("POST", "/api/grids", {"json": {"collection": "hr", "questions": ["dental deductible?"]}}),
        ("GET", "/api/grids/g1-1", {}), ("DELETE", "/api/grids/g1-1", {})]
    files_before = sorted(world.services.settings.files_dir.rglob("*"))
    for token in (None, "garbage", "cfd_" + "x" * 43, expired, revoked, gone):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        for method, url, extra in routes:
            response = client.request(method, url, headers=headers, **extra)
            assert response.status_code == 401, (token, method, url, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
    assert sorted(world.services.settings.files_dir.rglob("*")) == files_before
    assert world.services.registry.get("hr", hr) is not None


def test_forbidden_and_missing_answer_alike_and_legal_never_leaks(
        world: World, client: TestClient, tokens: dict[str, Headers]) -> None:
    alice, legal, missing = tokens["alice"], world.legal_id, "0" * 64

    def seen(method: str, url: str, **extra: Any) -> tuple[int, Any]:
        response = client.request(method, url, headers=alice, **extra)
        assert "zephyrine" not in response.text.lower() and b"%PDF" not in response.content
        return response.status_code, response.json()

    gone = (404, {"detail": NOT_FOUND})
    pairs = [(f"/api/search?q=cap&collection={c}", f"/api/search?q=cap&collection={m}")
             for c, m in (("legal", "nosuch"), ("hr&collection=legal", "hr&collection=nosuch"))]
    pairs += [("/api/documents?collection=legal", "/api/documents?collection=nosuch")]
    pairs += [(f"/api/documents/legal/{legal}/file", f"/api/documents/legal/{missing}/file"),
              (f"/api/documents/hr/{legal}/file", f"/api/documents/nosuch/{legal}/file")]
    for forbidden, absent in pairs:
        assert seen("GET", forbidden) == seen("GET", absent) == gone, forbidden
    for forbidden_scope, absent_scope in ((["legal"], ["nosuch"]), (["hr", "legal"], ["hr", "nosuch"])):
        assert (seen("POST", "/api/ask", json={"question": LEGAL_QUESTION, "collections": forbidden_scope})
                == seen("POST", "/api/ask", json={"question": LEGAL_QUESTION, "collections": absent_scope}) == gone)
    for crafted in ("..%2Flegal", "hr%2F..%2Flegal", "%2E%2E%2Flegal"):  # no route has a '/' in a collection
        status, _ = seen("GET", f"/api/documents/{crafted}/{legal}/file")
        assert status == 404, crafted
    status, errors = seen("GET", f"/api/documents/legal%00/{legal}/file")  # a name no collection can have
    assert status == 422 and "invalid collection name" in errors["detail"][0]["msg"]
    status, hits = seen("GET", "/api/search?q=indemnification+cap+Zephyrine&k=10")
    assert status == 200 and hits and {h["collection"] for h in hits} == {"hr"}
    for body in ({"question": LEGAL_QUESTION}, {"question": LEGAL_QUESTION, "document_ids": [legal]}):
        status, answer = seen("POST", "/api/ask", json=body)
        assert status == 200 and {p["collection"] for p in answer["passages"] + answer["citations"]} <= {"hr"}
    assert seen("POST", "/api/ask", json={"question": LEGAL_QUESTION, "document_ids": [legal]})[1]["passages"] == []
    status, documents = seen("GET", "/api/documents")
    assert status == 200 and [(d["collection"], d["file"]) for d in documents] == [("hr", HR_FILE)]
    refused = (403, {"detail": ROLE_MESSAGE})  # a reader is refused by role before anything is looked up
    assert seen("DELETE", f"/api/documents/legal/{legal}") == seen("DELETE", f"/api/documents/legal/{missing}") == refused
    bob = tokens["bob"]  # an editor: hr is as unknown to him as a collection that does not exist
    by_bob = [client.delete(url, headers=bob) for url in (f"/api/documents/hr/{world.hr_id}", f"/api/documents/x/{missing}")]
    assert [(r.status_code, r.json()) for r in by_bob] == [gone, gone]
    assert world.services.registry.get("legal", legal) and world.services.registry.get("hr", world.hr_id)


def test_a_grid_started_over_the_api_fills_in_the_background_and_only_its_owner_reads_it(
        world: World, client: TestClient, tokens: dict[str, Headers]) -> None:
    alice, bob = tokens["alice"], tokens["bob"]
    question = "What is the dental deductible?"
    started = client.post("/api/grids", headers=alice, json={"collection": "hr", "questions": [question]})
    assert started.status_code == 202 and started.json()["state"] in ("queued", "running"), started.text
    run_id, deadline = started.json()["id"], time.monotonic() + 120
    while (run := client.get(f"/api/grids/{run_id}", headers=alice).json())["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, run
        time.sleep(0.1)
    assert run["state"] == "done" and (run["done"], run["total"], run["answered"]) == (1, 1, 1), run
    [row] = run["rows"]
    [cell] = row["cells"]
    assert row["file"] == HR_FILE and cell["question"] == question and cell["page"] == 1, cell
    assert "50" in cell["quote"] and "zephyrine" not in str(run).lower()
    # legal is as unknown to alice as a collection that does not exist; bob cannot see or stop her grid
    gone = (404, {"detail": NOT_FOUND})
    for collection in ("legal", "nosuch"):
        refused = client.post("/api/grids", headers=alice, json={"collection": collection, "questions": [question]})
        assert (refused.status_code, refused.json()) == gone
    for method in ("GET", "DELETE"):
        response = client.request(method, f"/api/grids/{run_id}", headers=bob)
        assert (response.status_code, response.json()) == gone
    assert client.get(f"/api/grids/{run_id}", headers=alice).json()["state"] == "done"
    # limits on what a client sends
    too_many = client.post("/api/grids", headers=alice, json={"collection": "hr", "questions": ["Why?"] * 31})
    assert too_many.status_code == 422
    assert client.get("/api/grids/not-a-run", headers=alice).status_code == 422


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


def test_uploads_are_stored_under_safe_names_and_end_in_clear_states(
        world: World, client: TestClient, tokens: dict[str, Headers]) -> None:
    s = world.services
    top, home = s.settings.data_dir.parent, s.settings.data_dir
    files = [("../../etc/passwd.pdf", world.pdf("p1.pdf", ["Travel policy: trains are booked in second class."])),
             ("..\\..\\x.pdf", world.pdf("p2.pdf", ["Parking policy: spaces are shared on Fridays."])),
             ("notes.pdf", b"just some plain text, not a PDF at all"), ("tool.exe", b"MZ\x90\x00 not a program")]
    outside_before = {p for p in files_under(top) if home not in p.parents}
    response = client.post("/api/documents", headers=tokens["root"], data={"collection": "inbox"},
                           files=[("files", (name, data, "application/octet-stream")) for name, data in files])
    assert response.status_code == 200, response.text
    results = response.json()
    assert [(r["file"], r["state"]) for r in results] == [
        ("passwd.pdf", "indexed"), ("x.pdf", "indexed"), ("notes.pdf", "invalid"), ("tool.exe", "unsupported")]
    assert results[2]["reason"].startswith("not a PDF: the content is")
    assert ".exe files are not accepted" in results[3]["reason"]
    assert {p for p in files_under(top) if home not in p.parents} == outside_before
    stored = {p.name: p for p in files_under(s.settings.files_dir)}
    assert {"passwd.pdf", "x.pdf"} <= set(stored) and "tool.exe" not in stored
    assert all(p.parent.parent == s.settings.files_dir for p in stored.values())
    assert not Path("/etc/passwd.pdf").exists()
    assert {d.file_name for d in s.registry.documents("inbox", None)} >= {"passwd.pdf", "x.pdf"}


def test_reader_upload_is_refused_before_anything_is_written(
        world: World, client: TestClient, tokens: dict[str, Headers]) -> None:
    before = files_under(world.services.settings.files_dir)
    data = world.pdf("reader.pdf", ["A reader tries to add a document about holidays."])
    response = client.post("/api/documents", headers=tokens["alice"], data={"collection": "hr"},
                           files=[("files", ("reader.pdf", data, "application/pdf"))])
    assert (response.status_code, response.json()) == (403, {"detail": ROLE_MESSAGE})
    assert files_under(world.services.settings.files_dir) == before
    assert [d.file_name for d in world.services.registry.documents("hr")] == [HR_FILE]


def test_upload_over_the_limit_is_too_large_and_not_indexed(tmp_path: Path, embedder: Embedder) -> None:
    small = build_world(tmp_path, embedder, upload_max_mb=0.01)
    try:
        s, headers = small.services, {"Authorization": f"Bearer {small.services.accounts.issue_token('root', 't')}"}
        documents_before = s.registry.documents()
        big = small.pdf("big.pdf", [f"Page {n}: " + " ".join(f"clause{n}x{i}" for i in range(200)) for n in range(12)])
        assert len(big) > 0.01 * 2**20
        api = TestClient(create_api(s.gate()))
        response = api.post("/api/documents", headers=headers, data={"collection": "hr"},
                            files=[("files", ("big.pdf", big, "application/pdf"))])
        assert response.status_code == 200, response.text
        [result] = response.json()
        assert result["state"] == "too_large" and "more than the" in result["reason"] and "upload limit" in result["reason"]
        assert s.registry.documents() == documents_before
        assert "big.pdf" not in {p.name for p in files_under(s.settings.files_dir)}
        assert api.get("/api/search?q=clause3x7", headers=headers).json()[0]["file"] != "big.pdf"
        huge = api.post("/api/documents", headers=headers, data={"collection": "hr"},
                        files=[("files", ("huge.pdf", b"%PDF-1.4" + b"0" * (2**20 + 2**14), "application/pdf"))])
        assert huge.status_code == 413 and "upload limit" in huge.json()["detail"]
        assert s.registry.documents() == documents_before
    finally:
        small.services.close()


def test_sso_header_is_believed_only_from_a_trusted_proxy(world: World, server: str) -> None:
    s = world.services
    with httpx.Client(base_url=server) as http:
        def as_user(name: str, **more: str) -> httpx.Response:
            return http.get("/api/documents", headers={"X-Forwarded-User": name, **more})

        assert as_user("root").status_code == 401  # loopback is not in 10.0.0.0/8
        assert as_user("root", **{"X-Forwarded-For": "10.1.2.3"}).status_code == 401  # nor can a client claim to be
    # the same data behind a proxy on this machine: a node configured to trust 127.0.0.1
    behind_proxy = Gate(replace(s.parts(), settings=s.settings.model_copy(update={"trusted_proxies": ["127.0.0.1"]})))
    with running_api(behind_proxy) as proxied, httpx.Client(base_url=proxied) as http:
        def via_proxy(name: str) -> httpx.Response:
            return http.get("/api/documents", headers={"X-Forwarded-User": name})

        admin = via_proxy("root")
        assert admin.status_code == 200
        assert {d["collection"] for d in admin.json()} >= {"hr", "legal"}
        assert {d["collection"] for d in via_proxy("Alice").json()} == {"hr"}
        assert via_proxy("mallory").status_code == 401
    with httpx.Client(base_url=server) as http:
        assert as_user("root").status_code == 401


def test_twenty_concurrent_clients_get_answers_only_from_their_collections(
        world: World, server: str, tokens: dict[str, Headers]) -> None:
    questions = {"alice": ["What is the dental deductible?", "When may Quokkaplan members claim orthodontic care?",
                           LEGAL_QUESTION],
                 "bob": [LEGAL_QUESTION, "How long do Zephyrine obligations survive termination?",
                         "What is the dental deductible?"]}
    asks_before = {u: len(world.services.audit.events(user=u, action="ask", limit=None)) for u in questions}
    start = threading.Barrier(20)

    def session(user: str) -> list[tuple[str, int, dict[str, Any]]]:
        with httpx.Client(base_url=server, headers=tokens[user], timeout=120) as http:
            start.wait()
            return [(user, r.status_code, r.json())
                    for r in (http.post("/api/ask", json={"question": q}) for q in questions[user])]

    with ThreadPoolExecutor(max_workers=20) as pool:
        sessions = list(pool.map(session, ["alice", "bob"] * 10))
    replies = [reply for replies in sessions for reply in replies]
    assert len(replies) == 60 and {status for _, status, _ in replies} == {200}
    own = {"alice": {"hr"}, "bob": {"legal"}}
    for user, _, answer in replies:
        assert {c["collection"] for c in answer["citations"] + answer["passages"]} <= own[user], (user, answer)
    cited = {(user, c["file"]) for user, _, answer in replies for c in answer["citations"]}
    assert cited == {("alice", HR_FILE), ("bob", LEGAL_FILE)}
    asks_after = {u: len(world.services.audit.events(user=u, action="ask", limit=None)) for u in questions}
    assert {u: asks_after[u] - asks_before[u] for u in questions} == {"alice": 30, "bob": 30}
