"""Is an answer right? A grade against the reference answer by its key facts, not by wording.

The rule (README, "Answer correctness"):
- A declined answer is `declined`; an answer shown without any checked citation (no model, or only passages shown)
  is `unsupported`. Neither counts as right; for an unanswerable question a decline is what should happen.
- When the model's answer failed Confidant's checks and a passage sentence is shown word for word instead ("The
  documents say: …"), the quote is graded like an answer when it holds the reference's facts (`right`); otherwise
  it is `declined`: the documents' own words are shown and nothing is claimed. Quotes are counted (`quoted`).
- An answer to an unanswerable question is `wrong`.
- Otherwise the reference's key facts decide (those the question does not itself give), normalised first (number
  words and "thirty (30)" to digits, dates in any of "8/1/22", "August 1, 2022", "1 August 2022" to month, day and
  year, "[]" parts of a date left out):
  - periods ("30 days", "successive 1 year", "six (6) months"): one of the reference's periods is in the answer,
    counted in days or months ("12 months" = "1 year", "2 weeks" = "14 days");
  - "perpetual": the answer says the term has no fixed end (perpetual, indefinitely, until terminated);
  - places (states, provinces, countries): the answer names the reference's state or province (its country when
    the reference names only a country) and no other state or province;
  - dates: the reference's month, day and year are all in the answer;
  - other numbers and amounts: each is in the answer (within 1 %, so "24.3" is "24.26").
  The answer is `right` when every kind of fact the reference has is matched, else `wrong`. A reference that opens
  with "Yes" or "No" also needs the same polarity (a "not" in the answer's first sentence for a "No").
- A reference with no key fact at all (a descriptive answer, most of the HR set) is judged by meaning: `right` when
  the answer cites the evidence page and means the same as the reference (embedding similarity ≥ MEANING_SIMILARITY,
  or, without an embedder, half the reference's content words in the answer). These grades are counted apart
  (`by_meaning`) because they are the weaker kind.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from rag.citations import asks_for_place, content_words, key_facts, places
from rag.embedders import Embedder
from rag.number_words import SMALL, TENS

Grade = Literal["right", "wrong", "declined", "unsupported"]
MEANING_SIMILARITY = 0.8

_SMALL, _TENS = SMALL, TENS
_NUMBER_WORD = re.compile(r"\b(" + "|".join(list(_TENS) + ["twenty"]) + r")[\s-]+(" + "|".join(
    w for w in _SMALL if 0 < _SMALL[w] < 10) + r")\b|\b(" + "|".join(list(_SMALL) + list(_TENS)) + r")\b",
    re.IGNORECASE)
_WORD_THEN_DIGITS = re.compile(  # "thirty (30)", "one hundred eighty (180)": the digits say it
    r"\b(?:(?:" + "|".join(list(_SMALL) + list(_TENS) + ["hundred", "thousand", "and"]) + r")[\s-]*)+\((\d+)\)",
    re.IGNORECASE)
_MONTHS = "january february march april may june july august september october november december".split()
_SLASH_DATE = re.compile(r"(?<![\d/])(\[\s*\]|\d{1,2})\s*/\s*(\[\s*\]|\d{1,2})\s*/\s*"
                         r"(\[\s*\]|\d{4}|\d{2}(?:\[\s*\])?)(?!\d)")
_PERIOD = re.compile(r"\b(\d+)[\s-]*(?:\(\w{1,4}\))?[\s-]*(day|week|month|year)s?\b", re.IGNORECASE)
_PERPETUAL = re.compile(r"\bperpetu|\bindefinite|\buntil\s+(?:it\s+is\s+|terminated|either|one|the\s+\w+\s+"
                        r"terminat)|\bno\s+(?:fixed|specific|set|definite)\s+(?:end|term|expiration)", re.IGNORECASE)
_MARKERS = re.compile(r"\[\d{1,2}\]")
_ORDINAL = re.compile(r"\b(?:first|second|third|fourth|fifth)\b", re.IGNORECASE)
_YES_NO = re.compile(r"^\s*(yes|no)\b", re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:not|no|never|none|cannot|excluded?|isn't|aren't|doesn't|don't|won't)\b|n't\b",
                       re.IGNORECASE)
_COUNTRIES = {"canada", "australia", "england", "wales", "scotland", "ireland", "singapore", "hong kong", "germany",
              "france", "switzerland", "netherlands", "japan", "china", "india", "israel", "luxembourg",
              "cayman islands", "bermuda"}


@dataclass(frozen=True)
class Graded:
    grade: Grade
    by_meaning: bool = False  # judged by similarity of meaning: the reference had no key fact
    reason: str = ""
    quoted: bool = False  # the shown answer was a passage sentence word for word


def normalise(text: str) -> str:
    """Number words to digits ("thirty (30) days" and "thirty days" → "30 days") and slash dates to words."""
    text = _WORD_THEN_DIGITS.sub(lambda m: m.group(1), text)
    text = _NUMBER_WORD.sub(lambda m: str(_number_value(m.group(0))), text)
    return _SLASH_DATE.sub(_date_words, text)


def _number_value(words: str) -> int | None:
    parts = [p for p in re.split(r"[\s-]+", words.lower()) if p]
    if len(parts) == 1:
        return _SMALL.get(parts[0], _TENS.get(parts[0]))
    if len(parts) == 2 and parts[0] in {**_TENS, "twenty": 20} and parts[1] in _SMALL:
        return {**_TENS, "twenty": 20}[parts[0]] + _SMALL[parts[1]]
    return None


def _date_words(match: re.Match[str]) -> str:
    month, day, year = (None if "[" in g else g for g in match.groups())
    words = []
    if month is not None and 1 <= int(month) <= 12:
        words.append(_MONTHS[int(month) - 1].capitalize())
    if day is not None:
        words.append(day)
    if year is not None:
        y = int(year)
        words.append(str(y if len(year) == 4 else (2000 + y if y < 50 else 1900 + y)))
    return " ".join(words) if words else "(a date left blank)"


def periods(text: str) -> set[str]:
    """Every period in the text as days or months: "1 year" → "12 months", "2 weeks" → "14 days"."""
    out = set()
    for number, unit in _PERIOD.findall(normalise(text)):
        n, unit = int(number), unit.lower()
        out.add(f"{n * 12} months" if unit == "year" else f"{n * 7} days" if unit == "week" else f"{n} {unit}s")
    return out


def _numbers(facts: set[str]) -> set[float]:
    out = set()
    for f in facts:
        try:
            out.add(float(f))
        except ValueError:
            pass
    return out


def _has_number(value: float, among: set[float]) -> bool:
    """A whole number exactly; a fraction within 1 % (an answer may round "24.26" to "24.3")."""
    if value == int(value):
        return value in among
    return any(abs(value - v) <= 0.01 * abs(value) for v in among)


def grade_facts(answer: str, reference: str, question: str = "") -> tuple[bool, str] | None:
    """(right?, why) by the reference's key facts, or None when the reference has none. A fact the question itself
    gives ("the Financial Market Analysis Report 2023", "a policyholder in North Carolina") is not what is asked."""
    answer = _MARKERS.sub("", answer)
    ref, ans = normalise(reference), normalise(answer)
    given_facts, given_places = key_facts(normalise(question)), places(question)
    if asks_for_place(question):
        given_places = set()  # asked which law governs, the place is what is asked, even where a party's name
        # holds it ("… and National City Bank of Kentucky": Kentucky law)
    checks: list[tuple[bool, str]] = []
    ref_periods = periods(reference) - periods(question)
    if ref_periods:
        checks.append((bool(ref_periods & periods(answer)), f"period {sorted(ref_periods)}"))
    if _PERPETUAL.search(reference):
        checks.append((bool(_PERPETUAL.search(answer)), "no fixed end"))
    ref_places = places(reference) - given_places
    if ref_places:
        ans_places = places(answer)
        others = ans_places - ref_places - _COUNTRIES
        wanted = (ref_places - _COUNTRIES) or ref_places  # "Victoria, Australia" needs Victoria, not Australia alone
        checks.append((bool(wanted & ans_places) and not others, f"place {sorted(ref_places)}"))
    ref_facts = key_facts(_ORDINAL.sub("", ref)) - places(reference) - given_facts  # "first submit" counts nothing
    ans_facts = key_facts(ans)
    if ref_periods:  # the period's number is checked with its unit above
        period_numbers = {m.group(1) for m in _PERIOD.finditer(ref)}
        ref_facts -= period_numbers
    months = {f for f in ref_facts if f in _MONTHS}
    if months:
        checks.append((months <= ans_facts, f"month {sorted(months)}"))
    have = _numbers(ans_facts)
    numbers = {f: _numbers({f}) for f in ref_facts - months}
    wanting = sorted(f for f, value in numbers.items() if value and not _has_number(next(iter(value)), have))
    if any(numbers.values()):
        checks.append((not wanting, f"numbers {wanting}"))
    polarity = _YES_NO.match(reference)
    if polarity and checks:
        first = re.split(r"(?<=[.!?])\s", answer.strip(), maxsplit=1)[0]
        checks.append(((polarity.group(1).lower() == "no") == bool(_NEGATION.search(first)), "yes/no"))
    if not checks:
        return None
    missed = [why for ok, why in checks if not ok]
    return (not missed, "missing " + ", ".join(missed) if missed else "facts match")


def grade(answer: str, reference: str, *, declined: bool, answerable: bool, checked: bool = True,
          cites_evidence: bool = False, embedder: Embedder | None = None, quoted: bool = False,
          question: str = "") -> Graded:
    """Grade one shown answer (see the module's rule). `checked`: Confidant's checks passed and it carries
    citations; `cites_evidence`: one of its citations is on an evidence page; `quoted`: the answer is a passage
    sentence shown word for word in place of the model's answer, which failed the checks."""
    if declined:
        return Graded("declined")
    if quoted:
        graded = grade(answer, reference, declined=False, answerable=answerable, checked=checked,
                       cites_evidence=cites_evidence, embedder=embedder, question=question)
        if graded.grade == "right":
            return Graded("right", graded.by_meaning, "quoted: " + graded.reason, quoted=True)
        return Graded("declined", graded.by_meaning, "quoted the closest sentence; it does not answer", quoted=True)
    if not answerable:
        return Graded("wrong", reason="answered a question the documents do not answer")
    if not checked:
        return Graded("unsupported")
    by_facts = grade_facts(answer, reference, question)
    if by_facts is not None:
        return Graded("right" if by_facts[0] else "wrong", reason=by_facts[1])
    if not cites_evidence:
        return Graded("wrong", True, "does not cite the evidence page")
    similarity = meaning_similarity(answer, reference, embedder)
    right = similarity >= (MEANING_SIMILARITY if embedder is not None else 0.5)
    return Graded("right" if right else "wrong", True, f"meaning {similarity:.2f}")


def meaning_similarity(answer: str, reference: str, embedder: Embedder | None) -> float:
    if embedder is not None:
        a, r = (np.asarray(v, dtype=np.float32).ravel() for v in embedder.embed_documents([answer, reference]))
        return float(a @ r / (np.linalg.norm(a) * np.linalg.norm(r) or 1.0))
    want = content_words(reference)
    return len(want & content_words(answer)) / len(want) if want else 0.0


def summarise(grades: Sequence[Graded], answerable: Sequence[bool]) -> dict[str, float | int]:
    """Shares of all questions: right, wrong, declined, unsupported; and unanswerable ones declined."""
    n = len(grades) or 1
    out: dict[str, float | int] = {f"{g}_share": round(sum(x.grade == g for x in grades) / n, 3)
                                   for g in ("right", "wrong", "declined", "unsupported")}
    yes = [g for g, a in zip(grades, answerable, strict=True) if a]
    no = [g for g, a in zip(grades, answerable, strict=True) if not a]
    if yes:
        out["right_of_answerable"] = round(sum(g.grade == "right" for g in yes) / len(yes), 3)
    if no:
        out["declined_of_unanswerable"] = round(sum(g.grade == "declined" for g in no) / len(no), 3)
    out["judged_by_meaning"] = sum(g.by_meaning for g in grades)
    out["quoted"] = sum(g.quoted for g in grades)
    return out
