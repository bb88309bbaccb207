"""A full ingest + ask + serve + API session opens no connection to anything but loopback.

Every Python process of the session (the CLI, the parsing worker, the Streamlit server, the API server) loads a
socket guard that records and refuses any connection or name lookup for a non-loopback address. The session must
leave the log empty.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.documents import HR_DOCS

GUARD = Path(__file__).resolve().parent / "egress_guard"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            assert time.monotonic() < deadline, f"{url} did not come up"
            time.sleep(0.5)


def test_guard_catches_an_outbound_attempt(tmp_path: Path) -> None:
    log = tmp_path / "egress.log"
    env = {**os.environ, "PYTHONPATH": f"{GUARD}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "CONFIDANT_TEST_EGRESS_LOG": str(log)}
    code = "import urllib.request\ntry: urllib.request.urlopen('http://example.com', timeout=2)\nexcept Exception: pass"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    assert "example.com" in log.read_text()


def test_ingest_ask_serve_and_api_stay_on_loopback(tmp_path: Path) -> None:
    log = tmp_path / "egress.log"
    home = tmp_path / "home"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))},
        "PYTHONPATH": f"{GUARD}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "CONFIDANT_TEST_EGRESS_LOG": str(log),
        "CONFIDANT_HOME": str(home),
        "CONFIDANT_LLM_MODE": "auto",  # probes Ollama on loopback, then the embedded server
        "CONFIDANT_EMBEDDED_MODEL": "smollm2-135m",
        "CONFIDANT_LLM_THREADS": "1",
        "CONFIDANT_LLM_MAX_TOKENS": "24",
    }
    cli = [sys.executable, "-m", "confidant.cli"]
    subprocess.run([*cli, "ingest", str(HR_DOCS / "PerksPlus.pdf"), "--json"], env=env, check=True, timeout=600,
                   capture_output=True)
    asked = subprocess.run([*cli, "ask", "What does PerksPlus reimburse?", "--json"], env=env, timeout=600,
                           capture_output=True, text=True)
    assert asked.returncode == 0, asked.stderr
    assert '"passages"' in asked.stdout

    port = free_port()
    server = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/_stcore/health")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
            page = r.read().decode()
        assert "<html" in page.lower()
        # no page asset comes from another host (fonts, CDNs)
        assert "fonts.googleapis" not in page and "cdn." not in page
        time.sleep(3)
    finally:
        server.terminate()
        server.wait(30)

    # shared mode's REST API: an account, a token, one question over HTTP
    subprocess.run([*cli, "users", "add", "alice", "--collection", "default"], env=env, check=True, timeout=120,
                   input="correct horse battery\n", text=True, capture_output=True)
    token = subprocess.run([*cli, "users", "token", "alice"], env=env, check=True, timeout=120, text=True,
                           capture_output=True).stdout.strip()
    port = free_port()
    api = subprocess.Popen([*cli, "api", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/api/health")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/ask", data=json.dumps({"question": "What does PerksPlus reimburse?"}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=600) as r:
            answer = json.loads(r.read())
        assert answer["passages"] and answer["passages"][0]["file"] == "PerksPlus.pdf"
    finally:
        api.terminate()
        api.wait(30)
    attempts = log.read_text() if log.exists() else ""
    assert attempts == "", f"outbound attempts:\n{attempts}"
