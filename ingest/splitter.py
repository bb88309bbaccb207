"""Sentence-aware chunking that measures length in the embedding model's own tokens and keeps exact offsets.

One pass of the model's fast tokenizer over a page gives every token's character span; sentences are packed
greedily up to `chunk_size` tokens, and the next chunk starts with the last sentences that fit in `chunk_overlap`.
A sentence longer than a chunk is cut at token boundaries. Every chunk is an exact slice page[start:end].
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# token character spans for a text: [(start, end), ...]
TokenSpans = Callable[[str], Sequence[tuple[int, int]]]

# a sentence ends after . ! ? (optionally followed by quotes/brackets) and whitespace, or at a blank line / bullet
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+|\n\s*\n|\n(?=\s*(?:[-•*▪●]|\d+[.)])\s)")


@dataclass(frozen=True)
class SplitSpec:
    """How to split, told to another process: the tokenizer file that measures passages, their size and overlap."""

    tokenizer: str
    chunk_size: int
    chunk_overlap: int


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def sentence_spans(text: str) -> list[Span]:
    spans: list[Span] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if match.start() > start:
            spans.append(Span(start, match.start()))
        start = match.end()
    if start < len(text):
        spans.append(Span(start, len(text)))
    return [s for s in spans if text[s.start:s.end].strip()]


class TokenSplitter:
    """Split page text into chunks of at most `chunk_size` tokens with about `chunk_overlap` tokens of overlap."""

    def __init__(self, token_spans: TokenSpans, chunk_size: int = 128, chunk_overlap: int = 30, *,
                 tokenizer: str = "") -> None:
        if chunk_size < 16:
            raise ValueError("chunk_size must be at least 16 tokens")
        if not 0 <= chunk_overlap < chunk_size // 2:
            raise ValueError("chunk_overlap must be between 0 and half the chunk size")
        self._token_spans = token_spans
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.tokenizer = tokenizer  # the tokenizer file `token_spans` uses, when known

    @property
    def identity(self) -> str:
        """Which splitting this is (tokenizer, size, overlap): passages split elsewhere (the parsing worker splits
        as it reads) are used only when they were split the same way. Empty when the tokenizer is not known."""
        return f"{self.tokenizer}|{self.chunk_size}|{self.chunk_overlap}" if self.tokenizer else ""

    def spans(self, text: str) -> list[tuple[int, int]]:
        """`split` as plain (start, end) pairs, to send between processes."""
        return [(span.start, span.end) for span in self.split(text)]

    def split(self, text: str) -> list[Span]:
        if not text.strip():
            return []
        tokens = list(self._token_spans(text))
        if not tokens:
            return [Span(0, len(text))]
        token_starts = [t[0] for t in tokens]

        def count(span: Span) -> int:
            return bisect.bisect_left(token_starts, span.end) - bisect.bisect_left(token_starts, span.start)

        pieces: list[tuple[Span, int]] = []  # sentences, long ones cut at token boundaries
        for sentence in sentence_spans(text):
            n = count(sentence)
            if n <= self.chunk_size:
                pieces.append((sentence, n))
                continue
            first = bisect.bisect_left(token_starts, sentence.start)
            last = bisect.bisect_left(token_starts, sentence.end)
            step = self.chunk_size - self.chunk_overlap
            for lo in range(first, last, step):
                hi = min(lo + self.chunk_size, last)
                start = max(tokens[lo][0], sentence.start)
                end = min(tokens[hi - 1][1], sentence.end)
                pieces.append((Span(start, end), hi - lo))
                if hi == last:
                    break

        chunks: list[Span] = []
        i = 0
        while i < len(pieces):
            used = 0
            j = i
            while j < len(pieces) and (used + pieces[j][1] <= self.chunk_size or j == i):
                used += pieces[j][1]
                j += 1
            chunks.append(Span(pieces[i][0].start, pieces[j - 1][0].end))
            if j >= len(pieces):
                break
            # start the next chunk with trailing sentences that fit in the overlap, but always move forward
            back, k = 0, j
            while k - 1 > i and back + pieces[k - 1][1] <= self.chunk_overlap:
                back += pieces[k - 1][1]
                k -= 1
            i = k
        return chunks
