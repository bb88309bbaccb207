"""Check every sentence of an answer against the passages it was given, and fix the [n] markers.

Small local models misnumber citations. For each sentence we measure how well each passage supports it
(content-word overlap, numbers weighted; plus embedding similarity when an embedder is given), keep a cited
passage that supports it, move the citation to the passage that does, add a passage that supports the part of the
sentence its citations do not cover (a sentence merging two passages cites both), and mark sentences no passage
supports.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.embedders import Embedder
from rag.number_words import ORDINALS, SMALL, TENS
from storage.records import ScoredChunk

_MARKER = re.compile(r"\s*\[(\d{1,2})\](?:\s*\[(\d{1,2})\])*")
_ANY_MARKER = re.compile(r"\[(\d{1,2})\]")
_SENTENCE = re.compile(r"(?<=[.!?])(?:\s*\[\d{1,2}\])*\s+(?=[A-Z0-9\"'(])|\n+")
_WORD = re.compile(r"[a-z0-9$%][a-z0-9$%.,'-]*[a-z0-9%]|[a-z0-9]", re.IGNORECASE)
_STOP = frozenset("""a an the and or but if then than that this these those is are was were be been being am do does did
of in on at to for from by with about as into over under per via it its it's they them their there here you your
we our us he she his her i me my can could may might must shall should will would not no yes also any all each
which who whom whose what when where why how such so very more most other some only just both either neither""".split())

_META = re.compile(r"^(?:this|that|it)\s+is\s+(?:stated|mentioned|explained|described|found)\b|^(?:see|source|sources|"
                   r"according to)\b", re.IGNORECASE)

LEXICAL_SUPPORT = 0.5  # share of a sentence's content words found in the passage
SEMANTIC_SUPPORT = 0.72  # cosine similarity between sentence and passage embeddings
COMPLEMENT_WORDS = 3  # an uncited supporting passage is added when it holds this many of the uncovered words


@dataclass
class CheckedSentence:
    text: str  # without markers
    cited: list[int]  # passage numbers after verification (1-based)
    model_cited: list[int]  # what the model wrote
    supported: bool


@dataclass
class CheckedAnswer:
    sentences: list[CheckedSentence] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The supported sentences with their checked markers; a sentence no passage supports is left out (it is
        listed in `unsupported`), so nothing unchecked reads as part of a cited answer."""
        parts = []
        for s in self.sentences:
            if not s.supported:
                continue
            marks = "".join(f"[{n}]" for n in s.cited)
            if marks and s.text[-1:] in ".!?":
                parts.append(f"{s.text[:-1]} {marks}{s.text[-1]}")
            else:
                parts.append(f"{s.text} {marks}".strip())
        return " ".join(parts)

    @property
    def cited(self) -> list[int]:
        seen: list[int] = []
        for s in self.sentences:
            seen.extend(n for n in s.cited if n not in seen)
        return seen

    @property
    def unsupported(self) -> list[str]:
        return [s.text for s in self.sentences if not s.supported]


def content_words(text: str) -> set[str]:
    """Lower-case words and numbers other than stop words; "$1.40" is "1.40" (tables print "$ 1.40")."""
    words = {w.lower().strip(".,'") for w in _WORD.findall(text)}
    words = {w.lstrip("$") if w[1:2].isdigit() else w for w in words}
    return {w for w in words if w and w not in _STOP}


def lexical_support(sentence: str, passage: str, asked: set[str] = frozenset()) -> float:  # type: ignore[assignment]
    """Share of the sentence's content words found in the passage; words it repeats from the question (`asked`:
    the agreement's name, its parties) are not counted when it has others, since the passage need not repeat them."""
    words = content_words(sentence)
    if words - asked:
        words -= asked
    if not words:
        return 0.0
    found = content_words(passage)
    numbers = {w for w in words if any(ch.isdigit() for ch in w)}
    # numbers matter most: a sentence whose figures are not in the passage is not supported by it
    if numbers and not numbers & found:
        return 0.0
    weight = {w: 2.0 if w in numbers else 1.0 for w in words}
    return sum(weight[w] for w in words if w in found) / sum(weight.values())


