"""Facts that hold only in one case: a sentence that states one case's value without saying which case it is.

A booklet gives the copay twice, "In-Network Copays: … primary care visits … around $20" and "Out-of-Network Copays:
… primary care visits … around $50"; a list says "not covered" under a heading about newborns while another page
says the plan covers the same service. A small model lifts one of these sentences and drops what scoped it ("the
copay for primary care visits is around $50"): every word and number of its answer is in the passage it cites, so
the citation checks pass it, and the answer is wrong for the case the reader is in.

Here: two sentences of one document are *parallel* to an answer sentence when they share most of its words (or it
shares most of theirs); they are
*different cases* when they give different numbers, or one says "not" and the other does not (different documents
that disagree are a question of which document is meant, not of the case). The answer sentence
agrees with one of them; it *says which case* when, for each conflicting sentence, it (or the question) holds a
word of its own case's sentence, context (the sentence and the one before it) or heading that the conflicting one
lacks ("newborns", "out-of-network" in the heading, "emergency" against the mental health copays), or its year.
Otherwise the sentence is not shown as supported, and the answer quotes the case it gave and the other most like it,
in the passages' own words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rag.citations import NEGATED_SPAN, in_condition, key_facts, split_sentences, word_stems, years

PARALLEL_SHARE = 0.6  # share of the shorter sentence's words (stems) two sentences hold in common to be parallel
MIN_FRAME = 3  # fewer words besides the numbers (of a sentence, or in common) are too few to compare

_NEGATION = re.compile(r"\b(?:not|no|never|none|neither|nor|cannot|excludes?|excluded)\b|n[’']t\b", re.IGNORECASE)
_NEGATION_WORDS = frozenset({"not", "no", "never", "none", "neither", "nor", "cannot", "exclu"})


@dataclass(frozen=True)
class Case:
    """One passage sentence that states a case, with the sentence before it (what scopes it), verbatim."""

    passage: int  # 1-based, as cited
    document: str
    sentence: str
    context: str  # the sentence before it in the passage (empty for the first), then the sentence


_SOURCE = re.compile(r",?\s*\b(?:as\s+(?:stated|mentioned|noted|shown|described|explained)|according\s+to)\b[^,;]*$",
                     re.IGNORECASE)


def stems(text: str) -> set[str]:
    """Content words without numbers, by their first letters (`word_stems`); a closing "as stated in …" or "according to …"
    is no part of what the sentence says."""
    text = _SOURCE.sub("", text.rstrip(" .!?"))
    return word_stems(text) - _NEGATION_WORDS


def _negations(text: str) -> list[re.Match[str]]:
    """Each "not", "no", "never" … other than in a condition ("if approval is not obtained") or "no matter"."""
    return [m for m in _NEGATION.finditer(text) if not in_condition(text, m.start())
            and not re.match(r"\s+(?:matter|later|less|more|doubt)\b", text[m.end():], re.IGNORECASE)]


def negated(text: str) -> bool:
    """The text says something is not so."""
    return bool(_negations(text))


def _denied(text: str) -> set[str]:
    """Stems of the words each negation is about (the NEGATED_SPAN words after it): "is not covered under the plan"
    → cover, plan. An exclusion as a noun ("pre-existing condition exclusions") denies nothing."""
    return set().union(*(stems(" ".join(text[m.end():].split()[:NEGATED_SPAN])) for m in _negations(text)))


def _numbers(text: str) -> set[str]:
    return {f for f in key_facts(text) if any(c.isdigit() for c in f)}


def _cases(passages: Sequence[tuple[str, str]]) -> list[Case]:
    out = []
    for n, (document, text) in enumerate(passages, start=1):
        sentences = split_sentences(" ".join(text.split()))
        for i, sentence in enumerate(sentences):
            context = f"{sentences[i - 1]} {sentence}" if i else sentence
            out.append(Case(n, document, sentence, context))
    return out


def unscoped_case(sentence: str, passages: Sequence[tuple[str, str]],
                  question: str = "") -> tuple[list[Case], list[Case]] | None:
    """When a document among the passages ((document id, text), numbered from 1) states the sentence's fact for one
    case and something else for another, and neither the sentence nor the question says which case it is: (the
    cases that agree with it, those it does not tell itself apart from). None when the sentence is not one of several
    cases, or says which."""
    frame = stems(sentence)
    if len(frame) < MIN_FRAME:
        return None
    numbers, negative = _numbers(sentence), negated(sentence)
    parallel = [c for c in _cases(passages) if _parallel(frame, stems(c.sentence))]
    if numbers:
        agree = [c for c in parallel if _holds(numbers, sentence, c.sentence)]
        differ = [c for c in parallel if _numbers(c.sentence) and not _holds(numbers, sentence, c.sentence)
                  and negated(c.sentence) == negative]
    elif negative:  # "X is not covered": another sentence that covers X, without a "not" about it, is the other case
        denied = _denied(sentence) & frame
        agree = [c for c in parallel if _denied(c.sentence) & denied]
        differ = [c for c in parallel if not negated(c.sentence) and stems(c.sentence) & denied
                  and not _numbers(c.sentence)]
    else:  # "X is covered": another sentence whose "not" is about the answer's words is the other case
        agree = [c for c in parallel if not negated(c.sentence)]
        differ = [c for c in parallel if _denied(c.sentence) & frame and not _numbers(c.sentence)]
    documents = {c.document for c in agree} & {c.document for c in differ}
    agree = [c for c in agree if c.document in documents]
    differ = [c for c in differ if c.document in documents]
    if not agree or not differ:
        return None
    said, named_years = stems(sentence) | stems(question), years(sentence) | years(question)
    own = set().union(*(stems(c.sentence) for c in agree))
    context = set().union(*(stems(c.context) for c in agree))
    lead = set().union(*(stems(_lead(c.context)) for c in agree))
    dated = set().union(*(years(c.context) for c in agree))
    # each other case must be told apart, by a word it lacks: of this case's sentence ("primary care" against the
    # emergency copay of the same list), of its context (the sentence before: "newborns"), or of its heading or
    # opening clause ("Out-of-Network Copays:") that is not in the other's sentence either; or by its year
    # ("… was $1.2 billion in fiscal 2022" beside "In fiscal 2021, … $0.9 billion": the year is the case)
    differ = [c for c in differ
              if not said & ((own - stems(c.sentence)) | (context - stems(c.context))
                             | (lead - stems(_lead(c.context)) - stems(c.sentence)))
              and not named_years & (dated - years(c.sentence))]
    if not differ:
        return None

    def likeness(case: Case) -> float:  # the most parallel first: shared words over all words of the two
        words = stems(case.sentence)
        return len(frame & words) / len(frame | words)

    return sorted(agree, key=likeness, reverse=True), sorted(differ, key=likeness, reverse=True)


_CLAUSE = re.compile(r",?\s+(?:while|whereas)\s+|;\s*", re.IGNORECASE)


def _holds(numbers: set[str], sentence: str, other: str) -> bool:
    """The other sentence gives the sentence's numbers for what the sentence says: in a sentence of several clauses
    ("… primary care visits … around $20, while specialist visits … around $50"), the clause most like a
    one-clause sentence must hold its numbers ("the copay for primary care visits is around $50" is not held by
    it, though $50 is there)."""
    if not numbers <= _numbers(other):
        return False
    clauses = _CLAUSE.split(other)
    if len(clauses) == 1 or len(_CLAUSE.split(sentence)) > 1:
        return True
    frame = stems(sentence)
    closest = max(clauses, key=lambda clause: len(frame & stems(clause)))
    return numbers <= _numbers(closest)


def _parallel(frame: set[str], words: set[str]) -> bool:
    """The two share PARALLEL_SHARE of the shorter one's words: "The copay for the emergency room under Northwind
    Health Plus is typically around $150" and "For out-of-network emergency services, the copayment is typically
    around $150" (the answer repeats the plan's name from the question; the passage names the case)."""
    return len(frame & words) >= PARALLEL_SHARE * min(len(frame), len(words)) and len(frame & words) >= MIN_FRAME


