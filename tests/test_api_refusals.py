"""Refused API requests are audited (who, why, from which address) and requests are held to the settings' limits,
against a real uvicorn server on loopback with small limits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from confidant.access import NOT_FOUND
from rag.embedders import Embedder
from tests.test_access import LEGAL_QUESTION, ROLE_MESSAGE, World, build_world
from tests.test_api import running_api

MiB = 2**20
LIMITS = {"max_question_chars": 200, "max_k": 7, "max_history_items": 2, "max_history_chars": 60}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[World]:
    w = build_world(tmp_path_factory.mktemp("api-refusals"), embedder, **LIMITS)
    yield w
    w.services.close()


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[str]:
    with running_api(world.services) as url:
        yield url


@pytest.fixture(scope="module")
def tokens(world: World) -> dict[str, str]:
    accounts = world.services.accounts
    issued = {name: accounts.issue_token(name, "test") for name in ("alice", "bob")}
    issued["expired"] = accounts.issue_token("alice", "old", ttl=timedelta(hours=1),
                                             now=datetime.now(UTC) - timedelta(days=1))
    issued["revoked"] = accounts.issue_token("alice", "revoked")
    [info] = [t for t in accounts.tokens("alice") if t.label == "revoked"]
    accounts.revoke_token("alice", info.id)
    issued["unknown"] = "cfd_" + "x" * 43
    return issued


def endless() -> Iterator[bytes]:
    """A body that goes on (up to 1 TB) until the server stops it."""
    for _ in range(2**24):
        yield b"x" * 65536


def test_every_refusal_is_audited_with_who_why_and_the_peer_address(
        world: World, server: str, tokens: dict[str, str]) -> None:
    hr, legal = world.hr_id, world.legal_id
    # (token, method, url, request extras, status, user in the log, what the log says after "<status> <method> ")
    cases: list[tuple[str | None, str, str, dict[str, Any], int, str, str]] = [
        (None, "GET", "/api/documents", {}, 401, "anonymous", "/api/documents: no bearer token"),
        ("unknown", "GET", "/api/documents", {}, 401, "anonymous", "/api/documents: token refused: unknown token"),
        ("expired", "GET", "/api/search?q=x", {}, 401, "anonymous", "/api/search: token refused: token expired"),
        ("revoked", "POST", "/api/ask", {"json": {"question": "x"}}, 401, "anonymous",
         "/api/ask: token refused: token revoked"),
        ("alice", "DELETE", f"/api/documents/hr/{hr}", {}, 403, "alice", f"/api/documents/hr/{hr}: {ROLE_MESSAGE}"),
        ("alice", "GET", f"/api/documents/legal/{legal}/file", {}, 404, "alice",
         f"/api/documents/legal/{legal}/file: {NOT_FOUND}"),
        ("bob", "GET", "/api/documents?collection=hr", {}, 404, "bob", f"/api/documents: {NOT_FOUND}"),
        ("bob", "POST", "/api/documents?collection=legal", {"content": endless(), "headers": {
            "Content-Type": "multipart/form-data; boundary=b", "Content-Length": str(2**40)}}, 413, "bob",
         "/api/documents: more than the 100 MB upload limit per file"),
        (None, "POST", "/api/ask", {"content": b"{" * 2 * MiB, "headers": {"Content-Type": "application/json"}},
         413, "anonymous", "/api/ask: the request body is larger than"),
        ("alice", "GET", "/api/search?q=%20%20", {}, 400, "alice", "/api/search: the search is empty"),
        ("bob", "POST", "/api/documents?collection=legal", {"json": {"files": []}}, 400, "bob",
         "/api/documents: send the files as multipart/form-data"),
        ("alice", "POST", "/api/ask", {"json": {"question": "q" * 201}}, 422, "alice",
         "/api/ask: question: String should have at most 200 characters"),
        ("alice", "GET", "/api/documents/legal%00/abc/file", {}, 422, "alice",
         "/api/documents/legal%00/abc/file: collection: Value error, invalid collection name"),
    ]
    audit = world.services.audit
    for token, method, url, extra, status, user, says in cases:
        before = audit.count()
        headers = {"Authorization": f"Bearer {tokens[token]}"} if token else {}
        with httpx.Client(base_url=server, timeout=60) as http:
            response = http.request(method, url, headers={**headers, **extra.pop("headers", {})}, **extra)
        assert response.status_code == status, (url, response.text)
        assert audit.count() == before + 1, url
        [event] = audit.events(action="refused", limit=1, include_global=True)
        assert (event.user, event.client) == (user, "api 127.0.0.1"), event
        assert event.detail.startswith(f"{status} {method} {says}"), (event.detail, says)
        assert event.collections == () and event.question == ""
        if status == 401:
            assert response.headers["www-authenticate"] == "Bearer"
    logged = " ".join(e.detail for e in audit.events(action="refused", limit=None, include_global=True))
    assert not any(t in logged for t in tokens.values())  # tokens are never written down
    assert world.workspace("alice").audit_events(action="refused") == []  # for administrators' eyes only


def test_requests_are_held_to_the_limits_in_the_settings(world: World, server: str, tokens: dict[str, str]) -> None:
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {tokens['alice']}"}, timeout=120) as http:
        def status(method: str, url: str, **extra: Any) -> tuple[int, str]:
            response = http.request(method, url, **extra)
            detail = response.json()["detail"] if response.status_code != 200 else ""
            return response.status_code, detail if isinstance(detail, str) else detail[0]["msg"] if detail else ""

        def ask(**body: Any) -> tuple[int, str]:
            return status("POST", "/api/ask", json={"question": LEGAL_QUESTION, **body})

        assert ask(question="q" * 200)[0] == ask(history=["a" * 60, "b"])[0] == 200
        assert status("GET", "/api/search", params={"q": "dental", "k": 7})[0] == 200
        for refused, says in [
            (ask(question="q" * 201), "at most 200 characters"),
            (ask(history=["a", "b", "c"]), "at most 2 items"),
            (ask(history=["a" * 61]), "at most 60 characters"),
            (ask(collections=["hr", "a/b"]), "invalid collection name"),
            (ask(collections=[f"c{n}" for n in range(101)]), "at most 100 items"),
            (ask(document_ids=["not-hex"]), "should match pattern"),
            (status("GET", "/api/search", params={"q": "q" * 201}), "at most 200 characters"),
            (status("GET", "/api/search", params={"q": "dental", "k": 8}), "less than or equal to 7"),
            (status("GET", "/api/search", params={"q": "dental", "collection": "hr\x00"}), "invalid collection name"),
            (status("GET", "/api/documents", params={"collection": "x" * 500}), "invalid collection name"),
            (status("GET", f"/api/documents/hr/{'z' * 64}/file"), "should match pattern"),
        ]:
            assert refused[0] == 422 and says in refused[1], (refused, says)
        assert ask(question="   ") == (400, "the question is empty")  # a limit only the Workspace checks
        assert status("GET", "/api/search", params={"q": " "}) == (400, "the search is empty")
        echoed = http.post("/api/ask", json={"question": "secret " * 20_000})
        assert echoed.status_code == 422 and len(echoed.content) < 1000  # the refused input is not sent back
        schema = http.get("/openapi.json").json()
    ask_schema = schema["components"]["schemas"]["AskRequest"]["properties"]
    assert ask_schema["question"]["maxLength"] == 200 and ask_schema["history"]["maxItems"] == 2
    [k] = [p for p in schema["paths"]["/api/search"]["get"]["parameters"] if p["name"] == "k"]
    assert k["schema"]["maximum"] == 7


def test_an_oversized_json_body_is_refused_while_it_is_still_being_sent(server: str) -> None:
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"question": "'
        while sent < 300 * MiB:
            yield b"q" * 65536
            sent += 65536

    with httpx.Client(base_url=server, timeout=60) as http:
        response = http.post("/api/ask", content=body(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and "request body is larger than" in response.json()["detail"]
    assert sent < 8 * MiB, f"{sent / MiB:.1f} MB sent"
