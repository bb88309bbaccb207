"""Evaluate: upload a question set (JSONL), see recall and MRR, and look at the misses with what was retrieved."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import streamlit as st

from rag.evaluation import AnswerReport, EvalReport, Question, load_questions
from ui.context import AppContext

FORMAT_HELP = ('One JSON object per line: {"id", "question", "answer", "evidence": [{"file", "page"}], '
               '"answerable"} — page may be null for file-level evidence.')


RESULT = "evaluation_result"


def evaluate_page(ctx: AppContext) -> None:
    st.header("Evaluate retrieval and answers on your own questions")
    names = ctx.collection_names()
    chosen = st.multiselect("Collections to search", names, default=names, key="eval_collections")
    k = st.slider("Passages per question (k)", 1, 20, 10, key="eval_k")
    grade_answers = st.checkbox(
        "Also answer each question with the model and grade the answers against the reference answers "
        "(slow: about half a minute per question with the default model)", key="eval_answers")
    mine = ctx.ws.eval_set()
    source = st.radio("Questions", [f"My evaluation set ({len(mine)} questions)", "A question file (.jsonl)"],
                      key="eval_source", horizontal=True,
                      help="Add to your set with 'Add to my eval set' under any answer on the Chat page.")
    if source.startswith("My"):
        questions = mine
        if mine:
            st.download_button("Download my set (.jsonl)", questions_jsonl(mine), file_name="my-eval-set.jsonl",
                               mime="application/jsonl", key="eval_download")
        else:
            st.info("Your set is empty: under an answer on the Chat page, press **Add to my eval set**.")
    else:
        st.caption(FORMAT_HELP + " A page hit is a passage on the cited page or the page after it.")
        questions = uploaded_questions(st.file_uploader("Question file (.jsonl)", type=["jsonl", "json"],
                                                        key="eval_file"))
    if questions and st.button(f"Evaluate {len(questions)} question(s)", type="primary", key="eval_run"):
        st.session_state[RESULT] = run(ctx, questions, k, chosen, grade_answers)
    result = st.session_state.get(RESULT)
    if result is not None:
        report, answers = result
        show_report(report)
        if answers is not None:
            show_answers(answers)


def uploaded_questions(upload: object) -> list[Question]:
    if upload is None:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "questions.jsonl"
        path.write_bytes(upload.getvalue())  # type: ignore[attr-defined]
        try:
            questions = load_questions(path)
        except (ValueError, UnicodeDecodeError) as exc:
            st.error(f"This file is not a question set: {exc}")
            return []
    if not questions:
        st.warning("The file has no questions.")
    return questions


def questions_jsonl(questions: list[Question]) -> str:
    return "".join(json.dumps({"id": q.id, "question": q.question, "answer": q.answer,
                               "evidence": [{"file": e.file, "page": e.page} for e in q.evidence],
                               "answerable": q.answerable}) + "\n" for q in questions)


def run(ctx: AppContext, questions: list[Question], k: int, chosen: list[str],
        grade_answers: bool) -> tuple[EvalReport, AnswerReport | None]:
    """Search (and answer) every question with progress; Cancel stops it (any click reruns the page, which stops
    this run at its next progress step; nothing is kept from a cancelled run)."""
    with st.status(f"Evaluating {len(questions)} question(s)…", expanded=True) as status:
        st.button("Cancel", key="eval_cancel", icon=":material/stop:")
        progress = st.progress(0.0, text="Searching…")

        def advance(i: int, n: int) -> None:
            progress.progress(i / n, text=f"Searching… {i}/{n}")

        report = ctx.ws.evaluate(questions, k, chosen, on_question=advance)
        answers = None
        if grade_answers:
            def answered(i: int, n: int) -> None:
                progress.progress(i / n, text=f"Answering and grading… {i}/{n}")

            answers = ctx.ws.evaluate_answers(questions, chosen, on_question=answered)
        status.update(label=f"Evaluated {len(questions)} question(s)", state="complete", expanded=False)
    return report, answers


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
    st.dataframe(rows, hide_index=True, width="stretch",  # the ranks first: long questions push them off-screen
                 column_order=("id", "page rank", "file rank", "question", "evidence"))
    misses = [r for r in report.answerable if r.page_rank is None]
    st.subheader(f"Misses ({len(misses)})")
    for r in misses[:50]:
        with st.expander(f"{r.question.id}: {r.question.question}"):
            st.write("Expected: " + ", ".join(f"{e.file} page {e.page}" for e in r.question.evidence))
            for rank, hit in enumerate(r.hits[:5], start=1):
                st.markdown(f"**{rank}. {hit.chunk.file_name}, page {hit.chunk.page}**")
                st.text(" ".join(hit.chunk.text.split())[:500])


GRADE_HELP = ("Right: the answer holds the reference's key facts (numbers, dates, periods, places, yes/no). "
              "Wrong: it does not, or it answers a question the documents do not answer. Declined: it says the "
              "documents do not answer. Unsupported: shown without a checked citation. A reference without key "
              "facts is judged by meaning and needs a citation of the evidence page.")


def show_answers(report: AnswerReport) -> None:
    summary = report.summary()
    st.subheader("Answers")
    cols = st.columns(4)
    for col, grade in zip(cols, ("right", "wrong", "declined", "unsupported"), strict=True):
        col.metric(grade, f"{summary[f'{grade}_share']:.0%}")
    st.caption(GRADE_HELP + f" {summary['judged_by_meaning']} judged by meaning.")
    rows = [{"id": r.question.id, "grade": r.graded.grade, "why": r.graded.reason, "answer": r.answer,
             "reference": r.question.answer, "question": r.question.question} for r in report.results]
    st.dataframe(rows, hide_index=True, width="stretch",
                 column_order=("id", "grade", "answer", "reference", "why", "question"))
