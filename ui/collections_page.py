"""The collections page: create collections, set each one's assistant title, instructions and starter questions."""

from __future__ import annotations

import streamlit as st

from storage.collections import CollectionSettings
from storage.records import DocState
from ui.context import AppContext
from ui.guard import allowed

NOTICE = "collections_notice"


def collections_page(ctx: AppContext) -> None:
    st.title("Collections")
    if not allowed(ctx.ws.require_admin, "Collections"):
        return
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        st.success(notice)
    rows = []
    for name in ctx.collection_names():
        docs = ctx.ws.documents(name)
        rows.append({"collection": name, "assistant": ctx.ws.assistant(name).title,
                     "documents": sum(1 for d in docs if d.state is DocState.INDEXED),
                     "passages": sum(d.chunks for d in docs if d.state is DocState.INDEXED)})
    st.dataframe(rows, hide_index=True, width="stretch")
    create_form(ctx)
    editor(ctx)
    feedback_export(ctx)


def create_form(ctx: AppContext) -> None:
    with st.form("new-collection"):
        name = st.text_input("New collection name", key="new_collection_name").strip()
        if st.form_submit_button("Create collection"):
            try:
                ctx.ws.create_collection(name)
            except ValueError as problem:
                st.error(str(problem))
            else:
                st.session_state[NOTICE] = f"Created {name}. Add documents to it on the Upload page."
                st.rerun()  # the table above lists it at once


def editor(ctx: AppContext) -> None:
    st.subheader("Assistant settings")
    st.caption("Shown on the chat page when this collection alone is asked. Instructions are added to the "
               "model's rules; they cannot override answering only from the documents.")
    name = st.selectbox("Collection", ctx.collection_names(), key="edit_collection")
    current = ctx.ws.assistant(name)
    with st.form(f"assistant-{name}"):
        title = st.text_input("Assistant name", current.title, placeholder="HR policy assistant")
        instructions = st.text_area("Instructions", current.instructions, placeholder=(
            "Answer from the HR policies. If they do not cover the question, point to hr@example.com."))
        starters = st.text_area("Starter questions (one per line)", "\n".join(current.starters))
        if st.form_submit_button("Save"):
            ctx.ws.save_assistant(CollectionSettings(name, title, instructions, starters.splitlines()))
            st.session_state[NOTICE] = f"Saved the assistant of {name}."
            st.rerun()  # the table above shows the new title at once


def feedback_export(ctx: AppContext) -> None:
    st.subheader("Feedback")
    all_feedback = ctx.ws.feedback()
    down = [f for f in all_feedback if f.rating == "down"]
    st.caption(f"{len(all_feedback) - len(down)} answer(s) marked right, {len(down)} marked wrong.")
    st.download_button("Export wrong answers as evaluation questions (JSONL)", ctx.ws.feedback_eval_jsonl(),
                       file_name="confidant-feedback-eval.jsonl", mime="application/jsonl", disabled=not down)
