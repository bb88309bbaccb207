"""The chat page: ask the selected collections (or one document), stream a cited answer, show its sources."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import streamlit as st

from confidant.access import AccessDenied
from confidant.limits import LimitExceeded
from rag.answering import Answer, AnswerEvent, Retrieved, Token
from storage.collections import CollectionSettings
from storage.records import ScoredChunk
from ui.context import AppContext
from ui.sources import link_markers, sources_panel
from ui.transcript import Turn, chat_markdown

TURNS = "chat_turns"
PENDING = "chat_pending_question"
SCOPE = "chat_document_scope"


@dataclass(frozen=True)
class DocumentScope:
    """The chat is limited to one document (set from the documents page)."""

    collection: str
    document_id: str
    file_name: str


def turns() -> list[Turn]:
    history: list[Turn] = st.session_state.setdefault(TURNS, [])
    return history


def ask_later(question: str) -> None:
    st.session_state[PENDING] = question


def scope_to_document(scope: DocumentScope | None) -> None:
    st.session_state[SCOPE] = scope
    st.session_state[TURNS] = []


def chat_page(ctx: AppContext) -> None:
    names = ctx.collection_names()
    scope: DocumentScope | None = st.session_state.get(SCOPE)
    if scope is not None:
        collections, document_ids = [scope.collection], [scope.document_id]
        scope_label = f"document {scope.file_name} ({scope.collection})"
    else:
        default = [n for n in names if ctx.ws.documents(n)] or names[:1]
        collections = st.multiselect("Collections to ask", names, default=default, key="chat_collections")
        document_ids = None
        scope_label = "collections " + ", ".join(collections)
    assistant = ctx.ws.assistant(collections[0]) if len(collections) == 1 else CollectionSettings("")
    st.title(assistant.display_title if assistant.name and assistant.title else "Ask your documents")
    if scope is not None:
        st.info(f"Asking only **{scope.file_name}** in {scope.collection}.")
        st.button("Ask all documents again", on_click=scope_to_document, args=(None,))
    st.caption(f"Answers by **{ctx.ws.model_name()}**, from your documents only.")
    if not collections:
        st.warning("Pick at least one collection to ask.")
        return
    history = turns()
    if not history and not any(ctx.ws.documents(n) for n in collections):
        st.info("No documents here yet. Add PDFs, Word files, text or Markdown on the **Upload** page, "
                "then ask about them here. Answers cite the file and page they come from.")
    for i, turn in enumerate(history):
        with st.chat_message("user"):
            st.text(turn.question)
        with st.chat_message("assistant"):
            render_answer(ctx, turn, i)
    if not history and assistant.starters:
        starters(assistant)
    if history:
        tools(ctx, history)
    limits = ctx.ws.limits
    question = (st.chat_input("Ask a question about your documents", max_chars=limits.max_question_chars)
                or st.session_state.pop(PENDING, None))
    if question:
        with st.chat_message("user"):
            st.text(question)
        earlier = ([t.answer.asked_as or t.question for t in history][-limits.max_history_items:]
                   if limits.max_history_items else [])  # a follow-up as it was understood, not as it was typed
        with st.chat_message("assistant"):
            answer = stream_answer(ctx.ws.stream_answer(question, collections, document_ids, earlier,
                                                        assistant.instructions))
        if answer is not None:  # the Workspace has audited it
            history.append(Turn(question, answer, scope_label))
            st.rerun()


def starters(assistant: CollectionSettings) -> None:
    st.markdown("**Try asking:**")
    for i, question in enumerate(assistant.starters):
        st.button(question, key=f"starter-{i}", on_click=ask_later, args=(question,))


def reading_line(passages: list[ScoredChunk]) -> str:
    """What the model is reading, shown the moment retrieval is done (before the first answer token)."""
    if not passages:
        return "No matching passages in these documents."
    pages = " · ".join(f"[{n}] {p.chunk.file_name} p. {p.chunk.page}" for n, p in enumerate(passages, start=1))
    return f"Reading {len(passages)} passage(s): {pages}"


def stream_answer(events: Iterator[AnswerEvent]) -> Answer | None:
    """Stream tokens into the page; return the checked Answer (shown properly on the next run). The pages being
    read appear as soon as retrieval is done, while the model is still reading them."""
    final: list[Answer] = []
    found = st.empty()

    def tokens() -> Iterator[str]:
        for event in events:
            if isinstance(event, Retrieved):
                found.caption(reading_line(event.passages))
            elif isinstance(event, Token):
                yield event.text
            elif isinstance(event, Answer):
                final.append(event)

    try:
        with st.spinner("Searching your documents and writing the answer… (the first answer also starts the model)"):
            st.write_stream(tokens())
    except (LimitExceeded, AccessDenied) as refused:
        st.error(f"Could not answer: {refused}")
        return None
    except Exception as exc:  # noqa: BLE001 - the page must survive a broken index or model
        st.error(f"Could not answer: {type(exc).__name__}: {exc}")
        return None
    return final[0] if final else None


def render_answer(ctx: AppContext, turn: Turn, i: int) -> None:
    a = turn.answer
    if a.asked_as:
        st.caption(f"Read as: “{a.asked_as}”")
    if a.declined:
        st.warning(f"**Not answered from the documents.** {a.message}".strip())
        st.markdown(a.text)
    elif a.text:
        st.markdown(link_markers(a.text, i))
        if a.message:
            st.caption(a.message)
    else:
        st.warning(a.message or "No answer.")
    if a.unsupported and not a.declined:
        st.warning("Left out of the answer, not supported by the documents: "
                   + " · ".join(f"“{s}”" for s in a.unsupported))
    secs = a.timings.get("total_ms", 0.0) / 1000
    st.caption(f"Model: {a.model} · {secs:.1f} s · asked {turn.scope}")
    with st.expander("Sources" if a.citations else "Closest passages", expanded=i == len(turns()) - 1):
        sources_panel(ctx.ws, a, i)
    feedback_form(ctx, turn, i)


def feedback_form(ctx: AppContext, turn: Turn, i: int) -> None:
    """Rate one answer (keyed by the answer, so a rating never carries over to another chat's answer)."""
    done: set[str] = st.session_state.setdefault("feedback_sent", set())
    if turn.id in done:
        st.caption("Thank you for the feedback.")
        return
    with st.popover("Rate this answer", key=f"rate-{turn.id}"), st.form(f"feedback-{turn.id}", border=False):
        rating = st.radio("Was this answer right?", ["👍 right", "👎 wrong"], index=None, horizontal=True,
                          key=f"rating-{turn.id}")
        comment = st.text_input("Comment (optional)", key=f"comment-{turn.id}")
        if st.form_submit_button("Send"):
            if rating is None:
                st.warning("Choose 👍 or 👎 first.")
                return
            ctx.ws.rate_answer(turn.question, turn.answer, "up" if rating.startswith("👍") else "down", comment)
            done.add(turn.id)
            st.success("Saved.")


def tools(ctx: AppContext, history: list[Turn]) -> None:
    transcript = chat_markdown(history)
    left, middle, right = st.columns(3)
    left.download_button("Download chat (Markdown)", transcript, file_name="confidant-chat.md",
                         mime="text/markdown", key="download-chat")
    with middle.popover("Copy chat"):
        st.code(transcript, language="markdown")
    if right.button("New chat", key="new-chat"):
        st.session_state[TURNS] = []
        st.rerun()
