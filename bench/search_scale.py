"""Search at scale (issue #9): p50/p95 latency and RSS of vector, BM25 and hybrid search at 100k and 1M chunks.

    python -m bench.search_scale [--sizes 100000,1000000] [--queries 200] [--build-minutes 60] [--json]

Corpus: bench/corpus.py — real Debian licence/manual/changelog text and hr-benefits chunks with real bge-small
vectors for a BASE set, the rest DERIVED (perturbed text, base vector + gaussian noise, cos ≈ 0.9). Read its
docstring: latencies and memory are meaningful, retrieval quality on the derived rows is not.

Per size, in order, each heavy phase in its own child process (one at a time, so each RSS is its own):
- build: a persistent ChromaStore and a TantivyKeywordIndex in a temp dir, filled through their `add` in batches
  of --batch (the ingestion path, minus embedding); insert time and RSS as it grows. Stops at --build-minutes and
  reports the measured rate and a labelled extrapolation.
  The keyword index (Tantivy) is filled through its real add(), which also replaces chunk ids already present;
  add() is then timed again on --probe-add new chunks against the full index.
- query: a fresh process opens the stores from disk (cold open + first query timed apart), warms up, then per
  query: vector (store.query top 60, for collections=["bench"] as the app always passes, and for None), BM25
  (keywords.search top 60, filtered), hybrid (both filtered + reciprocal_rank_fusion, as Retriever does for k=10 with
  the default 60 candidates; the registry checks and spelling correction are not included), and spelling
  correction (on by default in the app) timed on its own. RSS after open and after the queries.
- baseline (this process): exact cosine top 60 with numpy over the same vectors, held in RAM; recall@10 of
  Chroma's HNSW against it.
Query embedding is done once, outside the timings; one query's embedding time is reported on its own.
Timings are per query on a shared 2-core machine, with another benchmark running: read them as rough.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from rich.markup import escape
from rich.table import Table

from bench import corpus, report
from bench.paths import HR

HR_QUESTIONS = HR / "questions.jsonl"
INDEX = "chunks-bge-small-en-v1.5-int8"
COLLECTION = "bench"
K, DEPTH, RRF_K, PAGE_WEIGHT = 10, 60, 60, 0.5
TIE = 0.01  # cosine: scores this close to the exact tenth count as ties
PER_DOC = 64  # synthetic documents of 64 chunks: row i is document i // 64, chunk index i % 64
LABELS = {"vector": "vector, collections=None", "vector_filtered": "vector, collections=[bench] (app path)",
          "bm25": "BM25, collection filter (app path)", "page_bm25": "BM25 over whole pages, collection filter",
          "hybrid_chunks": "vector + BM25 + RRF (chunks only)",
          "hybrid": "hybrid = vector + BM25 + RRF + page BM25 (app path)",
          "spelling": "spelling correction (on by default)", "exact numpy": "BASELINE exact cosine, numpy"}
GOALS = {100_000: 30.0, 1_000_000: 100.0}
RSS_GOAL_GB = 8.0


def rss() -> dict[str, float]:
    """This process's memory now (VmRSS, anonymous and file-backed parts) and its peak (VmHWM), in MB.
    Not getrusage's ru_maxrss: Linux carries it over fork + exec, so a child would report its parent's peak."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return fields


def percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {"p50": round(float(np.percentile(a, 50)), 2), "p95": round(float(np.percentile(a, 95)), 2),
            "mean": round(float(a.mean()), 2), "n": len(ms)} if ms else {}


def disk_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1) if path.exists() else 0.0


def row_of(chunk_id: str) -> int:
    _, doc, index = chunk_id.split("/")
    return int(doc[1:]) * PER_DOC + int(index)


def chunks_between(data: corpus.Corpus, lo: int, hi: int) -> list[Any]:
    from storage.records import Chunk

    blob = np.memmap(data.folder / "texts.bin", dtype=np.uint8, mode="r")
    raw = bytes(blob[data.offsets[lo]: data.offsets[hi]])
    base = int(data.offsets[lo])
    out = []
    for i in range(lo, hi):
        text = raw[data.offsets[i] - base: data.offsets[i + 1] - base].decode("utf-8")
        out.append(Chunk(f"d{i // PER_DOC:07d}", COLLECTION, data.file_name(i), 1 + (i % PER_DOC) // 8, 0, len(text),
                         text, i % PER_DOC))
    return out


