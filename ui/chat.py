"""The chat page: ask the selected collections (or one document), stream a cited answer, show its sources."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import streamlit as st

from confidant.access import AccessDenied
from confidant.limits import LimitExceeded
from confidant.model_choice import AnswerModel
from ingest.uploads import Upload
from rag.answering import Answer, AnswerEvent, Retrieved, Token
from storage.collections import CollectionSettings
from storage.conversations import Conversation
from storage.records import DocState, FileResult, ScoredChunk
from ui.context import AppContext
from ui.sources import link_markers, sources_panel
from ui.transcript import UNANSWERED, Turn, chat_markdown, chat_pdf
from ui.upload import run_with_progress

PENDING = "chat_pending_question"
SCOPE = "chat_document_scope"
CURRENT = "chat_conversation"  # the id of the open conversation (also in the URL as ?c=…, so a reload keeps it)
RESTORED = "chat_restored"  # the conversation whose collections were last put into the widgets
COLLECTIONS = "chat_collections"
ADDED = "chat_added"  # the report of the files last dropped into the chat box, and their scope


@dataclass(frozen=True)
class DocumentScope:
    """The chat is limited to some documents of one collection: one from the documents page, or those just added
    from the chat."""

    collection: str
    document_ids: tuple[str, ...]
    file_names: tuple[str, ...]

    @property
    def names(self) -> str:
        return ", ".join(self.file_names) if len(self.file_names) <= 3 else f"{len(self.file_names)} documents"

    @property
    def label(self) -> str:
        return f"{'document' if len(self.file_names) == 1 else 'documents'} {self.names} ({self.collection})"

    def as_json(self) -> dict[str, Any]:
        return {"collection": self.collection, "document_ids": list(self.document_ids),
                "file_names": list(self.file_names)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DocumentScope:
        return cls(str(data.get("collection", "")), tuple(data.get("document_ids", ())),
                   tuple(data.get("file_names", ())))


def ask_later(question: str) -> None:
    st.session_state[PENDING] = question


def open_conversation(conversation_id: str | None) -> None:
    """Show a conversation (None: a new one, started by the next question)."""
    st.session_state[CURRENT] = conversation_id
    st.session_state.pop(RESTORED, None)
    if conversation_id:
        st.query_params["c"] = conversation_id
    else:
        st.query_params.pop("c", None)


def scope_to_document(scope: DocumentScope | None) -> None:
    """Ask one document (or, with None, the collections again) in a new conversation; the old one is kept."""
    open_conversation(None)
    st.session_state[SCOPE] = scope
    st.session_state[RESTORED] = None


def scope_label(scope: dict[str, Any]) -> str:
    documents = scope.get("documents")
    if isinstance(documents, dict):
        return DocumentScope.from_json(documents).label
    return "collections " + ", ".join(scope.get("collections") or [])


def current_conversation(ctx: AppContext, names: list[str]) -> Conversation | None:
    """The open conversation (after a reload: the one in the URL), its scope put back into the page's widgets."""
    wanted = st.session_state.get(CURRENT, st.query_params.get("c"))
    if not wanted:
        return None
    try:
        conversation = ctx.ws.conversation(wanted)
    except AccessDenied:
        open_conversation(None)
        st.info("That conversation is not available (it was deleted, or belongs to someone else).")
        return None
    if st.session_state.get(CURRENT) != wanted:
        open_conversation(wanted)
    if st.session_state.get(RESTORED) != wanted:
        documents = conversation.scope.get("documents")
        st.session_state[SCOPE] = DocumentScope.from_json(documents) if isinstance(documents, dict) else None
        if not isinstance(documents, dict):
            st.session_state[COLLECTIONS] = [n for n in conversation.scope.get("collections", []) if n in names]
        st.session_state[RESTORED] = wanted
    return conversation


def turns_of(conversation: Conversation | None) -> list[Turn]:
    if conversation is None:
        return []
    return [Turn(t.question, Answer.from_json(t.answer) if t.answer is not None else None,
                 scope_label(json.loads(t.scope)) if t.scope.startswith("{") else t.scope, t.id, t.state,
                 t.partial, t.rating) for t in conversation.turns]


