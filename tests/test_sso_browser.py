"""Single sign-on trusts only the proxy, end to end: the real `confidant serve` in shared mode, a real browser.

A browser on the server itself sends `X-Forwarded-For: <the trusted proxy>` and `X-Forwarded-User: admin` (in
both header orders, over IPv4 and IPv6 loopback): it must get the sign-in page. The same header sent through the
trusted proxy itself (a TCP relay whose connections to the app come from 127.0.0.2) signs the user in — which
also shows the browser really delivers these headers to the app.
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
def trusted_proxy(target_port: int) -> Iterator[int]:
    """A TCP relay on 127.0.0.1 whose connections to the app leave from PROXY_SOURCE, bytes passed unchanged."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(32)
    listener.settimeout(0.5)
    stop = threading.Event()

    def pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            upstream = socket.create_connection(("127.0.0.1", target_port), source_address=(PROXY_SOURCE, 0))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def page_for(browser: object, url: str, headers: dict[str, str]) -> str:
    """Open the app with these request headers; 'signed in' or 'sign-in page' by what it shows."""
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    context = browser.new_context(extra_http_headers=headers)
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
    from playwright.sync_api import sync_playwright

    with shared_server(home, host) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=BROWSER_ARGS)
        for headers in SPOOFS:
            assert page_for(browser, url, headers) == "sign-in page", headers
        browser.close()


def test_the_trusted_proxy_signs_the_user_in(home: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with shared_server(home, "127.0.0.1") as url, sync_playwright() as p:
        port = int(url.rsplit(":", 1)[1])
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=BROWSER_ARGS)
        with trusted_proxy(port) as relay:
            shown = page_for(browser, f"http://127.0.0.1:{relay}", {"X-Forwarded-User": "boss"})
        browser.close()
    assert shown.startswith("signed in") and "boss" in shown, shown
