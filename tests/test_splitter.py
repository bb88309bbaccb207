import re

import pytest

from ingest.splitter import TokenSplitter, sentence_spans


def word_spans(text: str) -> list[tuple[int, int]]:
    """A whitespace tokenizer: one token per word (honest stand-in for the model tokenizer)."""
    return [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]


def count(text: str) -> int:
    return len(text.split())


def test_sentences_are_found_with_offsets() -> None:
    text = "One two. Three four! Five?\n\nSix"
    assert [text[s.start:s.end] for s in sentence_spans(text)] == ["One two.", "Three four!", "Five?", "Six"]


def test_chunks_are_exact_slices_within_size() -> None:
    text = " ".join(f"Sentence number {i} has exactly seven words." for i in range(60))
    splitter = TokenSplitter(word_spans, chunk_size=32, chunk_overlap=8)
    chunks = splitter.split(text)
    assert len(chunks) > 5
    for span in chunks:
        piece = text[span.start:span.end]
        assert piece == piece.strip() and piece
        assert count(piece) <= 32
    # every sentence lands in some chunk, in order
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    assert all(a.start < b.start for a, b in zip(chunks, chunks[1:]))


def test_overlap_repeats_the_last_sentence() -> None:
    text = " ".join(f"Alpha beta gamma delta {i}." for i in range(20))  # 5 words each
    chunks = TokenSplitter(word_spans, chunk_size=20, chunk_overlap=6).split(text)
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end  # they overlap by one sentence
        assert text[b.start:a.end].count(".") == 1


def test_no_overlap_means_disjoint_chunks() -> None:
    text = " ".join(f"Alpha beta gamma delta {i}." for i in range(20))
    chunks = TokenSplitter(word_spans, chunk_size=20, chunk_overlap=0).split(text)
    assert all(b.start >= a.end for a, b in zip(chunks, chunks[1:]))


def test_very_long_sentence_is_cut_at_token_boundaries() -> None:
    text = " ".join(f"w{i}" for i in range(100))
    chunks = TokenSplitter(word_spans, chunk_size=30, chunk_overlap=5).split(text)
    assert len(chunks) >= 4
    for span in chunks:
        piece = text[span.start:span.end]
        assert count(piece) <= 30
        assert piece.startswith("w") and not piece.endswith(" ")
    assert text[chunks[-1].start:chunks[-1].end].endswith("w99")


def test_empty_text_gives_no_chunks() -> None:
    assert TokenSplitter(word_spans).split("  \n ") == []


def test_bad_sizes_are_rejected() -> None:
    with pytest.raises(ValueError):
        TokenSplitter(word_spans, chunk_size=8)
    with pytest.raises(ValueError):
        TokenSplitter(word_spans, chunk_size=100, chunk_overlap=60)
