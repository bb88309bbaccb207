"""Uploads through the API are refused before they are read: a real uvicorn server on loopback, a 300 MB body made
as it is sent (chunked, no Content-Length), and a count of the bytes the client managed to hand over before the
answer came. A refused upload leaves nothing on disk: not in the data folder, not in the temp folder, and no
temporary file is even open while it is being sent."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from confidant.access import NOT_FOUND
from rag.embedders import Embedder
from tests.test_access import ROLE_MESSAGE, World, build_world
from tests.test_api import running_api

MiB = 2**20
BOUNDARY = "confidant-test-boundary"
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
HUGE = 300 * MiB
EARLY = 8 * MiB  # "answered within the first few MB": loopback socket buffers hold 1-3 MB here
LIMIT_MB = 1


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[World]:
    w = build_world(tmp_path_factory.mktemp("api-upload"), embedder, upload_max_mb=LIMIT_MB)
    yield w
    w.services.close()


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[str]:
    with running_api(world.services) as url:
        yield url


@pytest.fixture(scope="module")
def tokens(world: World) -> dict[str, dict[str, str]]:
    return {name: {"Authorization": f"Bearer {world.services.accounts.issue_token(name, 'test')}"}
            for name in ("alice", "bob", "root")}


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The process's temp folder for this test (the server runs in this process), empty to begin with."""
    folder = tmp_path / "system-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


class Body:
    """A multipart body with one file of `size` bytes, made as it is sent. `sent` counts the bytes the client has
    handed to the socket; `open_temp` collects any file under `watched` this process holds open meanwhile (a
    spooled upload is an unnamed file there, visible only in /proc/self/fd)."""

    def __init__(self, size: int, watched: Path, name: str = "big.pdf", field: bytes = b"") -> None:
        self.size, self.watched, self.name, self.field = size, str(watched), name, field
        self.sent = 0
        self.open_temp: set[str] = set()

    def __iter__(self) -> Iterator[bytes]:
        head = (self.field + f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{self.name}"'
                '\r\nContent-Type: application/pdf\r\n\r\n'.encode())
        yield head
        self.sent += len(head)
        chunk = b"%PDF-1.4\n" + b"0" * (64 * 1024 - 9)
        while self.sent < self.size:
            yield chunk
            self.sent += len(chunk)
            if self.sent % MiB < len(chunk):
                self.look()
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    def look(self) -> None:
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if target.startswith(self.watched):
                self.open_temp.add(target)


def field(name: str, value: str) -> bytes:
    return f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()


def on_disk(world: World, temp: Path) -> set[Path]:
    """Every file in the data folder (but SQLite's own journal files) and in the temp folder."""
    home = world.services.settings.home
    return {p for folder in (home, temp) for p in folder.rglob("*")
            if p.is_file() and not p.name.endswith(("-wal", "-shm", "-journal"))}


def post(server: str, body: Body, headers: dict[str, str], query: str = "") -> httpx.Response:
    with httpx.Client(base_url=server, timeout=120) as http:
        return http.post(f"/api/documents{query}", content=iter(body), headers={**MULTIPART, **headers})


def test_an_unauthenticated_300_mb_upload_is_answered_401_within_the_first_megabytes(
        world: World, server: str, temp_dir: Path) -> None:
    before = on_disk(world, temp_dir)
    body = Body(HUGE, temp_dir)
    response = post(server, body, {}, "?collection=hr")
    assert (response.status_code, response.json()) == (401, {"detail": "a bearer token is required"})
    assert body.sent < EARLY, f"{body.sent / MiB:.1f} MB were sent before the refusal"
    assert body.open_temp == set() and on_disk(world, temp_dir) == before


def test_a_reader_is_refused_before_the_body_is_read(
        world: World, server: str, tokens: dict[str, dict[str, str]], temp_dir: Path) -> None:
    before = on_disk(world, temp_dir)
    for query, form in (("?collection=hr", b""), ("", field("collection", "hr"))):  # query, or field before files
        body = Body(HUGE, temp_dir, field=form)
        response = post(server, body, tokens["alice"], query)
        assert (response.status_code, response.json()) == (403, {"detail": ROLE_MESSAGE}), query
        assert body.sent < EARLY and body.open_temp == set()
    body = Body(HUGE, temp_dir)  # an editor of legal only: hr answers as if it did not exist
    response = post(server, body, tokens["bob"], "?collection=hr")
    assert (response.status_code, response.json()) == (404, {"detail": NOT_FOUND}) and body.sent < EARLY
    assert on_disk(world, temp_dir) == before
    assert [d.file_name for d in world.services.registry.documents("hr")] == ["benefits.pdf"]


def test_an_editor_upload_over_the_limit_is_413_as_soon_as_it_passes_it(
        world: World, server: str, tokens: dict[str, dict[str, str]], temp_dir: Path) -> None:
    before, documents = on_disk(world, temp_dir), world.services.registry.documents()
    chunked = Body(HUGE, temp_dir)
    response = post(server, chunked, tokens["bob"], "?collection=legal")
    assert response.status_code == 413 and "upload limit" in response.json()["detail"]
    assert LIMIT_MB * MiB < chunked.sent < EARLY  # read up to the limit, then refused
    declared = Body(HUGE, temp_dir)  # with Content-Length: refused before the first byte is read
    response = post(server, declared, {**tokens["bob"], "Content-Length": str(HUGE + 200)}, "?collection=legal")
    assert response.status_code == 413 and "upload limit" in response.json()["detail"]
    assert declared.sent < EARLY
    assert chunked.open_temp == declared.open_temp == set()
    assert on_disk(world, temp_dir) == before and world.services.registry.documents() == documents


