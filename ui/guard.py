"""Each page checks the caller's role itself (through the Workspace, which audits a refusal): being left off the
menu is not a check, since a session can ask for any page."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from confidant.access import AccessDenied


def allowed(check: Callable[[str], None], page: str) -> bool:
    """Run the Workspace's role check for `page`; on refusal say so on the page and show nothing else."""
    try:
        check(f"open the {page} page")
    except AccessDenied as refused:
        st.error(f"{str(refused).capitalize()}. Ask an administrator if you need it.")
        return False
    return True
