"""Evaluate: upload a question set (JSONL), see recall and MRR, and look at the misses with what was retrieved."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from rag.evaluation import EvalReport, load_questions
from ui.context import AppContext

FORMAT_HELP = ('One JSON object per line: {"id", "question", "answer", "evidence": [{"file", "page"}], '
               '"answerable"} — page may be null for file-level evidence.')


def evaluate_page(ctx: AppContext) -> None:
    st.header("Evaluate retrieval on your own questions")
    st.caption(FORMAT_HELP + " A page hit is a passage on the cited page or the page after it.")
    names = ctx.collection_names()
    chosen = st.multiselect("Collections to search", names, default=names, key="eval_collections")
    k = st.slider("Passages per question (k)", 1, 20, 10, key="eval_k")
    upload = st.file_uploader("Question file (.jsonl)", type=["jsonl", "json"], key="eval_file")
    if upload is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "questions.jsonl"
        path.write_bytes(upload.getvalue())
        try:
            questions = load_questions(path)
        except (ValueError, UnicodeDecodeError) as exc:
            st.error(f"This file is not a question set: {exc}")
            return
    if not questions:
        st.warning("The file has no questions.")
        return
    progress = st.progress(0.0, text="Searching…")
    def advance(i: int, n: int) -> None:
        progress.progress(i / n, text=f"Searching… {i}/{n}")

    report = ctx.ws.evaluate(questions, k, chosen, on_question=advance)
    progress.empty()
    show_report(report)


def show_report(report: EvalReport) -> None:
    summary = report.summary()
    cols = st.columns(5)
    for col, key in zip(cols, ("recall@1", "recall@5", "recall@10", "mrr", "file_recall@5"), strict=True):
        col.metric(key, f"{summary[key]:.2f}")
    st.caption(f"{summary['answerable']} answerable question(s) of {summary['questions']}; "
               f"search p50 {summary.get('search_p50_ms', 0):.0f} ms, p95 {summary.get('search_p95_ms', 0):.0f} ms.")
    rows = [{"id": r.question.id, "question": r.question.question,
             "evidence": ", ".join(f"{e.file} p.{e.page}" if e.page else e.file for e in r.question.evidence),
             "page rank": r.page_rank or "miss", "file rank": r.file_rank or "miss"}
            for r in report.answerable]
    st.dataframe(rows, hide_index=True, use_container_width=True)
    misses = [r for r in report.answerable if r.page_rank is None]
    st.subheader(f"Misses ({len(misses)})")
    for r in misses[:50]:
        with st.expander(f"{r.question.id}: {r.question.question}"):
            st.write("Expected: " + ", ".join(f"{e.file} page {e.page}" for e in r.question.evidence))
            for rank, hit in enumerate(r.hits[:5], start=1):
                st.markdown(f"**{rank}. {hit.chunk.file_name}, page {hit.chunk.page}**")
                st.text(" ".join(hit.chunk.text.split())[:500])