def test_a_normal_upload_is_indexed_chunked_or_not(
        world: World, server: str, tokens: dict[str, dict[str, str]], temp_dir: Path) -> None:
    pdf = world.pdf("rota.pdf", ["Rota: the Wombatian team covers the night shift on Tuesdays."])
    text = b"Badges: visitors collect a Numbatine badge at the front desk."
    with httpx.Client(base_url=server, headers=tokens["bob"], timeout=300) as http:
        response = http.post("/api/documents?collection=legal", files=[
            ("files", ("rota.pdf", pdf, "application/pdf")), ("files", ("badges.txt", text, "text/plain"))])
        assert response.status_code == 200, response.text
        assert [(r["file"], r["state"]) for r in response.json()] == [("rota.pdf", "indexed"), ("badges.txt", "indexed")]

        def chunked() -> Iterator[bytes]:  # the same kind of body, sent without Content-Length in small pieces
            body = (field("collection", "legal") + f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; '
                    f'filename="notes.txt"\r\n\r\nNotes: the Quollish archive closes at noon.\r\n--{BOUNDARY}--\r\n'
                    .encode())
            yield from (body[i:i + 7] for i in range(0, len(body), 7))

        response = http.post("/api/documents", content=chunked(), headers=MULTIPART)
        assert response.status_code == 200, response.text
        assert [(r["file"], r["state"]) for r in response.json()] == [("notes.txt", "indexed")]
        hits = {q: http.get("/api/search", params={"q": q, "k": 1}).json()[0]["file"]
                for q in ("Wombatian night shift", "Numbatine badge", "Quollish archive")}
    assert hits == {"Wombatian night shift": "rota.pdf", "Numbatine badge": "badges.txt",
                    "Quollish archive": "notes.txt"}
    assert list(temp_dir.iterdir()) == []


def test_an_upload_that_does_not_wait_is_searchable_at_once_and_embedded_in_the_background(
        world: World, server: str, tokens: dict[str, dict[str, str]]) -> None:
    pdf = world.pdf("keys.pdf", ["Keys: the Bilbyish cabinet key hangs behind the reception desk."])
    with httpx.Client(base_url=server, headers=tokens["bob"], timeout=300) as http:
        response = http.post("/api/documents?collection=legal&wait=false", files=[("files", ("keys.pdf", pdf,
                                                                                            "application/pdf"))])
        assert response.status_code == 200 and response.json()[0]["state"] == "indexed", response.text
        doc_id = response.json()[0]["id"]
        assert http.get("/api/search", params={"q": "Bilbyish cabinet key", "k": 1}).json()[0]["file"] == "keys.pdf"
        deadline = time.monotonic() + 120
        while True:  # the API's background filler embeds it
            queue = http.get("/api/indexing").json()
            if queue["documents"] == 0:
                break
            assert time.monotonic() < deadline, queue
            assert queue["message"].startswith("keyword search only for")
            time.sleep(0.2)
        [doc] = [d for d in http.get("/api/documents", params={"collection": "legal"}).json() if d["id"] == doc_id]
        assert doc["embedded"] == doc["chunks"] > 0
    assert world.services.store.count(document_id=doc_id) == doc["chunks"]


@pytest.mark.parametrize(("query", "content", "headers", "status", "says"), [
    ("?collection=legal", b"", {"Content-Type": "application/json"}, 400, "multipart/form-data"),
    ("?collection=legal", field("files", "no file name") + f"--{BOUNDARY}--\r\n".encode(), MULTIPART, 400,
     "unexpected form field"),
    ("?collection=legal", field("note", "hello") + f"--{BOUNDARY}--\r\n".encode(), MULTIPART, 400,
     "unexpected form field"),
    ("?collection=legal", f"--{BOUNDARY}--\r\n".encode(), MULTIPART, 400, "no files"),
    ("?collection=legal", f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n\r\n'
     "cut short".encode(), MULTIPART, 400, "before its closing"),
    ("?collection=legal", field("collection", "hr") + f"--{BOUNDARY}--\r\n".encode(), MULTIPART, 400,
     "named twice"),
    ("", field("collection", "../etc") + f"--{BOUNDARY}--\r\n".encode(), MULTIPART, 400, "invalid collection name"),
    ("?collection=..%2Fetc", b"", MULTIPART, 422, "invalid collection name"),
    ("?collection=legal", b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="f{n}.txt"\r\n\r\nx\r\n'.encode()
        for n in range(11)) + f"--{BOUNDARY}--\r\n".encode(), MULTIPART, 413, "more than 10 files"),
])
def test_a_malformed_upload_is_a_clear_400(
        world: World, server: str, tokens: dict[str, dict[str, str]],
        query: str, content: bytes, headers: dict[str, str], status: int, says: str) -> None:
    documents = world.services.registry.documents()
    response = httpx.post(f"{server}/api/documents{query}", content=content, headers={**tokens["bob"], **headers})
    assert response.status_code == status, response.text
    assert says in str(response.json()["detail"])
    assert world.services.registry.documents() == documents