# words that end with a period without ending the sentence: "Dr. Murray", "Acme Inc. and", "U.S. law", "C. M. Oliver"
_ABBREVIATION = re.compile(r"(?:\b(?:dr|mr|mrs|ms|prof|inc|corp|co|ltd|llc|plc|no|nos|st|jr|sr|vs|etc|e\.g|i\.e|"
                           r"approx|dept|est|fig|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|sec|art|para|"
                           r"u\.s|u\.k|a\.m|p\.m)|\b[a-z])\.$", re.IGNORECASE)


def split_sentences(text: str) -> list[str]:
    """Sentences of an answer, each with the citation markers that follow it. A period after an abbreviation or
    an initial does not end a sentence, so a marker is never put inside "Dr. Murray" or "Acme Inc. and Beta"."""
    pieces = [s.strip() for s in _SENTENCE.split(text.strip()) if s and s.strip()]
    merged: list[str] = []
    for piece in pieces:
        if merged and _ABBREVIATION.search(_ANY_MARKER.sub("", merged[-1]).rstrip()):
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    return merged


_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?:st|nd|rd|th)?\b", re.IGNORECASE)
_NUMBER_WORDS = {w: str(n) for w, n in [*SMALL.items(), *TENS.items(), *ORDINALS.items()]
                 if w not in ORDINALS or 1 <= n <= 5}  # "first" to "fifth": a sixth is rarely a fact
_MONTHS = ("january february march april may june july august september october november december").split()
_MONTH = re.compile(r"\b(" + "|".join(m[:3] + f"(?:{m[3:]})?" for m in _MONTHS) + r")\b\.?", re.IGNORECASE)
_WORDS = re.compile(r"[a-z]+", re.IGNORECASE)
# places a governing-law or venue sentence names: a wrong one shares every other word with its passage
_PLACES = re.compile(r"\b(" + "|".join("""Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|
Georgia|Hawaii|Idaho|Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|Michigan|Minnesota|
Mississippi|Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey|New Mexico|New York|North Carolina|North Dakota|
Ohio|Oklahoma|Oregon|Pennsylvania|Rhode Island|South Carolina|South Dakota|Tennessee|Texas|Utah|Vermont|Virginia|
Washington|West Virginia|Wisconsin|Wyoming|England|Wales|Scotland|Ireland|Ontario|Quebec|British Columbia|Alberta|
Canada|Australia|Victoria|New South Wales|Singapore|Hong Kong|Germany|France|Switzerland|Netherlands|Japan|China|
India|Israel|Luxembourg|Cayman Islands|Bermuda""".replace("\n", "").split("|")) + r")\b")


def places(text: str) -> set[str]:
    """The states, provinces and countries the text names, lower case."""
    return {m.group(1).lower() for m in _PLACES.finditer(text)}


_LAW_BEFORE = re.compile(r"\b(?:laws?|governed|governing|construed|courts?|venue|jurisdictions?|arbitrat\w*|seated)\b"
                         r"[^.;]{0,60}$", re.IGNORECASE)
_LAW_AFTER = re.compile(r"^[^.;]{0,40}\b(?:laws?|courts?|govern\w*|construed)\b", re.IGNORECASE)


def places_in_terms(text: str) -> set[str]:
    """The places a text names in a governing-law or venue phrase ("the laws of the State of California", "New
    York law", "the courts of England"); a party's address or state of incorporation is not one."""
    flat = " ".join(text.split())
    return {m.group(1).lower() for m in _PLACES.finditer(flat)
            if _LAW_BEFORE.search(flat[max(0, m.start() - 80): m.start()]) or _LAW_AFTER.search(flat[m.end():])}


