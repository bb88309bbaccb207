"""Answers read from a contract's own clauses: when its term ends, for how long it renews, how much notice stops
the renewal, which law governs it.

"When does the initial term of the … Agreement end?" is one of the first questions asked of any contract, and most
contracts do not write the answer down: they give a length and a start ("shall continue for a period of five (5)
years from the Effective Date") and the start elsewhere, usually in the opening lines ("effective June 30, 1996
(\"Effective Date\")"). A 1.5B model does not count dates: it gave the start date as the end, or declined. This
module finds the two sentences and counts: the answer is the end date with both sentences cited, word for word.

A term with no end ("shall continue in effect until terminated in accordance with Article 9", "continues in
perpetuity") is said to have none, with that sentence cited, when no passage of the documents gives a length.

Which state's or country's law governs the agreement is read from its governing-law sentence ("shall be governed
by and construed in accordance with the laws of the State of Texas"), the place named right after "the laws of".

How long a renewal runs ("shall automatically renew for successive one (1) year periods") and how much notice
stops it ("unless either party gives written notice … at least ninety (90) days prior to the expiration") are read
from the renewal clause of the contract asked about the same way, the clause cited.

Only what the words fix is counted: a length from the Effective Date, the date of the agreement ("the date first
written above", "the date hereof", "the date of execution") or an explicit commencement date. A term that runs from
an event the contract does not date ("twelve months after the Launch") is not counted, nor is a term with no length;
those questions go to the model as before. A date left blank in the contract ("as of ____, 2020") gives the end as
far as it is known ("in 2025").
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from rag.citations import asks_for_place, places, split_sentences
from rag.number_words import ORDINALS, SMALL, TENS

_MONTHS = [m.lower() for m in calendar.month_name[1:]]
_MONTH = r"(?P<month>" + "|".join(m.capitalize() + "|" + m.upper() + "|" + m for m in _MONTHS) + r")"
_DAY = r"(?P<day>\d{1,2}|_{2,}|\s)"
_YEAR = r"(?P<year>(?:19|20)\d{2})"
_ORDINAL_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th|ST|ND|RD|TH)?"
# "June 30, 1996" / "June 30 1996" / "30 June 1996" / "the 20th day of March 2002" / "____ day of ______, 2004" /
# ", 2020" (day and month left blank)
_DATES = [
    re.compile(_MONTH + r"\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+" + _YEAR),
    re.compile(r"(?<!\d)" + _ORDINAL_DAY + r"\s+(?:day\s+of\s+)?" + _MONTH + r",?\s+" + _YEAR),
    re.compile(r"(?P<blank>_{2,}\s+day\s+of\s+_{2,}|_{2,}|\bas\s+of\s*),\s*" + _YEAR),
]
_WORDS, _ORDINALS = SMALL, ORDINALS
_NUMBER = r"(?P<n>\d{1,2}|" + "|".join(_WORDS) + r")(?:\s*\((?:\d{1,2})\))?"
_ORDINAL = r"(?P<n>\d{1,2}(?:st|nd|rd|th)|" + "|".join(_ORDINALS) + r")(?:\s*\(\d{1,2}(?:st|nd|rd|th)\))?"

ASKS_END = re.compile(r"\bwhen\b[^?]*\b(?:term|agreement|contract)\b[^?]*\b(?:end|expire|run\s+out)s?\b"
                      r"|\b(?:expiration|expiry|end)\s+date\b|\buntil\s+when\b", re.IGNORECASE)
_START_NAMES = {
    "effective": r"(?:the\s+)?effective\s+date",
    "signed": r"(?:the\s+)?(?:date\s+(?:first\s+)?(?:written|set\s+forth|stated)\s+above|date\s+hereof|date\s+of\s+"
              r"(?:this\s+agreement|execution|signing|signature)|execution\s+(?:date|of\s+this\s+agreement))",
}
_START = r"(?P<start>" + "|".join(f"(?P<{k}>{v})" for k, v in _START_NAMES.items()) + r")"
_UNIT = r"(?P<unit>year|month)s?"
# "(for|of) [a period of|an initial period of|a term of] five (5) years [thereafter|from|after|commencing on] <start>",
# "five (5) years from <start>", "until/on the fifth (5th) anniversary of <start>"
_LENGTHS = [
    re.compile(r"\b" + _ORDINAL + r"\s+anniversary\s+(?:date\s+)?of\s+" + _START, re.IGNORECASE),
    re.compile(r"\b" + _NUMBER + r"[\s-]+" + _UNIT + r"\b[^.;]{0,40}?\b(?:from|after|following|commencing\s+(?:on|with)"
               r"|beginning\s+(?:on|with)|starting\s+(?:on|with))\s+" + _START, re.IGNORECASE),
    re.compile(_START + r"[^.;]{0,120}?\b(?:for|of)\s+(?:a\s+|an\s+)?(?:initial\s+)?(?:period|term)?\s*(?:of\s+)?"
               + _NUMBER + r"[\s-]+" + _UNIT + r"\b", re.IGNORECASE),
    re.compile(r"\bterm\b[^.;]{0,60}?\b(?:shall|will)\s+be\s+" + _NUMBER + r"[\s-]+" + _UNIT
               + r"\b[^.;]{0,40}?\b(?:commencing|beginning|starting|from)\s+(?:on\s+)?" + _START, re.IGNORECASE),
]
_TERM_WORDS = re.compile(r"\b(?:term|continue|remain\s+in|in\s+(?:full\s+)?force|expire|expiring|duration)\b",
                         re.IGNORECASE)
# the length runs from something the contract does not date: not counted
_OTHER_EVENT = re.compile(r"\b(?:launch|first\s+(?:commercial\s+)?sale|closing|completion|acceptance|delivery|"
                          r"opening|approval|installation)\b", re.IGNORECASE)
_EFFECTIVE_DEFINED = [
    # June 30, 1996 ("Effective Date") / as of <date> (the "Effective Date")
    re.compile(r"(?P<date>.{0,40}?)\s*\(\s*(?:the\s+|this\s+)?[\"“”']*\s*effective\s+date\s*[\"“”']*\s*\)",
               re.IGNORECASE),
    re.compile(r"[\"“”']effective\s+date[\"“”']\s+(?:means|shall\s+mean|is)\s+(?P<date>.{0,40})", re.IGNORECASE),
    re.compile(r"\beffective\s+(?:as\s+of\s+|on\s+)?(?P<date>.{0,40})", re.IGNORECASE),
]
_SIGNED = re.compile(r"\b(?:made|entered\s+into|executed|dated|signed|is\s+effective|made\s+and\s+effective)"
                     r"(?:\s+and\s+entered\s+into)?(?:\s+(?:as\s+of|on|this|effective))*\s*(?:the\s+)?(?P<date>.{0,40})",
                     re.IGNORECASE)


@dataclass(frozen=True)
class KnownDate:
    """A date as far as the contract gives it: a blank day or month stays unknown."""

    year: int
    month: int | None = None
    day: int | None = None

    def plus(self, years: int, months: int) -> KnownDate | None:
        """This date moved on; None when a blank month makes the year unknown (six months from "____, 2004")."""
        if self.month is None and months % 12:
            return None
        total = (self.month or 1) - 1 + months
        year = self.year + years + total // 12
        if self.month is None:
            return KnownDate(year)
        month = total % 12 + 1
        if self.day is None:
            return KnownDate(year, month)
        return KnownDate(year, month, min(self.day, calendar.monthrange(year, month)[1]))

    def words(self) -> str:
        if self.month is None:
            return f"in {self.year}"
        if self.day is None:
            return f"in {calendar.month_name[self.month]} {self.year}"
        return f"on {date(self.year, self.month, self.day):%B} {self.day}, {self.year}"


@dataclass(frozen=True)
class TermEnd:
    """The end of the term, counted: `length_sentence` (in passage `length_at`) gives the length and what it runs
    from; `start_sentence` (in `start_at`) gives that start's date."""

    end: KnownDate
    start: KnownDate
    years: int
    months: int
    start_name: str  # "the Effective Date", "the date of the agreement"
    length_at: int
    length_sentence: str
    start_at: int
    start_sentence: str

    def answer(self) -> str:
        length = (f"{self.years} year{'s' * (self.years != 1)}" if self.years else
                  f"{self.months} month{'s' * (self.months != 1)}")
        start = self.start.words().removeprefix("on ").removeprefix("in ")
        return (f"The initial term ends {self.end.words()}: it runs {length} from {self.start_name} "
                f"({start}).")