def page_passages_of(chunks: list[Any]) -> list[Any]:
    """The synthetic pages of these chunks (8 consecutive chunks each; a batch holds whole pages), as the page
    index stores them: one passage per page, its chunks' texts one per line."""
    from storage.records import Chunk

    by_page: dict[tuple[str, int], list[Any]] = {}
    for c in chunks:
        by_page.setdefault((c.document_id, c.page), []).append(c)
    out = []
    for (doc, page), group in by_page.items():
        text = "\n".join(c.text for c in group)
        out.append(Chunk(doc, COLLECTION, group[0].file_name, page, 0, len(text), text, page))
    return out


# --- child phases ---------------------------------------------------------------------------------------------
def build_phase(size: int, work: Path, batch: int, minutes: float, folder: Path, probe_add: int) -> dict[str, Any]:
    from rag.embedders import document_title
    from storage.keyword_index import TantivyKeywordIndex
    from storage.vector_store import ChromaStore

    data = corpus.load(folder)
    store = ChromaStore.persistent(work / "chroma", INDEX)
    keywords = TantivyKeywordIndex(work / "keywords.sqlite3")
    pages = TantivyKeywordIndex(work / "pages.sqlite3", count_words=False, title_weight=0.0)
    chroma_s = fts_s = pages_s = 0.0
    growth: list[dict[str, Any]] = []
    started = time.perf_counter()
    done = 0
    for lo in range(0, size, batch):
        hi = min(size, lo + batch)
        chunks = chunks_between(data, lo, hi)
        vectors = np.asarray(data.vectors[lo:hi])
        t0 = time.perf_counter()
        store.add(chunks, vectors)
        t1 = time.perf_counter()
        titles = [document_title(c.file_name) for c in chunks]
        keywords.add(chunks, titles)
        t2 = time.perf_counter()
        passages = page_passages_of(chunks)
        pages.add(passages, [document_title(c.file_name) for c in passages])
        pages_s += time.perf_counter() - t2
        chroma_s, fts_s, done = chroma_s + t1 - t0, fts_s + t2 - t1, hi
        if hi % 50_000 < batch or hi == size:
            growth.append({"chunks": hi, "seconds": round(time.perf_counter() - started, 1),
                           "chroma_rate_per_s": round(hi / chroma_s, 1), "fts_rate_per_s": round(hi / fts_s, 1),
                           **rss()})
            print(f"build {size}: {growth[-1]}", file=sys.stderr, flush=True)
        if time.perf_counter() - started > minutes * 60 and hi < size:
            break
    t0 = time.perf_counter()
    count = store.count()
    count_s = time.perf_counter() - t0
    probe = chunks_between(data, 0, probe_add)
    probe = [replace(c, collection="probe") for c in probe]  # new ids, so add() inserts rather than replaces
    t0 = time.perf_counter()
    keywords.add(probe, [document_title(c.file_name) for c in probe])
    add_s = time.perf_counter() - t0
    return {"size": size, "built": done, "complete": done == size, "count_check": count,
            "fts_add_probe": {"chunks": probe_add, "seconds": round(add_s, 2),
                              "ms_per_chunk": round(add_s * 1000 / max(1, probe_add), 1)},
            "count_seconds": round(count_s, 2), "wall_seconds": round(time.perf_counter() - started, 1),
            "chroma_seconds": round(chroma_s, 1), "fts_seconds": round(fts_s, 1), "pages_seconds": round(pages_s, 1),
            "chroma_rate_per_s": round(done / chroma_s, 1), "fts_rate_per_s": round(done / fts_s, 1),
            "growth": growth, "rss_after_build": rss()}