def key_facts(text: str) -> set[str]:
    """The facts a sentence can get wrong while sharing every other word with its passage: numbers (digits or
    words, "thirty" = "30", "5th" = "5", "1,500" = "1500"), month names ("May" only beside a number) and the
    states and countries a governing-law clause names."""
    facts = set()
    for match in _NUMBER.finditer(text):
        number = re.sub(r"(?:st|nd|rd|th)$", "", match.group().lower()).replace(",", "")
        facts.add(number[:-2] if number.endswith(".0") else number)
    facts |= {_NUMBER_WORDS[w.lower()] for w in _WORDS.findall(text) if w.lower() in _NUMBER_WORDS}
    for match in _MONTH.finditer(text):
        month = next(m for m in _MONTHS if m.startswith(match.group(1).lower()[:3]))
        if month != "may" or re.search(r"\d", text[max(0, match.start() - 4): match.end() + 6]):
            facts.add(month)
    facts |= places(text)
    return facts


_NEGATION = re.compile(r"\b(?:not|no|never|none|neither|nor|cannot|excludes?|excluded|exclusions?)\b|n[’']t\b",
                       re.IGNORECASE)
_EXCLUDED = re.compile(r"\bnot\s+(?:covered|reimbursed|reimbursable|eligible|included|paid)\b|\bexclu(?:ded|des|sions?)\b"
                       r"|\b(?:does|do|will)\s+not\s+(?:cover|include|reimburse|pay)\b", re.IGNORECASE)
POLARITY_WORDS = 2  # a positive sentence contradicts a passage that lists this many of its words as excluded


_CONDITION = re.compile(r"\b(?:if|unless|whether|when|where)\b[^,;.]*$", re.IGNORECASE)


def in_condition(text: str, at: int) -> bool:
    """The word at `at` is inside an "if …", "unless …", "when …" clause: "if prior authorization is not obtained"
    states a condition, not that something is not so."""
    return bool(_CONDITION.search(text[max(0, at - 60): at]))


NEGATED_SPAN = 5  # words after a "not", "no", "never" … that it negates


def negated_words(text: str) -> set[str]:
    """Stems (first five letters) of the content words within NEGATED_SPAN words after each negation: what the
    text says is not so ("does not renew" → renew; "Not covered: food, supplements" → cover, food, suppl)."""
    stems: set[str] = set()
    for match in _NEGATION.finditer(text):
        if in_condition(text, match.start()):
            continue  # "if prior authorization is not obtained": a condition, not a claim
        after = _WORD.findall(text[match.end():])[:NEGATED_SPAN]
        stems |= {w[:5] for w in content_words(" ".join(after))}
    return stems


def contradicts(sentence: str, passage: str) -> bool:
    """The sentence says the opposite of the passage: it is negated ("does not renew") where the passage negates
    none of what it negates ("shall renew automatically for one-year terms", or a "not" about something else:
    an insurer's liability that "shall not be limited"), or it is positive while at least
    POLARITY_WORDS of its words appear in the passage only in an exclusion ("reimburses food and supplements"
    against "Not covered: food, supplements"). Narrow on purpose: a conditional ("if approval is not obtained, you
    pay") paraphrased positively is no contradiction."""
    text = " ".join(passage.split())
    if _NEGATION.search(sentence):
        claimed = negated_words(sentence)
        return bool(claimed) and not claimed & negated_words(text)
    words = content_words(sentence)
    parts = [(content_words(p), bool(_EXCLUDED.search(p))) for p in split_sentences(text)]
    elsewhere = set().union(*(found for found, excluded in parts if not excluded))
    only_excluded = {w for found, excluded in parts if excluded for w in found & words} - elsewhere
    return len(only_excluded) >= POLARITY_WORDS


_ENDS = re.compile(r"\b(?:end|ends|ended|ending|expire[sd]?|expiring|expiration|terminates?|until|through)\b",
                   re.IGNORECASE)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_STARTS = re.compile(r"(?:\bas\s+of|\bdated|\beffective(?:\s+as\s+of|\s+on)?|\bentered\s+into(?:\s+on)?|\bmade(?:\s+on)?|"
                     r"\bcommenc\w*(?:\s+on)?|\bbeginning(?:\s+on)?|\bsigned(?:\s+on)?|\bexecuted(?:\s+on)?)"
                     r"[^.;]{0,40}$", re.IGNORECASE)