@dataclass(frozen=True)
class StatedEnd:
    """The contract writes the end date down: `sentence` (in passage `at`) says the term runs through `end`."""

    at: int
    sentence: str
    end: KnownDate

    def answer(self) -> str:
        return f"The initial term ends {self.end.words()}."


_ENDS_ON = re.compile(r"\b(?:through|until|to|ending\s+on|ends?\s+on|expir(?:e|es|ing)\s+on|terminat(?:e|es|ing)\s+on)"
                      r"\s+(?:and\s+including\s+)?(?:the\s+)?(?P<date>[^.;]{0,30})", re.IGNORECASE)
_ABOUT_TERM = re.compile(r"\bterm\b|\bthis\s+agreement\b", re.IGNORECASE)


def stated_end(sentence: str) -> KnownDate | None:
    """The end date a sentence about the term writes down ("Term shall mean the Effective Date through June 15,
    2001 and any Renewal Term"); not a renewal's (one spoken of before the date)."""
    if not _ABOUT_TERM.search(sentence):
        return None
    for m in _ENDS_ON.finditer(sentence):
        if re.search(r"\b(?:renew|extend|successive)", sentence[: m.start()], re.IGNORECASE):
            return None  # a renewal's end ("… renews for one year, until December 31, 2003")
        found = parse_date(m.group("date"))
        if found is not None and re.match(r"\s*(?:the\s+)?(?:\d|_|" + _MONTH + r")", m.group("date")):
            return found
    return None


