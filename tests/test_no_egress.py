"""Nothing leaves the machine, proven at the OS level (issue #17).

One real session (tests/egress_session.py: ingest, ask, `confidant serve` driven by headless Chromium, the REST
API; the real bge-small ONNX embedder) is watched twice:

- under strace: every confidant process and thread, native code included, has its connect/sendto/sendmsg/sendmmsg
  calls logged; each phase lasts a minute with the embedder loaded, and any call to an address outside loopback
  (a DNS query to the nameserver included) fails the test with the lines seen;
- inside a network namespace that has only loopback: any attempt to go out fails, and the session must still
  fully work; the Python-level recorder (tests/egress_guard) lists whatever tried.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.egress_session import ROOT, Session, confidant_env, telemetry_left_behind
from tests.egress_trace import attempts_in, outbound_attempts, report, traced

GUARD = Path(__file__).resolve().parent / "egress_guard"
HOLD_S = 60.0  # per phase under strace: onnxruntime's telemetry fires about 10 s after its first session
NAMESPACE_HOLD_S = 15.0  # per phase in the namespace (strace already watched the long run)

pytestmark = pytest.mark.slow

# Real attempts to leave, and local traffic that must not count: the strace reader has to tell them apart.
PROBE = r"""
import socket, _socket
name = b"".join(bytes([len(p)]) + p for p in b"egress-probe.example".split(b".")) + b"\0"
query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + name + b"\x00\x01\x00\x01"
udp = _socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.sendto(query, ("192.0.2.1", 53))                       # DNS to a TEST-NET nameserver
tcp = _socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.setblocking(False)
tcp.connect_ex(("198.51.100.7", 443))                      # HTTPS to a TEST-NET host
six = _socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
six.setblocking(False)
six.connect_ex(("2001:db8::1", 443))                       # IPv6 documentation prefix
resolved = _socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
resolved.connect_ex("/run/systemd/resolve/io.systemd.Resolve")  # a name handed to systemd-resolved
local = _socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # local: none of these count
local.sendto(b'{sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("8.8.8.8")}', ("127.0.0.1", 9))
local6 = _socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
local6.sendto(b"x", ("::1", 9))
local6.sendto(b"x", ("::ffff:127.0.0.1", 9))
unix = _socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
unix.connect_ex("/nonexistent/socket")
"""


def test_strace_reader_flags_real_outbound_attempts(tmp_path: Path) -> None:
    log = tmp_path / "probe.log"
    subprocess.run(traced([sys.executable, "-c", PROBE], log), check=True, timeout=60)
    found = outbound_attempts(log.read_text())
    seen = {(a.call, a.address, a.detail) for a in found}
    assert seen == {
        ("sendto", "192.0.2.1:53", "DNS query for egress-probe.example"),
        ("connect", "198.51.100.7:443", ""),
        ("connect", "[2001:db8::1]:443", ""),
        ("connect", "/run/systemd/resolve/io.systemd.Resolve (name lookup through a resolver daemon)", ""),
    }, report([(log, a) for a in found]) + "\n--- log ---\n" + log.read_text()


def test_session_under_strace_reaches_nothing_but_loopback(tmp_path: Path) -> None:
    traces = tmp_path / "strace"
    traces.mkdir()
    home = tmp_path / "session"
    session = Session(home, HOLD_S, confidant_env(home), trace_dir=traces)
    try:
        session.run()
    finally:
        found = attempts_in(sorted(traces.glob("*.log")))
        if found:
            print(f"outbound attempts seen by strace:\n{report(found)}")
    assert not found, f"outbound attempts (phase seconds {session.timings}):\n{report(found)}"
    assert telemetry_left_behind(home) == []
    assert all(seconds >= HOLD_S for seconds in session.timings.values()), session.timings
    # strace really saw the processes talk: each server and the asking CLI reached its loopback peers
    for name in ("-ask.log", "-serve.log", "-api.log"):
        log = next(traces.glob(f"*{name}")).read_text()
        assert 'inet_addr("127.0.0.1")' in log, f"strace saw no loopback traffic in {name}"
    print(f"phase seconds: {session.timings}")


def _namespace_problem() -> str | None:
    """Why a network namespace cannot be made here, or None."""
    if os.geteuid() != 0:
        return "needs root to create a network namespace (CI runs as root)"
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (unshare: util-linux; ip: iproute2, in scripts/apt-packages.txt)"
    probe = subprocess.run(["unshare", "--net", "--", "ip", "link", "set", "lo", "up"], capture_output=True,
                           text=True, timeout=30)
    return None if probe.returncode == 0 else f"`unshare --net` failed here: {probe.stderr.strip()}"


@pytest.fixture(scope="module")
def namespace() -> None:
    problem = _namespace_problem()
    if problem is not None:
        pytest.skip(problem)


def in_namespace(command: list[str]) -> list[str]:
    """`command` in a new network namespace whose only interface is loopback, brought up."""
    return ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *command]


def test_python_recorder_lists_an_outbound_attempt(tmp_path: Path) -> None:
    log = tmp_path / "egress.log"
    env = {**os.environ, "PYTHONPATH": str(GUARD), "CONFIDANT_TEST_EGRESS_LOG": str(log)}
    code = ("import socket, urllib.request\n"
            "try: urllib.request.urlopen('http://example.com', timeout=2)\nexcept Exception: pass\n"
            "try: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('192.0.2.1', 53))\n"
            "except OSError: pass\n")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    recorded = log.read_text()
    assert "resolve 'example.com'" in recorded and "sendto ('192.0.2.1', 53)" in recorded, recorded


@pytest.mark.usefixtures("namespace")
def test_namespace_lets_nothing_out() -> None:
    code = ("import _socket, errno\ns = _socket.socket()\ns.settimeout(5)\n"
            "try: s.connect(('192.0.2.1', 443))\nexcept OSError as e: print(errno.errorcode[e.errno])\n"
            "l = _socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(); print('loopback up')\n")
    done = subprocess.run(in_namespace([sys.executable, "-c", code]), capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["ENETUNREACH", "loopback", "up"], done.stdout + done.stderr


@pytest.mark.usefixtures("namespace")
def test_session_works_in_a_namespace_with_only_loopback(tmp_path: Path) -> None:
    record = tmp_path / "egress.log"
    home = tmp_path / "session"
    driver = [sys.executable, "-m", "tests.egress_session", str(home), str(NAMESPACE_HOLD_S), str(record)]
    done = subprocess.run(in_namespace(driver), cwd=ROOT, capture_output=True, text=True, timeout=1200)
    attempts = record.read_text() if record.exists() else ""
    assert done.returncode == 0, f"the session failed without a network:\n{done.stderr[-4000:]}\nrecorded:\n{attempts}"
    assert attempts == "", f"outbound attempts recorded:\n{attempts}"
    assert telemetry_left_behind(home) == []
    print(f"phase seconds: {done.stdout.strip()}")