_EFFECTIVE_AFTER = re.compile(r"^[^.;]{0,12}\(\s*(?:the\s+)?[\"“']*(?:effective|commencement|execution)\s+date",
                              re.IGNORECASE)


def start_date_as_end(sentence: str, passage: str) -> bool:
    """The sentence gives, as the date something ends, a date the passage states only as the day the agreement was
    made or took effect ("ends on December 13, 1999" from "entered into as of December 13, 1999 (the Effective
    Date)"): a small model copies the one date it sees when the end must be counted from it."""
    years = set(_YEAR.findall(sentence))
    if not years or not _ENDS.search(sentence):
        return False
    text = " ".join(passage.split())
    places = [m for m in _YEAR.finditer(text) if m.group() in years]
    return bool(places) and all(_STARTS.search(text[max(0, m.start() - 70): m.start()])
                                or _EFFECTIVE_AFTER.search(text[m.end(): m.end() + 40]) for m in places)


_ASKS_PLACE = re.compile(r"\b(?:which|what)\s+(?:state|country|jurisdiction|province|nation)(?:['’]s)?\b"
                         r"|\b(?:which|what)\s+laws?\s+(?:govern|appl|is|are)|\bgoverning\s+law\b"
                         r"|\bwhere\b[^?]{0,80}\b(?:governed|venue|disputes?|courts?|arbitrat\w*|litigat\w*)\b",
                         re.IGNORECASE)


def asks_for_place(question: str) -> bool:
    """The question asks which state's or country's law governs, or where disputes are heard."""
    return bool(_ASKS_PLACE.search(question))


def names_a_place(text: str) -> bool:
    """The text names a state, province or country (as a governing-law clause does)."""
    return bool(places(text))


_LAW_TOPIC = re.compile(r"\blaws?\b|\bgovern", re.IGNORECASE)
_VENUE_TOPIC = re.compile(r"\b(?:courts?|venue|jurisdictions?|arbitrat\w*|disputes?|litigat\w*|proceedings?)\b",
                          re.IGNORECASE)


def answers_place_question(question: str, text: str) -> bool:
    """The text names a state or country in the terms the question asks about: its law for a governing-law
    question, its courts or arbitration for a where-are-disputes-heard question ("a Delaware corporation" answers
    neither)."""
    topic = _LAW_TOPIC if _LAW_TOPIC.search(question) else _VENUE_TOPIC
    return names_a_place(text) and bool(topic.search(text))


_ASKS_TIME = re.compile(r"^\W*(?:when\s+(?:does|do|will|did|is|are)\b[^?]*\b(?:ends?|expires?|starts?|begins?|commences?"
                        r"|renews?|terminates?|takes?\s+effect|effective|due|payable)\b"
                        r"|(?:for\s+)?how\s+long\b|how\s+much\s+(?:advance\s+|prior\s+)?notice\b"
                        r"|how\s+many\s+(?:business\s+|calendar\s+)?(?:days|weeks|months|years)\b)", re.IGNORECASE)
_DATE = re.compile(r"\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b|\b(?:19|20)\d\d\b")
_DURATION = re.compile(r"\b(?:\d+|a|an|one|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")\b"
                       r"(?:\s*\(\d+\))?[\s-]+(?:full\s+|business\s+|calendar\s+|consecutive\s+|successive\s+)?"
                       r"(?:days?|weeks?|months?|years?|quarters?)\b", re.IGNORECASE)
_OPEN_END = re.compile(r"\b(?:anniversary|perpetu\w*|indefinite\w*|until\b|unless\b|upon\b|terminat\w*|"
                       r"expir\w*\s+(?:on|at|upon|when)|annual\w*|yearly|monthly|immediately)", re.IGNORECASE)


def asks_for_time(question: str) -> bool:
    """The question asks when something ends, starts or is due, for how long, or how much notice ("When can I
    enroll?" is answered by an event, not asked here)."""
    return bool(_ASKS_TIME.search(question))


