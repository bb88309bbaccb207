"""Questions one system finds in its top 5 and another misses, with both top-5 lists, from the kept indexes.

    python -m bench.quality_misses --set financebench [--a default] [--b vector] [--limit 10] [--json]

Systems: default (as the app runs it), vector, keyword, no-pages (hybrid without the page stage), llamaindex.
For each question: the evidence, where system A first reaches an evidence page in its top 50, and each system's
top 5 as file p.page (★ = an evidence page or the page after it).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bench.quality_sets import ALL_SETS, DEFAULT_WORK, Search, eval_set, llamaindex_search, opened, variant
from rag.evaluation import first_rank

SYSTEMS: dict[str, dict[str, Any]] = {"default": {}, "vector": {"mode": "vector"}, "keyword": {"mode": "keyword"},
                                      "no-pages": {"mode": "hybrid", "page_weight": 0.0}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--set", default="financebench", choices=ALL_SETS)
    parser.add_argument("--a", default="default", choices=[*SYSTEMS, "llamaindex"], help="the system that misses")
    parser.add_argument("--b", default="vector", choices=[*SYSTEMS, "llamaindex"], help="the system that finds")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from confidant.offline import enforce_offline

    enforce_offline()
    s = eval_set(args.set)
    questions = [q for q in s.questions() if q.answerable and q.evidence]
    with opened(s, DEFAULT_WORK) as (services, _):
        searches: dict[str, Search] = {}
        for name in {args.a, args.b}:
            if name == "llamaindex":
                searches[name] = llamaindex_search(s, DEFAULT_WORK)[0]
            else:
                searches[name] = variant(services.retriever, **SYSTEMS[name]).search
        found: list[dict[str, Any]] = []
        for q in questions:
            a50, b5 = searches[args.a](q.question, 50), searches[args.b](q.question, 5)
            rank_a, rank_b = first_rank(a50, q.evidence, level="page"), first_rank(b5, q.evidence, level="page")
            if rank_b is not None and (rank_a is None or rank_a > 5):
                found.append({"id": q.id, "question": q.question,
                              "evidence": [f"{e.file} p.{e.page}" for e in q.evidence],
                              f"{args.a}_rank_in_top50": rank_a,
                              args.a: [_label(h, q.evidence) for h in a50[:5]],
                              args.b: [_label(h, q.evidence) for h in b5]})
    if args.json:
        print(json.dumps(found, indent=2))
        return
    print(f"{s.name}: {len(found)} questions in {args.b}'s top 5 but not in {args.a}'s")
    for row in found[: args.limit]:
        print(f"\n{row['id']}: {row['question']}\n  evidence: {', '.join(row['evidence'])}; "
              f"{args.a} first reaches it at rank {row[f'{args.a}_rank_in_top50']}")
        for name in (args.a, args.b):
            print(f"  {name:>9}: " + " | ".join(row[name]))


def _label(hit: Any, evidence: Any) -> str:
    star = " ★" if first_rank([hit], evidence, level="page") else ""
    return f"{hit.chunk.file_name.removesuffix('.pdf')[:40]} p.{hit.chunk.page}{star}"


if __name__ == "__main__":
    main()
