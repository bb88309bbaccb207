"""The app shell: sidebar navigation and status; each page is a function that takes the AppContext."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from confidant.access import Caller
from ui.admin_page import admin_page
from ui.chat import chat_page
from ui.collections_page import collections_page
from ui.context import AppContext
from ui.documents import documents_page
from ui.evaluate_page import evaluate_page
from ui.grid_page import grid_page
from ui.login import current_caller, login_page, sign_out
from ui.status import status_panel
from ui.upload import upload_page

PAGES: dict[str, Callable[[AppContext], None]] = {
    "Chat": chat_page,
    "Upload": upload_page,
    "Documents": documents_page,
    "Review grid": grid_page,
    "Collections": collections_page,
    "Evaluate": evaluate_page,
}

_STYLE = """<style>
.passage mark { background: #ffe58a; padding: 0 1px; }
.passage { font-size: 0.92rem; line-height: 1.45; }
</style>"""


def pages_for(caller: Caller, shared: bool) -> dict[str, Callable[[AppContext], None]]:
    """Readers ask, search and evaluate; editors also add and remove documents; admins manage everything."""
    pages = dict(PAGES)
    if not caller.can_edit:
        pages.pop("Upload")
    if shared and not caller.is_admin:
        pages.pop("Collections")  # assistant settings and everyone's feedback
    if shared and caller.is_admin:
        pages["Admin"] = admin_page
    return pages


def main(app: AppContext) -> None:
    st.set_page_config(page_title="Confidant", page_icon="🔒", layout="wide")
    st.markdown(_STYLE, unsafe_allow_html=True)
    caller = current_caller(app)
    if caller is None:
        login_page(app)
        return
    ctx = app.for_caller(caller)
    shared = app.settings.shared_mode
    pages = pages_for(caller, shared)
    if st.session_state.get("page") not in pages:
        st.session_state["page"] = "Chat"
    with st.sidebar:
        st.markdown("## 🔒 Confidant")
        st.caption("Private answers from your own documents. Nothing leaves this computer.")
        if shared:
            st.caption(f"Signed in as **{caller.username}** ({caller.role.value})")
            st.button("Sign out", on_click=sign_out)
        page = st.radio("Go to", list(pages), key="page")
    pages[page](ctx)  # a page may add to the sidebar (the chat's conversations), above the status
    with st.sidebar:
        st.divider()
        status_panel(ctx)
