"""End to end in a real browser: `confidant serve` on loopback with the embedded model, driven by headless chromium.

Upload a PDF, ask a question, see an answer whose source names the right page; a screenshot is saved.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
    with serving(tmp_path / "home") as url:
        yield url


@contextmanager
def serving(home: Path) -> Iterator[str]:
    """`confidant serve` on a free loopback port over the data folder `home`, until the block ends."""
    port = free_port()
    env = {**os.environ, "CONFIDANT_HOME": str(home), "CONFIDANT_LLM_THREADS": "1"}
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
        # the Upload page's own uploader, not the chat box's file input (files dropped into the chat), which stays
        # on screen while the page changes
        uploader = page.get_by_test_id("stFileUploader").locator("input[type=file]")
        expect(page.get_by_role("heading", name="Add documents")).to_be_visible(timeout=60_000)
        expect(uploader).to_have_count(1, timeout=60_000)
        expect(page.get_by_test_id("stChatInput")).to_have_count(0, timeout=60_000)
        uploader.set_input_files(str(pdf))
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


UNNAMED = re.compile(r"^\s*- (button|textbox|combobox|checkbox|radio|slider|spinbutton|switch|link|tab)\s*(:|\[|$)",
                     re.MULTILINE)


def unnamed_controls(page: Any) -> list[str]:
    """Controls the accessibility tree gives no name (a screen reader would say only 'button')."""
    return unnamed_in(page.locator("body").aria_snapshot())


def unnamed_in(snapshot: str) -> list[str]:
    return [m.group(0).strip() for m in UNNAMED.finditer(snapshot)]


def settled(page: Any, timeout: int = 120_000) -> None:
    """Wait until the app's script has finished its run (Streamlit marks the page while a run is under way)."""
    from playwright.sync_api import expect

    page.wait_for_timeout(300)  # the rerun a click requests is marked a moment after the click
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning", timeout=timeout)


def test_the_accessibility_check_finds_a_control_without_a_name() -> None:
    snapshot = '- button "Send"\n- button:\n  - img\n- textbox "Search"\n- combobox [disabled]\n- link "Help":'
    assert unnamed_in(snapshot) == ["- button:", "- combobox ["]


def test_a_days_journey_by_keyboard_with_every_control_named(tmp_path: Path) -> None:
    """Two documents indexed; ask by keyboard alone, follow up, rate, reload (the conversation is there), delete
    exactly one document; on every page every control has an accessible name. Screenshots in tests/artifacts."""
    from playwright.sync_api import expect, sync_playwright

    home = tmp_path / "home"
    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(docs / "handbook.pdf", PAGES)
    make_pdf(docs / "travel.pdf", ["Travel. Hotel costs abroad are reimbursed up to 180 euros per night."])
    env = {**os.environ, "CONFIDANT_HOME": str(home)}
    subprocess.run([sys.executable, "-m", "confidant.cli", "ingest", str(docs), "-c", "hr"], env=env, check=True,
                   capture_output=True, timeout=300)
    ARTIFACTS.mkdir(exist_ok=True)
    with serving(home) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        box = page.get_by_test_id("stChatInputTextArea")
        expect(box).to_be_visible(timeout=60_000)
        assert unnamed_controls(page) == []
        for _ in range(80):  # the keyboard alone reaches the question box
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.tagName") == "TEXTAREA":
                break
        else:
            pytest.fail("Tab never reached the question box")
        page.keyboard.type(QUESTION)
        page.keyboard.press("Enter")
        expect(page.get_by_text("handbook.pdf — page 3").first).to_be_visible(timeout=600_000)
        expect(page.get_by_role("button", name="Rate this answer")).to_be_visible()
        box.fill("And who must approve the leave requests?")
        box.press("Enter")
        expect(page.get_by_role("button", name="Rate this answer")).to_have_count(2, timeout=600_000)
        page.get_by_role("button", name="Rate this answer").last.click()
        page.get_by_text("👍 right").click()
        page.get_by_role("button", name="Send", exact=True).click()
        expect(page.get_by_text("Saved.")).to_be_visible(timeout=30_000)
        assert unnamed_controls(page) == []
        page.screenshot(path=str(ARTIFACTS / "journey-chat.png"))
        page.reload()
        expect(page.get_by_text(QUESTION).first).to_be_visible(timeout=60_000)
        expect(page.get_by_text("And who must approve the leave requests?", exact=True)).to_be_visible()
        expect(page.get_by_text("Thank you for the feedback.")).to_have_count(1)  # the rating stayed with its answer
        sidebar = page.get_by_test_id("stSidebar")
        for name, title in (("Upload", "Add documents"), ("Collections", "Collections"),
                            ("Evaluate", "Evaluate retrieval and answers on your own questions"),
                            ("Documents", "Documents")):
            sidebar.get_by_text(name, exact=True).click()
            expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=60_000)
            settled(page)
            assert unnamed_controls(page) == [], name
        page.get_by_role("combobox", name="Document").click()
        page.get_by_role("option", name=re.compile("travel.pdf")).click()
        settled(page)  # a click during the rerun the choice started may reach the page it replaces
        page.get_by_role("button", name="Delete").click()
        expect(page.get_by_text("Remove travel.pdf and its passages from hr?")).to_be_visible(timeout=30_000)
        page.get_by_role("button", name="Delete now").click()
        expect(page.get_by_text("Deleted travel.pdf from hr.")).to_be_visible(timeout=120_000)
        page.screenshot(path=str(ARTIFACTS / "journey-documents.png"))
        browser.close()
    listed = subprocess.run([sys.executable, "-m", "confidant.cli", "docs", "list", "--json"], env=env, check=True,
                            capture_output=True, text=True, timeout=120).stdout
    assert [d["file"] for d in json.loads(listed)] == ["handbook.pdf"]  # exactly the one chosen was deleted