def chat_page(ctx: AppContext) -> None:
    names = ctx.collection_names()
    conversation = current_conversation(ctx, names)
    conversations_sidebar(ctx, conversation)
    scope: DocumentScope | None = st.session_state.get(SCOPE)
    if scope is not None:
        collections = [scope.collection]
        asked: dict[str, Any] = {"documents": scope.as_json()}
        label = scope.label
    else:
        if COLLECTIONS not in st.session_state:
            st.session_state[COLLECTIONS] = [n for n in names if ctx.ws.documents(n)] or names[:1]
        collections = st.multiselect("Collections to ask", names, key=COLLECTIONS)
        asked = {"collections": collections}
        label = "collections " + ", ".join(collections)
    assistant = ctx.ws.assistant(collections[0]) if len(collections) == 1 else CollectionSettings("")
    st.title(assistant.display_title if assistant.name and assistant.title else "Ask your documents")
    if scope is not None:
        st.info(f"Asking only **{scope.names}** in {scope.collection}.")
        st.button("Ask all documents again", on_click=scope_to_document, args=(None,))
    st.caption(f"Answers by **{ctx.ws.model_name()}**, from your documents only. Pick another model in the "
               "sidebar.")
    if not collections:
        st.warning("Pick at least one collection to ask.")
        return
    history = turns_of(conversation)
    can_add = ctx.ws.caller.can_edit
    if not history and not any(ctx.ws.documents(n) for n in collections):
        st.info("No documents here yet. Add PDFs, Word files, text or Markdown"
                + (" — drop them into the box below, or use the Upload page —" if can_add else "")
                + " then ask about them here. Answers cite the file and page they come from.")
        if can_add:
            st.button("Upload documents", key="empty-upload", icon=":material/upload:", on_click=go_to_upload)
    for i, turn in enumerate(history):
        with st.chat_message("user"):
            st.text(turn.question)
        with st.chat_message("assistant"):
            render_turn(ctx, conversation, turn, i, last=i == len(history) - 1)
    if not history and assistant.starters:
        starters(assistant)
    if history and conversation is not None:
        tools(conversation, history)
    added = st.session_state.get(ADDED)
    if added:
        added_report(added)
    limits = ctx.ws.limits
    types = list(ctx.settings.upload_types)
    typed = st.chat_input("Ask a question about your documents" + (", or drop files here to add them" if can_add else ""),
                          max_chars=limits.max_question_chars, accept_file="multiple" if can_add else False,
                          file_type=types if can_add else None, key="chat_box")
    question, files = (typed.text, list(typed.files)) if typed is not None and not isinstance(typed, str) else (
        typed, [])
    if files:
        add_from_chat(ctx, files, scope.collection if scope is not None else collections[0], question or "")
        return
    question = question or st.session_state.pop(PENDING, None)
    if question:
        ask(ctx, conversation, question, asked, label, assistant.instructions)


def go_to_upload() -> None:
    st.session_state["page"] = "Upload"


def add_from_chat(ctx: AppContext, files: list[Any], collection: str, question: str) -> None:
    """Files dropped into the chat box: indexed into the collection asked (with progress), then asked about — the
    question typed with them is asked of these documents alone; without one, 'Ask these documents' is offered."""
    with st.chat_message("user"):
        st.text(" · ".join(f.name for f in files) + (f"\n{question}" if question else ""))
    try:
        results = run_with_progress(ctx, [Upload(f.name, f.getvalue()) for f in files], collection)
    except (AccessDenied, LimitExceeded) as refused:
        st.error(f"Could not add the files: {refused}")
        return
    ready = [r for r in results if r.state in (DocState.INDEXED, DocState.DUPLICATE)]
    added = DocumentScope(collection, tuple(r.id for r in ready), tuple(r.file for r in ready)) if ready else None
    st.session_state[ADDED] = (results, added)
    if question and added is not None:
        scope_to_document(added)
        st.session_state[PENDING] = question
        st.session_state.pop(ADDED)
    st.rerun()


def added_report(added: tuple[list[FileResult], DocumentScope | None]) -> None:
    """What the last files dropped into the chat became, and a button to ask them alone."""
    results, scope = added
    for r in results:
        if r.state is DocState.INDEXED:
            st.success(f"Added {r.file} to {r.collection}: {r.pages} page(s), {r.chunks} passage(s).")
        elif r.state is DocState.DUPLICATE:
            st.info(f"{r.file} was already in {r.collection} ({r.reason}).")
        else:
            st.error(f"{r.file}: {r.state.value} — {r.reason}")
    left, right = st.columns(2)
    if scope is not None:
        left.button("Ask these documents" if len(scope.document_ids) > 1 else "Ask this document", key="ask-added",
                    type="primary", on_click=ask_added, args=(scope,))
    right.button("Dismiss", key="dismiss-added", on_click=lambda: st.session_state.pop(ADDED, None))


