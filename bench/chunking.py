"""Chunk size, overlap and title header chosen by measurement: page recall and MRR on hr-benefits per config.

    python -m bench.chunking [--sizes 128,200,256] [--overlaps 0,30] [--header both|on|off] [--json]

The PDFs are parsed once (ingest.readers.read_document, as the pipeline's worker does). For every config the
pages are split afresh with TokenSplitter, embedded with the same MiniLM embedder (with or without the title
header of ingest.pipeline.embedding_text) into a new in-memory Chroma collection, and scored with
rag.evaluation (k=10). The row marked * is the current default in confidant.settings.
"""

from __future__ import annotations

import argparse
import itertools
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from bench import report
from bench.exact_search import exact_searcher
from bench.paths import HR
from ingest.reading import ParsedDocument
from rag.embedders import SentenceTransformerEmbedder
from rag.evaluation import Question
from storage.records import Chunk


@dataclass(frozen=True)
class Config:
    size: int
    overlap: int
    header: bool

    @property
    def label(self) -> str:
        return f"{self.size}/{self.overlap}/{'title' if self.header else 'none'}"


def parse_all(docs: Path) -> list[tuple[str, str, ParsedDocument]]:
    """(document id, file name, pages) for every file, parsed once."""
    from ingest.pipeline import discover, sha256_file
    from ingest.readers import ReadLimits, read_document, with_pictures

    return [(sha256_file(p), p.name, with_pictures(p, read_document(p, ReadLimits()), ReadLimits()))
            for p in discover([docs])]


def make_chunks(parsed: list[tuple[str, str, ParsedDocument]], splitter: Any) -> list[Chunk]:
    """The same chunks IngestPipeline._chunks makes: per page, exact slices, index counted per document."""
    out: list[Chunk] = []
    for doc_id, name, doc in parsed:
        chunks: list[Chunk] = []
        for number, text in enumerate(doc.pages, start=1):
            for span in splitter.split(text):
                chunks.append(Chunk(doc_id, "bench", name, number, span.start, span.end,
                                    text[span.start:span.end], len(chunks)))
        out.extend(chunks)
    return out


def measure(config: Config, parsed: list[tuple[str, str, ParsedDocument]], embedder: SentenceTransformerEmbedder,
            questions: list[Question], client: Any) -> tuple[dict[str, Any], list[int | None]]:
    from ingest.splitter import TokenSplitter
    from rag.embedders import embedding_text
    from rag.evaluation import evaluate
    from storage.vector_store import ChromaStore

    chunks = make_chunks(parsed, TokenSplitter(embedder.token_spans, config.size, config.overlap))
    texts = [embedding_text(c) if config.header else c.text for c in chunks]
    pieces = [len(embedder.token_spans(t)) + 2 for t in texts]  # + [CLS] and [SEP]
    started = time.perf_counter()
    vectors = embedder.embed_documents(texts)
    embed_s = time.perf_counter() - started
    name = f"chunking-{uuid.uuid4().hex[:12]}"  # ephemeral clients share state in-process: never reuse a name
    store = ChromaStore(client, name)
    try:
        store.add(chunks, vectors)
        # plain vector search (what VectorRetriever does for fully indexed documents), no registry needed
        result = evaluate(questions, lambda q, k: store.query(embedder.embed_query(q), k), k=10)
    finally:
        client.delete_collection(name)
    exact = evaluate(questions, exact_searcher(vectors, chunks, embedder.embed_query), k=10)
    s = result.summary()
    row = {"config": config.label, "size": config.size, "overlap": config.overlap, "header": config.header,
           "chunks": len(chunks), "mean_word_pieces": round(sum(pieces) / len(pieces), 1),
           "truncated": sum(1 for n in pieces if n > embedder.max_tokens), "embed_s": round(embed_s, 1),
           "recall@1": s["recall@1"], "recall@5": s["recall@5"], "recall@10": s["recall@10"], "mrr": s["mrr"],
           "file_recall@5": s["file_recall@5"], "exact@5": round(exact.recall(5), 4),
           "exact mrr": round(exact.mrr(), 4)}
    return row, [r.page_rank for r in result.answerable]


