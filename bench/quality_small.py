"""Retrieval in small collections: each question searched among its evidence document and the next N-1 documents
of its set (sorted by file name), as a person with a handful of contracts or filings on a laptop would. Prints page
recall@5 without routing and with it (rag/routing.py).

    python -m bench.quality_small --sets contracts,financebench --size 5
"""

from __future__ import annotations

import argparse

from bench.quality_sets import eval_set, opened, variant
from storage.records import ScoredChunk


def hit_at_5(hits: list[ScoredChunk], evidence: set[tuple[str, int | None]]) -> bool:
    """A passage on an evidence page or the page after it among the first five (as `confidant eval`)."""
    return any((h.chunk.file_name, page) in evidence for h in hits[:5] for page in (h.chunk.page, h.chunk.page - 1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sets", default="contracts,financebench")
    parser.add_argument("--size", type=int, default=5, help="documents per collection")
    args = parser.parse_args(argv)
    for name in args.sets.split(","):
        s = eval_set(name)
        with opened(s, log=lambda _: None) as (services, _):
            routed = services.retriever
            plain = variant(routed, router=None)
            records = sorted((r for r in services.registry.documents(name) if r.current), key=lambda r: r.file_name)
            position = {r.file_name: i for i, r in enumerate(records)}
            questions = [q for q in s.questions() if q.answerable]
            for label, retriever in (("without routing", plain), ("with routing", routed)):
                found = 0
                for q in questions:
                    first = position[q.evidence[0].file]
                    ids = [records[(first + j) % len(records)].id for j in range(args.size)]
                    evidence = {(e.file, e.page) for e in q.evidence}
                    found += hit_at_5(retriever.search(q.question, 10, [name], ids), evidence)
                print(f"{name}: {len(questions)} questions, {args.size} documents each, {label}: "
                      f"page recall@5 {found / len(questions):.3f}", flush=True)


if __name__ == "__main__":
    main()
