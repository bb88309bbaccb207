"""Retrieval quality on every development set, side by side in one run, against LlamaIndex's default pipeline.

    python -m bench.quality [--sets hr,financebench,contracts] [--work DIR] [--json] [--no-baseline]
                            [--variants] [--minilm] [--colbert] [--chunk-sizes N ...] [--cross-encoder N]
                            [--builds N] [--threads N]
    python -m bench.quality --crosslingual

Per set: LlamaIndex's default pipeline (SimpleDirectoryReader, SentenceSplitter, the same MiniLM weights, Chroma)
and Confidant (bge-small INT8, Tantivy BM25 over chunks and whole pages, RRF, question splitting, spelling
correction) searched vector only, keyword only, hybrid without the page stage, and as the app runs it
(`services.retriever.search`). Extras: the default's parts left out in turn (--variants), MiniLM instead of bge
(--minilm), ColBERT reranking (--colbert), other chunk sizes, the cross-encoder, several fresh indexings (--builds).
Page recall@k: a top-k passage on an evidence page or the page after it; file recall@5: a top-5 passage from an
evidence file (rag.evaluation). Search p50/p95 per question, warm models, on a shared 2-core machine: rough.
Indexes are kept in --work (bench/quality_sets.py) and reused while the documents and chunk settings are unchanged.
"""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import quality_extras, report
from bench.quality_sets import (
    ALL_SETS,
    COLS,
    DEFAULT_WORK,
    EVAL_DIR,
    EvalSet,
    Kept,
    Log,
    eval_set,
    llamaindex_search,
    measure,
    opened,
    variant,
)
from rag.evaluation import Question

LLAMA = "LlamaIndex default (MiniLM)"
VECTOR, KEYWORD, NO_PAGES, NO_ROUTING, DEFAULT = (
    "Confidant vector only", "Confidant keyword only", "Confidant hybrid, no page stage, no routing",
    "Confidant default without routing", "Confidant default (as the app runs it)")
Rows = dict[str, dict[str, Any]]


def core_rows(services: Any, questions: Sequence[Question], log: Log, names: Sequence[str] = (
        VECTOR, KEYWORD, NO_PAGES, NO_ROUTING, DEFAULT)) -> Rows:
    """Each stage alone (vector only, keyword only: no routing, no page stage), hybrid without the page stage and
    routing, the default without routing (rag/routing.py) and the default, over one open index."""
    r = services.retriever
    plain = variant(r, router=None)
    searches = {VECTOR: lambda q, n: plain.search(q, n, mode="vector"),
                KEYWORD: lambda q, n: plain.search(q, n, mode="keyword"),
                NO_PAGES: variant(r, mode="hybrid", page_weight=0.0, router=None).search,
                NO_ROUTING: plain.search,
                DEFAULT: r.search}
    rows: Rows = {}
    for name in names:
        rows[name] = measure(questions, searches[name])
        log(f"  {name}: {rows[name]}")
    return rows


def index_note(kept: Kept) -> str:
    i = kept.info
    how = "built in this run" if kept.built else f"kept from {i.get('built')}"
    failed = f", NOT INDEXED: {i['not_indexed']}" if i.get("not_indexed") else ""
    return f"{i.get('pages')} pages, {i.get('chunks')} chunks, ingest {i.get('ingest_seconds')} s ({how}){failed}"


def run_set(s: EvalSet, args: argparse.Namespace, log: Log) -> dict[str, Any]:
    """Every requested row for one set, with how its indexes were built."""
    questions = s.questions()
    result: dict[str, Any] = {"questions": len(questions), "indexes": {}, "rows": {}}
    rows: Rows = result["rows"]
    log(f"[bold]{s.name}[/] ({s.folder}): {len(questions)} questions")
    if not args.no_baseline:
        search, kept = llamaindex_search(s, args.work, log)
        result["indexes"]["llamaindex"] = {"folder": str(kept.folder), "built_now": kept.built, **kept.info}
        log(f"  LlamaIndex index: {index_note(kept)}")
        rows[LLAMA] = measure(questions, search)
        log(f"  {LLAMA}: {rows[LLAMA]}")
    with opened(s, args.work, log=log) as (services, kept):
        result["indexes"]["confidant"] = {"folder": str(kept.folder), "built_now": kept.built, **kept.info}
        log(f"  Confidant index: {index_note(kept)}")
        rows.update(core_rows(services, questions, log))
        if args.variants:
            rows.update(quality_extras.variant_rows("Confidant default", services, questions, log))
        if args.colbert:
            rows.update(quality_extras.colbert_rows("Confidant default", services, questions, log, args.threads))
        if args.cross_encoder:
            rows.update(quality_extras.cross_encoder_rows("Confidant default", services, questions,
                                                          args.cross_encoder))
    others: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
        ("MiniLM", {"embedding_model": "minilm"}, (VECTOR, KEYWORD, DEFAULT))] if args.minilm else []
    others += [(f"chunk {n}", {"chunk_size": n}, (VECTOR, DEFAULT)) for n in args.chunk_sizes]
    for label, settings, names in others:
        with opened(s, args.work, settings, log=log) as (services, kept):
            result["indexes"][label] = {"folder": str(kept.folder), "built_now": kept.built, **kept.info}
            log(f"  {label} index: {index_note(kept)}")
            for name, row in core_rows(services, questions, log, names).items():
                rows[f"{name}, {label}"] = row
    if args.builds > 1:
        rows.update(quality_extras.rebuild_rows("Confidant default", s, questions, args.builds, rows[DEFAULT], log))
    return result


