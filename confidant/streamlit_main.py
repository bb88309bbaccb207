"""Streamlit's command line, with its two network lookups switched off.

Streamlit finds "the machine's addresses" by opening a UDP socket towards 8.8.8.8 and by fetching
checkip.amazonaws.com: at start-up when it listens on every interface, and whenever a browser or websocket sends an
Origin it does not know. Confidant never lets anything leave the machine, so both answer "unknown" here; the
allowed origins stay localhost, the configured address and `server.corsAllowedOrigins`.

`confidant serve` runs `python -m confidant.streamlit_main run app.py …` in place of `python -m streamlit …`.
"""

from __future__ import annotations


def _unknown() -> str | None:
    return None


def main() -> None:
    from streamlit import net_util
    from streamlit.web.cli import main as streamlit_cli

    net_util.get_internal_ip = _unknown
    net_util.get_external_ip = _unknown
    streamlit_cli(prog_name="streamlit")


if __name__ == "__main__":
    main()