@dataclass(frozen=True)
class OpenEnded:
    """The term has no fixed end: `sentence` (in passage `at`) says it runs until terminated or in perpetuity."""

    at: int
    sentence: str

    def answer(self) -> str:
        return "The agreement has no fixed end date: its term continues until it is terminated."


_SUBJECT = r"\b(?:this\s+agreement|the\s+term|this\s+term|the\s+agreement|employment)\b"
_OPEN_ENDED = re.compile(
    _SUBJECT + r"[^.;]{0,160}?\b(?:continues?|remains?|shall\s+be\s+in\s+effect)\b[^.;]{0,60}?"
    r"\b(?:in\s+perpetuity|perpetually|indefinitely|until\s+(?:it\s+is\s+)?terminat\w*"
    r"|until\s+(?:either|a|one)\s+party\s+terminates)", re.IGNORECASE)


def open_ended(sentence: str) -> bool:
    """The sentence says the agreement's term runs until terminated, or in perpetuity."""
    m = _OPEN_ENDED.search(sentence)
    return m is not None and not re.search(r"\b(?:renew|extend|successive|survive)", m.group(), re.IGNORECASE)


def parse_date(text: str) -> KnownDate | None:
    """The first date written in `text` ("June 30, 1996", "the 20th day of March 2002", "____, 2004")."""
    found = [(m.start(), m) for pattern in _DATES for m in [pattern.search(text)] if m]
    if not found:
        return None
    _, m = min(found, key=lambda f: f[0])
    groups = m.groupdict()
    year = int(groups["year"])
    if groups.get("blank") is not None or groups.get("month") is None:
        return KnownDate(year)
    month = _MONTHS.index(groups["month"].lower()) + 1
    day = groups.get("day")
    return KnownDate(year, month, int(day) if day and day.strip().isdigit() else None)