def query_phase(work: Path, queries_file: Path, more_diagnostics: bool) -> dict[str, Any]:
    from rag.retriever import fuse_pages, reciprocal_rank_fusion
    from rag.spelling import SpellingCorrector, dictionary_words
    from storage.keyword_index import TantivyKeywordIndex
    from storage.vector_store import ChromaStore

    with np.load(queries_file) as z:
        vectors = z["vectors"]
    texts: list[str] = json.loads(queries_file.with_suffix(".json").read_text("utf-8"))
    before = rss()
    t0 = time.perf_counter()
    store = ChromaStore.persistent(work / "chroma", INDEX)
    keywords = TantivyKeywordIndex(work / "keywords.sqlite3")
    pages = TantivyKeywordIndex(work / "pages.sqlite3", count_words=False, title_weight=0.0)
    opened = time.perf_counter() - t0
    t0 = time.perf_counter()
    store.query(vectors[0], DEPTH)
    first_vector = time.perf_counter() - t0
    t0 = time.perf_counter()
    keywords.search(texts[0], DEPTH, [COLLECTION])
    first_bm25 = time.perf_counter() - t0
    speller = SpellingCorrector(keywords.vocabulary, dictionary=lambda: dictionary_words(("en",)))
    t0 = time.perf_counter()
    speller.correct(texts[0], [COLLECTION])
    first_spelling = time.perf_counter() - t0
    after_open = rss()
    raw = store._col(COLLECTION)  # the Chroma collection behind it, for the diagnostics only
    assert raw is not None
    for q, v in zip(texts[:5], vectors[:5]):  # warm-up
        store.query(v, DEPTH)
        keywords.search(q, DEPTH, [COLLECTION])
        pages.search(q, DEPTH, [COLLECTION])
    diagnostics: list[tuple[str, Any, list[str]]] = [("diag: vector, no filter, ids+distances only", None, ["distances"])]
    if more_diagnostics:
        diagnostics.append(("diag: vector, metadata filter collection $eq (matches all)", {"collection": COLLECTION},
                            ["documents", "metadatas", "distances"]))
    ms: dict[str, list[float]] = {m: [] for m in ("vector", "vector_filtered", "bm25", "page_bm25", "hybrid_chunks",
                                                  "hybrid", "spelling", *(d[0] for d in diagnostics))}
    top: dict[str, list[list[int]]] = {"vector": [], "vector_filtered": [], "hybrid": []}
    hits_bm25: list[int] = []
    for n, (q, v) in enumerate(zip(texts, vectors)):
        # the two vector searches alternate which goes first, so neither always gets the other's warm caches
        for first in ((False, True) if n % 2 else (True, False)):
            t0 = time.perf_counter()
            got = store.query(v, DEPTH, [COLLECTION] if first else None)
            ms["vector_filtered" if first else "vector"].append((time.perf_counter() - t0) * 1000)
            if first:
                filtered = got
            else:
                hits = got
        for mode, where, include in diagnostics:
            t0 = time.perf_counter()
            raw.query(query_embeddings=[v.tolist()], n_results=DEPTH, where=where, include=include)
            ms[mode].append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        found = keywords.search(q, DEPTH, [COLLECTION])
        t1 = time.perf_counter()
        chunk_fused = reciprocal_rank_fusion([filtered, found], RRF_K)
        t2 = time.perf_counter()
        page_hits = pages.search(q, DEPTH, [COLLECTION])
        t3 = time.perf_counter()
        # as Retriever._by_page: pages in fused order, a page only the page index found shown by its nearest chunk
        fused = []
        for key, _, passages in fuse_pages(chunk_fused, page_hits, PAGE_WEIGHT, RRF_K)[:K]:
            nearest = passages[:1] or [h for h in [store.best_on_page(v, *key)] if h is not None]
            fused.extend(nearest)
        t4 = time.perf_counter()
        speller.correct(q, [COLLECTION])
        t5 = time.perf_counter()
        ms["bm25"].append((t1 - t0) * 1000)
        ms["page_bm25"].append((t3 - t2) * 1000)
        # hybrid = the filtered vector search + BM25 + fusion (+ page BM25 + page fusion), as Retriever runs them
        ms["hybrid_chunks"].append(ms["vector_filtered"][-1] + (t2 - t0) * 1000)
        ms["hybrid"].append(ms["vector_filtered"][-1] + (t4 - t0) * 1000)
        ms["spelling"].append((t5 - t4) * 1000)
        top["vector"].append([row_of(h.chunk.chunk_id) for h in hits[:K]])
        top["vector_filtered"].append([row_of(h.chunk.chunk_id) for h in filtered[:K]])
        top["hybrid"].append([row_of(h.chunk.chunk_id) for h in fused])
        hits_bm25.append(len(found))
        if (n + 1) % 25 == 0:
            print(f"query: {n + 1}/{len(texts)}, RSS {rss()['VmRSS']} MB", file=sys.stderr, flush=True)
    return {"open_seconds": round(opened, 3), "first_vector_query_seconds": round(first_vector, 3),
            "first_bm25_query_seconds": round(first_bm25, 3), "first_spelling_seconds": round(first_spelling, 3),
            "ms": ms, "top": top, "bm25_hits": hits_bm25,
            "rss_before_open": before, "rss_after_open": after_open, "rss_after_queries": rss()}


