"""Keyword indexes — Tantivy (the embedded default) and PostgreSQL (shared by a team's nodes), same contract:
filters, replacement, rare words ranked first, spelling vocabulary per collection; and consistency with the vector
store through the pipeline."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from confidant.services import Services
from storage.keyword_index import KeywordIndex, TantivyKeywordIndex, query_terms
from storage.records import Chunk
from tests.conftest import fresh_database
from tests.documents import make_pdf

OpenIndex = Callable[[], KeywordIndex]


@pytest.fixture(params=["tantivy", "postgres"])
def open_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenIndex]:
    """A function opening one keyword index (again): Tantivy files, or a fresh PostgreSQL records database."""
    if request.param == "tantivy":
        yield lambda: TantivyKeywordIndex(tmp_path / "k.sqlite3")
        return
    from storage.pg_keyword_index import PostgresKeywordIndex
    from storage.sql import open_records

    engine = open_records(fresh_database(request.getfixturevalue("postgres_url")))
    yield lambda: PostgresKeywordIndex(engine, "keywords")
    engine.dispose()


def chunk(doc: str, collection: str, i: int, text: str) -> Chunk:
    return Chunk(doc, collection, f"{doc}.pdf", 1, 0, len(text), text, i)


def test_search_ranks_and_filters_by_collection(open_index: OpenIndex) -> None:
    index = open_index()
    index.add([chunk("a", "hr", 0, "The dental deductible is 50 dollars."),
               chunk("a", "hr", 1, "Vision exams are covered once a year."),
               chunk("b", "legal", 0, "The dental clause of the contract.")], ["A", "A", "B"])
    hits = index.search("What is the dental deductible?", 5)
    assert [h.chunk.chunk_id for h in hits][:1] == ["hr/a/0"] and hits[0].score > 0
    assert {h.chunk.collection for h in index.search("dental", 5, ["legal"])} == {"legal"}
    assert index.search("dental", 5, []) == []
    assert index.search("dental", 5, document_ids=["b"])[0].chunk.document_id == "b"


def test_readding_replaces_and_delete_removes(open_index: OpenIndex) -> None:
    index = open_index()
    c = [chunk("a", "hr", 0, "alpha beta"), chunk("a", "hr", 1, "gamma delta")]
    index.add(c, ["t", "t"])
    index.add(c, ["t", "t"])
    assert index.count() == 2
    index.delete_document("hr", "a")
    assert index.count() == 0


def test_question_syntax_is_not_query_syntax(open_index: OpenIndex) -> None:
    assert query_terms('what is "NEAR(a b)" AND OR -xy*? title:x^9') == ["near", "xy", "title", "9"]
    assert query_terms("the of and") == []
    index = open_index()
    index.add([chunk("a", "hr", 0, 'Section "NEAR(a b)" AND OR -xy*? title:x^9 of the plan.')], ["A"])
    assert [h.chunk.chunk_id for h in index.search('what is "NEAR(a b)" AND OR -xy*? title:x^9', 5)] == ["hr/a/0"]


def test_a_rare_word_outranks_a_common_one_and_titles_count_less(open_index: OpenIndex) -> None:
    index = open_index()
    common = [chunk(f"d{i}", "hr", 0, f"The plan covers employees in region {i}.") for i in range(8)]
    rare = chunk("r", "hr", 0, "The orthodontic benefit of the plan.")
    titled = chunk("t", "hr", 0, "Braces for children.")  # "orthodontic" only in its document's title
    index.add([*common, rare, titled], ["Plan"] * 8 + ["Plan", "Orthodontic care"])
    hits = index.search("Does the plan cover orthodontic care for employees?", 10)
    assert [h.chunk.document_id for h in hits[:2]] == ["r", "t"]
    assert hits[0].score > hits[1].score > 0


def test_spelling_vocabulary_and_naming_helpers_per_collection(open_index: OpenIndex) -> None:
    index = open_index()
    index.add([chunk("a", "hr", 0, "Quokkaplan members claim orthodontic care."),
               chunk("b", "legal", 0, "Zephyrine obligations survive termination."),
               chunk("b", "legal", 1, "Zephyrine pays within thirty days.")], ["Plan", "Supply", "Supply"])
    assert index.vocabulary(["hr"])["quokkaplan"] == 1 and "zephyrine" not in index.vocabulary(["hr"])
    assert index.vocabulary(["legal"])["zephyrine"] == 2 and index.vocabulary()["orthodontic"] == 1
    assert index.count_among("Zephyrine", ["legal/b/0", "legal/b/1", "hr/a/0"]) == 2  # type: ignore[attr-defined]
    among = index.search_among("zephyrine termination", ["legal/b/0", "hr/a/0"], 5)  # type: ignore[attr-defined]
    assert [h.chunk.chunk_id for h in among] == ["legal/b/0"]
    assert set(index.analyze("Claims")) == {"claim"}  # type: ignore[attr-defined]
    index.delete_document("legal", "b")
    assert "zephyrine" not in index.vocabulary()  # the cache knows a write happened


def test_pipeline_keeps_bm25_in_step_with_the_store(services: Services, tmp_path: Path) -> None:
    a = make_pdf(tmp_path / "a.pdf", ["Orthodontic braces are covered for children. " * 30, "Second page. " * 40])
    b = make_pdf(tmp_path / "b.pdf", ["Another document about parking permits. " * 20])
    results = services.pipeline.ingest([a, b], "c1")
    services.pipeline.ingest([a], "c1")  # re-ingest: duplicate, nothing added
    for r in results:
        assert services.keywords.count(document_id=r.id) == services.store.count(document_id=r.id) == r.chunks
    services.pipeline.delete("c1", results[0].id)
    assert services.keywords.count(document_id=results[0].id) == 0
    assert services.keywords.count() == services.store.count() == results[1].chunks
    hit = services.retriever.search("parking permits", 1, ["c1"], mode="keyword")[0]
    assert hit.chunk.file_name == "b.pdf"


def test_pending_document_cannot_crowd_out_indexed_ones(services: Services, tmp_path: Path) -> None:
    """Chunks of a document still being indexed are excluded inside both searches, not just dropped afterwards."""
    from storage.records import DocState, DocumentRecord

    visible = make_pdf(tmp_path / "visible.pdf", ["Bicycle parking is behind building C."])
    services.pipeline.ingest([visible], "c1")
    # a big document caught mid-ingest: many matching chunks stored, registry still pending
    chunks = [Chunk("pending-doc", "c1", "big.pdf", 1, 0, 10, f"bicycle parking rule number {i}", i) for i in range(80)]
    services.registry.begin(DocumentRecord("pending-doc", "c1", "big.pdf", "", 1, DocState.PENDING))
    services.store.add(chunks, services.embedder.embed_documents([c.text for c in chunks]))
    services.keywords.add(chunks, ["big"] * len(chunks))
    for mode in ("vector", "keyword", "hybrid"):
        hits = services.retriever.search("bicycle parking", 5, ["c1"], mode=mode)  # type: ignore[arg-type]
        assert [h.chunk.file_name for h in hits] == ["visible.pdf"], mode


_WRITER = """
import sys
from pathlib import Path
from storage.keyword_index import TantivyKeywordIndex
from storage.records import Chunk
index = TantivyKeywordIndex(Path(sys.argv[1]))
for n in range(20):
    doc = f"{sys.argv[2]}{n}"
    index.add([Chunk(doc, "hr", doc + ".pdf", 1, 0, 9, f"shared {sys.argv[2]}word{n} text", i) for i in range(3)], ["t"] * 3)