def ask_added(scope: DocumentScope) -> None:
    scope_to_document(scope)
    st.session_state.pop(ADDED, None)


def ask(ctx: AppContext, conversation: Conversation | None, question: str, scope: dict[str, Any], label: str,
        instructions: str) -> None:
    """Save the question in its conversation (a new one for the first question), stream the answer, keep it."""
    with st.chat_message("user"):
        st.text(question)
    try:
        if conversation is None:
            conversation = ctx.ws.start_conversation(question, scope)
            open_conversation(conversation.id)
            st.session_state[RESTORED] = conversation.id
    except (LimitExceeded, AccessDenied) as refused:
        st.error(f"Could not answer: {refused}")
        return
    with st.chat_message("assistant"):
        answer = stream_answer(ctx.ws.stream_answer_in(conversation.id, question, scope, instructions))
    if answer is not None:  # kept in the conversation and audited by the Workspace
        st.rerun()


def model_label(model: AnswerModel) -> str:
    if model.tokens_per_s:
        return (f"{model.label} · {model.tokens_per_s:.0f} tokens/s, first words after {model.first_token_s:.0f} s "
                f"(measured here over {model.answers} answer{'s' if model.answers != 1 else ''})")
    return f"{model.label} · {model.source} · speed not measured yet"


def model_picker(ctx: AppContext) -> None:
    """Which model answers this person (kept for their next visits), with each model's speed on this machine."""
    models = ctx.ws.answer_models()
    ready = [m for m in models if m.ready]
    chosen = ctx.ws.answer_model()
    ids = [m.id for m in ready]
    picked = st.selectbox("Answer model", ids, index=ids.index(chosen) if chosen in ids else 0, key="answer-model",
                          format_func=lambda i: model_label(next(m for m in ready if m.id == i)),
                          help="Larger models answer better and more slowly. Speeds are measured on this machine.")
    if picked != chosen:
        try:
            ctx.ws.choose_answer_model(picked)
        except AccessDenied as refused:
            st.warning(str(refused))
    missing = [m for m in models if not m.ready]
    if missing:
        st.caption("Not installed: " + "; ".join(f"{m.label} ({m.note})" for m in missing))


def conversations_sidebar(ctx: AppContext, current: Conversation | None) -> None:
    """The caller's conversations, newest first: open, search, start a new one, rename or delete the open one."""
    with st.sidebar:
        st.divider()
        model_picker(ctx)
        st.divider()
        st.markdown("**Conversations**")
        st.button("New conversation", key="conversation-new", icon=":material/add:", on_click=open_conversation,
                  args=(None,), width="stretch")
        search = st.text_input("Search conversations", key="conversation-search", placeholder="Search conversations",
                               label_visibility="collapsed", max_chars=200)
        found = ctx.ws.conversations(search)
        if not found:
            st.caption("No conversation matches." if search else "Your conversations will be listed here.")
        for c in found[:50]:
            st.button(c.title, key=f"conversation-open-{c.id}", on_click=open_conversation, args=(c.id,), width="stretch",
                      type="primary" if current is not None and c.id == current.id else "tertiary")
        if current is not None:
            with st.popover("Rename or delete this conversation", width="stretch"):
                title = st.text_input("Title", value=current.title, key=f"conversation-title-{current.id}",
                                      max_chars=200)
                if st.button("Save title", key=f"conversation-rename-{current.id}"):
                    try:
                        ctx.ws.rename_conversation(current.id, title)
                    except (ValueError, LimitExceeded) as refused:
                        st.warning(str(refused))
                    else:
                        st.rerun()
                if st.button("Delete this conversation", key=f"conversation-delete-{current.id}", type="primary"):
                    ctx.ws.delete_conversation(current.id)
                    open_conversation(None)
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