def child(phase: str, args: list[str], out: Path, log: Any) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.search_scale", "--phase", phase, "--out", str(out), *args]
    log(f"[dim]$ {' '.join(command)}[/]")
    subprocess.run(command, check=True)
    return dict(json.loads(out.read_text("utf-8")))


# --- the run ------------------------------------------------------------------------------------------------------
def make_queries(real: dict[str, Any], n: int) -> list[tuple[str, str]]:
    """(kind, text): half hr-benefits questions, half one real sentence (8–30 words; else 15 words) of a random
    non-HR base chunk."""
    rng = np.random.default_rng(corpus.SEED + 1)
    hr = [json.loads(line)["question"] for line in HR_QUESTIONS.read_text("utf-8").splitlines() if line.strip()]
    picked = [("hr question", hr[i]) for i in sorted(rng.choice(len(hr), size=min(len(hr), n // 2), replace=False))]
    others = [i for i, f in enumerate(real["files"]) if not f.endswith(".pdf")]
    while len(picked) < n:
        text = real["texts"][others[int(rng.integers(len(others)))]]
        sentences = [s for s in corpus._SENTENCE.split(text) if 8 <= len(s.split()) <= 30]
        words = text.split()
        at = int(rng.integers(max(1, len(words) - 15)))
        sentence = sentences[int(rng.integers(len(sentences)))] if sentences else " ".join(words[at: at + 15])
        picked.append(("chunk sentence", sentence))
    return picked


def exact_baseline(data: corpus.Corpus, qvecs: np.ndarray, built: int,
                   found: dict[str, list[list[int]]]) -> dict[str, Any]:
    """Exact top 60 per query (timed), and how good each mode's top 10 in `found` is against it: recall@10 by id,
    and by score — a hit counts when its exact score is within TIE of the exact tenth score. The derived corpus has
    ~N/9,216 near-copies of every base vector at almost the same distance, so ids alone understate HNSW at 1M."""
    started = time.perf_counter()
    matrix = np.ascontiguousarray(data.vectors[:built], dtype=np.float32)  # unit vectors already
    load_s = time.perf_counter() - started
    ms, truth, ties = [], [], []
    by_score: dict[str, list[float]] = {m: [] for m in found}
    for n, q in enumerate(qvecs):
        t0 = time.perf_counter()
        scores = matrix @ q
        part = np.argpartition(-scores, DEPTH)[:DEPTH]
        order = part[np.argsort(-scores[part])]
        ms.append((time.perf_counter() - t0) * 1000)
        truth.append([int(i) for i in order[:K]])
        tenth = float(scores[order[K - 1]])
        ties.append(int(np.count_nonzero(scores >= tenth - TIE)))
        for mode, lists in found.items():
            hits = [i for i in lists[n][:K] if i < built]
            by_score[mode].append(sum(float(scores[i]) >= tenth - TIE for i in hits) / K)
    del matrix
    return {"ms": ms, "truth": truth, "load_seconds": round(load_s, 1),
            "recall@10_by_score": {m: round(float(np.mean(v)), 4) for m, v in by_score.items()},
            "rows_within_tie_of_10th_p50": float(np.median(ties))}


def recall(found: list[list[int]], truth: list[list[int]]) -> float:
    return round(float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)])), 4)


