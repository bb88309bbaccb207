"""End to end in a real browser: `confidant serve` on loopback with the embedded model, driven by headless chromium.

Upload a PDF, ask a question, see an answer whose source names the right page; a screenshot is saved.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.documents import make_pdf

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # screenshots (not committed)
QUESTION = "How many weeks of paid parental leave do employees receive?"
PAGES = ["Contoso handbook. This handbook describes company policies for all staff.",
         "Office hours. The office opens at eight in the morning and closes at six in the evening.",
         "Parental leave. Employees receive sixteen weeks of paid parental leave after the birth or adoption "
         "of a child. Managers must approve leave requests within ten working days."]

pytestmark = pytest.mark.slow  # needs Debian's chromium: scripts/test installs it (a missing browser fails)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "CONFIDANT_HOME": str(tmp_path / "home"), "CONFIDANT_LLM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "confidant.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:  # noqa: S310 - loopback
                    if r.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_upload_ask_and_see_the_cited_page(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    pdf = make_pdf(tmp_path / "handbook.pdf", PAGES)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        elsewhere: list[str] = []  # the page must load nothing from any other host (fonts, CDNs, trackers)
        page.on("request", lambda r: None if r.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:"))
                else elsewhere.append(r.url))
        page.goto(server)
        sidebar = page.get_by_test_id("stSidebar")
        sidebar.get_by_text("Upload", exact=True).click()
        page.locator("input[type=file]").set_input_files(str(pdf))
        page.get_by_role("button", name="Add to collection").click()
        expect(page.get_by_text("1 of 1 file(s) ready")).to_be_visible(timeout=180_000)
        sidebar.get_by_text("Chat", exact=True).click()
        box = page.get_by_test_id("stChatInputTextArea")
        box.fill(QUESTION)
        box.press("Enter")
        # the pages being read show while the model is still answering (the line goes when the answer is done)
        expect(page.get_by_text("Reading ", exact=False).first).to_be_visible(timeout=60_000)
        expect(page.get_by_text("handbook.pdf — page 3").first).to_be_visible(timeout=600_000)
        # an answer, not a decline, and its source on page 3 is marked as cited
        expect(page.get_by_text("Sources", exact=True).first).to_be_visible()
        expect(page.get_by_text("Not answered from the documents")).to_have_count(0)
        cited = page.get_by_text("handbook.pdf — page 3").first.locator("xpath=..")
        expect(cited).to_contain_text("(cited)")
        expect(page.get_by_text("sixteen weeks").first).to_be_visible()
        shot = ARTIFACTS / "chat.png"
        shot.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 10_000
    assert elsewhere == []


def test_drop_a_file_into_the_chat_ask_it_and_find_the_conversation_after_a_reload(server: str,
                                                                                   tmp_path: Path) -> None:
    """Upload from the chat box with a question: the answer comes from that document alone; a reload reopens the
    conversation with its scope, and it is listed in the sidebar."""
    from playwright.sync_api import expect, sync_playwright

    pdf = make_pdf(tmp_path / "handbook.pdf", PAGES)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server)
        chat = page.get_by_test_id("stChatInput")
        expect(page.get_by_role("button", name="Upload documents")).to_be_visible(timeout=60_000)  # the empty state
        chat.locator("input[type=file]").set_input_files(str(pdf))
        box = page.get_by_test_id("stChatInputTextArea")
        box.fill(QUESTION)
        box.press("Enter")
        expect(page.get_by_text("Asking only handbook.pdf in default")).to_be_visible(timeout=180_000)
        expect(page.get_by_text("handbook.pdf — page 3").first).to_be_visible(timeout=600_000)
        expect(page.get_by_text("sixteen weeks").first).to_be_visible()
        page.wait_for_url("**/?c=*")
        page.reload()
        expect(page.get_by_text(QUESTION).first).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Asking only handbook.pdf in default")).to_be_visible()
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_role("button", name=QUESTION[:40], exact=False)).to_be_visible()
        expect(page.get_by_role("button", name="Download (PDF)")).to_be_visible()
        shot = ARTIFACTS / "chat-upload-reload.png"
        shot.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(shot))
        browser.close()
