"""The three development sets, their kept indexes, and one call to score a retriever setting on all of them.

    from bench.quality_sets import evaluate_variant
    evaluate_variant({"page_weight": 0.0})                      # {"hr": {...}, "financebench": {...}, ...}
    evaluate_variant({"mode": "vector"}, sets=("contracts",))   # one set

Sets live in `../shared/eval/` beside the repository: hr-benefits, financebench-dev, contracts-dev (same schema).
Each set is indexed once into a kept work folder (default bench/work/, ignored by git), one folder per index
setting (embedding model, chunk size, overlap), with a marker file holding a hash of the set's file list (names and
sizes) and those settings; a later run reuses the folder while the hash matches and rebuilds it when it does not.
LlamaIndex's default pipeline keeps its Chroma folder the same way.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.evaluation import Question, evaluate, load_questions
from storage.records import ScoredChunk

if TYPE_CHECKING:
    from confidant.services import Services
    from confidant.settings import Settings
    from rag.retriever import Retriever

EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"
SETS = {"hr": "hr-benefits", "financebench": "financebench-dev", "contracts": "contracts-dev"}
ALL_SETS = tuple(SETS)
DEFAULT_WORK = Path(__file__).resolve().parent / "work"
MARKER = "bench-index.json"
INDEX_SETTINGS = ("embedding_model", "chunk_size", "chunk_overlap")  # the settings that change what is stored
COLS = ("recall@1", "recall@5", "recall@10", "mrr", "file_recall@5", "search_p50_ms", "search_p95_ms")
Search = Callable[[str, int], list[ScoredChunk]]
Log = Callable[[str], None]


@dataclass(frozen=True)
class EvalSet:
    name: str  # short name: hr, financebench, contracts
    folder: Path

    @property
    def docs(self) -> Path:
        return self.folder / "docs"

    def questions(self) -> list[Question]:
        return load_questions(self.folder / "questions.jsonl")


def eval_set(name: str, root: Path = EVAL_DIR) -> EvalSet:
    if name not in SETS:
        raise ValueError(f"unknown set {name!r}; known: {', '.join(SETS)}")
    return EvalSet(name, root / SETS[name])


@dataclass(frozen=True)
class Kept:
    """A kept index folder: whether this run built it, and what its build recorded (seconds, pages, chunks, …)."""

    folder: Path
    built: bool
    info: dict[str, Any]


def fingerprint(docs: Path, settings: Mapping[str, Any]) -> str:
    """Hash of the set's file list (relative names and sizes) and the settings the index depends on."""
    files = sorted((str(p.relative_to(docs)), p.stat().st_size) for p in docs.rglob("*") if p.is_file())
    text = json.dumps({"files": files, "settings": dict(settings)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def kept(folder: Path, key: str, build: Callable[[Path], dict[str, Any]], log: Log = print) -> Kept:
    """Reuse `folder` when its marker holds `key`; otherwise empty it, `build` into it and write the marker."""
    marker = folder / MARKER
    if marker.is_file():
        info = json.loads(marker.read_text(encoding="utf-8"))
        if info.get("key") == key:
            return Kept(folder, False, info)
        log(f"{folder}: documents or index settings changed, rebuilding")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    info = build(folder)
    info.update(key=key, ingest_seconds=round(time.perf_counter() - started, 1),
                built=datetime.now().isoformat(timespec="seconds"))
    marker.write_text(json.dumps(info, indent=2), encoding="utf-8")
    return Kept(folder, True, info)


def confidant_index(s: EvalSet, work: Path = DEFAULT_WORK, settings: Mapping[str, Any] | None = None,
                    log: Log = print) -> tuple[Settings, Kept]:
    """Confidant's index of one set, built as the app builds it (`services.pipeline.ingest`), kept in `work`."""
    from confidant.services import build_services
    from confidant.settings import Settings
    from storage.records import DocState

    overrides = dict(settings or {})
    stored = {k: getattr(Settings(**overrides), k) for k in INDEX_SETTINGS}
    folder = work / s.name / ("confidant-" + "-".join(str(v) for v in stored.values()))

    def build(home: Path) -> dict[str, Any]:
        log(f"{s.name}: indexing {s.docs} into {home} ...")
        services = build_services(Settings(**{**overrides, "home": home}))
        try:
            results = services.pipeline.ingest([s.docs], s.name)
        finally:
            services.close()
        return {"files": len(results), "pages": sum(r.pages for r in results),
                "chunks": sum(r.chunks for r in results), "settings": stored,
                "not_indexed": [f"{r.file}: {r.state.value} {r.reason}".strip() for r in results
                                if r.state is not DocState.INDEXED]}

    index = kept(folder, fingerprint(s.docs, {"set": s.name, **stored}), build, log)
    return Settings(**{**overrides, "home": folder}), index


@contextmanager
def opened(s: EvalSet, work: Path = DEFAULT_WORK, settings: Mapping[str, Any] | None = None,
           embedder: Any = None, log: Log = print) -> Iterator[tuple[Services, Kept]]:
    """Services over the kept index of one set (built first if missing or stale), and that index; closed on exit."""
    from confidant.services import build_services

    config, index = confidant_index(s, work, settings, log)
    services = build_services(config, embedder=embedder)
    try:
        yield services, index
    finally:
        services.close()


def variant(r: Retriever, **changes: Any) -> Retriever:
    """The retriever `r` with some of its settings changed (speller=False or None: no spelling correction)."""
    from dataclasses import fields, replace

    from rag.retriever import Retriever

    options = {f.name for f in fields(r.options)}
    parts = {"reranker": r.reranker, "speller": r.speller, "pages": r.pages, "router": r.router,
             **{name: value for name, value in changes.items() if name not in options}}
    if parts["speller"] is False:
        parts["speller"] = None
    chosen = replace(r.options, **{name: value for name, value in changes.items() if name in options})
    return Retriever(r.embedder, r.store, r.keywords, r.registry, chosen, **parts)


def measure(questions: Sequence[Question], search: Search, warm_up: bool = True) -> dict[str, Any]:
    """One top-10 pass: page recall@1/5/10, MRR@10, file recall@5, per-question search latency (ms)."""
    if warm_up and questions:
        search(questions[0].question, 10)  # models and word lists load on first use, not inside a timing
    summary = evaluate(questions, search, k=10).summary()
    return {"answerable": summary["answerable"], **{c: summary.get(c) for c in COLS}}


def llamaindex_search(s: EvalSet, work: Path = DEFAULT_WORK, log: Log = print) -> tuple[Search, Kept]:
    """LlamaIndex's default pipeline over one set (bench/llama_baseline.py), its Chroma folder kept in `work`."""
    from bench import llama_baseline
    from rag.embedders import minilm_model_dir

    llama_baseline.disable_global_llm()
    embed_model = llama_baseline.load_embed_model(minilm_model_dir())

    def build(folder: Path) -> dict[str, Any]:
        log(f"{s.name}: indexing {s.docs} with LlamaIndex's defaults into {folder} ...")
        built = llama_baseline.build_index(s.docs, folder / "chroma", embed_model)
        return {"pages": built.pages, "chunks": built.chunks, "page_label_mismatches": built.page_label_mismatches}

    key = fingerprint(s.docs, {"set": s.name, "system": "llamaindex-default", "embed": "all-MiniLM-L6-v2",
                               "split": "SentenceSplitter()"})
    index = kept(work / s.name / "llamaindex", key, build, log)
    return llama_baseline.searcher(llama_baseline.open_index(index.folder / "chroma", embed_model)), index


def evaluate_variant(retriever_kwargs: Mapping[str, Any] | None = None, sets: Sequence[str] = ALL_SETS, *,
                     work: Path = DEFAULT_WORK, settings: Mapping[str, Any] | None = None,
                     log: Log = print) -> dict[str, dict[str, Any]]:
    """Score one retriever setting on each set from its kept index: {set: {recall@1, recall@5, …}}.

    `retriever_kwargs` override the app's default retriever (rag.retriever.Retriever's keyword arguments: mode,
    candidates, rrf_k, page_weight, split_questions, distinct_pages, speller, reranker, rerank_depth); {} is the
    default as the app runs it. `settings` are Confidant Settings fields (e.g. search_hnsw_ef, or chunk_size, which
    gets its own kept index, built on first use)."""
    out: dict[str, dict[str, Any]] = {}
    for name in sets:
        s = eval_set(name)
        with opened(s, work, settings, log=log) as (services, _):
            r = variant(services.retriever, **dict(retriever_kwargs or {}))
            out[name] = measure(s.questions(), r.search)
    return out