HEADERS = {"chunks": "chunks", "mean_word_pieces": "mean pieces", "truncated": "trunc", "embed_s": "embed s",
           "recall@1": "R@1", "recall@5": "R@5", "recall@10": "R@10", "mrr": "MRR", "file_recall@5": "file R@5",
           "exact@5": "exact R@5", "exact mrr": "exact MRR", "vs default @5": "vs default @5"}


def table(rows: list[dict[str, Any]], default: str) -> Table:
    out = Table(title="Chunking on hr-benefits: page hits (cited page or the next), k=10, same run; R = recall via "
                      "Chroma (HNSW), exact = brute force over the same vectors")
    out.add_column("size/overlap/header", no_wrap=True)
    for col in HEADERS.values():
        out.add_column(col, justify="right", no_wrap=True)
    best = {k: max(r[k] for r in rows) for k in ("recall@1", "recall@5", "recall@10", "mrr", "exact@5", "exact mrr")}
    for r in rows:
        cells = [f"[bold green]{r[c]}[/]" if c in best and r[c] == best[c] else str(r[c]) for c in HEADERS]
        out.add_row(r["config"] + (" *" if r["config"] == default else ""), *cells)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--docs", type=Path, default=HR / "docs")
    parser.add_argument("--questions", type=Path, default=HR / "questions.jsonl")
    parser.add_argument("--sizes", default="128,200,256", help="chunk sizes in MiniLM tokens, comma-separated")
    parser.add_argument("--overlaps", default="0,30", help="overlaps in tokens, comma-separated")
    parser.add_argument("--header", choices=("both", "on", "off"), default="both",
                        help="embed with the title header, without it, or both")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    args = parser.parse_args(argv)

    from confidant.offline import enforce_offline

    enforce_offline()
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from confidant.settings import Settings
    from rag.embedders import minilm_embedder
    from rag.evaluation import load_questions

    out = report.console(args.json)
    context = report.machine()
    started = time.perf_counter()
    settings = Settings()
    headers = {"both": (True, False), "on": (True,), "off": (False,)}[args.header]
    configs = [Config(s, o, h) for s, o, h in itertools.product(
        [int(x) for x in args.sizes.split(",")], [int(x) for x in args.overlaps.split(",")], headers)]
    default = Config(settings.chunk_size, settings.chunk_overlap, True).label
    parsed = parse_all(args.docs)
    embedder = minilm_embedder(settings.embedding_batch_size, settings.embedding_threads)
    questions = load_questions(args.questions)
    client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
    rows: list[dict[str, Any]] = []
    ranks: dict[str, list[int | None]] = {}
    for config in configs:
        row, ranks[config.label] = measure(config, parsed, embedder, questions, client)
        rows.append(row)
        out.print(f"[dim]{config.label}: {row['chunks']} chunks, recall@5 {row['recall@5']}, "
                  f"{time.perf_counter() - started:.0f} s so far[/]")
    base = ranks.get(default)
    for r in rows:  # questions in the top 5 only for this config / only for the default (a paired view)
        mine = ranks[r["config"]]
        r["vs default @5"] = "-" if base is None else (
            f"+{sum(1 for a, b in zip(mine, base) if a is not None and a <= 5 and (b is None or b > 5))}"
            f"/-{sum(1 for a, b in zip(mine, base) if b is not None and b <= 5 and (a is None or a > 5))}")
    out.print(table(rows, default))
    answerable = sum(1 for q in questions if q.answerable and q.evidence)
    out.print(f"{answerable} answerable questions: one question is {1 / answerable:.4f} of recall; "
              f"'vs default @5' = +found/-lost in the top 5 against the default {default}. "
              f"truncated = chunks over MiniLM's {embedder.max_tokens}-word-piece window. "
              f"Total {time.perf_counter() - started:.0f} s.")
    context["load_average_end"] = report.machine()["load_average"]
    report.save("chunking", out, {"benchmark": "chunking", "docs": str(args.docs), "default": default,
                                  "machine": context, "rows": rows}, args.json)


if __name__ == "__main__":
    main()
