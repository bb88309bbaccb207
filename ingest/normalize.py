"""Text clean-up applied to every page before it is split (offsets refer to the cleaned text)."""

from __future__ import annotations

import re
import unicodedata
from functools import cache

_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb05": "st",
              "\ufb06": "st"}
_LIGATURE_RE = re.compile("|".join(_LIGATURES))
# a word broken at a line end: "bene-\nfits" -> "benefits" (only between lower-case letters, so "Zava-\nBased" stays)
_HYPHEN_BREAK = re.compile(r"(?<=[a-z])[-\u00ad]\n\s*(?=[a-z])")
_SOFT_HYPHEN = re.compile("\u00ad")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_SPACE_AROUND_NEWLINE = re.compile(r" *\n *")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def normalize_text(text: str) -> str:
    """Join hyphenated line breaks, expand ligatures, collapse whitespace, drop control characters."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub(" ", text)
    text = _LIGATURE_RE.sub(lambda m: _LIGATURES[m.group(0)], text)
    text = _HYPHEN_BREAK.sub("", text)
    text = _SOFT_HYPHEN.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _SPACE_AROUND_NEWLINE.sub("\n", text)
    text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip()


# pdfium's mark for a hyphen that ends a line inside a word (it drops the line break itself)
_PDFIUM_HYPHEN = re.compile(r"([^\W\d_]+)\x02\s*([^\W\d_]*)")


@cache
def _english_words() -> frozenset[str]:
    from rag.spelling import dictionary_words

    return dictionary_words(("en",))


def join_line_end_hyphens(text: str) -> str:
    """Resolve pdfium's line-end hyphen marks: "bene-fits" and "co-insurance" become the dictionary words
    "benefits" and "coinsurance"; a compound that is no word joined ("out-of-pocket", "in-network") keeps its hyphen.
    The word list is loaded only for text that has such marks."""
    if "\x02" not in text:
        return text

    def joined(match: re.Match[str]) -> str:
        left, right = match.group(1), match.group(2)
        whole = left + right
        return whole if right and whole.lower() in _english_words() else f"{left}-{right}"

    return _PDFIUM_HYPHEN.sub(joined, text).replace("\x02", "-")
