"""Ingest speed: Confidant's pipeline versus LlamaIndex's default pipeline, side by side in one run.

    python -m bench.ingest [--docs DIR] [--repeat N] [--json]

Sides: Confidant as configured, Confidant with the baseline's MiniLM (like for like), and the baseline. Each round
loads every side's embedding model (timed as `load`) and warms it up, then ingests the folder into a fresh empty
temp dir with each side (timed as `ingest`: store setup, read, split, embed, store). `searchable` is the time
until every file can be found: Confidant's files are keyword-searchable once read (the first stage; the vectors
follow on another thread), the baseline's only when its whole ingest is done. The order of the sides rotates
per round; the table shows medians, and a second table where Confidant's time goes, stage by stage. Timings
depend on the machine's load, so only the ratio Confidant/baseline, measured in the same run, means anything.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from bench import report
from bench.paths import HR

DEFAULT_DOCS = HR / "docs"
CONFIDANT = "confidant"
BASELINE = "llamaindex-default"
# Confidant as configured, and with the baseline's embedding model (like for like)
VARIANTS: dict[str, dict[str, str]] = {CONFIDANT: {}, "confidant-minilm": {"embedding_model": "minilm"}}


Ingested = tuple[int, int, float, dict[str, float]]  # pages, chunks, seconds until searchable, seconds per stage


@dataclass
class Timing:
    system: str
    round: int
    load_s: float
    ingest_s: float
    pages: int
    chunks: int
    searchable_s: float  # until every file is found by some search (keyword search for Confidant's first stage)
    stages: dict[str, float] = field(default_factory=dict)  # Confidant's seconds per stage (IngestPipeline.clock)


def _confidant_round(docs: Path, home: Path,
                     overrides: dict[str, str]) -> tuple[Callable[[], None], Callable[[], Ingested]]:
    """Returns (load, ingest) for one round of Confidant on an empty home folder."""
    from confidant.services import build_services
    from confidant.settings import Settings
    from storage.records import DocState

    services = build_services(Settings(home=home, **overrides))  # type: ignore[arg-type]

    def load() -> None:
        services.embedder.embed_documents(["warm up"])
        services.worker.warm()  # as the app and the API do when they start

    def ingest() -> Ingested:
        from ingest.pipeline import Progress

        started = time.perf_counter()
        read: list[float] = []

        def on_progress(step: Progress) -> None:
            if step.result is not None:
                read.append(time.perf_counter() - started)

        try:
            results = services.pipeline.ingest([docs], services.settings.default_collection, on_progress)
        finally:
            services.close()
        bad = [r for r in results if r.state is not DocState.INDEXED]
        if bad:
            raise RuntimeError(f"confidant did not index {[(r.file, r.state.value, r.reason) for r in bad]}")
        chunks = sum(r.chunks for r in results)
        if services.store.count() != chunks:
            raise RuntimeError(f"store holds {services.store.count()} chunks, results say {chunks}")
        return sum(r.pages for r in results), chunks, max(read, default=0.0), services.pipeline.clock.totals()

    return load, ingest


def _baseline_round(docs: Path, home: Path) -> tuple[Callable[[], None], Callable[[], Ingested]]:
    from bench import llama_baseline
    from rag.embedders import minilm_model_dir

    model: dict[str, Any] = {}

    def load() -> None:
        model["embed"] = llama_baseline.load_embed_model(minilm_model_dir())
        model["embed"].get_text_embedding("warm up")

    def ingest() -> Ingested:
        started = time.perf_counter()
        built = llama_baseline.build_index(docs, home / "chroma", model["embed"])
        return built.pages, built.chunks, time.perf_counter() - started, {}  # nothing is searchable before the end

    return load, ingest


def _timed(step: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    started = time.perf_counter()
    value = step()
    return time.perf_counter() - started, value


def run(docs: Path, repeat: int, variants: list[str]) -> list[Timing]:
    from bench import llama_baseline

    llama_baseline.disable_global_llm()
    import sentence_transformers  # noqa: F401 - import cost is neither side's load time
    import torch  # noqa: F401

    names = [*variants, BASELINE]
    timings: list[Timing] = []
    for rnd in range(repeat):
        order = names[rnd % len(names):] + names[:rnd % len(names)]  # each side goes first in turn
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
            sides = {name: _confidant_round(docs, Path(tmp) / name, VARIANTS[name]) for name in variants}
            sides[BASELINE] = _baseline_round(docs, Path(tmp) / BASELINE)
            loads = {name: _timed(sides[name][0])[0] for name in order}  # every model loaded before any ingest
            for name in order:
                seconds, (pages, chunks, searchable, stages) = _timed(sides[name][1])
                timings.append(Timing(name, rnd + 1, loads[name], seconds, pages, chunks, searchable, stages))
            del sides
            gc.collect()
    return timings


def summarize(timings: list[Timing]) -> dict[str, dict[str, float]]:
    rows: dict[str, dict[str, float]] = {}
    for name in dict.fromkeys(t.system for t in timings):
        mine = [t for t in timings if t.system == name]
        seconds = report.median([t.ingest_s for t in mine])
        pages, chunks = mine[-1].pages, mine[-1].chunks
        rows[name] = {"pages": pages, "chunks": chunks, "load_s": round(report.median([t.load_s for t in mine]), 2),
                      "ingest_s": round(seconds, 2), "pages_per_s": round(pages / seconds, 2),
                      "chunks_per_s": round(chunks / seconds, 2),
                      "searchable_s": round(report.median([t.searchable_s for t in mine]), 2)}
    return rows


KEYS = ("load_s", "ingest_s", "pages_per_s", "chunks_per_s", "searchable_s")


def stage_rows(timings: list[Timing]) -> dict[str, dict[str, float]]:
    """Median seconds per stage for each Confidant side (stages on other threads overlap: see StageClock)."""
    rows: dict[str, dict[str, float]] = {}
    for name in dict.fromkeys(t.system for t in timings if t.stages):
        mine = [t for t in timings if t.system == name]
        stages = dict.fromkeys(s for t in mine for s in t.stages)
        rows[name] = {s: round(report.median([t.stages.get(s, 0.0) for t in mine]), 2) for s in stages}
    return rows


def stage_table(rows: dict[str, dict[str, float]]) -> Table:
    out = Table(title="Where Confidant's ingest time goes: seconds each stage kept its thread busy (median; the "
                      "vectors are embedded on another thread while the next file is read, so stages overlap)")
    out.add_column("stage")
    for name in rows:
        out.add_column(name, justify="right")
    for stage in dict.fromkeys(s for r in rows.values() for s in r):
        out.add_row(stage, *(f"{r.get(stage, 0.0):.2f}" for r in rows.values()))
    return out


def table(rows: dict[str, dict[str, float]], repeat: int) -> Table:
    out = Table(title=f"Ingest speed, median of {repeat} round(s), same run")
    for col in ("system", "pages", "chunks", "load s", "ingest s", "pages/s", "chunks/s", "searchable s"):
        out.add_column(col, justify="left" if col == "system" else "right")
    for name, r in rows.items():
        out.add_row(name, str(int(r["pages"])), str(int(r["chunks"])), f"{r['load_s']:.2f}", f"{r['ingest_s']:.2f}",
                    f"{r['pages_per_s']:.2f}", f"{r['chunks_per_s']:.2f}", f"{r['searchable_s']:.2f}")
    b = rows[BASELINE]
    for name, c in rows.items():
        if name != BASELINE:
            out.add_row(f"ratio {name}/baseline", "", "", *(str(report.ratio(c[k], b[k])) for k in KEYS), style="bold")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS, help="folder of documents to ingest")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the order of the sides alternates")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"Confidant variants to run, comma-separated, from {list(VARIANTS)}")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    args = parser.parse_args(argv)

    from confidant.offline import enforce_offline
    from confidant.settings import Settings

    enforce_offline()
    out = report.console(args.json)
    context = report.machine()
    variants = [v for v in args.variants.split(",") if v in VARIANTS and set(VARIANTS[v]) <= set(Settings.model_fields)]
    timings = run(args.docs, max(1, args.repeat), variants)
    rows = summarize(timings)
    out.print(table(rows, max(1, args.repeat)))
    stages = stage_rows(timings)
    if stages:
        out.print(stage_table(stages))
    settings = {v: Settings(**VARIANTS[v]).model_dump(include={"embedding_model", "chunk_size", "chunk_overlap",  # type: ignore[arg-type]
                                                                "embedding_batch_size", "embedding_threads"})
                for v in variants}
    for name, shown in settings.items():
        out.print(f"{name}: {shown}")
    out.print("pages/s is the like-for-like rate: the systems cut different chunk sizes (LlamaIndex: 1024 tiktoken "
              "tokens per chunk, i.e. one chunk per page here), so chunks/s is not.")
    context["load_average_end"] = report.machine()["load_average"]
    payload = {"benchmark": "ingest", "docs": str(args.docs), "repeat": args.repeat, "machine": context,
               "confidant_settings": settings, "summary": rows, "stages": stages, "ratio_over_baseline": {
                   name: {k: report.ratio(rows[name][k], rows[BASELINE][k]) for k in KEYS}
                   for name in rows if name != BASELINE},
               "rounds": [asdict(t) for t in timings]}
    report.save("ingest", out, payload, args.json)


if __name__ == "__main__":
    main()