def run_size(size: int, real: dict[str, Any], qfile: Path, qvecs: np.ndarray, args: argparse.Namespace,
             log: Any) -> dict[str, Any]:
    data = corpus.build(size, real, log=lambda m: log(f"[dim]{m}[/]"), cache=args.cache)
    root = Path(tempfile.mkdtemp(prefix=f"bench-search-{size}-", dir=args.workdir))
    try:
        build = child("build", ["--size", str(size), "--work", str(root), "--batch", str(args.batch),
                                "--corpus", str(data.folder), "--probe-add", str(args.probe_add),
                                "--build-minutes", str(args.build_minutes)], root / "build.json", log)
        log(f"build {size}: {build['built']} chunks, Chroma {build['chroma_seconds']} s, BM25 {build['fts_seconds']} s, "
            f"pages {build['pages_seconds']} s")
        disk = {"chroma_mb": disk_mb(root / "chroma"), "fts_mb": round(disk_mb(root) - disk_mb(root / "chroma"), 1),
                "chroma_sqlite_mb": round((root / "chroma" / "chroma.sqlite3").stat().st_size / 2**20, 1)}
        query = child("query", ["--work", str(root), "--queries-file", str(qfile),
                                *(["--diagnostics"] if args.diagnostics else [])], root / "query.json", log)
        exact = exact_baseline(data, qvecs, build["built"],
                               {m: query["top"][m] for m in ("vector", "vector_filtered", "hybrid")})
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    kinds = [k for k, _ in make_queries(real, len(qvecs))]
    modes = {m: percentiles(v) for m, v in query["ms"].items()} | {"exact numpy": percentiles(exact["ms"])}
    by_kind = {m: {kind: percentiles([x for x, k in zip(v, kinds) if k == kind]) for kind in sorted(set(kinds))}
               for m, v in query["ms"].items()}
    slow = sorted(range(len(kinds)), key=lambda i: -query["ms"]["bm25"][i])[:3]
    return {"size": size, "built": build["built"], "build": build, "disk": disk, "modes": modes, "by_kind": by_kind,
            "recall@10_vs_exact": {m: recall(query["top"][m], exact["truth"]) for m in ("vector", "vector_filtered")},
            "hybrid_top10_overlap_with_exact_vector": recall(query["top"]["hybrid"], exact["truth"]),
            "recall@10_by_score": exact["recall@10_by_score"],
            "rows_within_tie_of_10th_p50": exact["rows_within_tie_of_10th_p50"],
            "query": {k: v for k, v in query.items() if k not in ("ms", "top", "bm25_hits")},
            "bm25_mean_hits": round(float(np.mean(query["bm25_hits"])), 1),
            "slowest_bm25": [{"ms": round(query["ms"]["bm25"][i], 1), "query": make_queries(real, len(qvecs))[i][1]}
                             for i in slow],
            "exact_load_seconds": exact["load_seconds"], "corpus": data.meta}