def answers_time_question(text: str) -> bool:
    """The text says a time: a date, a month, a year, a length ("sixty (60) days", "one year"), or how an open
    term ends ("until terminated", "on the fifth anniversary"). "Ends on 10.1. or 10.2 of this Agreement" says
    none."""
    return bool(_DATE.search(text) or _MONTH.search(text) and re.search(r"\d", text) or _DURATION.search(text)
                or _OPEN_END.search(text))


_ASKS_WHEN = re.compile(r"^\W*when\s+(?:does|do|will|did|is|are)\b[^?]*\b(?:ends?|expires?|starts?|begins?|commences?"
                        r"|terminates?|takes?\s+effect|effective)\b", re.IGNORECASE)
_FULL_DATE = re.compile(r"\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b")
_NO_END = re.compile(r"\b(?:perpetu\w*|indefinite\w*|until\s+(?:it\s+is\s+|being\s+)?terminated|no\s+fixed\s+end)",
                     re.IGNORECASE)


def asks_when(question: str) -> bool:
    """The question asks for the point in time something ends, starts or takes effect ("When does the initial term
    end?"), not for a length."""
    return bool(_ASKS_WHEN.search(question))


def names_a_date(text: str) -> bool:
    """The text names a calendar date ("December 31, 2020", "12/31/20") or says there is no end ("perpetual",
    "until terminated"); "twelve months after the Launch" and "the end of the Dolphins 2000 season" name none."""
    return bool(_FULL_DATE.search(text) or _NO_END.search(text)
                or any(re.search(r"\d", text[m.end():m.end() + 8]) for m in _MONTH.finditer(text)))


_CLOSED_QUESTION = re.compile(r"^\W*(?:is|are|was|were|do|does|did|can|could|will|would|should|shall|may|must|has|"
                              r"have|had)\b|\b(?:which|who|whom|whose)\b", re.IGNORECASE)
STEM_LETTERS = 5  # words compared by their first letters: "policyholder" = "policyholders", "offer" = "offers"


def word_stems(text: str) -> set[str]:
    """Content words without numbers, by their first STEM_LETTERS letters, citation markers aside."""
    return {w[:STEM_LETTERS] for w in content_words(without_markers(text)) if not any(c.isdigit() for c in w)}


def years(text: str) -> set[str]:
    return set(_YEAR.findall(text))


def only_restates(sentences: Sequence[str], question: str) -> bool:
    """The answer's sentences only say the question back: none holds a word (by its first letters), a key fact or
    a "not" that the question lacks ("What protection does Contoso offer against balance billing?" → "Contoso
    offers balance billing protection."). A question answered by picking among its own words — yes or no,
    "which", "who", which state's law, when a term ends — is never counted."""
    if not sentences or _CLOSED_QUESTION.search(question) or asks_for_place(question) or asks_for_time(question):
        return False
    asked, facts, negative = word_stems(question), key_facts(question), bool(_NEGATION.search(question))
    return not any(word_stems(s) - asked or key_facts(without_markers(s)) - facts
                   or (_NEGATION.search(s) and not negative) for s in sentences)


_TOKEN = re.compile(r"\S+")
# a table cell that is no word of a label: "$", "(389)", "2.00", "—", "20 %", "NM", a footnote mark "(a)"
_FIGURE_TOKEN = re.compile(r"^(?:[$€£(\-–—]*[\d.,%]*[)%]*|\([a-z]\)|nm|n/?a)[.,;:]?$", re.IGNORECASE)
LABEL_WORDS = (6, 4)  # words before a figure (its row label or "a copayment of around") and after it ("% coinsurance")
# a table's bottom line is labelled by the table's heading, further up: "Total $12,645" alone says nothing
_GENERIC_LABEL = frozenset({"total", "subto", "net", "sum", "amoun", "overa", "balan"})


