"""Retrieval quality: page recall of LlamaIndex's default pipeline versus Confidant's defaults, in one run.

    python -m bench.quality_baseline [--docs DIR] [--questions FILE] [--json]

The baseline uses the packaged MiniLM weights. Confidant runs twice: as configured (its current defaults) and with
MiniLM and vector-only search, so model, chunking and search effects can be told apart. A hit is a retrieved
passage from an evidence file on the cited page or the page after it (rag.evaluation). recall@5 comes from a top-5
retriever (similarity_top_k=5 for LlamaIndex, k=5 for Confidant); recall@1/@10 and MRR@10 from a top-10 pass.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.table import Table

from bench import exact_search, report
from bench.quality_sets import EVAL_DIR, SETS
from rag.evaluation import Question, evaluate
from storage.records import ScoredChunk

HR = EVAL_DIR / SETS["hr"]
Search = Callable[[str, int], list[ScoredChunk]]


def score(questions: list[Question], search: Search) -> tuple[dict[str, Any], list[int | None]]:
    """Metrics for one system, and the top-5 page rank of each answerable question (for a paired comparison)."""
    top5 = evaluate(questions, lambda q, _n: search(q, 5), k=5)
    top10 = evaluate(questions, search, k=10)
    full = top10.summary()
    row: dict[str, Any] = {"answerable": full["answerable"], "recall@1": full["recall@1"],
                           "recall@5 (top-5 retriever)": round(top5.recall(5), 4), "recall@5": full["recall@5"],
                           "recall@10": full["recall@10"], "mrr@10": full["mrr"],
                           "file_recall@5": full["file_recall@5"], "search_p50_ms": full.get("search_p50_ms")}
    return row, [r.page_rank for r in top5.answerable]


def paired(a: list[int | None], b: list[int | None]) -> dict[str, int]:
    """Questions found in the top 5 by only one of the two systems."""
    return {"confidant_only": sum(1 for x, y in zip(a, b) if x is not None and y is None),
            "baseline_only": sum(1 for x, y in zip(a, b) if x is None and y is not None)}


def _confidant_collection(settings: Any) -> Any:
    """The Chroma collection Confidant wrote, opened read-only through the same shared client settings."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from confidant.services import INDEX_NAMES

    client = chromadb.PersistentClient(path=str(settings.chroma_dir),
                                       settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False))
    return client.get_collection(INDEX_NAMES[settings.embedding_model])


# Confidant as configured (its defaults), and with the baseline's model and plain vector search (like for like)
VARIANTS: dict[str, dict[str, str]] = {"confidant": {},
                                       "confidant-minilm-vector": {"embedding_model": "minilm", "search_mode": "vector"}}
SHOWN = ("embedding_model", "chunk_size", "chunk_overlap", "search_mode", "search_distinct_pages")


def confidant_side(docs: Path, questions: list[Question], home: Path,
                   overrides: dict[str, str]) -> tuple[dict[str, Any], list[int | None], dict[str, Any]]:
    from confidant.services import build_services
    from confidant.settings import Settings

    settings = Settings(home=home, **overrides)  # type: ignore[arg-type]
    services = build_services(settings)
    try:
        results = services.pipeline.ingest([docs], settings.default_collection)
    finally:
        services.close()
    row, ranks = score(questions, services.retriever.search)
    row.update(pages=sum(r.pages for r in results), chunks=sum(r.chunks for r in results),
               settings={k: getattr(settings, k) for k in SHOWN if hasattr(settings, k)})
    exact, _ = score(questions, exact_search.from_collection(
        _confidant_collection(settings), lambda m: int(m["page"]), services.embedder.embed_query))
    exact["chunks"] = row["chunks"]
    return row, ranks, exact


