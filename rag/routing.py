"""Route a question to the documents it names, and search inside them without the naming words.

A question about one document usually names it: "the License and Hosting Agreement between Corio Inc. and
Changepoint", "Adobe's FY2017 operating cash flow", "PerksPlus". Those names are the rarest words of the question, so
keyword search ranks first the pages full of them — a contract's preamble and signature blocks, the cover of every
filing that mentions the company — and the embedding of the question leans on them too, while the words that say
what is asked ("renew", "notice", "cash flow") weigh little. Whole collections of same-kind documents (every
contract has a governing-law clause, every 10-K a cash-flow statement) make it worse.

So, before ranking passages:
1. The naming words: words written as names (capitalised inside a sentence, or with digits: "Corio", "Adobe",
   "2017") that some but few of the searched documents' first pages or titles hold (two, or at most `RARE_SHARE`
   of them) — names, not subject matter.
2. The named documents: each document scores the rarity (inverse document frequency among the first pages) of
   the naming words with letters its first page or title (the file name) holds; the documents scoring at least
   `NAMED_SHARE` of the best. Held, not how often: BM25 of the same words ranked a short cover that repeats the
   company's name five times far above a long annual-report cover that gives it once, so the annual report of the
   company asked about was left out (financebench-dev recall@5 0.535 with BM25, 0.558 with this, bench/quality.py).
   A year or number in the question then picks among them (those whose first page holds the most of them); alone
   it names nothing.
3. Route only when at least one naming word is concentrated in the candidates across the whole text (at least
   `CONCENTRATION` of the passages that hold it are theirs): a company name used in every document, like an
   employer's name in its HR booklets, names none. (A limit on the candidates' share of the pages searched for
   routing itself cost 0.03–0.05 of recall@5 on five-document collections of contracts and filings; it now
   applies only to taking the names out, step 4.) Nor when the question also gives a made name (written as a
   name, not an abbreviation, and no dictionary holds it: "Northwind", "Contoso") that no first page holds and
   the candidates never use, while a few other documents do: "How much does Northwind Standard cost per
   paycheck?" asked of a benefits booklet (whose cover says "Benefit options") beside an annual report (whose
   cover says "Standard") was routed to the annual report alone and declined. No question of the three
   development sets routes differently for it (all 395 compared with and without).
4. Search only the candidates. Where the names make up much of the question (at least `STRIP_SHARE` of its
   words: "… the License and Hosting Agreement between Corio Inc. and Changepoint, Inc.") and the candidates are a
   small part of what is searched (at most `STRIP_MAX_PAGE_SHARE` of its pages), take out of it the naming words
   every candidate holds, so the words of the ask rank the pages (a word that tells the candidates apart, like the
   year among a company's annual reports, stays). Where the named documents are much of the collection, their
   names run through it (a benefit plan's name on every page of its booklet): without this limit HR fell from
   0.902 to 0.898 and one HR answer was declined, with it HR is 0.906; the price is a big contract in a small
   collection (five-document contracts 0.960 -> 0.933, bench/quality_small.py). A name in a long question
   ("… for Adobe? Base your judgment on the cash flow statement …") stays: there the statement pages carry the
   company's name in their headings, and taking it out cost 11 of 43 filings questions (bench/quality.py).

Nothing here is tuned to one set: bench/quality.py measures it on HR booklets, annual reports and contracts together.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from storage.keyword_index import NamingIndex, query_terms
from storage.records import DocumentRecord, ScoredChunk

NAMED_SHARE = 0.6  # a candidate scores at least this share of the best document's name score
RARE_SHARE = 0.2  # a naming word is on at most this share of the first pages searched (or on two)
CONCENTRATION = 0.5  # … and at least this share of the passages holding it belong to the candidates
SPREAD_DEPTH = 50  # passages looked at to see where a naming word is used
STRIP_SHARE = 0.2  # the names are taken out of the question only when they are at least this share of its words
STRIP_MAX_PAGE_SHARE = 0.34  # … and the named documents hold at most this share of the pages searched

_LETTERS_DIGITS = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Route:
    """Search these documents only, with this question."""

    document_ids: list[str]
    question: str
    naming_words: list[str]
    asked: str = ""  # what is asked of the named documents: the question without the names spent ("" if none were)


def split_letters_digits(text: str) -> str:
    """"FY2017" → "FY 2017", "Q3" → "Q 3": a year or number written onto a word still matches it."""
    return _LETTERS_DIGITS.sub(" ", text)


def name_words(text: str) -> list[str]:
    """The words written as names: capitalised other than at the start of a sentence, or with a digit in them
    ("Corio", "LLC", "Northwind", "2017"); stop words never. "What is the role of …" names nothing, even
    where a document is called "Role library"."""
    words = []
    for match in _WORD.finditer(text):
        word = match.group()
        before = text[: match.start()].rstrip()
        opens_sentence = not before or before[-1] in ".?!:;\n\"'(["
        if (word[0].isupper() and not opens_sentence) or any(c.isdigit() for c in word) or (
                len(word) > 1 and word.isupper()):
            words.extend(query_terms(word))
    return words


def made_names(text: str, dictionary: Collection[str]) -> list[str]:
    """The names (`name_words`) written as a proper name ("Northwind", "Contoso": a capital, then small letters)
    that the dictionary does not hold: made names. Abbreviations ("FY", "USD", "EBITDA") are not: they are the
    subject's words, used by some documents and not others; a dictionary word ("Policyholder") neither."""
    if not dictionary:
        return []
    written = {w.lower() for w in _WORD.findall(text) if len(w) > 1 and w[0].isupper() and w[1:].islower()}
    return [w for w in dict.fromkeys(name_words(text)) if w in written and w.isalpha() and w not in dictionary]


