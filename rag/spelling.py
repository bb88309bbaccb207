"""Typo-tolerant search: misspelled question words are corrected against the words of the searched documents.

"Wht servces r not coverd by Northwind Helth Plus?" finds nothing by keyword and drifts in embedding space;
corrected to "services", "covered", "health" it finds the right page. A word is only replaced when it occurs in
no searched chunk and in no word list of the languages given (pyspellchecker's lists, so a real word such as
"dealing" is never turned into a document word such as "healing"), and a word within a small edit distance occurs
in at least `min_chunks` chunks; names and terms the documents contain are never touched. The vocabulary is
per collection: a correction can never reveal a word from a collection the caller may not search.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from functools import lru_cache
from importlib import resources

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

Vocabulary = Callable[[Sequence[str] | None], Mapping[str, int]]

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


@lru_cache(maxsize=4)
def dictionary_words(languages: tuple[str, ...] = ("en",)) -> frozenset[str]:
    """Known words of these languages, from the lists pyspellchecker ships (English: 160k words, ~0.2 s, ~15 MB)."""
    words: set[str] = set()
    for language in languages:
        data = (resources.files("spellchecker") / "resources" / f"{language}.json.gz").read_bytes()
        words.update(json.loads(gzip.decompress(data)))
    return frozenset(words)


def max_edits(word: str) -> int:
    """Edits allowed for a word of this length: none for short words (too many neighbours), then one, then two."""
    return 0 if len(word) < 4 else 1 if len(word) <= 5 else 2


class SpellingCorrector:
    def __init__(self, vocabulary: Vocabulary, *, dictionary: Callable[[], Collection[str]] = frozenset,
                 min_chunks: int = 2) -> None:
        self._vocabulary = vocabulary
        self._load_dictionary = dictionary
        self._dictionary: Collection[str] | None = None
        self._lock = threading.Lock()
        self.min_chunks = min_chunks
        self._candidates: tuple[Mapping[str, int] | None, list[str]] = (None, [])

    @property
    def dictionary(self) -> Collection[str]:
        with self._lock:
            if self._dictionary is None:
                self._dictionary = self._load_dictionary()
            return self._dictionary

    def correct(self, query: str, collections: Sequence[str] | None = None) -> str:
        """The query with each unknown word replaced by its closest frequent document word (case kept simple:
        a capitalised word stays capitalised)."""
        words = self._vocabulary(collections)
        if not words:
            return query
        dictionary = self.dictionary

        def fix(match: re.Match[str]) -> str:
            word = match.group(0)
            lower = word.lower()
            edits = max_edits(lower)
            if edits == 0 or lower in words or lower in dictionary:
                return word
            best = self._closest(lower, edits, words)
            if best is None:
                return word
            return best.capitalize() if word[:1].isupper() else best

        return _WORD.sub(fix, query)

    def _closest(self, word: str, edits: int, words: Mapping[str, int]) -> str | None:
        candidates = self._candidate_list(words)
        found = process.extract(word, candidates, scorer=Levenshtein.distance, score_cutoff=edits, limit=8)
        if not found:
            return None
        # fewest edits first, then the word more chunks use
        return min(found, key=lambda hit: (hit[1], -words[hit[0]]))[0]

    def _candidate_list(self, words: Mapping[str, int]) -> list[str]:
        cached_for, candidates = self._candidates
        if cached_for is not words:
            candidates = [w for w, n in words.items() if n >= self.min_chunks]
            self._candidates = (words, candidates)
        return candidates
