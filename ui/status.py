"""The sidebar status: which model answers, how much is indexed, where the data lives."""

from __future__ import annotations

import streamlit as st

from storage.records import DocState
from ui.context import AppContext


def status_panel(ctx: AppContext) -> None:
    status = ctx.ws.status()
    docs = ctx.ws.documents()
    indexed = sum(1 for d in docs if d.state is DocState.INDEXED)
    problems = sum(1 for d in docs if d.state not in (DocState.INDEXED, DocState.PENDING, DocState.DUPLICATE))
    st.markdown("**Status**")
    st.caption(f"Model: {status.model}")
    st.caption(f"Documents: {indexed} indexed" + (f", {problems} not indexed" if problems else ""))
    st.caption(f"Passages: {sum(d.chunks for d in docs if d.state is DocState.INDEXED)}")
    indexing_panel(ctx)
    if status.data_dir:
        st.caption(f"Data folder: {status.data_dir}")
    if status.warning:
        st.warning(status.warning)


def indexing_panel(ctx: AppContext) -> None:
    """Documents still being embedded (or their pictures read) behind the scenes, with the time left; refreshed
    every two seconds while there are any, and the whole page once they are done (the counts and search then
    include all of them)."""
    if not ctx.ws.indexing_queue().empty:
        st.fragment(_queue_progress, run_every=2)(ctx)


def _queue_progress(ctx: AppContext) -> None:
    queue = ctx.ws.indexing_queue()
    if queue.empty:
        st.rerun(scope="app")
    st.caption(f"Indexing in the background: {queue.describe()}. You can keep asking meanwhile.")
