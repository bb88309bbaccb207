"""Upload: check limits, save each file safely under the data folder, index it, report per file."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from confidant.access import AccessDenied
from ingest.pipeline import Progress
from ingest.uploads import Upload, megabytes
from storage.collections import valid_collection_name
from storage.records import DocState, FileResult
from ui.context import AppContext
from ui.guard import allowed

REPORT = "upload_report"


def report_rows(results: Sequence[FileResult]) -> list[dict[str, object]]:
    return [{"file": r.file, "state": r.state.value, "pages": r.pages, "chunks": r.chunks, "reason": r.reason}
            for r in results]


def upload_page(ctx: AppContext) -> None:
    s = ctx.settings
    st.title("Add documents")
    if not allowed(ctx.ws.require_editing, "Upload"):
        return
    names = ctx.collection_names()
    default = names.index(s.default_collection) if s.default_collection in names else 0
    collection = st.selectbox("Collection", names, index=default, key="upload_collection")
    new_name = st.text_input("…or a new collection", key="upload_new_collection").strip()
    if new_name:
        problem = valid_collection_name(new_name)
        if problem:
            st.error(problem)
            return
        collection = new_name
    types = ", ".join("." + t for t in s.upload_types)
    st.caption(f"Accepted: {types}; at most {megabytes(s.upload_max_mb)} MB per file. Files stay on this computer.")
    files = st.file_uploader("Files", accept_multiple_files=True, type=list(s.upload_types), key="upload_files")
    if st.button("Add to collection", type="primary", disabled=not files):
        if new_name and new_name not in names:
            try:
                ctx.ws.create_collection(new_name)
            except (AccessDenied, ValueError) as refused:
                st.error(f"Could not create {new_name}: {refused}")
                return
        uploads = [Upload(f.name, f.getvalue()) for f in files or []]
        st.session_state[REPORT] = run_with_progress(ctx, uploads, collection)
        st.rerun()  # the sidebar's counts and the document lists include the new files at once
    report = st.session_state.get(REPORT)
    if report:
        show_report(report)


def run_with_progress(ctx: AppContext, uploads: list[Upload], collection: str) -> list[FileResult]:
    """Index the files with a progress bar per page and a Cancel button: a click reruns the page, which stops this
    run at its next progress step; files already indexed stay, the one being indexed ends `failed` with the reason
    'cancelled' and nothing of it stored, the rest are not started."""
    with st.status(f"Indexing {len(uploads)} file(s) into {collection}…", expanded=True) as status:
        st.button("Cancel", key="upload-cancel", icon=":material/stop:")
        bar = st.progress(0.0)

        def on_progress(p: Progress) -> None:
            share = (p.index + (1 if p.result else 0.5)) / max(1, p.total)
            if p.result is not None:
                st.write(f"{p.file.name}: {p.result.state.value}" + (f" — {p.result.reason}" if p.result.reason else ""))
            bar.progress(min(1.0, share), text=f"{p.file.name}: page {p.pages}" if p.pages else p.file.name)

        # keyword-searchable when this returns; the vectors follow in the background (the sidebar shows the queue)
        results = ctx.ws.ingest_uploads(uploads, collection, on_progress, wait=False)
        bar.progress(1.0, text="Done")
        failed = [r for r in results if r.state not in (DocState.INDEXED, DocState.DUPLICATE)]
        status.update(label=f"{len(results) - len(failed)} of {len(results)} file(s) ready",
                      state="error" if failed else "complete", expanded=bool(failed))
    return results


def show_report(results: Sequence[FileResult]) -> None:
    st.subheader("Report")
    ready = sum(1 for r in results if r.state in (DocState.INDEXED, DocState.DUPLICATE))
    summary = f"{ready} of {len(results)} file(s) ready"
    if ready == len(results):
        st.success(summary + ". Ask about them on the Chat page.")
    else:
        st.warning(summary + "; the others could not be indexed, for the reasons below.")
    for r in results:
        if r.state is DocState.DUPLICATE:
            st.info(f"{r.file}: duplicate — {r.reason}. Not indexed again.")
        elif r.state is not DocState.INDEXED:
            st.error(f"{r.file}: {r.state.value} — {r.reason}")
    st.dataframe(report_rows(results), hide_index=True, width="stretch")
