"""The API's /docs page: off by default; when on, it and everything it loads come from the API server itself — checked
by fetching each referenced asset, and by loading the page in headless chromium and recording every request.

The server listens on 127.0.0.2, not 127.0.0.1: Swagger UI special-cases addresses containing "localhost" or
"127.0.0.1" (its online validator badge, an image from validator.swagger.io, is never shown for them), so the page is
loaded from a loopback address it does not recognise, as it would be from an intranet host name."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from confidant.services import Services
from rag.embedders import Embedder
from tests.conftest import make_services
from tests.test_api import running_api

CHROMIUM = Path("/usr/bin/chromium")
HOST = "127.0.0.2"
URL_IN_TEXT = re.compile(r"""https?://[^\s"'()<>\\]+""")
CSS_URL = re.compile(r"""url\(\s*["']?([^"')\s]+)|@import\s+["']([^"']+)""")


def loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host == "localhost" or host.startswith("127.") or host == "::1"


@pytest.fixture(scope="module")
def docs_on(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Services]:
    services = make_services(tmp_path_factory.mktemp("api-docs"), embedder, api_docs=True)
    yield services
    services.close()


@pytest.fixture(scope="module")
def server(docs_on: Services) -> Iterator[str]:
    with running_api(docs_on, HOST) as url:
        yield url


class References(HTMLParser):
    """Every URL an HTML page points to (src, href, and url(…) in inline styles)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href", "action", "srcset") and value]


def test_docs_are_off_unless_the_setting_turns_them_on(tmp_path: Path, embedder: Embedder) -> None:
    services = make_services(tmp_path / "home", embedder)
    try:
        assert services.settings.api_docs is False
        with running_api(services) as url, httpx.Client(base_url=url) as http:
            assert [http.get(p).status_code for p in ("/docs", "/redoc", "/docs/assets/swagger-ui.css",
                                                      "/docs/oauth2-redirect")] == [404, 404, 404, 404]
            assert http.get("/openapi.json").status_code == 200  # the schema stays: clients generate code from it
    finally:
        services.close()


def test_the_docs_page_and_all_it_references_come_from_the_server(server: str) -> None:
    with httpx.Client(base_url=server) as http:
        page = http.get("/docs")
        assert page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]
        refs = References()
        refs.feed(page.text)
        assert len(refs.urls) == 3  # the script, the style sheet and the icon
        texts = {"/docs": page.text, "/openapi.json": http.get("/openapi.json").text}
        for ref in refs.urls:
            url = urljoin(f"{server}/docs", ref)
            assert urlsplit(url).netloc == urlsplit(server).netloc, ref
            asset = http.get(url)
            assert asset.status_code == 200 and len(asset.content) > 500, ref
            if ref.endswith(".css"):  # what a style sheet loads: url(…) and @import, all data: URIs here
                css = asset.content.decode()
                loads = [a or b for a, b in CSS_URL.findall(css)]
                assert loads and all(u.startswith("data:") or loopback(urljoin(url, u)) for u in loads)
        assert http.get("/redoc").status_code == 404
    # the script names schema and spec URLs it never fetches: chromium checks what it loads
    assert {(name, u) for name, text in texts.items() for u in URL_IN_TEXT.findall(text) if not loopback(u)} == set()


def test_chromium_loads_the_docs_page_from_the_server_alone(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    requests: list[str] = []
    violations: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(f"{server}/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("Confidant API", timeout=30_000)
            health = page.locator("#operations-default-health_api_health_get")
            health.locator(".opblock-summary").click()
            health.get_by_role("button", name="Try it out").click()
            health.get_by_role("button", name="Execute").click()
            expect(health.locator(".live-responses-table tbody .response-col_status").first).to_contain_text("200")
            page.wait_for_load_state("networkidle")
        finally:
            browser.close()
    assert f"{server}/api/health" in requests and f"{server}/docs/assets/swagger-ui-bundle.js" in requests
    assert [u for u in requests if not (loopback(u) or u.startswith(("data:", "blob:")))] == []
    assert violations == []  # nothing was even tried and blocked
