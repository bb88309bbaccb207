"""The documents page: what is indexed, with filters, delete, re-index, ask one document and summarise it."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from confidant.access import AccessDenied
from rag.summary import Summary
from storage.records import DocState, DocumentRecord
from ui.chat import DocumentScope, scope_to_document
from ui.context import AppContext
from ui.upload import REPORT

ALL = "All"
SUMMARIES = "document_summaries"
CHOSEN = "documents_chosen"
DELETED = "documents_deleted_message"


def table_rows(docs: list[DocumentRecord]) -> list[dict[str, object]]:
    return [{"collection": d.collection, "file": d.file_name,
             "version": f"{d.version}" + ("" if d.current or d.state is not DocState.INDEXED else " (older)"),
             "effective": d.effective_date, "pages": d.pages, "chunks": d.chunks,
             "state": d.state.value + (f" (keywords only, vectors {d.embedded}/{d.chunks})" if d.vectors_pending
                                       else "") + (" (pictures to be read)" if d.pictures_pending else ""),
             "reason": d.reason, "added": d.created_at.replace("T", " ")[:16]}
            for d in docs]


def documents_page(ctx: AppContext) -> None:
    st.title("Documents")
    deleted = st.session_state.pop(DELETED, None)
    if deleted:
        st.success(deleted)
    left, middle, right = st.columns(3)
    collection = left.selectbox("Collection", [ALL, *ctx.collection_names()], key="docs_collection")
    state = middle.selectbox("State", [ALL, *[s.value for s in DocState]], key="docs_state")
    text = right.text_input("File name contains", key="docs_text").strip().lower()
    docs = ctx.ws.documents(None if collection == ALL else collection, None if state == ALL else DocState(state))
    docs = [d for d in docs if text in d.file_name.lower()]
    if not docs:
        st.info("No documents match. Add some on the Upload page.")
        return
    st.dataframe(table_rows(docs), hide_index=True, width="stretch")
    labels = {f"{d.file_name} · {d.collection} · {d.id[:8]}": d for d in docs}
    options = list(labels)
    kept = st.session_state.get(CHOSEN)  # the widget's own state is dropped while another page is shown
    label = st.selectbox("Document", options, index=options.index(kept) if kept in options else 0,
                         key="docs_selected")
    st.session_state[CHOSEN] = label
    chosen = labels[label]
    actions(ctx, chosen)
    summary: Summary | None = st.session_state.get(SUMMARIES, {}).get((chosen.collection, chosen.id))
    if summary is not None:
        show_summary(chosen, summary)


def actions(ctx: AppContext, doc: DocumentRecord) -> None:
    ws = ctx.ws
    cols = st.columns(4)
    indexed = doc.state is DocState.INDEXED
    cols[0].button("Ask this document", key="doc-ask", disabled=not indexed, on_click=open_chat, args=(doc,))
    if cols[1].button("Summarise", key="doc-summary", disabled=not indexed):
        st.session_state.setdefault(SUMMARIES, {})[(doc.collection, doc.id)] = summarise_with_progress(ctx, doc)
    if cols[2].button("Re-index", key="doc-reindex", disabled=not ws.caller.can_edit):
        source = Path(doc.source_path)
        if not source.is_file():
            st.error(f"The original of {doc.file_name} is no longer at {source}; upload it again.")
        else:
            with st.spinner(f"Indexing {doc.file_name} again…"):
                result = ws.reindex(doc.collection, doc.id)[0]
            st.success(f"{result.file}: {result.state.value}, {result.pages} pages, {result.chunks} passages "
                       + (f"({result.reason})" if result.reason else ""))
    # keyed by the document: after a delete, the next document's popover starts closed and its button unclicked
    with cols[3].popover("Delete", disabled=not ws.caller.can_edit, key=f"doc-delete-popover-{doc.id}"):
        st.caption(f"Remove {doc.file_name} and its passages from {doc.collection}? The answers will no longer use it.")
        confirmed = st.button("Delete now", key=f"doc-delete-{doc.id}", type="primary")
    if confirmed:
        try:
            ws.delete(doc.collection, doc.id)
        except AccessDenied:
            st.warning(f"{doc.file_name} was already gone.")
        else:
            st.session_state.get(SUMMARIES, {}).pop((doc.collection, doc.id), None)
            forget_in_upload_report(doc)
            # kept for the page's next run: a toast sent just before st.rerun() is dropped with the run's other output
            st.session_state[DELETED] = f"Deleted {doc.file_name} from {doc.collection}."
            st.rerun()


def summarise_with_progress(ctx: AppContext, doc: DocumentRecord) -> Summary:
    """Summarise part by part: the parts done and the words being written show as they come; Cancel (any click
    reruns the page, which stops this run at its next token) keeps nothing."""
    with st.status(f"Summarising {doc.file_name}…", expanded=True) as status:
        st.button("Cancel", key="doc-summary-cancel", icon=":material/stop:")
        bar = st.progress(0.0, text="Reading the first part…")
        done_so_far, writing = st.empty(), st.empty()

        def step(done: int, total: int, summary: Summary, text: str) -> None:
            bar.progress(done / max(1, total), text=f"Part {min(done + 1, total)} of {total}"
                         + (" — writing" if text else ""))
            if text:
                writing.caption(text)
            else:
                writing.empty()
                done_so_far.markdown(summary.text)

        summary = ctx.ws.summarise(doc.collection, doc.id, on_progress=step)
        status.update(label=f"Summary of {doc.file_name}", state="complete", expanded=False)
    return summary


def forget_in_upload_report(doc: DocumentRecord) -> None:
    """A deleted document leaves the upload page's last report."""
    report = st.session_state.get(REPORT)
    if report:
        st.session_state[REPORT] = [r for r in report if (r.collection, r.id) != (doc.collection, doc.id)]


def open_chat(doc: DocumentRecord) -> None:
    scope_to_document(DocumentScope(doc.collection, (doc.id,), (doc.file_name,)))
    st.session_state["page"] = "Chat"


def show_summary(doc: DocumentRecord, summary: Summary) -> None:
    st.subheader(f"Summary of {doc.file_name}")
    if summary.points:
        st.markdown(summary.text)
    else:
        st.warning("The model could not summarise this document.")
    for note in summary.notes:
        st.caption(note)
    for c in summary.citations:
        st.caption(f"[{c.n}] page {c.chunk.page}: {' '.join(c.chunk.text.split())[:240]}")