def _count(word: str) -> int:
    word = word.lower()
    digits = re.match(r"\d+", word)
    if digits:
        return int(digits.group())
    return _WORDS.get(word, _ORDINALS.get(word, 0))


def term_length(sentence: str) -> tuple[int, int, str] | None:
    """(years, months, "effective" | "signed") when the sentence gives the term's length from a start the contract
    dates; None otherwise."""
    if not _TERM_WORDS.search(sentence):
        return None
    for i, pattern in enumerate(_LENGTHS):
        m = pattern.search(sentence)
        if m is None:
            continue
        # what the length runs from, and the words right after it ("… for three years from the Launch Date")
        between = sentence[min(m.start(), m.start("start")): m.end() + 40]
        if _OTHER_EVENT.search(between) or re.search(r"\b(?:renew|extend|successive)", between, re.IGNORECASE):
            continue
        n = _count(m.group("n"))
        if n <= 0:
            continue
        unit = "year" if i == 0 else m.group("unit").lower()
        kind = "effective" if m.group("effective") else "signed"
        return (n, 0, kind) if unit == "year" else (0, n, kind)
    return None


def effective_date(text: str) -> KnownDate | None:
    """The date the text defines as the Effective Date."""
    for pattern in _EFFECTIVE_DEFINED:
        for m in pattern.finditer(text):
            found = parse_date(m.group("date"))
            if found is not None:
                return found
    return None


def signed_date(text: str) -> KnownDate | None:
    """The date the agreement was made ("made and entered into as of the 1st day of January, 1997", "dated …")."""
    for m in _SIGNED.finditer(text):
        found = parse_date(m.group("date"))
        if found is not None:
            return found
    return None


def sentences_of(text: str) -> list[str]:
    """A passage's sentences, its line wraps undone."""
    return split_sentences(" ".join(text.split()))


def first_document_sentences(passages: Sequence[tuple[str, str]]) -> Iterator[tuple[int, str]]:
    """(passage number from 0, sentence) of the passages of the first-ranked document, in rank order: the document
    the search ranks first is the one asked about; another contract's clause among the passages (a question that
    names no document, in a collection of contracts) is not it."""
    asked_of = passages[0][0] if passages else None
    for at, (document, text) in enumerate(passages):
        if document == asked_of:
            for sentence in sentences_of(text):
                yield at, sentence


def count_term_end(question: str, passages: Sequence[tuple[str, str]],
                   opening: Callable[[int], list[str]] | None = None) -> StatedEnd | TermEnd | OpenEnded | None:
    """The end of the term the question asks about, counted from the passages ((document, text), their order is
    their rank) of the first-ranked document and, for the start, the passages of that document, then its opening
    passages (`opening(i)` for passage i; numbered on after `passages`); None when the words do not fix it."""
    if not ASKS_END.search(question) or not passages:
        return None
    for at, sentence in first_document_sentences(passages):  # the end date written down
        end = stated_end(sentence)
        if end is not None:
            return StatedEnd(at, sentence, end)
    for at, sentence in first_document_sentences(passages):
        length = term_length(sentence)
        if length is None:
            continue
        years, months, kind = length
        find = effective_date if kind == "effective" else signed_date
        # the start: in the passages first (best ranked first), then the document's opening
        sources = list(first_document_sentences(passages))
        sources += [(len(passages) + j, t) for j, text in enumerate(opening(at) if opening is not None else [])
                    for t in sentences_of(text)]
        for start_at, start_sentence in sources:
            start = find(start_sentence)
            if start is None:
                continue
            end = start.plus(years, months)
            if end is None:
                return None
            name = "the Effective Date" if kind == "effective" else "the date of the agreement"
            return TermEnd(end, start, years, months, name, at, sentence, start_at, start_sentence)
        return None  # the clause that gives the length runs from a start no text here dates
    for at, sentence in first_document_sentences(passages):  # no passage gives a length: one may say there is none
        if open_ended(sentence):
            return OpenEnded(at, sentence)
    return None


