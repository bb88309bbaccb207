"""The sources panel: numbered passages with file, page, the cited span highlighted, and the page itself."""

from __future__ import annotations

import html
import re
from pathlib import Path

import streamlit as st

from confidant.access import AccessDenied
from confidant.workspace import Workspace, provenance_label
from rag.answering import Answer
from rag.citations import content_words, lexical_support, split_sentences
from storage.records import ScoredChunk
from ui.page_image import highlighted_page

_MARKER = re.compile(r"\[(\d{1,2})\]")


def cited_sentences(answer_text: str, n: int) -> list[str]:
    """The answer's sentences that cite passage n, without their markers."""
    found = []
    for sentence in split_sentences(answer_text):  # the same sentences the citations were checked on
        if f"[{n}]" in sentence:
            found.append(re.sub(r"\s+([.,;:!?])", r"\1", " ".join(_MARKER.sub("", sentence).split())))
    return found


MIN_SENTENCE_WORDS = 4  # a heading or a signature line ("Parental leave.", "By: J. Smith") is not marked by itself


def passage_sentences(passage: str) -> list[tuple[int, int]]:
    """Character spans of the passage's sentences, split as answers are (rag.citations.split_sentences): a period in
    "10.26", "Dr. Murray" or "U.S." ends no sentence."""
    spans, at = [], 0
    for sentence in split_sentences(passage):
        start = passage.find(sentence, at)
        if start < 0:
            continue
        spans.append((start, start + len(sentence)))
        at = start + len(sentence)
    return spans


def cited_spans(passage: str, claims: list[str], threshold: float = 0.5) -> list[tuple[int, int]]:
    """Character spans of the passage's sentences that support one of the claims (else the closest one). A
    sentence is marked when it holds most of a claim, or when a claim holds most of it and it is more than a
    heading; so the highlighted text and the box on the page image are the same sentences."""
    scored = []
    for start, end in passage_sentences(passage):
        sentence = passage[start:end]
        holds = max((lexical_support(c, sentence) for c in claims), default=0.0)
        held = max((lexical_support(sentence, c) for c in claims), default=0.0)
        long_enough = len(content_words(sentence)) >= MIN_SENTENCE_WORDS
        scored.append((max(holds, held if long_enough else 0.0), start, end))
    spans = [(start, end) for score, start, end in scored if score >= threshold]
    if not spans and scored:
        best = max(scored)
        if best[0] >= threshold / 2:
            spans = [(best[1], best[2])]
    return spans


def highlighted_html(passage: str, spans: list[tuple[int, int]]) -> str:
    """Escaped passage text with <mark> around the spans (the text is never trusted as HTML)."""
    out, at = [], 0
    for start, end in sorted(spans):
        if start < at:
            continue
        out.append(html.escape(passage[at:start]))
        out.append(f"<mark>{html.escape(passage[start:end])}</mark>")
        at = end
    out.append(html.escape(passage[at:]))
    return "".join(out).replace("\n", "<br>")


def anchor(turn: int, n: int) -> str:
    return f"source-{turn}-{n}"


def link_markers(text: str, turn: int) -> str:
    """[n] markers as links to the matching source in the panel below."""
    return _MARKER.sub(lambda m: f"[\\[{m.group(1)}\\]](#{anchor(turn, int(m.group(1)))})", text)


def sources_panel(ws: Workspace, answer: Answer, turn: int) -> None:
    cited = {c.n for c in answer.citations}
    title = "Closest passages" if answer.declined or not cited else "Sources"
    st.markdown(f"**{title}**")
    if not answer.passages:
        st.caption("No passage was found in the selected documents.")
    for n, hit in enumerate(answer.passages, start=1):
        claims = cited_sentences(answer.text, n) if n in cited else []
        source_card(ws, hit, n, turn, claims, n in cited)


def source_card(ws: Workspace, hit: ScoredChunk, n: int, turn: int, claims: list[str], cited: bool) -> None:
    """One passage: file, page, the cited sentences highlighted; beside it, on demand, the page image with the same
    sentences boxed."""
    c = hit.chunk
    with st.container(border=True):
        mark = "cited" if cited else "not cited"
        extra = html.escape(provenance_label(ws.provenance(c)))
        st.markdown(f'<a id="{anchor(turn, n)}"></a>**[{n}] {html.escape(c.file_name)} — page {c.page}**{extra} '
                    f'<small>({mark})</small>', unsafe_allow_html=True)
        spans = cited_spans(c.text, claims) if claims else []
        showing = st.session_state.get(f"page-{turn}-{n}", False)
        text, page = st.columns(2) if showing else (st.container(), None)
        text.markdown(f"<div class='passage'>{highlighted_html(c.text, spans)}</div>", unsafe_allow_html=True)
        text.toggle("Show on the page", key=f"page-{turn}-{n}")
        if page is not None:
            with page:
                show_page(ws, hit, f"{turn}-{n}", [c.text[a:b] for a, b in spans])


def source_path(ws: Workspace, hit: ScoredChunk) -> Path | None:
    """The stored original, if this caller may see it and it is still on disk."""
    try:
        return ws.original_file(hit.chunk.collection, hit.chunk.document_id, audit=False)
    except AccessDenied:
        return None


def show_page(ws: Workspace, hit: ScoredChunk, key: str, marked: list[str] | None = None) -> None:
    """The page image with the cited sentences boxed (the whole passage when none is cited)."""
    c = hit.chunk
    path = source_path(ws, hit)
    if path is None:
        st.caption("The original file is no longer in the data folder.")
        return
    if path.suffix.lower() == ".pdf":
        try:
            image, found = highlighted_page(path, c.page, marked or [c.text])
        except (OSError, ValueError, RuntimeError) as exc:  # a damaged page must not break the chat
            st.caption(f"This page cannot be shown: {exc}")
        else:
            st.image(image, caption=f"{c.file_name}, page {c.page}" + ("" if found else " (passage not located)"))
    st.download_button(f"Download {c.file_name} (see page {c.page})", data=path.read_bytes(),
                       file_name=c.file_name, key=f"download-{key}", on_click=ws.note_download,
                       args=(c.collection, c.document_id))
