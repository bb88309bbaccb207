"""Evaluation metrics on a tiny hand-made question set with known answers."""

import json
from pathlib import Path

import pytest

from rag.evaluation import Evidence, Question, evaluate, evaluate_answers, load_questions
from storage.records import Chunk, ScoredChunk


def hit(file: str, page: int) -> ScoredChunk:
    return ScoredChunk(Chunk("d", "c", file, page, 0, 1, "t", 0), 1.0)


QUESTIONS = [
    Question("q1", "one", "", (Evidence("a.pdf", 3),), True),    # hit at rank 1 (exact page)
    Question("q2", "two", "", (Evidence("a.pdf", 5),), True),    # hit at rank 3 (the page after the cited one)
    Question("q3", "three", "", (Evidence("b.pdf", 1),), True),  # file at rank 2, page never
    Question("q4", "four", "", (Evidence("c.pdf", None),), True),  # file-level evidence, found at rank 7
    Question("q5", "five", "", (), False),                        # unanswerable: not in retrieval metrics
]
RESULTS = {
    "one": [hit("a.pdf", 3)],
    "two": [hit("x.pdf", 1), hit("a.pdf", 4), hit("a.pdf", 6)],
    "three": [hit("x.pdf", 1), hit("b.pdf", 9)],
    "four": [hit("x.pdf", i) for i in range(6)] + [hit("c.pdf", 2)],
    "five": [hit("a.pdf", 1)],
}


def test_recall_and_mrr_exact() -> None:
    report = evaluate(QUESTIONS, lambda q, k: RESULTS[q][:k], k=10)
    assert [r.page_rank for r in report.results] == [1, 3, None, 7, None]
    assert [r.file_rank for r in report.results] == [1, 2, 2, 7, None]
    assert report.recall(1) == 0.25
    assert report.recall(5) == 0.5
    assert report.recall(10) == 0.75
    assert report.mrr() == pytest.approx((1 + 1 / 3 + 0 + 1 / 7) / 4)
    assert report.recall(1, "file") == 0.25
    assert report.recall(5, "file") == 0.75
    assert report.mrr("file") == pytest.approx((1 + 0.5 + 0.5 + 1 / 7) / 4)
    summary = report.summary()
    assert (summary["questions"], summary["answerable"], summary["recall@5"]) == (5, 4, 0.5)


class FakeAnswer:
    def __init__(self, declined: bool, cites: list[tuple[str, int]], text: str = "x") -> None:
        self.declined = declined
        self.citations = [type("C", (), {"chunk": hit(f, p).chunk})() for f, p in cites]
        self.timings = {"first_token_ms": 100.0, "total_ms": 300.0}
        self.text = text


def test_answer_metrics_exact() -> None:
    answers = {"one": FakeAnswer(False, [("a.pdf", 3)]), "two": FakeAnswer(False, [("a.pdf", 9)]),
               "three": FakeAnswer(True, []), "four": FakeAnswer(False, [("c.pdf", 1)]),
               "five": FakeAnswer(True, [])}
    report = evaluate_answers(QUESTIONS, type("A", (), {"ask": lambda self, q: answers[q]})())
    s = report.summary()
    assert s["citation_hit_rate"] == 0.5  # q1 and q4 of four answerable
    assert s["citation_hit_rate_when_answered"] == pytest.approx(round(2 / 3, 4))
    assert s["declined_when_unanswerable"] == 1.0
    assert s["wrongly_declined"] == 0.25
    assert s["first_token_p50_ms"] == 100.0


def test_answers_are_graded_against_the_reference() -> None:
    questions = [Question("g1", "law?", "Arizona", (Evidence("a.pdf", 3),), True),
                 Question("g2", "term?", "8/1/22", (Evidence("a.pdf", 2),), True),
                 Question("g3", "notice?", "180 days", (Evidence("a.pdf", 9),), True),
                 Question("g4", "parental leave?", "", (), False)]
    answers = {"law?": FakeAnswer(False, [("a.pdf", 3)], "The laws of the State of Arizona govern it [1]."),
               "term?": FakeAnswer(False, [("a.pdf", 2)], "It ends on August 1, 2021 [1]."),
               "notice?": FakeAnswer(True, []),
               "parental leave?": FakeAnswer(False, [("a.pdf", 1)], "Twelve weeks [1].")}
    report = evaluate_answers(questions, type("A", (), {"ask": lambda self, q: answers[q]})())
    assert [r.graded.grade for r in report.results] == ["right", "wrong", "declined", "wrong"]
    s = report.summary()
    assert (s["right_share"], s["wrong_share"], s["declined_share"]) == (0.25, 0.5, 0.25)
    assert (s["right_of_answerable"], s["declined_of_unanswerable"]) == (0.333, 0.0)


def test_question_file_format(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"id": "x", "question": "Q?", "answer": "A", "answerable": True,
                                "evidence": [{"file": "f.pdf", "page": None}, {"file": "g.pdf", "page": 2}]}) + "\n\n")
    (q,) = load_questions(path)
    assert q.evidence == (Evidence("f.pdf", None), Evidence("g.pdf", 2)) and q.answerable
    path.write_text('{"id": "bad"}\n')
    with pytest.raises(ValueError, match="line 1"):
        load_questions(path)
