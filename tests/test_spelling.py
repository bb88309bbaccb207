"""Typo-tolerant search: the vocabulary kept beside the BM25 index, and corrections that stay inside the
collections searched and leave real words alone."""

import sqlite3
from pathlib import Path

import pytest

from confidant.services import Services
from rag.spelling import SpellingCorrector, dictionary_words
from storage.keyword_index import TantivyKeywordIndex
from storage.records import Chunk
from tests.documents import make_pdf


def chunk(doc: str, collection: str, i: int, text: str) -> Chunk:
    return Chunk(doc, collection, f"{doc}.pdf", 1, 0, len(text), text, i)


def test_corrects_unknown_words_to_frequent_document_words() -> None:
    words = {"health": 5, "services": 4, "covered": 3, "northwind": 9, "healing": 2, "rare": 1}
    speller = SpellingCorrector(lambda _: words, dictionary=lambda: dictionary_words(("en",)))
    assert speller.correct("Wht servces r not coverd by Northwind Helth?") == (
        "Wht services r not covered by Northwind Health?")
    # real English words are left alone even when a document word is one edit away
    assert speller.correct("dealing with it") == "dealing with it"
    # short words are never touched; a word seen in only one chunk is not a correction target
    assert speller.correct("hlth rar") == "hlth rar"
    assert SpellingCorrector(lambda _: {}).correct("helth") == "helth"


def test_vocabulary_follows_add_replace_and_delete(tmp_path: Path) -> None:
    index = TantivyKeywordIndex(tmp_path / "k.sqlite3")
    chunks = [chunk("a", "hr", 0, "Dental dental coverage"), chunk("a", "hr", 1, "Vision coverage 2024")]
    index.add(chunks, ["t", "t"])
    index.add(chunks, ["t", "t"])  # a redone document is not counted twice
    index.add([chunk("b", "legal", 0, "Indemnity coverage")], ["t"])
    assert index.vocabulary(["hr"]) == {"dental": 1, "coverage": 2, "vision": 1}
    assert index.vocabulary(None)["coverage"] == 3
    index.delete_document("hr", "a")
    assert index.vocabulary(["hr"]) == {}
    assert index.vocabulary(None) == {"indemnity": 1, "coverage": 1}


def test_counts_cut_short_by_a_crash_are_rebuilt_on_open(tmp_path: Path) -> None:
    """A write commits the index, then the counts; a process killed in between leaves the stale flag set."""
    path = tmp_path / "k.sqlite3"
    index = TantivyKeywordIndex(path)
    index.add([chunk("a", "hr", 0, "deductible deductible copay")], ["t"])
    index.add([chunk("b", "hr", 0, "copay coinsurance")], ["t"])
    index.close()
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM vocabulary WHERE term = 'coinsurance'")
        conn.execute("UPDATE vocabulary_state SET stale = 1")
    assert TantivyKeywordIndex(path).vocabulary(["hr"]) == {"deductible": 1, "copay": 2, "coinsurance": 1}


@pytest.mark.parametrize("clock", ["fine", "coarse"])
def test_an_fts5_index_of_an_earlier_version_is_moved_over(tmp_path: Path, clock: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    if clock == "coarse":  # a file clock too coarse to show the commit in meta.json's time (as on CI's disk)
        monkeypatch.setattr(TantivyKeywordIndex, "_meta_stamp", lambda self: 0)
    path = tmp_path / "keywords.sqlite3"
    with sqlite3.connect(path) as conn:  # the layout of Confidant's SQLite FTS5 index, before any vocabulary
        conn.execute("""CREATE VIRTUAL TABLE chunk_text USING fts5(text, title, chunk_id UNINDEXED,
            document_id UNINDEXED, collection UNINDEXED, file_name UNINDEXED, page UNINDEXED, start UNINDEXED,
            "end" UNINDEXED, idx UNINDEXED, tokenize = 'porter unicode61 remove_diacritics 2')""")
        conn.execute("INSERT INTO chunk_text VALUES ('The copay for the deductible plan.', 'Plan', 'hr/a/3', 'a', "
                     "'hr', 'plan.pdf', 2, 10, 44, 3)")
    index = TantivyKeywordIndex(path)
    [hit] = index.search("copay", 5, ["hr"])
    assert hit.chunk == Chunk("a", "hr", "plan.pdf", 2, 10, 44, "The copay for the deductible plan.", 3)
    assert index.vocabulary(["hr"]) == {"copay": 1, "deductible": 1, "plan": 1, "the": 1, "for": 1}
    index.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'chunk_text'").fetchone() == (0,)
    assert TantivyKeywordIndex(path).count() == 1  # opening again moves nothing twice


def test_a_misspelled_question_finds_the_page_and_corrections_stay_in_scope(services: Services,
                                                                            tmp_path: Path) -> None:
    hr = make_pdf(tmp_path / "plan.pdf", [
        "The orthodontic allowance is 1500 dollars per child. Orthodontic claims need a referral.",
        "Parking is free for employees at the north entrance.",
        "Orthodontic providers must be in the network.",
    ])
    legal = make_pdf(tmp_path / "merger.pdf", [
        "The indemnification cap is twice the purchase price.", "Indemnification survives closing."])
    services.pipeline.ingest([hr], "hr")
    services.pipeline.ingest([legal], "legal")
    hits = services.retriever.search("what is the orthodontc alowance?", 3, ["hr"])
    assert (hits[0].chunk.file_name, hits[0].chunk.page) == ("plan.pdf", 1)
    speller = services.retriever.speller
    assert speller is not None
    assert speller.correct("orthodontc indemnifcation", ["hr"]) == "orthodontic indemnifcation"
    assert speller.correct("orthodontc indemnifcation", ["legal"]) == "orthodontc indemnification"


def test_hr_question_with_typos_finds_its_evidence_page(hr_services: Services) -> None:
    # hr-103 of the HR eval: without correction its evidence page is not in the top 10
    hits = hr_services.retriever.search("Wht does Northwind Helth Plus cover for outpatint surgicl care?", 5, ["hr"])
    assert ("Northwind_Health_Plus_Benefits_Details.pdf", 55) in {(h.chunk.file_name, h.chunk.page) for h in hits}