def figure_share(text: str) -> float:
    """Share of the text's words that are table cells ("$", "1,234", "(0.57)", "—"): a table row read as a sentence
    is mostly figures."""
    tokens = _TOKEN.findall(text)
    return sum(bool(_FIGURE_TOKEN.match(t)) for t in tokens) / len(tokens) if tokens else 0.0


def _is_amount(match: re.Match[str], text: str) -> bool:
    """A figure that is an amount, a ratio or a count ("$50", "1.40", "12,645", "389", "20%"), not a year, a day of
    the month or a small count of days or months."""
    number = match.group().replace(",", "")
    if _YEAR.fullmatch(number) or not number[:1].isdigit():
        return False
    return bool("." in number.rstrip(".") or "," in match.group() or len(number) >= 3
                or text[max(0, match.start() - 2): match.start()].strip().endswith("$")
                or text[match.end(): match.end() + 2].lstrip().startswith("%"))


def _labels(passage: str, figure: str) -> list[set[str]]:
    """For each place the figure stands in the passage: the stems of the words before it, past the figures of its
    row's other columns, up to the row before ("Dividends per common share $ 2.00 $ 1.70 $ 1.40" labels 1.40 with
    dividends, common, share), and of the words right after it ("50% coinsurance")."""
    tokens = _TOKEN.findall(passage)
    found = []
    for i, token in enumerate(tokens):
        if figure not in key_facts(token):
            continue
        words: list[str] = []
        for step, limit in ((-1, LABEL_WORDS[0]), (1, LABEL_WORDS[1])):
            j, taken, started = i + step, 0, False
            while 0 <= j < len(tokens) and taken < limit:
                if _YEAR.fullmatch(tokens[j].strip(".,;:")):
                    pass  # "ending the first quarter of 2021 at $66.56": a year inside the label, or a column's
                elif _FIGURE_TOKEN.match(tokens[j]):
                    if started or step > 0:
                        break  # the row before's figures; after it, the next column or row
                else:
                    words.append(tokens[j])
                    taken, started = taken + 1, True
                j += step
        found.append(word_stems(" ".join(words)) - _GENERIC_LABEL)
    return found


def amounts(sentence: str, question: str = "") -> set[str]:
    """The sentence's amounts (as key facts) that the question does not give."""
    given = key_facts(question)
    found = {(key_facts(m.group()) or {""}).pop() for m in _NUMBER.finditer(sentence) if _is_amount(m, sentence)}
    return found - given - {""}


def unlabelled_figures(sentence: str, passage: str, question: str = "") -> set[str]:
    """The sentence's amounts that the passage holds only under another label: "The FY2018 fixed asset turnover
    ratio for CVS Health is 1.40" against a table row "Dividends per common share $ 2.00 $ 2.00 $ 1.70 $ 1.40" —
    the figure is there, and is something else. A figure is labelled when a word around one of its places in the
    passage (by its first letters) is a word of the sentence or of the question; figures the question gives, years
    and dates are not checked."""
    said = word_stems(sentence) | word_stems(question)
    out = set()
    for figure in amounts(sentence, question):
        labels = _labels(passage, figure)  # a place with no word around it, or only "Total", tells nothing
        if labels and all(labels) and not any(label & said for label in labels):
            out.add(figure)
    return out


def holds_facts(sentence_facts: set[str], passage_facts: Sequence[set[str]]) -> bool:
    """Every key fact of the sentence is among the key facts of these passages."""
    return not sentence_facts or sentence_facts <= set().union(*passage_facts)


def without_markers(text: str) -> str:
    """The text without its citation markers ("[2]"), spaces collapsed, none left before punctuation."""
    return re.sub(r"\s+([.,;:!?])", r"\1", " ".join(_ANY_MARKER.sub("", text).split()))


