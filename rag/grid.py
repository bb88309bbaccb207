"""The review grid: the same questions asked of each document alone, as a table of short cited answers a team can
check cell by cell. This module turns one checked Answer into one cell (short answer, the verbatim sentence it
rests on, its page, a state) and holds the ready-made question sets; the Workspace runs the cells
(confidant/workspace.py `grid`), storage/grid_cells.py keeps them, confidant/grid_export.py writes them out.

A cell never shows a fact its quote does not hold: an answer whose numbers, dates or places are not in the
sentence it is quoted from is shown as the quote alone, marked for review."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from rag.answering import Answer
from rag.citations import asks_when, content_words, key_facts, names_a_date, split_sentences, without_markers
from storage.records import DocumentRecord

NOT_FOUND_TEXT = "Not found in this document."
# words every grid question has, which say nothing of what it is about
_GENERIC = {"agreement", "agreements", "contract", "party", "parties", "either", "other", "under", "this", "may",
            "must", "does", "do", "is", "are", "what", "which", "when", "how", "long", "much", "many", "after",
            "before", "last", "lasts", "end", "ends", "policy", "who", "whom", "there", "any", "set", "sets"}
_YES_NO = re.compile(r"^\W*(?:may|can|could|is|are|does|do|will|must|shall|should|has|have)\b", re.IGNORECASE)
_NEGATIVE = re.compile(r"\b(?:not|no|never|neither|nor|cannot|prohibited|forbidden)\b|n[’']t\b", re.IGNORECASE)


class CellState(StrEnum):
    ANSWERED = "answered"  # a short answer whose facts its quote holds
    NOT_FOUND = "not found"  # the document does not answer it (a useful answer: the contract has no such clause)
    NEEDS_REVIEW = "needs review"  # a sentence that may answer it, shown word for word; a person should read it
    REVIEWED = "reviewed"  # a reviewer's correction, kept beside the model's answer


@dataclass(frozen=True)
class GridCell:
    document_id: str
    file_name: str
    question: str
    answer: str  # the short answer ("" when only the quote can be shown)
    quote: str  # the document's own sentence(s) the answer rests on, verbatim
    page: int | None  # the page of the quote
    state: CellState
    model: str  # what answered ("read from the contract's clauses, no model", or the model's name)
    version: str  # the document's version when the cell was answered: a changed document redoes its row
    seconds: float = 0.0  # time the cell took
    start: int = 0  # the quoted passage's characters in the document's page text, for the page viewer
    end: int = 0
    reviewed_answer: str = ""  # a reviewer's correction
    reviewed_by: str = ""

    @property
    def shown_state(self) -> CellState:
        return CellState.REVIEWED if self.reviewed_by else self.state

    @property
    def shown_answer(self) -> str:
        return self.reviewed_answer if self.reviewed_by else self.answer

    def reviewed(self, answer: str, by: str) -> GridCell:
        return replace(self, reviewed_answer=answer, reviewed_by=by)

    def as_json(self) -> dict[str, object]:
        return {"document_id": self.document_id, "file": self.file_name, "question": self.question,
                "answer": self.shown_answer, "model_answer": self.answer, "quote": self.quote, "page": self.page,
                "state": self.shown_state.value, "model_state": self.state.value, "model": self.model,
                "reviewed_by": self.reviewed_by, "seconds": round(self.seconds, 1)}


@dataclass
class Grid:
    """Rows are documents (id, file name), columns are questions; `answered` counts the cells answered in this run
    (the others were kept from an earlier one)."""

    documents: list[tuple[str, str]]
    questions: list[str]
    cells: dict[tuple[str, str], GridCell] = field(default_factory=dict)
    answered: int = 0

    def cell(self, document_id: str, question: str) -> GridCell | None:
        return self.cells.get((document_id, question))

    def as_json(self) -> dict[str, object]:
        return {"questions": self.questions,
                "rows": [{"document_id": doc_id, "file": file_name,
                          "cells": [c.as_json() for q in self.questions if (c := self.cell(doc_id, q)) is not None]}
                         for doc_id, file_name in self.documents]}


@dataclass(frozen=True)
class GridProgress:
    """Where a grid run stands after a cell: cells done of all, and about how long the cells still to answer take
    (their count times this run's average per answered cell; kept cells take no time). None before the first."""

    done: int
    total: int
    seconds_left: float | None


#: How cells are answered and judged. Raise it when that changes (a new check, a new clause reader): cells kept from
#: before are answered again the next time their grid is run, except those a reviewer corrected.
CELL_RULES = "2"


def grid_version(record: DocumentRecord) -> str:
    """What a cell was answered against: the document's reading, whether all of it was searchable by meaning (a cell
    answered by keyword search alone, or before the document's pictures were read, is answered again once it is),
    and the rules it was judged by."""
    return f"{_document_version(record)} rules {CELL_RULES}"


def _document_version(record: DocumentRecord) -> str:
    return (record.updated_at + (" keywords only" if record.vectors_pending else "")
            + (" pictures pending" if record.pictures_pending else ""))


def still_current(cell: GridCell, record: DocumentRecord) -> bool:
    """Whether a kept cell stands for this document as it is: answered against this version by today's rules, or
    corrected by a reviewer on this version (a reviewer's word outlives a change of rules, not of the document)."""
    if cell.version == grid_version(record):
        return True
    return bool(cell.reviewed_by) and cell.version.split(" rules ")[0] == _document_version(record)


def _same_word(a: str, b: str) -> bool:
    """One word in two forms: equal, one the start of the other (renew ~ renewal, not term ~ termination), or two
    longer words with the same first four letters (liability ~ liable, assign ~ assignment)."""
    short, long = sorted((a, b), key=len)
    return a == b or (len(short) >= 5 and long.startswith(short)) or (len(short) >= 6 and short[:4] == long[:4])


def on_topic(question: str, sentence: str) -> bool:
    """The sentence speaks of what the question asks about: at least half of the question's own words (not the
    words every grid question has) are in it, in some form."""
    topic = {w for w in content_words(question) if w not in _GENERIC}
    words = content_words(sentence)
    return not topic or 2 * sum(any(_same_word(t, w) for w in words) for t in topic) >= len(topic)


def same_answer_to_yes_no(question: str, answer_text: str, sentence: str) -> bool:
    """For a yes/no question ("May a party assign …?"), the answer says no exactly when the sentence does
    ("Neither Party may assign …" is no answer of "Yes, a party may assign …")."""
    if not _YES_NO.match(question):
        return True
    says_no = bool(re.match(r"^\W*no\b", answer_text, re.IGNORECASE) or _NEGATIVE.search(answer_text))
    return says_no == bool(_NEGATIVE.search(sentence))


def quote_for(answer_text: str, question: str, sentences: Sequence[str]) -> str | None:
    """The sentence that holds every key fact of the answer (numbers, dates, places), speaks of what the question
    asks, says yes or no as the answer does, and shares the most words with it and the question; None when no
    sentence does (the default model answers a liability question with "7.9 Independent Contracting Parties", a
    section heading, and an assignment question with "yes" where the contract says "Neither Party may assign")."""
    facts = key_facts(answer_text)
    wanted = content_words(answer_text) | content_words(question)
    holding = [s for s in sentences if facts <= key_facts(s) and len(content_words(s)) >= 3 and on_topic(question, s)
               and same_answer_to_yes_no(question, answer_text, s)]
    if not holding:
        return None
    return max(holding, key=lambda s: len(content_words(s) & wanted))


def cell_from_answer(answer: Answer, document_id: str, file_name: str, version: str, seconds: float) -> GridCell:
    """One cell from the answer to a question asked of one document."""
    base = GridCell(document_id, file_name, answer.question, "", "", None, CellState.NOT_FOUND, answer.model,
                    version, seconds)
    if answer.declined or not answer.citations:
        return replace(base, answer=NOT_FOUND_TEXT)
    cited = answer.citations[0].chunk
    if answer.quoted:  # the model's answer failed the checks: only the sentence it might come from is shown
        return replace(base, quote=answer.quote, page=cited.page, state=CellState.NEEDS_REVIEW, start=cited.start,
                       end=cited.end)
    text = without_markers(answer.text)
    if answer.quote:  # read from the contract's own clause(s)
        return replace(base, answer=text, quote=answer.quote, page=cited.page, state=CellState.ANSWERED,
                       start=cited.start, end=cited.end)
    for citation in answer.citations:
        sentences = split_sentences(" ".join(citation.chunk.text.split()))
        holding = quote_for(text, answer.question, sentences)
        if holding is not None:
            chunk = citation.chunk
            # the model's "when" answered by a time relative to an event ("twelve months after the Launch"): the
            # clause is right there, but the date is still to be worked out, which a reviewer does, not the model
            relative = asks_when(answer.question) and not names_a_date(text)
            state = CellState.NEEDS_REVIEW if answer.unsupported or relative else CellState.ANSWERED
            return replace(base, answer=text, quote=holding, page=chunk.page, state=state, start=chunk.start,
                           end=chunk.end)
    # no single sentence holds the answer's facts: the answer is not shown, the closest cited sentence is
    sentences = split_sentences(" ".join(cited.text.split()))
    closest = max(sentences, key=lambda s: len(content_words(s) & content_words(text + " " + answer.question)),
                  default="")
    return replace(base, quote=closest, page=cited.page, state=CellState.NEEDS_REVIEW, start=cited.start,
                   end=cited.end)


# Ready-made columns. The contract questions are worded as the clause readers and the search expect them; "this
# agreement" because each cell is asked of one document alone.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "contracts": (
        "Which jurisdiction's law governs this agreement?",
        "When does the initial term of this agreement end?",
        "For how long does this agreement renew?",
        "How much notice is needed to stop this agreement from renewing?",
        "May a party assign this agreement without the other party's consent?",
        "May a party terminate this agreement for convenience, and with how much notice?",
        "What is the cap on either party's liability under this agreement?",
        "For how long do the confidentiality obligations last after this agreement ends?",
    ),
    "hr-policies": (
        "Who is eligible under this policy?",
        "What amounts, limits or allowances does this policy set?",
        "From what date does this policy apply?",
        "What is not covered or excluded by this policy?",
        "Whom should an employee contact with questions about this policy?",
    ),
}
