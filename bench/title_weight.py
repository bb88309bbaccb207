"""How much a word of the document title should count in BM25 (storage.keyword_index.TITLE_WEIGHT), on hr-benefits.

    python -m bench.title_weight [--weights 0,0.25,0.5,1] [--home DIR]

Indexes the HR set once (into --home, reused when it already holds it), then for each weight reports page recall
and MRR of keyword-only and hybrid search (RRF k 60 and 20) over the answerable questions. The weight is applied at
query time, so one index serves every row.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

from bench.report import console, machine, rows_table, save
from confidant.offline import enforce_offline
from confidant.services import build_services
from confidant.settings import Settings
from rag.evaluation import evaluate, load_questions
from rag.retriever import Retriever

HR = Path(__file__).resolve().parents[2] / "shared" / "eval" / "hr-benefits"
METRICS = ("recall@1", "recall@5", "recall@10", "mrr")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.title_weight", description=__doc__)
    parser.add_argument("--weights", default="0,0.25,0.5,1")
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    enforce_offline()
    out = console(args.json)
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-title-weight-"))
    questions = [q for q in load_questions(HR / "questions.jsonl") if q.answerable]
    services = build_services(Settings(home=home))
    if not services.registry.documents():
        services.pipeline.ingest([HR / "docs"], "hr")
    r = services.retriever
    rows: dict[str, dict[str, float]] = {}
    for weight in (float(w) for w in args.weights.split(",")):
        r.keywords.title_weight = weight  # chunk BM25 (the page index keeps its own: no title words)
        for rrf_k, modes in ((60, ("keyword", "hybrid")), (20, ("hybrid",))):
            alt = Retriever(r.embedder, r.store, r.keywords, r.registry,
                            replace(r.options, mode="hybrid", rrf_k=rrf_k), speller=r.speller, pages=r.pages)
            for mode in modes:
                report = evaluate(questions, lambda q, n, m=mode, a=alt: a.search(q, n, ["hr"], mode=m), k=10)
                summary = report.summary()
                label = f"title {weight}, {mode}" + (f", rrf_k {rrf_k}" if mode == "hybrid" else "")
                rows[label] = {m: round(float(summary[m]), 4) for m in METRICS}
                out.print(f"{label}: {rows[label]}")
    services.close()
    out.print(rows_table(f"BM25 title weight on hr-benefits ({len(questions)} answerable questions)", "setting",
                         rows, METRICS))
    save("keyword-title-weight", out, {"benchmark": "keyword-title-weight", "machine": machine(), "results": rows},
         args.json)


if __name__ == "__main__":
    main()
