"""Make sure nothing this process loads tries to reach the network."""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger(__name__)

_OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    # onnxruntime's native 1DS telemetry: ~10 s after a session starts it resolves mobile.events.data.microsoft.com
    # and keeps events under ~/.cache/Microsoft/DeveloperTools/.onnxruntime. Read when the library loads, so it
    # must be set before the first `import onnxruntime` (disable_telemetry_events() afterwards does not stop it).
    "ORT_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",  # chroma
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    "TOKENIZERS_PARALLELISM": "false",
    "DO_NOT_TRACK": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}


def enforce_offline() -> None:
    """Set the switches libraries read to stay offline. Called by every entry point before models load; child
    processes (the parsing worker, the Streamlit server) inherit them."""
    late = "onnxruntime" in sys.modules and os.environ.get("ORT_DISABLE_TELEMETRY") != "1"
    for key, value in _OFFLINE_ENV.items():
        os.environ[key] = value
    if late:
        log.warning("onnxruntime was loaded before its telemetry was switched off; it may try to reach Microsoft")