def check_answer(answer: str, passages: Sequence[ScoredChunk], embedder: Embedder | None = None,
                 question: str = "") -> CheckedAnswer:
    """Each sentence of the answer against the passages it was given (numbered from 1): which support it (shared
    words, not counting those it repeats from `question`, or meaning), whether those hold its key facts, and
    whether it says their opposite."""
    asked = content_words(question) - {w for w in content_words(question) if any(c.isdigit() for c in w)}
    sentences = split_sentences(answer)
    cleaned = [without_markers(s) for s in sentences]
    texts = [p.chunk.text for p in passages]
    semantic = _semantic_matrix(cleaned, texts, embedder)
    passage_facts = [key_facts(t) for t in texts]
    checked = CheckedAnswer()
    for i, (raw, text) in enumerate(zip(sentences, cleaned)):
        model_cited = [int(n) for n in _ANY_MARKER.findall(raw)]
        if len(content_words(text)) < 3 or _META.match(text):
            continue  # "This is stated in [1]." and stray markers carry no claim of their own
        scores = [(lexical_support(text, t, asked), float(semantic[i, j]) if semantic is not None else 0.0)
                  for j, t in enumerate(texts)]
        supports = [lex >= LEXICAL_SUPPORT or sem >= SEMANTIC_SUPPORT for lex, sem in scores]
        kept = [n for n in dict.fromkeys(model_cited) if 1 <= n <= len(texts) and supports[n - 1]]
        if not kept and any(supports):
            best = max(range(len(texts)), key=lambda j: (supports[j], scores[j][0] + scores[j][1]))
            kept = [best + 1]
        if kept:
            kept += complementary(text, texts, supports, kept)
        # the opposite of what a passage says, or its start date given as an end
        disagrees = [contradicts(text, t) or start_date_as_end(text, t) for t in texts]
        agreeing = [j + 1 for j in range(len(texts)) if supports[j] and not disagrees[j]]
        if kept and any(disagrees[n - 1] for n in kept):
            kept = agreeing[:1]  # cite a supporting passage that agrees with the sentence, or none
        facts = key_facts(text)
        if kept and not holds_facts(facts, [passage_facts[n - 1] for n in kept]):
            # a number or date the cited passages do not hold: cite an agreeing passage that does, or none
            kept = [n for n in agreeing if holds_facts(facts, [passage_facts[n - 1]])][:1]
        if kept and all(unlabelled_figures(text, texts[n - 1], question) for n in kept):
            # an amount the cited passage holds only as something else (another row of its table): cite an
            # agreeing passage that holds it as what the sentence says, or none
            kept = [n for n in agreeing if holds_facts(facts, [passage_facts[n - 1]])
                    and not unlabelled_figures(text, texts[n - 1], question)][:1]
        named = places(text) if question and asks_for_place(question) else set()
        if kept and named and not any(named <= places_in_terms(texts[n - 1]) for n in kept):
            # the law or courts of a place the cited passage names only as an address: cite the passage whose
            # governing-law or venue clause names it, or none
            kept = [n for n in agreeing if named <= places_in_terms(texts[n - 1])][:1]
        checked.sentences.append(CheckedSentence(text, kept, model_cited, bool(kept)))
    return checked


def complementary(sentence: str, passages: Sequence[str], supports: Sequence[bool], kept: Sequence[int]) -> list[int]:
    """Supporting passages (1-based) to cite beside `kept`: each holds at least COMPLEMENT_WORDS of the sentence's
    content words that no passage cited so far holds, best first."""
    words = content_words(sentence)
    uncovered = words - set().union(*(content_words(passages[n - 1]) for n in kept))
    added: list[int] = []
    while uncovered:
        gains = {j: len(uncovered & content_words(passages[j])) for j in range(len(passages))
                 if supports[j] and j + 1 not in kept and j + 1 not in added}
        best = max(gains, key=lambda j: (gains[j], -j), default=None)
        if best is None or gains[best] < COMPLEMENT_WORDS:
            break
        added.append(best + 1)
        uncovered -= content_words(passages[best])
    return added


def _semantic_matrix(sentences: list[str], passages: list[str], embedder: Embedder | None) -> np.ndarray | None:
    if embedder is None or not sentences or not passages:
        return None
    s = embedder.embed_documents(sentences)
    p = embedder.embed_documents(passages)
    return np.asarray(s @ p.T)
