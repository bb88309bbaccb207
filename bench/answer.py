"""Answer benchmark on hr-benefits: Confidant's answerer vs LlamaIndex's default query engine, same run, same model.

Both answer through the same embedded llama.cpp server (the default packaged GGUF). Reports time to first token,
tokens/s, retrieval p50/p95, the share of answerable questions whose citations include an evidence page, and the
share of unanswerable questions declined. The baseline has no citations: its "citation" is its top retrieved node
(LlamaIndex shows its source nodes), and a decline is a reply that says the context does not answer.

    python -m bench.answer [--answerable 8] [--unanswerable 4] [--threads 2] [--json]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.llama_baseline import build_index, disable_global_llm, load_embed_model
from bench.report import console, machine, rows_table, save
from confidant.offline import enforce_offline
from confidant.services import build_services
from confidant.settings import Settings
from rag.embedders import minilm_model_dir
from rag.evaluation import Question, first_rank, load_questions
from rag.llamacpp_chat import LlamaCppChat
from rag.model_files import resolve_model_path
from rag.prompting import says_it_cannot_answer
from storage.records import Chunk, ScoredChunk

HR = Path(__file__).resolve().parents[2] / "shared" / "eval" / "hr-benefits"


def pick(questions: list[Question], answerable: int, unanswerable: int) -> list[Question]:
    """Spread over the set (every n-th), so the sample is not just the first file's questions."""
    yes = [q for q in questions if q.answerable]
    no = [q for q in questions if not q.answerable]
    step = max(1, len(yes) // max(1, answerable))
    return yes[::step][:answerable] + no[:unanswerable]


def confidant_rows(model: LlamaCppChat, questions: list[Question], home: Path,
                   **settings: Any) -> list[dict[str, Any]]:
    services = build_services(Settings(home=home, **settings), chat_model=model)
    services.pipeline.ingest([HR / "docs"], "hr")
    answerer = services.answerer(["hr"])
    rows = []
    for q in questions:
        started = time.perf_counter()
        answer = answerer.ask(q.question)
        total = time.perf_counter() - started
        cited = [ScoredChunk(c.chunk, 1.0) for c in answer.citations]
        timings = dict(getattr(model, "last_timings", {}) or {})
        rows.append({"id": q.id, "answerable": q.answerable, "declined": answer.declined,
                     "cited_evidence": first_rank(cited, q.evidence, level="page") is not None,
                     "retrieve_ms": answer.timings.get("retrieve_ms", 0.0),
                     "first_token_ms": answer.timings.get("first_token_ms", 0.0), "total_s": total,
                     "tokens_per_s": float(timings.get("predicted_per_second", 0.0)),
                     "prompt_tokens": int(timings.get("prompt_n", 0))})
    services.close()
    return rows


def baseline_rows(model: LlamaCppChat, questions: list[Question], workdir: Path) -> list[dict[str, Any]]:
    from llama_index.llms.openai_like import OpenAILike

    disable_global_llm()
    base = build_index(HR / "docs", workdir / "chroma", load_embed_model(minilm_model_dir()))
    address = model.start()
    llm = OpenAILike(model="local", api_base=f"{address}/v1", api_key=model.api_key, is_chat_model=True,
                     context_window=4096, max_tokens=160, temperature=0.0, timeout=600)
    engine = base.index.as_query_engine(llm=llm, streaming=True, similarity_top_k=2)
    retriever = base.index.as_retriever(similarity_top_k=2)
    rows = []
    for q in questions:
        t0 = time.perf_counter()
        nodes = retriever.retrieve(q.question)
        retrieve_ms = (time.perf_counter() - t0) * 1000
        started = time.perf_counter()
        response = engine.query(q.question)
        first = 0.0
        text = ""
        for piece in response.response_gen:
            if not text:
                first = (time.perf_counter() - started) * 1000
            text += piece
        total = time.perf_counter() - started
        top = [ScoredChunk(Chunk("", "", str(n.node.metadata.get("file_name", "")),
                                 int(str(n.node.metadata.get("page_label", "0")) or 0)
                                 if str(n.node.metadata.get("page_label", "0")).isdigit() else 0, 0, 0, "", 0), 1.0)
               for n in nodes[:1]]
        declined = says_it_cannot_answer(text)
        rows.append({"id": q.id, "answerable": q.answerable, "declined": declined,
                     "cited_evidence": (not declined) and first_rank(top, q.evidence, level="page") is not None,
                     "retrieve_ms": retrieve_ms, "first_token_ms": first, "total_s": total,
                     "tokens_per_s": float((model.last_timings or {}).get("predicted_per_second", 0.0)),
                     "prompt_tokens": int((model.last_timings or {}).get("prompt_n", 0))})
    return rows


def summarize(rows: list[dict[str, Any]]) -> dict[str, float]:
    yes = [r for r in rows if r["answerable"]]
    no = [r for r in rows if not r["answerable"]]
    retrieve = sorted(r["retrieve_ms"] for r in rows)

    def p(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(len(values) * q))] if values else 0.0

    return {
        "first_token_s_p50": round(statistics.median(r["first_token_ms"] for r in rows) / 1000, 2),
        "tokens_per_s": round(statistics.median(r["tokens_per_s"] for r in rows), 1),
        "prompt_tokens_p50": statistics.median(r["prompt_tokens"] for r in rows),
        "retrieve_ms_p50": round(p(retrieve, 0.5), 1), "retrieve_ms_p95": round(p(retrieve, 0.95), 1),
        "cited_evidence": round(sum(r["cited_evidence"] for r in yes) / len(yes), 3) if yes else 0.0,
        "declined_unanswerable": round(sum(r["declined"] for r in no) / len(no), 3) if no else 0.0,
        "wrongly_declined": round(sum(r["declined"] for r in yes) / len(yes), 3) if yes else 0.0,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.answer", description=__doc__)
    parser.add_argument("--answerable", type=int, default=8)
    parser.add_argument("--unanswerable", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--passage-chars", default="0", help="comma-separated prompt_passage_chars values to "
                        "compare (0 = whole passages)")
    parser.add_argument("--k", default="5", help="comma-separated answer_k values to compare")
    parser.add_argument("--no-baseline", action="store_true", help="skip LlamaIndex's query engine")
    parser.add_argument("--plain-search", action="store_true", help="also answer with chunk-level hybrid search "
                        "only (no page index, questions not split), to see what page search does to the answers")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    enforce_offline()
    out = console(args.json)
    questions = pick(load_questions(HR / "questions.jsonl"), args.answerable, args.unanswerable)
    settings = Settings()
    model = LlamaCppChat(resolve_model_path(settings.embedded_model, settings.models_dir),
                         label=settings.embedded_model, threads=args.threads, context=4096, timeout_s=900)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "confidant"
        results = {}
        searches: dict[str, dict[str, Any]] = {"": {}}
        if args.plain_search:
            searches[", chunk search only"] = {"search_page_weight": 0.0, "search_split_questions": False}
        for k in (int(v) for v in args.k.split(",")):
            for chars in (int(v) for v in args.passage_chars.split(",")):
                for suffix, search in searches.items():
                    label = (f"confidant k={k}" + (f", passages cut to ~{chars} chars" if chars else
                                                   ", whole passages") + suffix)
                    results[label] = summarize(confidant_rows(model, questions, home, answer_k=k,
                                                              prompt_passage_chars=chars, **search))
                    out.print(f"{label}: {results[label]}")
        if not args.no_baseline:
            results["llamaindex-default"] = summarize(baseline_rows(model, questions, Path(tmp) / "baseline"))
    model.close()
    out.print(rows_table(f"Answers on hr-benefits ({len(questions)} questions, {settings.embedded_model}, "
                         f"{args.threads} thread(s)), same run", "system", results, list(next(iter(results.values())))))
    save("answer", out, {"benchmark": "answer", "machine": machine(), "questions": [q.id for q in questions],
                         "results": results}, args.json)


if __name__ == "__main__":
    main()