ASKS_RENEWAL_LENGTH = re.compile(r"\bhow\s+long\b[^?]*\b(?:renew|extend)", re.IGNORECASE)
ASKS_RENEWAL_NOTICE = re.compile(r"\bnotice\b[^?]*\b(?:renew|renewal|renewing)\b|\b(?:renew|renewal)\b[^?]*\bnotice\b",
                                 re.IGNORECASE)
_SPELLED_DIGITS = re.compile(  # "one hundred eighty (180)", "thirty (30)": the digits say it
    r"\b(?:(?:" + "|".join([*_WORDS, *TENS, "hundred", "thousand", "and"]) + r")[\s-]*)+\((\d{1,4})\)", re.IGNORECASE)
_PERIOD_NUMBER = (r"(?P<n>\d{1,4}|" + "|".join(_WORDS) + r"|thirty|sixty|ninety)(?:\s*\((?:\d{1,4}|[IVXl]{1,4})\))?")
_RENEWS_FOR = re.compile(
    r"\b(?:renew(?:ed|s|al)?|extend(?:ed|s)?)\b[^.;]{0,80}?\bfor\s+(?:an?\s+|the\s+)?"
    r"(?P<kind>successive|subsequent|additional|further|consecutive)?\s*(?:additional\s+|further\s+)?"
    r"(?:(?:renewal\s+)?(?:term|period)s?\s+of\s+)?" + _PERIOD_NUMBER + r"[\s-]*(?P<unit>year|month)s?\b",
    re.IGNORECASE)
_NOTICE_BEFORE = re.compile(
    r"\b(?:at\s+least|not\s+(?:less|fewer)\s+than|no\s+(?:less|fewer)\s+than|minimum\s+of)\s+" + _PERIOD_NUMBER
    + r"[\s-]*(?P<unit>day|month|year)s?(?:['’]s?)?\s+(?:\w+\s+){0,3}?(?:prior|before|in\s+advance|preceding)"
    r"|\b" + _PERIOD_NUMBER.replace("?P<n>", "?P<n2>") + r"[\s-]*(?P<unit2>day|month)s?['’]?\s+(?:prior\s+)?"
    r"(?:written\s+)?notice", re.IGNORECASE)


# the agreement or its term renews (not an insurance policy, a licence key, a purchase order)
_RENEWS_AGREEMENT = re.compile(r"\b(?:agreement|term)\b[^.;]{0,80}?\b(?:renew|extend)|\b(?:renew|extend)\w*\b[^.;]{0,40}?"
                               r"\b(?:this\s+agreement|the\s+agreement|the\s+(?:initial\s+)?term)\b", re.IGNORECASE)


@dataclass(frozen=True)
class ClauseAnswer:
    """An answer read from one sentence of the contract: `sentence` in passage `at`."""

    at: int
    sentence: str
    text: str

    def answer(self) -> str:
        return self.text


def _plain(sentence: str) -> str:
    return _SPELLED_DIGITS.sub(lambda m: m.group(1), sentence)


def _period(n: str, unit: str) -> str:
    count = _count(n)
    return f"{count} {unit.lower()}{'s' * (count != 1)}"


def renewal_length(sentence: str) -> str | None:
    """How long one renewal runs, as the sentence says ("successive 1-year terms", "an additional 12 months")."""
    m = _RENEWS_FOR.search(_plain(sentence))
    if m is None or _count(m.group("n")) <= 0 or not _RENEWS_AGREEMENT.search(sentence):
        return None
    period = _period(m.group("n"), m.group("unit"))
    kind = (m.group("kind") or "").lower()
    if kind in ("successive", "subsequent", "consecutive"):
        return f"successive periods of {period}"
    return f"a further {period}"


