"""The app shell: sidebar navigation and status; each page is a function that takes the AppContext."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from ui.chat import chat_page
from ui.collections_page import collections_page
from ui.context import AppContext
from ui.documents import documents_page
from ui.evaluate_page import evaluate_page
from ui.status import status_panel
from ui.upload import upload_page

PAGES: dict[str, Callable[[AppContext], None]] = {
    "Chat": chat_page,
    "Upload": upload_page,
    "Documents": documents_page,
    "Collections": collections_page,
    "Evaluate": evaluate_page,
}

_STYLE = """<style>
.passage mark { background: #ffe58a; padding: 0 1px; }
.passage { font-size: 0.92rem; line-height: 1.45; }
</style>"""


def main(ctx: AppContext) -> None:
    st.set_page_config(page_title="Confidant", page_icon="🔒", layout="wide")
    st.markdown(_STYLE, unsafe_allow_html=True)
    with st.sidebar:
        st.markdown("## 🔒 Confidant")
        st.caption("Private answers from your own documents. Nothing leaves this computer.")
        page = st.radio("Go to", list(PAGES), key="page")
        st.divider()
        status_panel(ctx)
    PAGES[page](ctx)
