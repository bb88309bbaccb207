"""Extra rows for bench/quality.py on any set: the default's parts left out in turn, ColBERT and cross-encoder
reranking, and the default's spread over several fresh indexings. Each takes open Services over a kept index."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.quality_sets import COLS, EvalSet, Log, measure, opened, variant
from rag.evaluation import Question
from storage.keyword_index import TITLE_WEIGHT

Rows = dict[str, dict[str, Any]]

# the default's settings changed one at a time (Retriever keyword arguments)
VARIANTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("no spelling correction", {"speller": None}),
    ("rrf_k=20", {"rrf_k": 20}),
    ("candidates=30", {"candidates": 30}),
    ("several passages per page", {"distinct_pages": False}),
    ("page stage at weight 1", {"page_weight": 1.0}),
    ("questions not split", {"split_questions": False}),
    ("chunks only (no page stage, questions not split)", {"page_weight": 0.0, "split_questions": False}),
)


def variant_rows(prefix: str, services: Any, questions: Sequence[Question], log: Log) -> Rows:
    """The default with one setting changed, for each of VARIANTS, and with title words in the page stage."""
    rows: Rows = {}
    r = services.retriever
    for label, kw in VARIANTS:
        alt = variant(r, **kw)
        rows[f"{prefix}, {label}"] = measure(questions, alt.search)
        log(f"  {label}: {rows[f'{prefix}, {label}']}")
    pages, weight = services.pages, services.pages.title_weight
    pages.title_weight = TITLE_WEIGHT  # page passages scored with their title words, as chunks are
    try:
        label = f"page stage with title words at {TITLE_WEIGHT}"
        rows[f"{prefix}, {label}"] = measure(questions, lambda q, n: r.search(q, n))
        log(f"  {label}: {rows[f'{prefix}, {label}']}")
    finally:
        pages.title_weight = weight
    return rows


def colbert_rows(prefix: str, services: Any, questions: Sequence[Question], log: Log, threads: int = 0) -> Rows:
    """The default + ColBERT over its top 20, with passage token vectors cached in memory (as if stored at
    indexing), and the cold cost (encoding the 20 passages at question time) on the first 12 questions."""
    from rag.rerankers import ColbertReranker

    r, reranker = services.retriever, ColbertReranker(threads=threads)
    fused = [h.chunk for q in questions for h in r.search(q.question, 20)]
    started = time.perf_counter()
    reranker.passage_vectors(fused)  # what indexing would store
    log(f"  ColBERT passage vectors for {len({c.chunk_id for c in fused})} chunks: "
        f"{time.perf_counter() - started:.0f} s")
    rows: Rows = {}
    for label, kw in (("+ ColBERT", {}), ("rrf_k=20 + ColBERT", {"rrf_k": 20})):
        alt = variant(r, reranker=reranker, **kw)
        rows[f"{prefix} {label}"] = measure(questions, alt.search)
        log(f"  {label}: {rows[f'{prefix} {label}']}")
    cold = variant(r, reranker=ColbertReranker(threads=threads))
    rows[f"{prefix} + ColBERT, cold (first 12 q)"] = measure(questions[:12], lambda q, n: cold.search(q, n))
    return rows


def cross_encoder_rows(prefix: str, services: Any, questions: Sequence[Question], n: int) -> Rows:
    """The default with and without the ms-marco cross-encoder over its top 20, on the first n questions."""
    from rag.rerankers import CrossEncoderReranker

    r = services.retriever
    ce = variant(r, reranker=CrossEncoderReranker())
    subset = questions[:n]
    return {f"{prefix} (first {n} q)": measure(subset, lambda q, k: r.search(q, k)),
            f"{prefix} + cross-encoder (first {n} q)": measure(subset, lambda q, k: ce.search(q, k))}


def rebuild_rows(prefix: str, s: EvalSet, questions: Sequence[Question], builds: int, first: dict[str, Any],
                 log: Log) -> Rows:
    """The default over `builds` separate indexings of the same files (the first is `first`, from the kept index):
    mean, lowest and highest of each metric. Indexes built from the same bytes are not bit-identical (Chroma builds
    its HNSW graph with several threads; Tantivy segments and ties), so their results differ a little."""
    runs = [first]
    with tempfile.TemporaryDirectory(prefix="bench-quality-builds-") as tmp:
        for n in range(2, builds + 1):
            with opened(s, Path(tmp) / f"build-{n}", log=log) as (services, _):
                runs.append(measure(questions, services.retriever.search))
            log(f"  build {n}: {runs[-1]}")
    summary: Rows = {}
    for label, pick in (("mean", lambda v: round(sum(v) / len(v), 4)), ("lowest", min), ("highest", max)):
        summary[f"{prefix}, {label} of {builds} builds"] = {
            c: pick([run[c] for run in runs]) for c in ("answerable", *COLS)}
    return summary
