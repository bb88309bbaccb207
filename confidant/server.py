"""Start the Streamlit app with privacy-preserving flags."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from confidant.offline import enforce_offline
from confidant.settings import Settings

APP = Path(__file__).resolve().parent.parent / "app.py"


def streamlit_command(host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", host, "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
        "--global.developmentMode", "false",
    ]


def run_app(settings: Settings, host: str, port: int) -> int:
    """Replace this process with the Streamlit server, so signals (Ctrl-C, SIGTERM) reach it directly."""
    enforce_offline()
    print(f"Confidant is starting on http://{host}:{port}  (data folder: {settings.data_dir})", flush=True)
    os.environ["CONFIDANT_HOST"] = host  # the app decides on shared mode (logins) from the address it serves
    if settings.model_copy(update={"host": host}).shared_mode:
        print("Shared mode: sign-in required. Add accounts with `confidant users add NAME --role admin`; "
              "serve over TLS through a reverse proxy (README).", flush=True)
    os.chdir(APP.parent)
    command = streamlit_command(host, port)
    os.execv(command[0], command)  # noqa: S606 - our own interpreter, fixed arguments
