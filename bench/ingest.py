"""Ingest speed: Confidant's pipeline versus LlamaIndex's default pipeline, side by side in one run.

    python -m bench.ingest [--docs DIR] [--repeat N] [--json]

Each round loads both embedding models (timed as `load`), warms them up, then ingests the folder into a fresh
empty temp dir with each system (timed as `ingest`: store setup, read, split, embed, store). The order of the two
sides alternates per round; the table shows medians. Timings depend on the machine's load, so only the ratio
Confidant/baseline, measured in the same run, means anything.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from bench import report

DEFAULT_DOCS = Path("/work/shared/eval/hr-benefits/docs")
CONFIDANT = "confidant"
BASELINE = "llamaindex-default"


@dataclass
class Timing:
    system: str
    round: int
    load_s: float
    ingest_s: float
    pages: int
    chunks: int


def _confidant_round(docs: Path, home: Path) -> tuple[Callable[[], None], Callable[[], tuple[int, int]]]:
    """Returns (load, ingest) for one round of Confidant on an empty home folder."""
    from confidant.services import build_services
    from confidant.settings import Settings
    from storage.records import DocState

    services = build_services(Settings(home=home))

    def load() -> None:
        services.embedder.embed_documents(["warm up"])

    def ingest() -> tuple[int, int]:
        try:
            results = services.pipeline.ingest([docs], services.settings.default_collection)
        finally:
            services.close()
        bad = [r for r in results if r.state is not DocState.INDEXED]
        if bad:
            raise RuntimeError(f"confidant did not index {[(r.file, r.state.value, r.reason) for r in bad]}")
        chunks = sum(r.chunks for r in results)
        if services.store.count() != chunks:
            raise RuntimeError(f"store holds {services.store.count()} chunks, results say {chunks}")
        return sum(r.pages for r in results), chunks

    return load, ingest


def _baseline_round(docs: Path, home: Path) -> tuple[Callable[[], None], Callable[[], tuple[int, int]]]:
    from bench import llama_baseline
    from rag.embedders import minilm_model_dir

    model: dict[str, Any] = {}

    def load() -> None:
        model["embed"] = llama_baseline.load_embed_model(minilm_model_dir())
        model["embed"].get_text_embedding("warm up")

    def ingest() -> tuple[int, int]:
        built = llama_baseline.build_index(docs, home / "chroma", model["embed"])
        return built.pages, built.chunks

    return load, ingest


def _timed(step: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    started = time.perf_counter()
    value = step()
    return time.perf_counter() - started, value


def run(docs: Path, repeat: int) -> list[Timing]:
    from bench import llama_baseline

    llama_baseline.disable_global_llm()
    import sentence_transformers  # noqa: F401 - import cost is neither side's load time
    import torch  # noqa: F401

    timings: list[Timing] = []
    for rnd in range(repeat):
        order = [CONFIDANT, BASELINE] if rnd % 2 == 0 else [BASELINE, CONFIDANT]
        with tempfile.TemporaryDirectory(prefix="bench-confidant-") as c_home, \
                tempfile.TemporaryDirectory(prefix="bench-llamaindex-") as b_home:
            sides = {CONFIDANT: _confidant_round(docs, Path(c_home)), BASELINE: _baseline_round(docs, Path(b_home))}
            loads = {name: _timed(sides[name][0])[0] for name in order}  # both models loaded before any ingest
            for name in order:
                seconds, (pages, chunks) = _timed(sides[name][1])
                timings.append(Timing(name, rnd + 1, loads[name], seconds, pages, chunks))
            del sides
            gc.collect()
    return timings


def summarize(timings: list[Timing]) -> dict[str, dict[str, float]]:
    rows: dict[str, dict[str, float]] = {}
    for name in (CONFIDANT, BASELINE):
        mine = [t for t in timings if t.system == name]
        seconds = report.median([t.ingest_s for t in mine])
        pages, chunks = mine[-1].pages, mine[-1].chunks
        rows[name] = {"pages": pages, "chunks": chunks, "load_s": round(report.median([t.load_s for t in mine]), 2),
                      "ingest_s": round(seconds, 2), "pages_per_s": round(pages / seconds, 2),
                      "chunks_per_s": round(chunks / seconds, 2)}
    return rows


def table(rows: dict[str, dict[str, float]], repeat: int) -> Table:
    out = Table(title=f"Ingest speed, median of {repeat} round(s), same run")
    for col in ("system", "pages", "chunks", "load s", "ingest s", "pages/s", "chunks/s"):
        out.add_column(col, justify="left" if col == "system" else "right")
    for name, r in rows.items():
        out.add_row(name, str(int(r["pages"])), str(int(r["chunks"])), f"{r['load_s']:.2f}", f"{r['ingest_s']:.2f}",
                    f"{r['pages_per_s']:.2f}", f"{r['chunks_per_s']:.2f}")
    c, b = rows[CONFIDANT], rows[BASELINE]
    out.add_row("ratio confidant/baseline", "", "", f"{report.ratio(c['load_s'], b['load_s'])}",
                f"{report.ratio(c['ingest_s'], b['ingest_s'])}", f"{report.ratio(c['pages_per_s'], b['pages_per_s'])}",
                f"{report.ratio(c['chunks_per_s'], b['chunks_per_s'])}", style="bold")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS, help="folder of documents to ingest")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the order of the sides alternates")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    args = parser.parse_args(argv)

    from confidant.offline import enforce_offline

    enforce_offline()
    out = report.console(args.json)
    context = report.machine()
    timings = run(args.docs, max(1, args.repeat))
    rows = summarize(timings)
    out.print(table(rows, max(1, args.repeat)))
    out.print("pages/s is the like-for-like rate: the two systems cut different chunk sizes "
              "(Confidant ~200 MiniLM tokens, LlamaIndex 1024 tiktoken tokens), so chunks/s is not.")
    context["load_average_end"] = report.machine()["load_average"]
    payload = {"benchmark": "ingest", "docs": str(args.docs), "repeat": args.repeat, "machine": context,
               "summary": rows, "ratio_confidant_over_baseline": {
                   k: report.ratio(rows[CONFIDANT][k], rows[BASELINE][k])
                   for k in ("load_s", "ingest_s", "pages_per_s", "chunks_per_s")},
               "rounds": [asdict(t) for t in timings]}
    report.save("ingest", out, payload, args.json)


if __name__ == "__main__":
    main()