def without_names(text: str) -> str:
    """The question without the words written as names (`name_words`): what it asks, not of which document."""
    names = set(name_words(text))
    return " ".join(w for w in _WORD.findall(text) if not set(query_terms(w)) & names)


def first_page_id(record: DocumentRecord) -> str:
    """The page index's entry for the document's first page (page passages are numbered by page)."""
    return f"{record.collection}/{record.id}/1"


class DocumentRouter:
    def __init__(self, pages: NamingIndex, passages: NamingIndex,
                 known_words: Callable[[], Collection[str]] = frozenset) -> None:
        self.pages = pages  # whole pages with their document titles
        self.passages = passages  # the chunk index, to see where a word is used
        self._known_words = known_words  # the languages' dictionary, loaded when first needed (made_names)
        self._known: Collection[str] | None = None

    def route(self, question: str, records: Sequence[DocumentRecord]) -> Route | None:
        """The documents among `records` (those searched) that the question names, or None to search them all."""
        if len(records) < 2:
            return None
        text = split_letters_digits(question)
        ids = [first_page_id(r) for r in records]
        naming = [w for w in dict.fromkeys(name_words(text))
                  if 0 < self.pages.count_among(w, ids) <= max(2.0, RARE_SHARE * len(ids))]
        if not naming:
            return None
        names = [w for w in naming if not w.isdigit()]
        if not names:
            return None  # a year or a number alone names no document
        by_name = self._best(names, ids)
        if not by_name or not any(self._concentrated(w, by_name, records) for w in names):
            return None
        if any(self._named_elsewhere(w, by_name, records) for w in made_names(text, self._dictionary())
               if self.pages.count_among(w, ids) == 0):
            return None
        # a year or number the question gives picks among the documents the names name: those whose first page
        # holds the most of them ("2017" among three years of a company's annual reports)
        numbers = [w for w in naming if w.isdigit()]
        held = {r.id: sum(self.pages.count_among(n, [first_page_id(r)]) for n in numbers)
                for r in records if r.id in by_name}
        most = max(held.values(), default=0)
        named = {d for d, n in held.items() if n == most} if most else by_name
        # a naming word every named document holds has done its work; one that tells them apart ("2017" among
        # three years of a company's filings) stays in the question
        named_ids = [first_page_id(r) for r in records if r.id in named]
        spent = [w for w in naming if self.pages.count_among(w, named_ids) == len(named_ids)]
        pages = {r.id: max(r.pages, 1) for r in records}
        if (len(spent) < STRIP_SHARE * len(query_terms(text))
                or sum(pages[d] for d in named) > STRIP_MAX_PAGE_SHARE * sum(pages.values())):
            spent = []  # a name or two in a long question: it helps the search inside the document as much as not
        stems = set(self.pages.analyze(" ".join(spent)))
        kept = [w for w in _WORD.findall(text) if not set(self.pages.analyze(w)) & stems]
        searched = " ".join(kept) if kept else question
        return Route(sorted(named), searched, naming, searched if spent else "")

    def _best(self, words: list[str], ids: list[str]) -> set[str]:
        """The documents whose first page (with title) holds naming words at least NAMED_SHARE as rare, in sum, as
        the best document's: each word held counts its inverse document frequency among `ids`, once."""
        scores: dict[str, float] = {}
        for word in words:
            holders = self.pages.search_among(word, ids, len(ids))
            if not holders:
                continue
            rarity = math.log(1 + len(ids) / len(holders))
            for document_id in {h.chunk.document_id for h in holders}:
                scores[document_id] = scores.get(document_id, 0.0) + rarity
        best = max(scores.values(), default=0.0)
        return {d for d, score in scores.items() if best > 0 and score >= NAMED_SHARE * best}

    def _concentrated(self, word: str, named: set[str], records: Sequence[DocumentRecord]) -> bool:
        hits = self._passages_holding(word, records)
        return bool(hits) and sum(h.chunk.document_id in named for h in hits) >= CONCENTRATION * len(hits)

    def _dictionary(self) -> Collection[str]:
        if self._known is None:
            self._known = self._known_words()
        return self._known

    def _named_elsewhere(self, word: str, named: set[str], records: Sequence[DocumentRecord]) -> bool:
        """A made name (`made_names`) no first page holds, that the named documents never use and a few others do ("Northwind
        Standard", a plan named on a benefits booklet's inner pages, asked beside an annual report whose cover says
        "Standard"): the question is about those others too."""
        if self._passages_holding(word, records, named, 1):
            return False
        others = {h.chunk.document_id for h in self._passages_holding(word, records)}
        return 0 < len(others) <= max(2.0, RARE_SHARE * len(records))

    def _passages_holding(self, word: str, records: Sequence[DocumentRecord], among: set[str] | None = None,
                          k: int = SPREAD_DEPTH) -> list[ScoredChunk]:
        collections = sorted({r.collection for r in records})
        ids = [r.id for r in records if among is None or r.id in among]
        return self.passages.search(word, k, collections, ids)