def renewal_notice(sentence: str) -> str | None:
    """The notice the sentence requires to stop a renewal ("at least six (6) months prior to the expiration")."""
    if not _RENEWS_AGREEMENT.search(sentence):
        return None  # "notice … of cancellation, non-renewal, or material change in coverage" is an insurer's
    m = _NOTICE_BEFORE.search(_plain(sentence))
    if m is None:
        return None
    n, unit = (m.group("n"), m.group("unit")) if m.group("n") else (m.group("n2"), m.group("unit2"))
    return _period(n, unit) if _count(n) > 0 else None


def read_renewal(question: str, passages: Sequence[tuple[str, str]]) -> ClauseAnswer | None:
    """For how long the contract renews, or how much notice stops it, from the first-ranked document's passages."""
    asks_notice = bool(ASKS_RENEWAL_NOTICE.search(question))
    if not passages or not (asks_notice or ASKS_RENEWAL_LENGTH.search(question)):
        return None
    for at, sentence in first_document_sentences(passages):
        if asks_notice:
            notice = renewal_notice(sentence)
            if notice is not None:
                return ClauseAnswer(at, sentence, f"Notice of at least {notice} before the end of the term is "
                                                  "needed to stop it from renewing.")
        else:
            length = renewal_length(sentence)
            if length is not None:
                return ClauseAnswer(at, sentence, f"The agreement renews for {length}.")
    return None


_LAWS_OF = re.compile(r"(?i:\blaws?\s+(?:in\s+force\s+in\s+|of\s+)(?:the\s+)?(?:(?:state|commonwealth|province|republic|"
                      r"kingdom)\s+of\s+)?)(?P<place>[A-Za-z][A-Za-z ]{2,30})")
_GOVERNS_BEFORE = re.compile(r"\b(?:governed|construed|interpreted|enforced|subject)\b[^.;]{0,100}$", re.IGNORECASE)
_INCORPORATED = re.compile(r"\b(?:organi[sz]ed|incorporated|existing|formed)\b[^.;]{0,20}$", re.IGNORECASE)
_PLACE_LAW = re.compile(r"(?i:\b(?:governed|construed|interpreted)\b[^.;]{0,80}?\b)(?P<place>[A-Z][A-Za-z ]{2,30}?)"
                        r"\s+(?i:law)\b")
_THEREOF = re.compile(r"(?i:\b(?:state|commonwealth|province)\s+of\s+)(?P<place>[A-Z][A-Za-z ]{2,30}?)"
                      r"(?i:\s+and\s+(?:shall|will)\s+be\s+(?:governed|construed)\b[^.;]{0,80}?\blaws\s+thereof)\b")
# "the laws of such state": the state named before it in the same sentence ("accepted in the state in which
# Franchisor's headquarters (currently the State of California) is located and shall be governed by … the laws of
# such state")
_SUCH_PLACE = re.compile(r"(?i:\blaws?\s+of\s+(?:such|said|that|the\s+same)\s+(?:state|commonwealth|province|"
                         r"jurisdiction|country)\b)")
_NAMED_BEFORE = re.compile(r"(?i:\b(?:state|commonwealth|province)\s+of\s+)(?P<place>[A-Z][A-Za-z]*(?:\s+[A-Z][A-Za-z]*)*)")
_ADJECTIVES = {"english": "England", "scottish": "Scotland", "scots": "Scotland", "irish": "Ireland",
               "german": "Germany", "french": "France", "swiss": "Switzerland", "dutch": "Netherlands",
               "japanese": "Japan", "chinese": "China", "indian": "India", "israeli": "Israel"}


