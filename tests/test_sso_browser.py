"""Single sign-on trusts only the proxy, end to end: the real `confidant serve` in shared mode, a real browser.

Requests from the server's own loopback carrying `X-Forwarded-For: <the trusted proxy>` and `X-Forwarded-User:
boss` (in both header orders, over IPv4 and IPv6 loopback) must get the sign-in page. The same user header set by
the trusted proxy itself (a relay whose connections to the app come from 127.0.0.2) signs the user in — which also
shows the headers really reach the app. Both relays set the headers on every request, as a gateway does: a browser
no longer adds a page's extra headers to the WebSocket handshake, where Streamlit reads them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.test_ui_browser import CHROMIUM

pytestmark = pytest.mark.slow

PROXY_SOURCE = "127.0.0.2"  # the trusted proxy's address as the app sees it
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port(family: socket.AddressFamily = socket.AF_INET, host: str = "127.0.0.1") -> int:
    with socket.socket(family) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:  # noqa: S310 - loopback
                if r.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise
            time.sleep(0.5)


@contextmanager
def shared_server(home: Path, host: str) -> Iterator[str]:
    env = {**os.environ, "CONFIDANT_HOME": str(home), "CONFIDANT_AUTH": "accounts",
           "CONFIDANT_SSO_HEADER": "X-Forwarded-User", "CONFIDANT_TRUSTED_PROXIES": f'["{PROXY_SOURCE}"]'}
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    port = free_port(family, host)
    proc = subprocess.Popen([sys.executable, "-m", "confidant.cli", "serve", "--host", host, "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://[{host}]:{port}" if family == socket.AF_INET6 else f"http://{host}:{port}"
    try:
        wait_up(url, proc)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@contextmanager
def header_proxy(host: str, target_port: int, source: str, headers: dict[str, str]) -> Iterator[str]:
    """A reverse proxy as an SSO gateway is one: it listens on `host`, connects to the app from `source`, and sets
    `headers` on every request it passes on, the WebSocket upgrade included (Streamlit reads a session's headers
    from its WebSocket handshake, and Chromium 150 no longer adds a page's extra headers to it). Yields its URL."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family)
    listener.bind((host, 0))
    listener.listen(32)
    listener.settimeout(0.5)
    stop = threading.Event()
    names = {name.lower().encode() for name in headers}
    extra = b"".join(f"{name}: {value}\r\n".encode() for name, value in headers.items())

    def with_headers(head: bytes) -> bytes:
        request_line, *lines = head.split(b"\r\n")
        kept = [line for line in lines if line and line.split(b":", 1)[0].strip().lower() not in names]
        return request_line + b"\r\n" + b"".join(line + b"\r\n" for line in kept) + extra + b"\r\n"

    def requests(client: socket.socket, upstream: socket.socket) -> None:
        """Client to app: each request's head gets the headers; its body, and everything after an upgrade, passes."""
        buffer, body_left, upgraded = b"", 0, False
        try:
            while data := client.recv(65536):
                if upgraded:
                    upstream.sendall(data)
                    continue
                buffer += data
                while buffer and not upgraded:
                    if body_left:
                        part, buffer = buffer[:body_left], buffer[body_left:]
                        upstream.sendall(part)
                        body_left -= len(part)
                        continue
                    end = buffer.find(b"\r\n\r\n")
                    if end < 0:
                        break
                    head, buffer = buffer[:end], buffer[end + 4:]
                    upstream.sendall(with_headers(head))
                    fields = {line.split(b":", 1)[0].strip().lower(): line.split(b":", 1)[1].strip()
                              for line in head.split(b"\r\n")[1:] if b":" in line}
                    body_left = int(fields.get(b"content-length", b"0") or 0)
                    upgraded = b"upgrade" in fields
                if upgraded and buffer:
                    upstream.sendall(buffer)
                    buffer = b""
        except OSError:
            pass
        finally:
            _close(client, upstream)

    def replies(upstream: socket.socket, client: socket.socket) -> None:
        try:
            while data := upstream.recv(65536):
                client.sendall(data)
        except OSError:
            pass
        finally:
            _close(client, upstream)

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            upstream = socket.create_connection((host, target_port), source_address=(source, 0))
            threading.Thread(target=requests, args=(client, upstream), daemon=True).start()
            threading.Thread(target=replies, args=(upstream, client), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    port = int(listener.getsockname()[1])
    try:
        yield f"http://[{host}]:{port}" if family == socket.AF_INET6 else f"http://{host}:{port}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def _close(*sockets: socket.socket) -> None:
    for s in sockets:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def page_for(browser: object, url: str) -> str:
    """Open the app; 'signed in' or 'sign-in page' by what it shows."""
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(url)
        signed_in = page.get_by_text("Signed in as")
        sign_in = page.get_by_role("heading", name="Sign in to Confidant")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if signed_in.count() > 0:
                return "signed in: " + signed_in.first.inner_text()
            if sign_in.count() > 0:
                return "sign-in page"
            time.sleep(0.25)
        raise AssertionError(f"{url}: neither the sign-in page nor a signed-in app after 60 s")
    finally:
        context.close()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    env = {**os.environ, "CONFIDANT_HOME": str(home)}
    subprocess.run([sys.executable, "-m", "confidant.cli", "users", "add", "boss", "--role", "admin"], env=env,
                   input="correct horse battery\n", text=True, check=True, capture_output=True, timeout=120)
    return home


SPOOFS = [  # both orders of the two headers
    {"X-Forwarded-For": PROXY_SOURCE, "X-Forwarded-User": "boss"},
    {"X-Forwarded-User": "boss", "X-Forwarded-For": PROXY_SOURCE},
]


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_forged_forwarded_headers_from_loopback_get_the_sign_in_page(home: Path, host: str) -> None:
    """The headers reach the app on every request, its WebSocket included, but from this machine's loopback, not
    from the trusted proxy."""
    from playwright.sync_api import sync_playwright

    with shared_server(home, host) as url, sync_playwright() as p:
        port = int(url.rsplit(":", 1)[1])
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=BROWSER_ARGS)
        for headers in SPOOFS:
            with header_proxy(host, port, host, headers) as forged:
                assert page_for(browser, forged) == "sign-in page", headers
        browser.close()


def test_the_trusted_proxy_signs_the_user_in(home: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with shared_server(home, "127.0.0.1") as url, sync_playwright() as p:
        port = int(url.rsplit(":", 1)[1])
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=BROWSER_ARGS)
        with header_proxy("127.0.0.1", port, PROXY_SOURCE, {"X-Forwarded-User": "boss"}) as proxied:
            shown = page_for(browser, proxied)
        browser.close()
    assert shown.startswith("signed in") and "boss" in shown, shown
