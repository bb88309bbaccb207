"""Evidence for the retrieval defaults: chunk size/overlap × one-hit-per-page × fusion depth, default embedder,
hybrid search, on hr-benefits (page recall@1/5/10, MRR). Prints one line per configuration as it goes.

    python -m bench.tuning [--configs 128/30,200/30,200/0,160/20] > bench/results/tuning-DATE.txt
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from confidant.offline import enforce_offline
from confidant.services import build_services
from confidant.settings import Settings
from rag.evaluation import evaluate, load_questions

HR = Path(__file__).resolve().parents[2] / "shared" / "eval" / "hr-benefits"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tuning", description=__doc__)
    parser.add_argument("--configs", default="128/30,200/30,200/0,160/20")
    args = parser.parse_args(argv)
    enforce_offline()
    questions = load_questions(HR / "questions.jsonl")
    embedder = build_services(Settings(home=Path(tempfile.gettempdir()) / "unused")).embedder
    print("size overlap pages candidates recall@1 recall@5 recall@10 mrr", flush=True)
    for config in args.configs.split(","):
        size, overlap = (int(x) for x in config.split("/"))
        with tempfile.TemporaryDirectory() as tmp:
            s = build_services(Settings(home=Path(tmp), chunk_size=size, chunk_overlap=overlap), embedder=embedder)
            s.pipeline.ingest([HR / "docs"], "hr")
            for distinct in (True, False):
                s.retriever.distinct_pages = distinct
                for candidates in (30, 60):
                    s.retriever.candidates = candidates
                    m = evaluate(questions, s.retriever.search, k=10).summary()
                    print(size, overlap, "distinct" if distinct else "all", candidates, m["recall@1"], m["recall@5"],
                          m["recall@10"], m["mrr"], flush=True)
            s.close()


if __name__ == "__main__":
    main()