index.delete_document("hr", f"{sys.argv[2]}0")
"""


def test_two_processes_write_in_turn(tmp_path: Path) -> None:
    """The app and a CLI ingest can write to one data folder at once: writers wait for Tantivy's lock."""
    import subprocess
    import sys

    path = tmp_path / "k.sqlite3"
    TantivyKeywordIndex(path).close()
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), name], cwd=Path(__file__).parents[1])
             for name in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    index = TantivyKeywordIndex(path)
    assert index.count("hr") == 2 * 19 * 3
    assert index.count(document_id="a0") == index.count(document_id="b0") == 0
    words = index.vocabulary(["hr"])
    assert words["shared"] == 2 * 19 * 3 and words["text"] == 2 * 19 * 3
    assert words["aword"] == words["bword"] == 19 * 3  # letters only: "aword7" counts as "aword"
    assert index.search("bword7", 5, ["hr"])[0].chunk.document_id == "b7"


def test_questions_are_answered_while_a_write_is_under_way(tmp_path: Path) -> None:
    """A write holds Tantivy's writer (and may wait for merges); searches and word counts do not wait for it."""
    import threading

    index = TantivyKeywordIndex(tmp_path / "k.sqlite3")
    index.add([chunk("a", "hr", 0, "The dental deductible is 50 dollars.")], ["A"])
    holding, release = threading.Event(), threading.Event()

    def write() -> None:
        with index._writer():
            holding.set()
            release.wait(60)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert holding.wait(30)
        answers: list[object] = []
        reader = threading.Thread(target=lambda: answers.extend(
            [index.search("dental", 5)[0].chunk.chunk_id, index.vocabulary(["hr"])["dental"], index.count("hr")]))
        reader.start()
        reader.join(30)
        assert answers == ["hr/a/0", 1, 1], "a search waited for the write"
    finally:
        release.set()
        writer.join()
