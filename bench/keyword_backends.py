"""Keyword search on PostgreSQL (shared by a team's app nodes) against Tantivy's BM25 (the embedded default), side
by side in the same run, on the three development sets: the same passages (parsed and split as the pipeline does)
go into both, and each question's keyword-only top 10 is scored as `confidant eval` scores it (a hit is a passage
on the evidence page or the page after it).

    python -m bench.keyword_backends [--sets hr,contracts,financebench]

Starts its own PostgreSQL on loopback (tests/servers.py; Debian's postgresql package). No vectors are involved: the
hybrid search fuses this ranking with the vector stage, which both backends share.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.quality_sets import ALL_SETS, eval_set
from bench.report import console, machine, rows_table, save
from confidant.offline import enforce_offline
from rag.evaluation import evaluate
from storage.keyword_index import KeywordIndex
from storage.records import Chunk

METRICS = ("recall@1", "recall@5", "recall@10", "mrr")


def passages(docs: Path, collection: str, home: Path) -> list[Chunk]:
    """The set's passages as the pipeline makes them (its worker parses, its splitter splits)."""
    from confidant.services import build_services
    from confidant.settings import Settings
    from ingest.pipeline import discover, sha256_file

    services = build_services(Settings(home=home))
    try:
        splitter = services.pipeline.splitter
        chunks: list[Chunk] = []
        for path in discover([docs]):
            parsed = services.worker.parse(path)
            doc_id = sha256_file(path)
            index = 0
            for number, page in enumerate(parsed.pages, start=1):
                for span in splitter.split(page):
                    chunks.append(Chunk(doc_id, collection, path.name, number, span.start, span.end,
                                        page[span.start:span.end], index))
                    index += 1
        return chunks
    finally:
        services.close()


def measure(index: KeywordIndex, questions: Sequence[Any], collection: str) -> dict[str, float]:
    timings: list[float] = []

    def search(question: str, k: int) -> list[Any]:
        started = time.perf_counter()
        hits = index.search(question, k, [collection])
        timings.append((time.perf_counter() - started) * 1000)
        return hits

    summary = evaluate(questions, search, 10).summary()
    out = {m: round(float(summary[m]), 3) for m in METRICS}
    out["search_p50_ms"] = round(statistics.median(timings), 1)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    enforce_offline()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default=",".join(ALL_SETS))
    args = parser.parse_args(argv)
    from rag.embedders import document_title
    from storage.keyword_index import TantivyKeywordIndex
    from storage.pg_keyword_index import PostgresKeywordIndex
    from storage.sql import open_records
    from tests.conftest import fresh_database
    from tests.servers import postgres_server

    out = console(False)
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-keywords-") as tmp, postgres_server() as server:
        for name in args.sets.split(","):
            s = eval_set(name)
            questions = [q for q in s.questions() if q.answerable]
            chunks = passages(s.docs, s.name, Path(tmp) / "home")
            titles = [document_title(c.file_name) for c in chunks]
            out.print(f"{name}: {len(chunks)} passages, {len(questions)} questions")
            tantivy = TantivyKeywordIndex(Path(tmp) / f"{name}.sqlite3")
            engine = open_records(fresh_database(server))
            postgres = PostgresKeywordIndex(engine, "keywords")
            for label, index in (("tantivy (default)", tantivy), ("postgresql", postgres)):
                started = time.perf_counter()
                for at in range(0, len(chunks), 500):
                    index.add(chunks[at:at + 500], titles[at:at + 500])
                built = time.perf_counter() - started
                row = measure(index, questions, s.name)
                row["index_s"] = round(built, 1)
                rows[f"{name}: {label}"] = row
                out.print(f"  {label}: {row}")
            base, pg = rows[f"{name}: tantivy (default)"], rows[f"{name}: postgresql"]
            rows[f"{name}: postgresql / tantivy"] = {m: round(pg[m] / base[m], 2) if base[m] else 0.0
                                                     for m in (*METRICS, "search_p50_ms")}
            tantivy.close()
            engine.dispose()
    out.print(rows_table("Keyword search: PostgreSQL against Tantivy (keyword stage alone, top 10)", "set: backend",
                         rows, (*METRICS, "search_p50_ms", "index_s")))
    save("keyword-backends", out, {"benchmark": "keyword-backends", "machine": machine(), "results": rows}, False)


if __name__ == "__main__":
    main()