def governing_law(sentence: str) -> str | None:
    """The place whose law the sentence says governs the agreement ("… governed by … the laws of the State of
    Texas" → "Texas", "… in accordance with English law" → "England", "made in the State of California and shall be
    governed by … the laws thereof" → "California", "… (currently the State of California) … shall be governed by …
    the laws of such state" → "California"); the first place named, so "the laws of the
    United States and … the laws of the Commonwealth of Kentucky" gives Kentucky."""
    if not re.search(r"\bgovern|\bconstrued\b", sentence, re.IGNORECASE):
        return None
    laws_of = [m for m in _LAWS_OF.finditer(sentence) if _GOVERNS_BEFORE.search(sentence[: m.start()])
               and not _INCORPORATED.search(sentence[: m.start()])]
    such = _SUCH_PLACE.search(sentence)
    if such is not None and _GOVERNS_BEFORE.search(sentence[: such.start()]):
        named_before = [m.group("place") for m in _NAMED_BEFORE.finditer(sentence[: such.start()])]
        place = _known_place(named_before[-1]) if named_before else None
        if place:
            return place
    for m in [*laws_of, *_PLACE_LAW.finditer(sentence), *_THEREOF.finditer(sentence)]:
        words = m.group("place").strip()
        last = words.split()[-1].lower() if words.split() else ""
        if last in _ADJECTIVES and m.re is _PLACE_LAW:
            return _ADJECTIVES[last]
        place = _known_place(words.title(), at_end=m.re is _PLACE_LAW)
        if place:
            return place
    return None


def _known_place(words: str, *, at_end: bool = False) -> str | None:
    """The longest known place the words begin with (or, `at_end`, end with: "… New York law"), title-cased."""
    lowered = words.lower()
    named = [p for p in places(words) if lowered.startswith(p) or (at_end and lowered.endswith(p))]
    return max(named, key=len).title() if named else None


def read_governing_law(question: str, passages: Sequence[tuple[str, str]]) -> ClauseAnswer | None:
    """Which law governs the contract, from the governing-law sentence of the first-ranked document's passages."""
    if not passages or not asks_for_place(question) or not re.search(r"\blaws?\b|\bgovern", question, re.IGNORECASE):
        return None
    for at, sentence in first_document_sentences(passages):
        place = governing_law(sentence)
        if place is not None:
            return ClauseAnswer(at, sentence, f"The agreement is governed by the laws of {place}.")
    return None


# the usual wording of each clause, to look it up in the contract asked about when the question's own words found
# other pages (the parties' names find the preamble and the signature pages)
CLAUSE_WORDING = {
    "term": "The term of this Agreement shall commence on the Effective Date and shall continue for a period of "
            "years, and shall expire on the anniversary of the Effective Date, unless terminated earlier.",
    "renewal": "This Agreement shall automatically renew for successive renewal terms of one year unless either "
               "party gives written notice of non-renewal at least days prior to the expiration of the term.",
    "law": "This Agreement shall be governed by and construed in accordance with the laws of the State of",
}


def clause_query(question: str) -> str | None:
    """The usual wording of the clause that answers the question, or None for a question no reader answers."""
    if ASKS_END.search(question):
        return CLAUSE_WORDING["term"]
    if ASKS_RENEWAL_NOTICE.search(question) or ASKS_RENEWAL_LENGTH.search(question):
        return CLAUSE_WORDING["renewal"]
    if asks_for_place(question) and re.search(r"\blaws?\b|\bgovern", question, re.IGNORECASE):
        return CLAUSE_WORDING["law"]
    return None


def on_the_clause(question: str, sentence: str) -> bool:
    """For a standard contract question, whether a sentence is about the clause asked (quoted when the model's
    answer fails: "… enter into a Distribution Agreement within sixty (60) days following the Effective Date" is no
    answer to when the term ends); any sentence for other questions."""
    if ASKS_END.search(question):
        return bool(re.search(r"\bterm\b|\bexpir|\bduration\b|\bperpetu", sentence, re.IGNORECASE))
    if ASKS_RENEWAL_NOTICE.search(question) or ASKS_RENEWAL_LENGTH.search(question):
        return bool(re.search(r"\brenew|\bextend|\bextension\b", sentence, re.IGNORECASE))
    return True