def tables(results: list[dict[str, Any]], embed: dict[str, float]) -> list[Table]:
    lat = Table(title="Search latency per query, ms (top 60; warm; one process; 2 shared cores)")
    for col in ("chunks", "mode", "p50", "p95", "mean", "goal p50", "vs exact p50"):
        lat.add_column(col, justify="left" if col == "mode" else "right")
    for r in results:
        goal = GOALS.get(r["size"]) if r["build"]["complete"] else None
        exact = r["modes"]["exact numpy"]["p50"]
        for mode, p in r["modes"].items():
            ok = goal is not None and mode in ("vector_filtered", "bm25", "hybrid")
            style = None if not ok else "green" if p["p50"] <= goal else "red"
            lat.add_row(f"{r['built']:,}", escape(LABELS.get(mode, mode)), str(p["p50"]), str(p["p95"]), str(p["mean"]),
                        f"≤ {goal:.0f}" if ok else "", f"{report.ratio(p['p50'], exact)}×", style=style)
    lat.add_row("—", "embed one query (bge-small)", str(embed["p50"]), str(embed["p95"]), str(embed["mean"]), "", "")
    build = Table(title="Build, memory, disk, approximation")
    for col in ("chunks", "Chroma insert/s", "BM25 insert/s", "BM25 add() ms/chunk", "build min", "build peak RSS MB",
                "query RSS MB (open / after)", "query peak MB", "disk Chroma MB", "disk BM25 MB",
                "recall@10 HNSW", "cold open + 1st q s"):
        build.add_column(col, justify="right")
    for r in results:
        b, q = r["build"], r["query"]
        build.add_row(f"{r['built']:,}{'' if b['complete'] else ' (partial)'}", str(b["chroma_rate_per_s"]),
                      str(b["fts_rate_per_s"]), str(b["fts_add_probe"]["ms_per_chunk"]),
                      f"{b['wall_seconds'] / 60:.1f}", str(b["rss_after_build"]["VmHWM"]),
                      f"{q['rss_after_open']['VmRSS']} / {q['rss_after_queries']['VmRSS']}",
                      str(q["rss_after_queries"]["VmHWM"]), str(r["disk"]["chroma_mb"]), str(r["disk"]["fts_mb"]),
                      f"{r['recall@10_vs_exact']['vector']} / {r['recall@10_vs_exact']['vector_filtered']} (filtered)",
                      f"{q['open_seconds'] + q['first_vector_query_seconds']:.2f}")
    return [lat, build]


def notes(r: dict[str, Any]) -> list[str]:
    """The details behind one size's rows: query kinds, slow BM25 queries, memory against the goal."""
    q, kinds = r["query"], r["by_kind"]
    peak = q["rss_after_queries"]["VmHWM"] / 1024
    lines = [f"{r['built']:,} chunks — p50 / p95 ms by query kind: " + "; ".join(
        f"{LABELS.get(m, m).split(' (')[0].split(',')[0]} " + ", ".join(
            f"{kind} {p.get('p50')} / {p.get('p95')}" for kind, p in kinds[m].items())
        for m in ("vector_filtered", "bm25", "hybrid")),
        f"  BM25 returned {r['bm25_mean_hits']} hits on average; slowest BM25 queries: " + " | ".join(
            f"{s['ms']} ms: {s['query'][:70]!r}" for s in r["slowest_bm25"]),
        f"  query process peak RSS {peak:.2f} GB (goal ≤ {RSS_GOAL_GB:.0f} GB at 1M); build process peak "
        f"{r['build']['rss_after_build']['VmHWM'] / 1024:.2f} GB (includes the memory-mapped corpus it reads); "
        f"cold: open {q['open_seconds']} s, first vector query {q['first_vector_query_seconds']} s, first BM25 "
        f"{q['first_bm25_query_seconds']} s, first spelling correction (vocabulary load) {q['first_spelling_seconds']} s",
        f"  BM25 add() of {r['build']['fts_add_probe']['chunks']} new chunks into the built index: "
        f"{r['build']['fts_add_probe']['seconds']} s; disk: Chroma {r['disk']['chroma_mb']} MB (chroma.sqlite3 "
        f"{r['disk']['chroma_sqlite_mb']} MB), BM25 {r['disk']['fts_mb']} MB; "
        f"hybrid top-10 overlap with exact vector top-10 {r['hybrid_top10_overlap_with_exact_vector']}",
        f"  recall@10 by score (a hit within {TIE} cosine of the exact tenth counts; median "
        f"{r['rows_within_tie_of_10th_p50']:.0f} rows are that close): "
        + ", ".join(f"{m} {v}" for m, v in r["recall@10_by_score"].items())]
    return lines


