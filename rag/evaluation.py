"""Retrieval evaluation on a question set: page- and file-level recall@k and MRR.

Question lines: {"id", "question", "answer", "evidence": [{"file", "page"}], "answerable"}; page may be null
(file-level evidence). A page hit is a retrieved passage on a cited page or on the page after it (a cited passage
can continue there).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rag.embedders import Embedder
from rag.grading import Graded, grade, summarise
from storage.records import ScoredChunk


@dataclass(frozen=True)
class Evidence:
    file: str
    page: int | None


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answer: str
    evidence: tuple[Evidence, ...]
    answerable: bool


@dataclass
class QuestionResult:
    question: Question
    hits: list[ScoredChunk]
    page_rank: int | None  # 1-based rank of the first passage on an evidence page
    file_rank: int | None
    latency_ms: float = 0.0


@dataclass
class EvalReport:
    results: list[QuestionResult] = field(default_factory=list)
    ks: tuple[int, ...] = (1, 5, 10)

    @property
    def answerable(self) -> list[QuestionResult]:
        return [r for r in self.results if r.question.answerable and r.question.evidence]

    def recall(self, k: int, level: str = "page") -> float:
        rows = self.answerable
        if not rows:
            return 0.0
        ranks = [r.page_rank if level == "page" else r.file_rank for r in rows]
        return sum(1 for rank in ranks if rank is not None and rank <= k) / len(rows)

    def mrr(self, level: str = "page") -> float:
        rows = self.answerable
        if not rows:
            return 0.0
        ranks = [r.page_rank if level == "page" else r.file_rank for r in rows]
        return sum(1.0 / rank for rank in ranks if rank is not None) / len(rows)

    def summary(self) -> dict[str, float | int]:
        out: dict[str, float | int] = {"questions": len(self.results), "answerable": len(self.answerable)}
        for k in self.ks:
            out[f"recall@{k}"] = round(self.recall(k), 4)
        out["mrr"] = round(self.mrr(), 4)
        for k in self.ks:
            out[f"file_recall@{k}"] = round(self.recall(k, "file"), 4)
        out["file_mrr"] = round(self.mrr("file"), 4)
        latencies = sorted(r.latency_ms for r in self.results)
        if latencies:
            out["search_p50_ms"] = round(latencies[len(latencies) // 2], 1)
            out["search_p95_ms"] = round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))], 1)
        return out


def load_questions(path: Path) -> list[Question]:
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            evidence = tuple(Evidence(str(e["file"]), None if e.get("page") is None else int(e["page"]))
                             for e in raw.get("evidence") or [])
            questions.append(Question(str(raw.get("id", number)), str(raw["question"]), str(raw.get("answer", "")),
                                      evidence, bool(raw.get("answerable", bool(evidence)))))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"line {number} of {path.name} is not a valid question: {exc}") from None
    return questions


def _matches_page(hit: ScoredChunk, evidence: Sequence[Evidence]) -> bool:
    for e in evidence:
        if hit.chunk.file_name != e.file:
            continue
        if e.page is None or hit.chunk.page in (e.page, e.page + 1):
            return True
    return False


def first_rank(hits: Sequence[ScoredChunk], evidence: Sequence[Evidence], *, level: str) -> int | None:
    files = {e.file for e in evidence}
    for rank, hit in enumerate(hits, start=1):
        if level == "file" and hit.chunk.file_name in files:
            return rank
        if level == "page" and _matches_page(hit, evidence):
            return rank
    return None


Search = Callable[[str, int], list[ScoredChunk]]


def evaluate(questions: Sequence[Question], search: Search, k: int = 10,
             on_question: Callable[[int, int], None] | None = None) -> EvalReport:
    report = EvalReport(ks=tuple(sorted({1, 5, 10, k})))
    for i, q in enumerate(questions):
        started = time.perf_counter()
        hits = search(q.question, max(k, 10))
        latency = (time.perf_counter() - started) * 1000
        report.results.append(QuestionResult(q, hits, first_rank(hits, q.evidence, level="page"),
                                             first_rank(hits, q.evidence, level="file"), latency))
        if on_question:
            on_question(i + 1, len(questions))
    return report


@dataclass
class AnswerResult:
    question: Question
    declined: bool
    cited_evidence: bool  # a citation lands on an evidence page (or the page after it)
    first_token_ms: float
    total_ms: float
    answer: str
    graded: Graded = field(default_factory=lambda: Graded("unsupported"))  # right / wrong / declined / unsupported


@dataclass
class AnswerReport:
    results: list[AnswerResult] = field(default_factory=list)

    def summary(self) -> dict[str, float | int]:
        answerable = [r for r in self.results if r.question.answerable]
        unanswerable = [r for r in self.results if not r.question.answerable]
        answered = [r for r in answerable if not r.declined]
        firsts = sorted(r.first_token_ms for r in self.results if r.first_token_ms > 0)
        totals = sorted(r.total_ms for r in self.results)

        def share(rows: list[AnswerResult], test: Callable[[AnswerResult], bool]) -> float:
            return round(sum(1 for r in rows if test(r)) / len(rows), 4) if rows else 0.0

        return {
            "answered_questions": len(self.results),
            **summarise([r.graded for r in self.results], [r.question.answerable for r in self.results]),
            "citation_hit_rate": share(answerable, lambda r: r.cited_evidence),
            "citation_hit_rate_when_answered": share(answered, lambda r: r.cited_evidence),
            "declined_when_unanswerable": share(unanswerable, lambda r: r.declined),
            "wrongly_declined": share(answerable, lambda r: r.declined),
            "first_token_p50_ms": round(firsts[len(firsts) // 2], 1) if firsts else 0.0,
            "answer_p50_ms": round(totals[len(totals) // 2], 1) if totals else 0.0,
        }


class _Answers(Protocol):
    def ask(self, question: str) -> Any: ...


def evaluate_answers(questions: Sequence[Question], answerer: _Answers,
                     on_question: Callable[[int, int], None] | None = None,
                     embedder: Embedder | None = None) -> AnswerReport:
    """Ask each question and grade the answer against its reference (rag/grading.py; `embedder` judges the
    references that hold no key fact by meaning)."""
    report = AnswerReport()
    for i, q in enumerate(questions):
        answer = answerer.ask(q.question)
        hits = [ScoredChunk(c.chunk, 1.0) for c in answer.citations]
        cited = first_rank(hits, q.evidence, level="page") is not None
        graded = grade(str(answer.text), q.answer, declined=bool(answer.declined), answerable=q.answerable,
                       checked=bool(answer.citations), cites_evidence=cited, embedder=embedder,
                       quoted=bool(getattr(answer, "quoted", False)), question=q.question)
        report.results.append(AnswerResult(
            q, bool(answer.declined), cited,
            float(answer.timings.get("first_token_ms", 0.0)), float(answer.timings.get("total_ms", 0.0)),
            str(answer.text), graded))
        if on_question:
            on_question(i + 1, len(questions))
    return report