def run(docs: Path, questions: list[Question], workdir: Path) -> dict[str, Any]:
    from bench import llama_baseline
    from confidant.settings import Settings
    from rag.embedders import minilm_model_dir

    llama_baseline.disable_global_llm()
    embed_model = llama_baseline.load_embed_model(minilm_model_dir())
    built = llama_baseline.build_index(docs, workdir / "llamaindex", embed_model)
    b_row, b_ranks = score(questions, llama_baseline.searcher(built.index))
    b_exact, _ = score(questions, exact_search.from_collection(
        built.client.get_collection(llama_baseline.COLLECTION), lambda m: llama_baseline.physical_page(
            m.get("page_label")), embed_model.get_query_embedding))
    b_exact["chunks"] = built.chunks
    counts = llama_baseline.embed_token_counts(built.documents, embed_model._model.tokenizer)
    limit = int(embed_model._model.max_seq_length)
    b_row.update(pages=built.pages, chunks=built.chunks, settings={
        "embedding_model": "minilm", "split": "SentenceSplitter() 1024/200 tiktoken tokens, metadata header",
        "search": "vector, similarity_top_k"})
    out: dict[str, Any] = {"llamaindex-default": b_row, "llamaindex-default (exact search)": b_exact}
    for label, overrides in VARIANTS.items():
        if any(k not in Settings.model_fields for k in overrides):
            continue  # the settings this variant needs are not in this version of Confidant
        row, ranks, exact = confidant_side(docs, questions, workdir / label, overrides)
        out[label], out[f"{label} (exact search)"] = row, exact
        out.setdefault("paired_top5", {})[label] = paired(ranks, b_ranks)
    out["set"] = docs.resolve().parent.name
    out["baseline_page_label_mismatches"] = built.page_label_mismatches
    out["baseline_nodes_truncated"] = {"limit_word_pieces": limit, "nodes": len(counts),
                                       "over_limit": sum(1 for n in counts if n > limit),
                                       "word_pieces_dropped": sum(max(0, n - limit) for n in counts),
                                       "word_pieces_total": sum(counts)}
    return out


def table(result: dict[str, Any]) -> Table:
    pages = result["llamaindex-default"]["pages"]
    out = Table(title=f"Page recall on {result['set']} ({pages} pages), same run; exact = brute-force vector "
                      "search over the same stored vectors (no HNSW, no keyword fusion, no one-passage-per-page)")
    cols = ("chunks", "recall@1", "recall@5 (top-5 retriever)", "recall@10", "mrr@10", "file_recall@5")
    out.add_column("system")
    for col in cols:
        out.add_column(col, justify="right")
    base = result["llamaindex-default"]
    for name in ["llamaindex-default", *(v for v in VARIANTS if v in result)]:
        for suffix in ("", " (exact search)"):
            row = result[name + suffix]
            out.add_row(name + suffix, *(str(row.get(c, "")) for c in cols))
        if name != "llamaindex-default":
            out.add_row(f"ratio {name}/baseline", "", *(str(report.ratio(result[name][k], base[k]))
                                                          for k in cols[1:]), style="bold")
        out.add_section()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--docs", type=Path, default=HR / "docs")
    parser.add_argument("--questions", type=Path, default=HR / "questions.jsonl")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    args = parser.parse_args(argv)

    from confidant.offline import enforce_offline
    from rag.evaluation import load_questions

    enforce_offline()
    out = report.console(args.json)
    context = report.machine()
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        result = run(args.docs, load_questions(args.questions), Path(tmp))
    out.print(table(result))
    for name, row in result.items():
        if isinstance(row, dict) and "settings" in row:
            out.print(f"{name}: {row['settings']}")
    for name, p in result.get("paired_top5", {}).items():
        out.print(f"top-5 page hits found by only one side: {name} {p['confidant_only']}, "
                  f"baseline {p['baseline_only']}")
    t = result["baseline_nodes_truncated"]
    out.print(f"baseline nodes over MiniLM's {t['limit_word_pieces']}-word-piece window (cut when embedded): "
              f"{t['over_limit']}/{t['nodes']}; {t['word_pieces_dropped']:,} of {t['word_pieces_total']:,} word "
              "pieces never embedded")
    out.print(f"baseline page_label values that are not the physical page: {result['baseline_page_label_mismatches']}")
    report.save("quality-baseline", out, {"benchmark": "quality_baseline", "docs": str(args.docs),
                                          "questions": str(args.questions), "machine": context, **result}, args.json)


if __name__ == "__main__":
    main()
