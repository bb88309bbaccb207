"""Run one `confidant` command again and again inside one process until a time has passed.

    python -m tests.cli_repeat SECONDS ARGS...

A one-shot CLI process ends in seconds, before a library's delayed background work (onnxruntime's telemetry
starts about ten seconds after its first session) would show. This keeps a real CLI process, with its models
loaded through the real code, alive for SECONDS; it runs the command at least once and exits non-zero if any run
fails. Nothing is imported before the CLI, so the process starts as `confidant` does.
"""

from __future__ import annotations

import sys
import time


def main(argv: list[str]) -> int:
    seconds, args = float(argv[0]), argv[1:]
    deadline = time.monotonic() + seconds
    from confidant.cli import app

    runs = 0
    while True:
        code = app(args, prog_name="confidant", standalone_mode=False)
        runs += 1
        if code not in (None, 0):
            print(f"run {runs} of confidant {' '.join(args)} exited with {code}", file=sys.stderr)
            return 1
        if time.monotonic() >= deadline:
            print(f"ran confidant {' '.join(args)} {runs} time(s)", file=sys.stderr)
            return 0
        time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
