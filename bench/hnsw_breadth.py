"""HNSW search breadth (ef_search) on one built index: vector latency and recall@10 against exact search per breadth.

    python -m bench.search_scale --sizes 300000 --keep --workdir /tmp/s300      # builds and keeps the stores
    python -m bench.hnsw_breadth --work /tmp/s300/bench-search-300000-XXXX --size 300000 [--ef 100,400,800]

search_scale builds a new HNSW graph per run, and Chroma's multi-threaded build is not deterministic, so comparing
two search_scale runs mixes the breadth with the graph. This probes the same graph at each breadth: each breadth in
a fresh child process that opens the kept store with it (ChromaStore sets it on open, as the app does), warms up,
then times `store.query` (top 60, collections=["bench"], as the app asks) for the same queries as search_scale.
Exact top 10 by numpy over the same vectors is the baseline; recall@10 by id and by score (a hit within 0.01 cosine
of the exact tenth counts, as in search_scale).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from bench import corpus, report
from bench.search_scale import COLLECTION, DEPTH, INDEX, exact_baseline, make_queries, percentiles, recall, row_of, rss


def probe(work: Path, queries_file: Path, ef: int) -> dict[str, Any]:
    from storage.vector_store import ChromaStore

    vectors = np.load(queries_file)
    t0 = time.perf_counter()
    store = ChromaStore.persistent(work / "chroma", INDEX, ef_search=ef)
    store.query(vectors[0], DEPTH, [COLLECTION])
    first = time.perf_counter() - t0
    for v in vectors[:5]:
        store.query(v, DEPTH, [COLLECTION])
    ms, top = [], []
    for v in vectors:
        t0 = time.perf_counter()
        hits = store.query(v, DEPTH, [COLLECTION])
        ms.append((time.perf_counter() - t0) * 1000)
        top.append([row_of(h.chunk.chunk_id) for h in hits[:10]])
    return {"ef": ef, "open_and_first_query_s": round(first, 2), "ms": ms, "top": top, "rss": rss()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--work", type=Path, required=True, help="a store folder kept by search_scale --keep")
    parser.add_argument("--size", type=int, required=True, help="the corpus size it was built with")
    parser.add_argument("--ef", default="100,400,800", help="search breadths, comma-separated")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--base", type=int, default=24_000)
    parser.add_argument("--cache", type=Path, default=corpus.CACHE)
    parser.add_argument("--name", default="hnsw-breadth")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--phase-ef", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--queries-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from confidant.offline import enforce_offline

    enforce_offline()
    if args.phase_ef is not None:
        args.out.write_text(json.dumps(probe(args.work, args.queries_file, args.phase_ef)), encoding="utf-8")
        return

    from rag.onnx_embedders import bge_small_embedder

    out = report.console(args.json)
    real = corpus.base(args.base, 15.0, log=out.print, cache=args.cache)
    data = corpus.load(corpus.folder_of(args.size, args.base, args.cache))
    embedder = bge_small_embedder()
    qvecs = np.stack([np.asarray(embedder.embed_query(t), dtype=np.float32)
                      for _, t in make_queries(real, args.queries)])
    del embedder
    scratch = Path(tempfile.mkdtemp(prefix="bench-hnsw-breadth-"))
    np.save(scratch / "queries.npy", qvecs)
    runs = []
    for ef in (int(x) for x in args.ef.split(",") if x):
        result = scratch / f"ef-{ef}.json"
        command = [sys.executable, "-m", "bench.hnsw_breadth", "--work", str(args.work), "--size", str(args.size),
                   "--phase-ef", str(ef), "--queries-file", str(scratch / "queries.npy"), "--out", str(result)]
        out.print(f"[dim]$ {' '.join(command)}[/]")
        subprocess.run(command, check=True)
        runs.append(json.loads(result.read_text("utf-8")))
    exact = exact_baseline(data, qvecs, args.size, {f"ef {r['ef']}": r["top"] for r in runs})
    table = Table(title=f"HNSW search breadth on one graph of {args.size:,} chunks (top 60, one collection)")
    for column in ("ef_search", "p50 ms", "p95 ms", "recall@10 by id", "recall@10 by score", "open + 1st query s"):
        table.add_column(column, justify="right")
    rows = []
    for r in runs:
        row = {"ef": r["ef"], **percentiles(r["ms"]), "recall@10": recall(r["top"], exact["truth"]),
               "recall@10_by_score": exact["recall@10_by_score"][f"ef {r['ef']}"],
               "open_and_first_query_s": r["open_and_first_query_s"], "rss_mb": r["rss"]["VmHWM"]}
        rows.append(row)
        table.add_row(str(r["ef"]), f"{row['p50']:.1f}", f"{row['p95']:.1f}", f"{row['recall@10']:.3f}",
                      f"{row['recall@10_by_score']:.3f}", f"{row['open_and_first_query_s']:.1f}")
    exact_ms = percentiles(exact["ms"])
    table.add_row("exact (numpy)", f"{exact_ms['p50']:.1f}", f"{exact_ms['p95']:.1f}", "1.000", "1.000", "")
    out.print(table)
    out.print(f"rows within 0.01 cosine of the exact tenth, median: {exact['rows_within_tie_of_10th_p50']:.0f}")
    report.save(args.name, out, {"benchmark": "hnsw-breadth", "machine": report.machine(), "size": args.size,
                                 "work": str(args.work), "rows": rows,
                                 "rows_within_tie_of_10th_p50": exact["rows_within_tie_of_10th_p50"]}, args.json)


if __name__ == "__main__":
    main()