def set_table(name: str, result: dict[str, Any]) -> Table:
    rows: Rows = result["rows"]
    base = rows.get(LLAMA, {}).get("recall@5")
    conf = result["indexes"].get("confidant", {})
    out = Table(title=f"{name}: {result['questions']} questions ({conf.get('pages')} pages); page recall (top-10 "
                      "pass), file recall@5; ratio = recall@5 / LlamaIndex default")
    out.add_column("system")
    for col in COLS:
        out.add_column(col, justify="right")
    out.add_column("r@5 ratio", justify="right")
    for system, row in rows.items():
        ratio = report.ratio(row["recall@5"], base) if base else None
        out.add_row(system, *(str(row.get(c, "")) for c in COLS), "" if ratio is None else str(ratio))
    return out


def summary(results: dict[str, dict[str, Any]]) -> tuple[Table, Rows]:
    """Rows = every system measured, columns = recall@5 per set, the mean, and the worst margin over LlamaIndex's
    default and over vector only across the sets. The best of each column is starred; nothing is picked by hand."""
    sets = list(results)
    systems = list(dict.fromkeys(name for r in results.values() for name in r["rows"]))
    table: Rows = {}
    for system in systems:
        row: dict[str, Any] = {s: results[s]["rows"].get(system, {}).get("recall@5") for s in sets}
        values = [v for v in row.values() if v is not None]
        row["mean"] = round(sum(values) / len(values), 4) if len(values) == len(sets) else None
        for ref, key in ((LLAMA, "worst vs LlamaIndex"), (VECTOR, "worst vs vector")):
            gaps = [row[s] - results[s]["rows"][ref]["recall@5"] for s in sets
                    if row[s] is not None and ref in results[s]["rows"]]
            row[key] = round(min(gaps), 4) if len(gaps) == len(sets) else None
        table[system] = row
    cols = [*sets, "mean", "worst vs LlamaIndex", "worst vs vector"]
    best = {c: max((r[c] for r in table.values() if r[c] is not None), default=None) for c in cols}
    out = Table(title="Page recall@5 on every set (one run); worst vs X = lowest difference to X over the sets; "
                      "* = best in its column")
    out.add_column("system")
    for col in cols:
        out.add_column(col, justify="right")
    for system, row in table.items():
        out.add_row(system, *("" if row[c] is None else
                              f"{row[c]} *" if row[c] == best[c] else str(row[c]) for c in cols))
    return out, table


def uptime(out: Console, when: str) -> str:
    text = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    out.print(f"uptime at {when}: {text}")
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sets", default=",".join(ALL_SETS), help="comma-separated: " + ", ".join(ALL_SETS))
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="kept index folders (default bench/work)")
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR, help="folder holding the sets")
    parser.add_argument("--no-baseline", action="store_true", help="skip the LlamaIndex baseline")
    parser.add_argument("--variants", action="store_true", help="also the default with each part changed in turn")
    parser.add_argument("--minilm", action="store_true", help="also Confidant with MiniLM embeddings")
    parser.add_argument("--colbert", action="store_true", help="also the default + ColBERT reranking")
    parser.add_argument("--chunk-sizes", type=int, nargs="*", default=[], help="extra chunk sizes to index")
    parser.add_argument("--cross-encoder", type=int, default=0, metavar="N",
                        help="also rerank with the cross-encoder on the first N questions (about 2 s each)")
    parser.add_argument("--builds", type=int, default=1, metavar="N",
                        help="index the documents N times in all (fresh folders) and report the default's spread")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads for ColBERT (0 = all)")
    parser.add_argument("--crosslingual", action="store_true",
                        help="only the hand-made cross-lingual top-1 check (MiniLM, bge-small, multilingual-e5-small)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    args = parser.parse_args(argv)
    if args.crosslingual:
        from bench import quality_crosslingual

        quality_crosslingual.main(args.threads, args.json)
        return

    from confidant.offline import enforce_offline

    enforce_offline()
    names = [n.strip() for n in args.sets.split(",") if n.strip()]
    sets = [eval_set(n, args.eval_dir) for n in names]
    out = report.console(args.json)
    context = report.machine()
    load = {"start": uptime(out, "start")}
    results = {s.name: run_set(s, args, out.print) for s in sets}
    for name, result in results.items():
        out.print(set_table(name, result))
    table, rows = summary(results)
    out.print(table)
    for name, result in results.items():
        out.print(f"{name}: " + "; ".join(f"{k} index {index_note(Kept(Path(v['folder']), v['built_now'], v))}"
                                          for k, v in result["indexes"].items()))
    load["end"] = uptime(out, "end")
    report.save("quality-sets", out, {"benchmark": "quality", "sets": {s.name: str(s.folder) for s in sets},
                                      "work": str(args.work), "machine": context, "uptime": load,
                                      "summary_recall@5": rows, "results": results}, args.json)


if __name__ == "__main__":
    main()