def extrapolation(r: dict[str, Any]) -> str | None:
    b = r["build"]
    if b["complete"]:
        return None
    rate = b["built"] / b["wall_seconds"]
    return (f"EXTRAPOLATION (not measured): {b['built']:,} of {r['size']:,} chunks inserted in "
            f"{b['wall_seconds'] / 60:.1f} min ({rate:.0f} chunks/s overall); at that rate the full build would take "
            f"≈ {r['size'] / rate / 3600:.1f} h, assuming a constant rate (HNSW inserts slow down as the graph grows).")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="100000", help="corpus sizes, comma-separated (e.g. 100000,1000000)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--batch", type=int, default=5000, help="chunks per add() while building")
    parser.add_argument("--build-minutes", type=float, default=60.0, help="stop building a size after this long")
    parser.add_argument("--base", type=int, default=24_000, help="real chunks to embed for the corpus (cached)")
    parser.add_argument("--base-minutes", type=float, default=15.0, help="time budget for embedding the base set")
    parser.add_argument("--cache", type=Path, default=corpus.CACHE, help="corpus cache folder")
    parser.add_argument("--workdir", type=Path, default=None, help="where the temp stores go (default: system tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the built stores")
    parser.add_argument("--probe-add", type=int, default=50,
                        help="after building, time TantivyKeywordIndex.add of this many new chunks")
    parser.add_argument("--diagnostics", action="store_true", help="also time a vector query with a $eq filter")
    parser.add_argument("--name", default="search-scale", help="results file name prefix")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    parser.add_argument("--phase", choices=("build", "query"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--queries-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from confidant.offline import enforce_offline

    enforce_offline()
    if args.phase:
        result = (build_phase(args.size, args.work, args.batch, args.build_minutes, args.corpus,
                              args.probe_add) if args.phase == "build"
                  else query_phase(args.work, args.queries_file, args.diagnostics))
        args.out.write_text(json.dumps(result), encoding="utf-8")
        return

    from rag.onnx_embedders import bge_small_embedder

    out = report.console(args.json)
    context = report.machine()
    real = corpus.base(args.base, args.base_minutes, log=out.print, cache=args.cache)
    queries = make_queries(real, args.queries)
    embedder = bge_small_embedder()
    embedder.embed_query("warm-up")
    embed_ms, qvecs = [], []
    for _, text in queries:
        t0 = time.perf_counter()
        qvecs.append(np.asarray(embedder.embed_query(text), dtype=np.float32))
        embed_ms.append((time.perf_counter() - t0) * 1000)
    del embedder
    qfile = Path(tempfile.mkdtemp(prefix="bench-search-queries-")) / "queries.npz"
    np.savez(qfile, vectors=np.stack(qvecs))
    qfile.with_suffix(".json").write_text(json.dumps([t for _, t in queries]), encoding="utf-8")
    results: list[dict[str, Any]] = []
    payload: dict[str, Any] = {"benchmark": "search-scale", "machine": context, "corpus_docstring": corpus.__doc__,
                               "queries": {"n": len(queries), "hr questions": sum(k == "hr question" for k, _ in queries),
                                           "chunk sentences": sum(k == "chunk sentence" for k, _ in queries)},
                               "embed_one_query_ms": percentiles(embed_ms), "results": results}
    for size in (int(s) for s in args.sizes.split(",") if s):
        results.append(run_size(size, real, qfile, np.stack(qvecs), args, out.print))
        for t in tables(results, payload["embed_one_query_ms"]):
            out.print(t)
        for r in results:
            for line in notes(r):
                out.print(line, highlight=False)
            if (note := extrapolation(r)) is not None:
                out.print(f"[bold yellow]{note}[/]")
                r["extrapolation"] = note
        out.print(f"corpus: {real['meta']['chunks']:,} REAL chunks with real {real['meta']['model']} vectors; "
                  f"every other row DERIVED (perturbed text; vector = base + noise, mean cos to base "
                  f"{[r['corpus'].get('mean_cos_derived_to_base') for r in results]}); see bench/corpus.py.")
        report.save(args.name, out, {**payload, "load_average_end": [round(x, 2) for x in __import__("os").getloadavg()]},
                    args.json)
    shutil.rmtree(qfile.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
