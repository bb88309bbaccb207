"""The session both egress guards watch: a whole day's use of Confidant in four phases, with real parts.

1. ingest: `confidant ingest` an HR PDF, then a CLI process that searches it (the embedder loaded) stays up;
2. ask: `confidant ask … --json`, then a CLI process that keeps asking;
3. serve: `confidant serve`, the page loaded in headless Chromium and one question asked in the chat, then a
   websocket opened with another site's Origin (refused);
4. api: an account and a token (`confidant users add/token`), `confidant api`, one authenticated POST /api/ask.

Each phase lasts at least `hold_s` seconds with the embedding model loaded in a live process, so delayed background
work (onnxruntime's telemetry starts about ten seconds after its first session) happens inside the watched window.
The embedder is the real default (bge-small through onnxruntime); the answer model is the small plumbing one.

Used in-process by the strace guard (every confidant command wrapped by `tests.egress_trace.traced`), and as
`python -m tests.egress_session HOME HOLD_S [RECORD_LOG]` by the network-namespace guard, which runs this whole
driver, browser included, inside a namespace that has only loopback.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.documents import HR_DOCS
from tests.egress_trace import traced

ROOT = Path(__file__).resolve().parent.parent
GUARD = Path(__file__).resolve().parent / "egress_guard"
CHROMIUM = Path("/usr/bin/chromium")
CLI = [sys.executable, "-m", "confidant.cli"]
REPEAT = [sys.executable, "-m", "tests.cli_repeat"]
PDF = HR_DOCS / "PerksPlus.pdf"
QUESTION = "What does PerksPlus reimburse?"
# switches a caller's environment may already carry (the test process runs enforce_offline itself): dropped, so
# only Confidant's own code can turn telemetry off in the processes watched
_INHERITED_SWITCHES = ("HF_", "TRANSFORMERS_", "ORT_", "STREAMLIT_", "CONFIDANT_", "XDG_", "ANONYMIZED_TELEMETRY",
                       "DO_NOT_TRACK", "TOKENIZERS_", "PYTHONPATH")


def confidant_env(home: Path, record: Path | None = None) -> dict[str, str]:
    """The environment of every confidant process: a fresh data folder and user home, the small answer model on
    one thread, and no offline switch inherited. `record` loads the Python-level recorder (tests/egress_guard)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_SWITCHES)}
    env.update({"HOME": str(home / "user"), "CONFIDANT_HOME": str(home / "data"),
                "CONFIDANT_LLM_MODE": "auto",  # probes Ollama on loopback, then starts the embedded server
                "CONFIDANT_EMBEDDED_MODEL": "smollm2-135m", "CONFIDANT_LLM_THREADS": "1",
                "CONFIDANT_LLM_MAX_TOKENS": "24"})
    if record is not None:
        env.update({"PYTHONPATH": str(GUARD), "CONFIDANT_TEST_EGRESS_LOG": str(record)})
    return env


