"""The sidebar status: which model answers, how much is indexed, where the data lives."""

from __future__ import annotations

import streamlit as st

from storage.records import DocState
from ui.context import AppContext


def status_panel(ctx: AppContext) -> None:
    s = ctx.services
    docs = ctx.ws.documents()
    indexed = sum(1 for d in docs if d.state is DocState.INDEXED)
    problems = sum(1 for d in docs if d.state not in (DocState.INDEXED, DocState.PENDING, DocState.DUPLICATE))
    st.markdown("**Status**")
    st.caption(f"Model: {s.chat_model.name}")
    st.caption(f"Documents: {indexed} indexed" + (f", {problems} not indexed" if problems else ""))
    st.caption(f"Passages: {sum(d.chunks for d in docs if d.state is DocState.INDEXED)}")
    if ctx.ws.caller.is_admin:
        st.caption(f"Data folder: {s.settings.data_dir}")
        if s.data_folder_warning:
            st.warning(s.data_folder_warning)
