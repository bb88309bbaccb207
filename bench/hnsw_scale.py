"""Why HNSW lost the exact top 10 at 1M chunks of the derived corpus (issue #22): the graph alone, case by case.

    pip install -e '.[bench]'     # chroma-hnswlib: Chroma's fork of hnswlib, the graph Chroma's index is built with
    python -m bench.hnsw_scale [--cases copies12-100k,copies41-330k,...] [--ef 100,400] [--chroma 16,32 --no-graph]

At 1M chunks `bench.search_scale` found Chroma's top 10 sharing 0.11 of the exact top 10 (0.98 at 300k). A Chroma
build of 1M takes over an hour, most of it in SQLite; the graph is hnswlib's either way. So this builds the graph
directly with the same library and Chroma's defaults (cosine, M 16, construction breadth 100, both cores), on the
corpus recipe of `bench/corpus.py` (each derived row = a real base vector + isotropic noise, cos ≈ 0.90 to it), and
varies one thing at a time. The recipe's two ratios — ≈12 noisy copies of each base vector at 300k rows, ≈41 at 1M —
are rebuilt on 8,000 base vectors (100k and 330k rows; embedding the corpus's 24,000 took longer than the
experiment), so the default cases separate

- copies per base vector at the same size (100k rows with ≈12 or ≈41 copies each),
- size at the same copies (≈41 copies at 100k and 330k rows),
- the graph's degree (M) and construction breadth at ≈41 copies,
- centres: the derived rows without their exact base vectors in the index,
- exact duplicates instead of noisy copies (a document's unchanged passages in each of its stored versions).

Per case and search breadth (ef): recall@10 against exact numpy search, by id and by score (a hit within 0.01
cosine of the exact tenth counts, as in search_scale), and self-recall: the share of sampled stored rows that a
search with the row's own vector finds (or an exact copy of it) at rank 1 — a graph split into islands cannot
reach some of its rows.
Queries are search_scale's: half hr-benefits questions, half a real sentence of a base chunk, embedded with the
default embedder. Build and query times are this library's on two cores, not Chroma's (no SQLite, no filter).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from bench import corpus, report
from bench.search_scale import TIE, K, make_queries


@dataclass(frozen=True)
class Case:
    name: str
    size: int
    base: int | None  # base vectors to derive from (None: all of them, the corpus recipe)
    m: int = 16
    construction: int = 100
    centres: bool = True  # the exact base vectors are rows of the index
    sigma: float = corpus.SIGMA  # the copies' noise (0: exact duplicates, as a document's unchanged versions)
    note: str = ""


CASES = {c.name: c for c in (
    # the corpus recipe's two ratios on 8,000 base vectors: ≈12 copies each (its 300k) and ≈41 (its 1M)
    Case("copies12-100k", 100_000, 8_000, note="≈12 noisy copies per base vector, as the 300k corpus"),
    Case("copies41-330k", 330_000, 8_000, note="≈41 noisy copies per base vector, as the 1M corpus"),
    Case("copies41-100k", 100_000, 2_400, note="≈41 copies at the smaller size: copies, not size"),
    Case("copies41-330k-m32", 330_000, 8_000, m=32, note="≈41 copies, M 32 (64 links per row on the bottom layer)"),
    Case("copies41-330k-construction400", 330_000, 8_000, construction=400, note="≈41 copies, construction 400"),
    Case("copies41-330k-no-centres", 330_000, 8_000, centres=False,
         note="≈41 copies, the base vectors themselves not stored"),
    Case("duplicates12-100k", 100_000, 8_000, sigma=0.0, note="each vector stored ≈12 times exactly"),
    Case("duplicates41-100k", 100_000, 2_400, sigma=0.0,
         note="each vector stored ≈41 times exactly (as one document's unchanged passages in 41 versions)"),
    Case("duplicates41-100k-m32", 100_000, 2_400, m=32, sigma=0.0, note="each vector stored ≈41 times exactly, M 32"),
    # the corpus recipe itself (needs the full 24,000 base vectors: python -m bench.corpus --base 24000)
    Case("natural-300k", 300_000, None, note="the corpus recipe at 300k"),
    Case("natural-1m", 1_000_000, None, note="the corpus recipe at 1M"),
    Case("natural-1m-m32", 1_000_000, None, m=32, note="the corpus recipe at 1M, M 32"),
)}


def derived(real: np.ndarray, case: Case) -> tuple[np.ndarray, np.ndarray]:
    """Rows as bench/corpus.py makes them: the base vectors first, then base + N(0, σ²) per row, normalised; and the
    base vector each row was made from."""
    n_base = len(real) if case.base is None else min(case.base, len(real))
    out = np.empty((case.size, real.shape[1]), dtype=np.float32)
    out[:n_base] = real[:n_base]
    base_of = np.arange(case.size, dtype=np.int64)
    for lo in range(n_base, case.size, corpus.BLOCK):
        hi = min(case.size, lo + corpus.BLOCK)
        rng = np.random.default_rng([corpus.SEED, lo // corpus.BLOCK])
        picks = rng.integers(0, n_base, size=hi - lo)
        noisy = real[picks] + rng.normal(0.0, case.sigma, size=(hi - lo, real.shape[1])).astype(np.float32)
        out[lo:hi] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
        base_of[lo:hi] = picks
    return (out, base_of) if case.centres else (out[n_base:], base_of[n_base:])


def exact_top(rows: np.ndarray, queries: np.ndarray, depth: int = K) -> tuple[np.ndarray, np.ndarray]:
    """Exact top `depth` ids and scores per query (cosine of unit vectors), in blocks of rows."""
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    best = np.zeros((len(queries), 0), dtype=np.float32)
    for lo in range(0, len(rows), 200_000):
        scores = queries @ rows[lo: lo + 200_000].T
        part = np.argpartition(-scores, depth, axis=1)[:, :depth]
        best = np.concatenate([best, np.take_along_axis(scores, part, 1)], axis=1)
        best_ids = np.concatenate([best_ids, part + lo], axis=1)
        keep = np.argsort(-best, axis=1)[:, :depth]
        best, best_ids = np.take_along_axis(best, keep, 1), np.take_along_axis(best_ids, keep, 1)
    return best_ids, best


def run_case(case: Case, real: np.ndarray, queries: np.ndarray, efs: list[int], threads: int,
             self_sample: int, log: Any) -> dict[str, Any]:
    import hnswlib

    rows, _ = derived(real, case)
    log(f"{case.name}: {len(rows):,} rows derived; building M {case.m}, construction {case.construction}")
    index = hnswlib.Index(space="cosine", dim=rows.shape[1])
    index.init_index(max_elements=len(rows), M=case.m, ef_construction=case.construction, random_seed=100)
    t0 = time.perf_counter()
    for lo in range(0, len(rows), 100_000):
        index.add_items(rows[lo: lo + 100_000], np.arange(lo, min(len(rows), lo + 100_000)), num_threads=threads)
        log(f"{case.name}: {min(len(rows), lo + 100_000):,} added ({time.perf_counter() - t0:.0f} s)")
    build_s = time.perf_counter() - t0
    truth_ids, truth_scores = exact_top(rows, queries)
    tenth = truth_scores[:, K - 1]
    rng = np.random.default_rng(7)
    sample = rng.choice(len(rows), size=min(self_sample, len(rows)), replace=False)
    out: dict[str, Any] = {"case": case.name, "note": case.note, "rows": len(rows), "m": case.m,
                           "construction": case.construction, "build_s": round(build_s, 1),
                           "inserts_per_s": round(len(rows) / build_s), "by_ef": []}
    for ef in efs:
        index.set_ef(ef)
        t0 = time.perf_counter()
        found, _ = index.knn_query(queries, k=K, num_threads=1)
        per_query_ms = (time.perf_counter() - t0) * 1000 / len(queries)
        by_id = float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth_ids, strict=True)]))
        found_scores = np.einsum("qd,qkd->qk", queries, rows[found.astype(np.int64)])
        by_score = float(np.mean(found_scores >= tenth[:, None] - TIE))
        own, _ = index.knn_query(rows[sample], k=1, num_threads=threads)
        # found itself, or an exact copy of itself
        self_recall = float(np.mean(np.einsum("sd,sd->s", rows[sample], rows[own[:, 0].astype(np.int64)]) > 0.9999))
        out["by_ef"].append({"ef": ef, "recall@10_by_id": round(by_id, 3), "recall@10_by_score": round(by_score, 3),
                             "self_recall@1": round(self_recall, 3), "query_ms": round(per_query_ms, 2)})
        log(f"{case.name} ef {ef}: by id {by_id:.3f}, by score {by_score:.3f}, self {self_recall:.3f}")
    return out


def run_case_in_chroma(case: Case, real: dict[str, Any], queries: np.ndarray, m: int, log: Any) -> dict[str, Any]:
    """The same rows through Confidant's own store (ChromaStore, persistent, its search breadth; each row a passage
    with its base chunk's text), built with degree `m`: Chroma's add rate and recall@10 as the app searches."""
    import shutil
    import tempfile

    from bench.search_scale import COLLECTION, INDEX, PER_DOC, row_of
    from storage.records import Chunk
    from storage.vector_store import ChromaStore

    rows, base_of = derived(np.asarray(real["vectors"], dtype=np.float32), case)
    work = Path(tempfile.mkdtemp(prefix="bench-hnsw-chroma-"))
    try:
        store = ChromaStore.persistent(work, INDEX, max_neighbors=m)
        t0 = time.perf_counter()
        for lo in range(0, len(rows), 5_000):
            hi = min(len(rows), lo + 5_000)
            texts = [real["texts"][int(b)] for b in base_of[lo:hi]]
            chunks = [Chunk(f"d{i // PER_DOC:07d}", COLLECTION, f"doc{i // PER_DOC}.txt", 1, 0, len(t), t,
                            i % PER_DOC) for i, t in zip(range(lo, hi), texts, strict=True)]
            store.add(chunks, rows[lo:hi])
            if hi % 50_000 == 0 or hi == len(rows):
                log(f"{case.name} in Chroma, M {m}: {hi:,} added ({time.perf_counter() - t0:.0f} s)")
        build_s = time.perf_counter() - t0
        truth_ids, truth_scores = exact_top(rows, queries)
        tenth = truth_scores[:, K - 1]
        found, ms = [], []
        for q in queries:
            t1 = time.perf_counter()
            hits = store.query(q, 60, [COLLECTION])
            ms.append((time.perf_counter() - t1) * 1000)
            found.append([row_of(h.chunk.chunk_id) for h in hits[:K]])
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    by_id = float(np.mean([len(set(f) & set(t.tolist())) / K for f, t in zip(found, truth_ids, strict=True)]))
    by_score = float(np.mean([np.mean(rows[f] @ q >= tenth[n] - TIE) if f else 0.0
                              for n, (f, q) in enumerate(zip(found, queries, strict=True))]))
    return {"case": f"{case.name} (Chroma)", "rows": len(rows), "m": m, "build_s": round(build_s, 1),
            "inserts_per_s": round(len(rows) / build_s), "recall@10_by_id": round(by_id, 3),
            "recall@10_by_score": round(by_score, 3), "query_ms_p50": round(float(np.median(ms)), 1)}


def chroma_table(results: list[dict[str, Any]]) -> Table:
    t = Table(title="The same rows in Confidant's store (Chroma, search breadth 400, top 60 of one collection)")
    for col in ("case", "rows", "M", "build s", "inserts/s", "by id", "by score", "query p50 ms"):
        t.add_column(col, justify="left" if col == "case" else "right")
    for r in results:
        t.add_row(r["case"], f"{r['rows']:,}", str(r["m"]), str(r["build_s"]), str(r["inserts_per_s"]),
                  f"{r['recall@10_by_id']:.3f}", f"{r['recall@10_by_score']:.3f}", str(r["query_ms_p50"]))
    return t


def table(results: list[dict[str, Any]]) -> Table:
    t = Table(title="HNSW graph alone (hnswlib, Chroma's defaults unless named), recall@10 against exact search")
    for col in ("case", "rows", "M", "constr.", "build s", "ef", "by id", "by score", "self@1", "ms/query"):
        t.add_column(col, justify="left" if col == "case" else "right")
    for r in results:
        for e in r["by_ef"]:
            t.add_row(r["case"], f"{r['rows']:,}", str(r["m"]), str(r["construction"]), str(r["build_s"]),
                      str(e["ef"]), f"{e['recall@10_by_id']:.3f}", f"{e['recall@10_by_score']:.3f}",
                      f"{e['self_recall@1']:.3f}", f"{e['query_ms']:.2f}")
    return t


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", default="copies12-100k,copies41-330k,copies41-100k,copies41-330k-m32,"
                        "copies41-330k-no-centres,duplicates12-100k,duplicates41-100k",
                        help="comma-separated, of: " + ", ".join(CASES))
    parser.add_argument("--ef", default="100,400", help="search breadths, comma-separated")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--self-sample", type=int, default=2000, help="stored rows searched by their own vector")
    parser.add_argument("--base", type=int, default=8_000, help="real base vectors to embed (bench/corpus.py, cached)")
    parser.add_argument("--cache", type=Path, default=corpus.CACHE)
    parser.add_argument("--chroma", default="", help="also build each case in Chroma with these degrees (e.g. 16,32)")
    parser.add_argument("--no-graph", action="store_true", help="skip the hnswlib graphs (with --chroma)")
    parser.add_argument("--name", default="hnsw-scale")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from confidant.offline import enforce_offline

    enforce_offline()
    from rag.onnx_embedders import bge_small_embedder

    out = report.console(args.json)
    real = corpus.base(args.base, 60.0, log=out.print, cache=args.cache)
    embedder = bge_small_embedder()
    queries = np.stack([np.asarray(embedder.embed_query(text), dtype=np.float32)
                        for _, text in make_queries(real, args.queries)])
    del embedder
    vectors = np.asarray(real["vectors"], dtype=np.float32)
    efs = [int(e) for e in args.ef.split(",") if e]
    results: list[dict[str, Any]] = []
    in_chroma: list[dict[str, Any]] = []
    for name in (n for n in args.cases.split(",") if n):
        if not args.no_graph:
            results.append(run_case(CASES[name], vectors, queries, efs, args.threads, args.self_sample, out.print))
            out.print(table(results))
        for m in (int(x) for x in args.chroma.split(",") if x):
            in_chroma.append(run_case_in_chroma(CASES[name], real, queries, m, out.print))
            out.print(chroma_table(in_chroma))
    import hnswlib

    report.save(args.name, out, {"benchmark": "hnsw-scale", "machine": report.machine(),
                                 "library": f"chroma-hnswlib {getattr(hnswlib, '__version__', '?')}",
                                 "base_vectors": len(vectors), "sigma": corpus.SIGMA, "queries": len(queries),
                                 "results": results, "in_chroma": in_chroma}, args.json)


if __name__ == "__main__":
    main()