def telemetry_left_behind(home: Path) -> list[str]:
    """Files onnxruntime's telemetry kept in the user's cache (device id, queued events)."""
    folder = home / "user" / ".cache" / "Microsoft"
    return sorted(str(p) for p in folder.rglob("*")) if folder.exists() else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Session:
    home: Path  # fresh: data folder, user home, server output
    hold_s: float  # each phase lasts at least this long
    env: dict[str, str]
    trace_dir: Path | None = None  # when set, every confidant command runs under strace, one log per command
    timings: dict[str, float] = field(default_factory=dict)
    _commands: int = 0

    def run(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        for phase in (self.ingest, self.ask, self.serve, self.api):
            started = time.monotonic()
            phase()
            self.timings[phase.__name__] = round(time.monotonic() - started, 1)

    # --- the phases ------------------------------------------------------------------------------------------
    def ingest(self) -> None:
        started = time.monotonic()
        results = json.loads(self.confidant("ingest", "ingest", str(PDF), "--json"))
        assert [r["state"] for r in results] == ["indexed"], results
        self.keep_running(started, "search", QUESTION, "--json")

    def ask(self) -> None:
        started = time.monotonic()
        answer = json.loads(self.confidant("ask", "ask", QUESTION, "--json"))
        assert answer["passages"] and answer["passages"][0]["file"] == PDF.name, answer
        grid = json.loads(self.confidant("grid", "grid", "-c", "default", "-q", QUESTION, "--json", "-"))
        assert [r["file"] for r in grid["rows"]] == [PDF.name] and len(grid["rows"][0]["cells"]) == 1, grid
        self.keep_running(started, "ask", QUESTION, "--json")

    def serve(self) -> None:
        started, port = time.monotonic(), free_port()
        server = self.start("serve", "serve", "--port", str(port))
        try:
            wait_until_up(f"http://127.0.0.1:{port}/_stcore/health", server)
            ask_in_browser(f"http://127.0.0.1:{port}")
            refuse_foreign_origin(port)
            self.wait_out(started)
        finally:
            self.stop(server)

    def api(self) -> None:
        self.confidant("users", "users", "add", "alice", "--collection", "default", stdin="correct horse battery\n")
        token = self.confidant("token", "users", "token", "alice").strip()
        started, port = time.monotonic(), free_port()
        server = self.start("api", "api", "--port", str(port))
        try:
            wait_until_up(f"http://127.0.0.1:{port}/api/health", server)
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/ask", data=json.dumps({"question": QUESTION}).encode(),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=600) as r:  # noqa: S310 - loopback
                answer = json.loads(r.read())
            assert answer["passages"] and answer["passages"][0]["file"] == PDF.name, answer
            self.wait_out(started)
        finally:
            self.stop(server)

    # --- processes -------------------------------------------------------------------------------------------
    def command(self, name: str, argv: list[str]) -> list[str]:
        self._commands += 1
        if self.trace_dir is None:
            return argv
        return traced(argv, self.trace_dir / f"{self._commands:02d}-{name}.log")

    def confidant(self, name: str, *args: str, stdin: str | None = None, prefix: list[str] = CLI) -> str:
        done = subprocess.run(self.command(name, [*prefix, *args]), env=self.env, cwd=ROOT, input=stdin,
                              capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"confidant {' '.join(args)} exited with {done.returncode}:\n{done.stderr[-3000:]}"
        return done.stdout

    def keep_running(self, started: float, *args: str) -> None:
        """Fill the phase up to hold_s with one CLI process repeating `args` (its models stay loaded)."""
        left = self.hold_s - (time.monotonic() - started)
        if left > 0:
            self.confidant(f"{args[0]}-held", f"{left:.1f}", *args, prefix=REPEAT)

    def wait_out(self, started: float) -> None:
        time.sleep(max(0.0, self.hold_s - (time.monotonic() - started)))

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with open(self.home / f"{name}.out", "wb") as output:  # the server's output, for a failure's story
            return subprocess.Popen(self.command(name, [*CLI, *args]), env=self.env, cwd=ROOT, stdout=output,
                                    stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGTERM to the confidant process (under strace: strace's child, so strace sees it to its end)."""
        if proc.poll() is None:
            os.kill(_traced_child(proc.pid) or proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _traced_child(pid: int) -> int | None:
    try:
        if Path(f"/proc/{pid}/comm").read_text().strip() != "strace":
            return None
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def wait_until_up(url: str, proc: subprocess.Popen[bytes], seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 - loopback
                if r.status == 200:
                    return
        except OSError:
            assert proc.poll() is None, f"the server exited with {proc.returncode} before {url} answered"
            assert time.monotonic() < deadline, f"{url} did not come up in {seconds:.0f} s"
            time.sleep(0.5)


def ask_in_browser(url: str) -> None:
    """Load the app in headless Chromium, ask in the chat and wait for the answer's sources. The page must load
    nothing from any other host."""
    from playwright.sync_api import expect, sync_playwright

    elsewhere: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("request", lambda r: None if r.url.startswith(
                ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")) else elsewhere.append(r.url))
            page.goto(url)
            box = page.get_by_test_id("stChatInputTextArea")
            box.fill(QUESTION)
            box.press("Enter")
            expect(page.get_by_text(f"{PDF.name} — page").first).to_be_visible(timeout=300_000)
        finally:
            browser.close()
    assert elsewhere == [], f"the page loaded from other hosts: {elsewhere}"


def refuse_foreign_origin(port: int) -> None:
    """A page on another site opening the app's websocket: Streamlit checks the Origin against the machine's
    addresses, which it used to look up by contacting 8.8.8.8 and checkip.amazonaws.com. It must be refused without
    any lookup."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    try:
        with connect(f"ws://127.0.0.1:{port}/_stcore/stream", origin="http://elsewhere.example", open_timeout=30):
            raise AssertionError("a websocket from another site's page was accepted")
    except InvalidStatus as refused:
        assert refused.response.status_code == 403, refused.response.status_code


def main(argv: list[str]) -> int:
    """Run the session here (the namespace guard starts this inside `unshare --net`), with the recorder loaded
    into every confidant process when a record log is named. Prints the phase timings as JSON."""
    home, hold_s = Path(argv[0]), float(argv[1])
    record = Path(argv[2]) if len(argv) > 2 else None
    session = Session(home, hold_s, confidant_env(home, record))
    session.run()
    print(json.dumps(session.timings))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
