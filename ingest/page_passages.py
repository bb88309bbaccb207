"""Whole pages as passages, for the page-level keyword index: a question's words are often spread over a page's
several chunks, and BM25 over the whole page finds that page where no single chunk holds them all.

A page passage is a Chunk that spans its page's text (start 0); its index is the page number, unique per document.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from storage.records import Chunk


def page_passages(document_id: str, collection: str, file_name: str, pages: Sequence[str]) -> list[Chunk]:
    """One passage per page that has text (pages are 1-based)."""
    return [Chunk(document_id, collection, file_name, number, 0, len(text), text, number)
            for number, text in enumerate(pages, start=1) if text.strip()]


def pages_from_chunks(chunks: Iterable[Chunk]) -> list[Chunk]:
    """The page passages of a document indexed before page passages existed, put together from its chunks' spans
    (overlaps taken once; a gap the splitter skipped, which is only whitespace, becomes spaces)."""
    by_page: dict[int, list[Chunk]] = defaultdict(list)
    for chunk in chunks:
        by_page[chunk.page].append(chunk)
    passages = []
    for number in sorted(by_page):
        ordered = sorted(by_page[number], key=lambda c: (c.start, c.end))
        parts: list[str] = []
        cursor = ordered[0].start
        for chunk in ordered:
            if chunk.end <= cursor:
                continue
            if chunk.start > cursor:
                parts.append(" " * (chunk.start - cursor))
            parts.append(chunk.text[max(cursor - chunk.start, 0):])
            cursor = chunk.end
        first = ordered[0]
        text = "".join(parts)
        if text.strip():
            passages.append(Chunk(first.document_id, first.collection, first.file_name, number, first.start,
                                  cursor, text, number))
    return passages