def _lead(context: str) -> str:
    """What a context opens with, up to its first comma or colon: a heading ("Out-of-Network Copays:") or the
    case a sentence is about ("For in-network services,")."""
    return re.split(r"[,:;]", context, maxsplit=1)[0]


QUOTED_CASES = 2  # the case the answer gave and the other most like it
QUOTE_CHARS = 400  # a longer context (a bulleted list read as one sentence) is quoted as its sentence alone, cut


def quote_cases(agree: Sequence[Case], differ: Sequence[Case]) -> list[Case]:
    """The cases to quote, each with its context: the agreeing one most like the answer's sentence and the differing
    one most like it (QUOTED_CASES), in passage order (the best-ranked first)."""
    chosen = list({c.sentence: c for c in [*agree[:1], *differ]}.values())[:QUOTED_CASES]
    return [replace(c, context=_shortened(c)) for c in sorted(chosen, key=lambda c: c.passage)]


def _shortened(case: Case) -> str:
    """The context, or the sentence alone when the context is long, cut at a word with "…" when still long."""
    if len(case.context) <= QUOTE_CHARS:
        return case.context
    if len(case.sentence) <= QUOTE_CHARS:
        return case.sentence
    return case.sentence[:QUOTE_CHARS].rsplit(" ", 1)[0] + " …"
