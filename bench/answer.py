"""Answer benchmark: are the answers right? Confidant's answerer vs LlamaIndex's default query engine, same run,
same embedded model, graded against each set's reference answers (rag/grading.py: right / wrong / declined /
unsupported).

Both answer through one embedded llama.cpp server (the default packaged GGUF). Confidant answers from its kept
index of each set (bench/quality_sets.py; built on first use), LlamaIndex from its default pipeline's kept index
with its default query engine (top 2 nodes). For LlamaIndex "cites the evidence page" means its top source node
is on it. Also reported: time to first token, tokens/s, retrieval p50/p95.

    python -m bench.answer [--sets contracts,hr] [--per-set 24] [--unanswerable 4] [--threads 2]
                           [--set prompt_passage_chars=0 ...] [--variant prompt_sentence_ranker=cross-encoder ...]
                           [--no-baseline] [--json]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.quality_sets import DEFAULT_WORK, EvalSet, confidant_index, eval_set, llamaindex_search
from bench.report import console, machine, rows_table, save
from confidant.offline import enforce_offline
from confidant.services import build_services
from confidant.settings import Settings
from rag.embedders import Embedder
from rag.evaluation import Question, first_rank
from rag.grading import grade, summarise
from rag.llamacpp_chat import LlamaCppChat
from rag.model_files import resolve_model_path
from rag.prompting import says_it_cannot_answer
from storage.records import ScoredChunk


def pick(questions: list[Question], answerable: int, unanswerable: int) -> list[Question]:
    """Spread over the set (every n-th), so the sample is not just the first file's questions."""
    yes = [q for q in questions if q.answerable]
    no = [q for q in questions if not q.answerable]
    step = max(1, len(yes) // max(1, answerable))
    return yes[::step][:answerable] + no[:unanswerable]


def confidant_rows(model: LlamaCppChat, s: EvalSet, questions: Sequence[Question], work: Path,
                   overrides: dict[str, Any]) -> tuple[list[dict[str, Any]], Embedder]:
    config, _ = confidant_index(s, work, overrides)
    services = build_services(config, chat_model=model)
    workspace = services.workspace()
    rows = []
    try:
        for q in questions:
            started = time.perf_counter()
            answer = workspace.ask(q.question, [s.name])
            total = time.perf_counter() - started
            cited = first_rank([ScoredChunk(c.chunk, 1.0) for c in answer.citations], q.evidence,
                               level="page") is not None
            graded = grade(answer.text, q.answer, declined=answer.declined, answerable=q.answerable,
                           checked=bool(answer.citations), cites_evidence=cited, embedder=services.embedder,
                           quoted=answer.quoted, question=q.question)
            timings = dict(getattr(model, "last_timings", {}) or {})
            rows.append({"id": q.id, "answerable": q.answerable, "grade": graded.grade, "why": graded.reason,
                         "by_meaning": graded.by_meaning, "quoted": graded.quoted, "answer": answer.text,
                         "reference": q.answer,
                         "cited_evidence": cited, "retrieve_ms": answer.timings.get("retrieve_ms", 0.0),
                         "first_token_ms": answer.timings.get("first_token_ms", 0.0), "total_s": total,
                         "tokens_per_s": float(timings.get("predicted_per_second", 0.0))})
        return rows, services.embedder
    finally:
        services.close()


def llamaindex_parts(model: LlamaCppChat, s: EvalSet, work: Path) -> tuple[Any, Any, Any]:
    """LlamaIndex's search, its index (its default pipeline's kept index of the set, built on first use) and an LLM
    on the same embedded llama.cpp server as Confidant's answers."""
    from llama_index.llms.openai_like import OpenAILike

    from bench import llama_baseline
    from rag.embedders import minilm_model_dir

    search, _ = llamaindex_search(s, work)
    index = llama_baseline.open_index(work / s.name / "llamaindex" / "chroma",
                                      llama_baseline.load_embed_model(minilm_model_dir()))
    address = model.start()
    llm = OpenAILike(model="local", api_base=f"{address}/v1", api_key=model.api_key, is_chat_model=True,
                     context_window=4096, max_tokens=160, temperature=0.0, timeout=900)
    return search, index, llm


def baseline_rows(model: LlamaCppChat, s: EvalSet, questions: Sequence[Question], work: Path,
                  embedder: Embedder) -> list[dict[str, Any]]:
    search, index, llm = llamaindex_parts(model, s, work)
    engine = index.as_query_engine(llm=llm, streaming=True, similarity_top_k=2)
    rows = []
    for q in questions:
        t0 = time.perf_counter()
        top = search(q.question, 2)
        retrieve_ms = (time.perf_counter() - t0) * 1000
        started = time.perf_counter()
        response = engine.query(q.question)
        first, text = 0.0, ""
        for piece in response.response_gen:
            if not text:
                first = (time.perf_counter() - started) * 1000
            text += piece
        declined = says_it_cannot_answer(text)
        cited = (not declined) and first_rank(top[:1], q.evidence, level="page") is not None
        graded = grade(text, q.answer, declined=declined, answerable=q.answerable, cites_evidence=cited,
                       embedder=embedder, question=q.question)
        rows.append({"id": q.id, "answerable": q.answerable, "grade": graded.grade, "why": graded.reason,
                     "by_meaning": graded.by_meaning, "answer": text, "reference": q.answer,
                     "cited_evidence": cited, "retrieve_ms": retrieve_ms, "first_token_ms": first,
                     "total_s": time.perf_counter() - started,
                     "tokens_per_s": float((model.last_timings or {}).get("predicted_per_second", 0.0))})
    return rows


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    from rag.grading import Graded

    grades = [Graded(r["grade"], r["by_meaning"], quoted=r.get("quoted", False)) for r in rows]
    retrieve = sorted(r["retrieve_ms"] for r in rows)
    firsts = [r["first_token_ms"] for r in rows if r["first_token_ms"] > 0]
    return {
        **summarise(grades, [r["answerable"] for r in rows]),
        "first_token_s_p50": round(statistics.median(firsts) / 1000, 2) if firsts else 0.0,
        "tokens_per_s": round(statistics.median(r["tokens_per_s"] for r in rows), 1),
        "retrieve_ms_p50": round(retrieve[len(retrieve) // 2], 1),
        "retrieve_ms_p95": round(retrieve[min(len(retrieve) - 1, int(len(retrieve) * 0.95))], 1),
    }


def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """--set name=value pairs as Settings fields, typed by the field's default."""
    out: dict[str, Any] = {}
    for pair in pairs:
        name, _, raw = pair.partition("=")
        default = Settings.model_fields[name].default
        out[name] = (raw.lower() in ("1", "true", "yes") if isinstance(default, bool)
                     else type(default)(raw) if isinstance(default, int | float) else raw)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.answer", description=__doc__)
    parser.add_argument("--sets", default="contracts,hr", help="comma-separated: hr, contracts, financebench")
    parser.add_argument("--per-set", type=int, default=24, help="answerable questions per set (spread over it)")
    parser.add_argument("--unanswerable", type=int, default=4, help="unanswerable questions per set, where it has any")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="a Confidant setting for this run (repeatable)")
    parser.add_argument("--variant", dest="variants", action="append", default=[], metavar="NAME=VALUE",
                        help="also answer with Confidant under this setting, side by side (repeatable: one row each)")
    parser.add_argument("--no-baseline", action="store_true", help="skip LlamaIndex's query engine")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    enforce_offline()
    out = console(args.json)
    overrides = parse_overrides(args.overrides)
    settings = Settings()
    model = LlamaCppChat(resolve_model_path(settings.embedded_model, settings.models_dir),
                         label=settings.embedded_model, threads=args.threads, context=4096, timeout_s=900)
    results: dict[str, dict[str, Any]] = {}
    details: dict[str, list[dict[str, Any]]] = {}
    try:
        for name in args.sets.split(","):
            s = eval_set(name)
            questions = pick(s.questions(), args.per_set, args.unanswerable)
            for variant in [[], *([v] for v in args.variants)]:
                rows, embedder = confidant_rows(model, s, questions, args.work,
                                                {**overrides, **parse_overrides(variant)})
                label = f"{name}: confidant" + (f" ({', '.join(args.overrides + variant)})"
                                                if args.overrides or variant else "")
                results[label], details[label] = summarize(rows), rows
                out.print(f"{label}: {results[label]}")
            if not args.no_baseline:
                rows = baseline_rows(model, s, questions, args.work, embedder)
                results[f"{name}: llamaindex-default"], details[f"{name}: llamaindex-default"] = summarize(rows), rows
                out.print(f"{name}: llamaindex-default: {results[f'{name}: llamaindex-default']}")
    finally:
        model.close()
    columns = ["right_share", "wrong_share", "declined_share", "unsupported_share", "right_of_answerable",
               "declined_of_unanswerable", "quoted", "judged_by_meaning", "first_token_s_p50", "tokens_per_s"]
    out.print(rows_table(f"Answers graded against the references ({settings.embedded_model}, {args.threads} "
                         f"thread(s), {args.per_set} answerable + up to {args.unanswerable} unanswerable per set), "
                         "same run", "system", results, [c for c in columns if any(c in r for r in results.values())]))
    save("answer", out, {"benchmark": "answer", "machine": machine(), "overrides": args.overrides,
                         "variants": args.variants,
                         "results": results, "questions": details}, args.json)


if __name__ == "__main__":
    main()
