"""Start the Streamlit app with privacy-preserving flags."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

from confidant.data_folder import loose_modes_warning
from confidant.offline import enforce_offline
from confidant.settings import Settings

APP = Path(__file__).resolve().parent.parent / "app.py"


def streamlit_command(host: str, port: int, upload_max_mb: float) -> list[str]:
    """Streamlit's own upload limit (whole MB, at least 1) is the setting, so the browser is refused at the same size
    the upload page and the API refuse."""
    return [
        sys.executable, "-m", "confidant.streamlit_main", "run", str(APP),
        "--server.address", host, "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
        "--global.developmentMode", "false", "--server.maxUploadSize", str(max(1, math.ceil(upload_max_mb))),
    ]


def run_app(settings: Settings, host: str, port: int) -> int:
    """Replace this process with the Streamlit server, so signals (Ctrl-C, SIGTERM) reach it directly."""
    enforce_offline()
    print(f"Confidant is starting on http://{host}:{port}  (data folder: {settings.data_dir})", flush=True)
    warning = loose_modes_warning(settings.data_dir)
    if warning:
        print(f"Warning: {warning}", file=sys.stderr, flush=True)
    os.environ["CONFIDANT_HOST"] = host  # the app decides on shared mode (logins) from the address it serves
    # Streamlit's uvicorn would otherwise replace the socket peer with the X-Forwarded-For value of any loopback
    # client, and single sign-on would believe a forged proxy address: the app must see the real peer.
    os.environ["FORWARDED_ALLOW_IPS"] = ""
    if settings.model_copy(update={"host": host}).shared_mode:
        print("Shared mode: sign-in required. Add accounts with `confidant users add NAME --role admin`; "
              "serve over TLS through a reverse proxy (README).", flush=True)
    os.chdir(APP.parent)
    command = streamlit_command(host, port, settings.upload_max_mb)
    os.execv(command[0], command)  # noqa: S606 - our own interpreter, fixed arguments