def render_turn(ctx: AppContext, conversation: Conversation | None, turn: Turn, i: int, last: bool) -> None:
    a = turn.answer
    if a is None:
        unanswered(turn)
        return
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
    with st.expander("Sources" if a.citations else "Closest passages", expanded=last):
        sources_panel(ctx.ws, a, i)
    answer_actions(ctx, conversation, turn, last)


def answer_actions(ctx: AppContext, conversation: Conversation | None, turn: Turn, last: bool) -> None:
    """Under each answer: rate it, copy it with its sources, ask it again (the last one), keep it as an evaluation
    question with its cited pages."""
    rate, copy, again, keep = st.columns([1.2, 1, 1, 1.6], vertical_alignment="center")
    with rate:
        feedback_form(ctx, conversation, turn)
    with copy.popover("Copy", icon=":material/content_copy:", key=f"copy-{turn.id}"):
        st.code(chat_markdown([turn], "Answer from Confidant"), language="markdown", wrap_lines=True)
    if last:
        again.button("Ask again", key=f"regenerate-{turn.id}", icon=":material/refresh:", on_click=ask_later,
                     args=(turn.question,), help="Ask the same question again in this conversation")
    kept: set[str] = st.session_state.setdefault("eval_kept", set())
    label = "In my eval set" if turn.id in kept else "Add to my eval set"  # a toast before st.rerun() is dropped
    if keep.button(label, key=f"eval-{turn.id}", icon=":material/playlist_add:",
                   disabled=turn.id in kept,
                   help="Keep this question, with this answer as its reference and the cited pages as its evidence, "
                        "to evaluate on the Evaluate page"):
        assert turn.answer is not None
        try:
            ctx.ws.add_to_eval_set(turn.question, turn.answer)
        except (ValueError, LimitExceeded) as refused:
            st.warning(str(refused))
        else:
            kept.add(turn.id)
            st.rerun()


def unanswered(turn: Turn) -> None:
    """A question without its answer: being written elsewhere, interrupted, or citing what the caller can't see."""
    if turn.state == "withheld":
        st.warning(UNANSWERED["withheld"])
        return
    if turn.state == "asking":
        st.info(UNANSWERED["asking"] + " Reload to see it when it is done.")
    else:
        st.warning(UNANSWERED["interrupted"]
                   + " (The page was left or reloaded, or the model stopped.)")
    if turn.partial:
        with st.expander("What the model had written so far (not checked against the documents)"):
            st.text(turn.partial)
    if turn.state == "interrupted":
        st.button("Ask again", key=f"ask-again-{turn.id}", on_click=ask_later, args=(turn.question,))


def feedback_form(ctx: AppContext, conversation: Conversation | None, turn: Turn) -> None:
    """Rate one answer (kept with its turn, so a rating never carries over to another answer and survives a reload)."""
    done: set[str] = st.session_state.setdefault("feedback_sent", set())
    if turn.rating or turn.id in done:
        st.caption("Thank you for the feedback.")
        return
    assert turn.answer is not None
    with st.popover("Rate this answer", key=f"rate-{turn.id}"), st.form(f"feedback-{turn.id}", border=False):
        rating = st.radio("Was this answer right?", ["👍 right", "👎 wrong"], index=None, horizontal=True,
                          key=f"rating-{turn.id}")
        comment = st.text_input("Comment (optional)", key=f"comment-{turn.id}")
        if st.form_submit_button("Send"):
            if rating is None:
                st.warning("Choose 👍 or 👎 first.")
                return
            ctx.ws.rate_answer(turn.question, turn.answer, "up" if rating.startswith("👍") else "down", comment,
                               turn=(conversation.id, turn.id) if conversation is not None else None)
            done.add(turn.id)
            st.success("Saved.")


def tools(conversation: Conversation, history: list[Turn]) -> None:
    transcript = chat_markdown(history, conversation.title)
    markdown, pdf, copy, new = st.columns(4)
    markdown.download_button("Download (Markdown)", transcript, file_name="confidant-chat.md",
                             mime="text/markdown", key="download-chat")
    pdf.download_button("Download (PDF)", lambda: chat_pdf(history, conversation.title),
                        file_name="confidant-chat.pdf", mime="application/pdf", key="download-chat-pdf")
    with copy.popover("Copy chat"):
        st.code(transcript, language="markdown")
    new.button("New conversation", key="new-chat", on_click=open_conversation, args=(None,))
