"""Two-stage indexing: a document is keyword-searchable as soon as it is read; its vectors follow in the background
(ingest/vector_filler.py), and answers say when a document is not fully indexed yet."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from confidant.services import Services
from ingest.pipeline import VectorProgress
from ingest.vector_filler import VectorFiller, VectorQueue
from storage.records import DocState
from tests.documents import HR_DOCS, make_pdf

BIG = "Northwind_Standard_Benefits_Details.pdf"


def test_without_waiting_a_document_is_keyword_searchable_then_its_vectors_follow(services: Services,
                                                                                   tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "leave.pdf", ["Leave policy. Employees accrue twenty days of paid leave per year.",
                                            "Approval. Leave requests are approved by the line manager."])
    result = services.pipeline.ingest([pdf], "hr", wait=False)[0]
    record = services.registry.get("hr", result.id)
    assert record is not None and record.state is DocState.INDEXED and record.embedded == 0 and record.chunks > 0
    assert services.store.count(document_id=result.id) == 0  # no vectors yet
    hits = services.retriever.search("who approves leave requests", 5, ["hr"])  # the default, hybrid
    assert hits and hits[0].chunk.document_id == result.id and hits[0].chunk.page == 2
    ws = services.workspace()
    assert ws.indexing_queue(["hr"]).documents == 1
    assert ws.indexing_queue(["hr"]).chunks == record.chunks

    filler = VectorFiller(lambda: services.pipeline, services.registry, poll_s=0.1)
    filler.start()
    filler.drain()
    record = services.registry.get("hr", result.id)
    assert record is not None and record.embedded == record.chunks
    assert services.store.count(document_id=result.id) == record.chunks
    vector_hits = services.retriever.search("who approves leave requests", 5, ["hr"], mode="vector")
    assert vector_hits and vector_hits[0].chunk.document_id == result.id
    assert ws.indexing_queue(["hr"]) == VectorQueue(0, 0, None)


def test_waiting_ingest_embeds_while_the_next_file_is_read_and_reports_vector_progress(services: Services,
                                                                                        tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("PerksPlus.pdf", "employee_handbook.pdf"):
        shutil.copy(HR_DOCS / name, folder / name)
    steps: list[VectorProgress] = []
    results = services.pipeline.ingest([folder], "hr", on_vectors=steps.append)
    assert [r.state for r in results] == [DocState.INDEXED, DocState.INDEXED]
    records = services.registry.documents("hr")
    assert all(r.embedded == r.chunks > 0 for r in records)
    assert services.store.count() == services.keywords.count() == sum(r.chunks for r in records)
    assert steps and steps[-1].chunks_left == 0 and steps[-1].chunks_done == sum(r.chunks for r in records)
    assert [s.chunks_done for s in steps] == sorted(s.chunks_done for s in steps)
    # where the time went, stage by stage (bench/ingest.py prints it)
    stages = services.pipeline.clock.totals()
    for stage in ("hashing", "read and split (parsing worker)", "keyword index", "page index", "registry",
                  "embedding (vectors)", "vector store"):
        assert stages.get(stage, 0.0) > 0, (stage, stages)


def test_a_document_deleted_while_its_vectors_are_embedded_leaves_none_behind(services: Services,
                                                                               tmp_path: Path) -> None:
    shutil.copy(HR_DOCS / BIG, tmp_path / BIG)
    result = services.pipeline.ingest([tmp_path / BIG], "hr", wait=False)[0]
    started = threading.Event()

    def on_vectors(step: VectorProgress) -> None:
        started.set()

    filler = VectorFiller(lambda: services.pipeline, services.registry, on_vectors, poll_s=0.1)
    filler.start()
    assert started.wait(120), "no batch was embedded"
    assert services.pipeline.delete("hr", result.id)
    time.sleep(1.0)  # the batch being embedded when it was deleted reaches the lock, finds it gone, and is dropped
    filler.stop()
    assert services.registry.get("hr", result.id) is None
    assert services.store.count(document_id=result.id) == 0
    assert services.keywords.count("hr", result.id) == 0


def test_embedding_that_fails_ends_the_document_failed_with_nothing_kept(services: Services, tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "leave.pdf", ["Leave policy. Employees accrue twenty days of paid leave per year."])
    result = services.pipeline.ingest([pdf], "hr", wait=False)[0]

    class Broken:
        def embed_documents(self, texts: list[str]) -> object:
            raise RuntimeError("out of memory")

    services.pipeline.embedder = Broken()  # type: ignore[assignment]
    assert services.pipeline.embed_pending() == 0
    record = services.registry.get("hr", result.id)
    assert record is not None and record.state is DocState.FAILED and "out of memory" in record.reason
    assert services.keywords.count("hr", result.id) == 0 and services.store.count(document_id=result.id) == 0


def test_a_store_that_refuses_the_vectors_ends_the_document_failed_and_the_ingest_carries_on(
        services: Services, tmp_path: Path) -> None:
    broken = make_pdf(tmp_path / "leave.pdf", ["Leave policy. Employees accrue twenty days of paid leave per year."])
    fine = make_pdf(tmp_path / "parking.pdf", ["Parking. Staff park for free in the north garage."])
    real_add = services.store.add

    def add(chunks: list, vectors: object) -> None:  # type: ignore[type-arg]
        if chunks[0].file_name == "leave.pdf":
            raise OSError("No space left on device")
        real_add(chunks, vectors)  # type: ignore[arg-type]

    services.store.add = add  # type: ignore[method-assign,assignment]
    results = {r.file: r for r in services.pipeline.ingest([broken, fine], "hr")}
    assert results["leave.pdf"].state is DocState.FAILED and "No space left" in results["leave.pdf"].reason
    assert results["parking.pdf"].state is DocState.INDEXED
    assert services.keywords.count("hr", results["leave.pdf"].id) == 0  # nothing of it kept
    assert services.store.count(document_id=results["parking.pdf"].id) == results["parking.pdf"].chunks


def test_a_document_still_waiting_for_its_vectors_answers_from_its_words(services: Services) -> None:
    """Found by using the app: a review grid started while the uploaded contracts were keyword-searchable only said
    "not found in this document" for clauses the keyword search ranked first — the relevance floor read the best
    passage's similarity, which keyword hits do not carry, as zero. Such passages are now measured when it matters."""
    from tests.documents import SHARED

    contract = SHARED / "eval" / "contracts-dev" / "docs" / "KIROMICBIOPHARMA,INC_05_11_2020-EX-10.23-CONSULTING " \
        "AGREEMENT.PDF"
    result = services.pipeline.ingest([contract], "legal", wait=False)[0]
    record = services.registry.get("legal", result.id)
    assert record is not None and record.vectors_pending and services.store.count(document_id=result.id) == 0
    answer = services.workspace().ask("Which jurisdiction's law governs this agreement?", ["legal"], [result.id])
    assert answer.text.startswith("The agreement is governed by the laws of Texas"), (answer.text, answer.message)
    assert "keyword search only for 1 document" in answer.message
    # a question the document does not speak to is still declined before the model
    unrelated = services.workspace().ask("What is the boiling point of mercury at sea level?", ["legal"], [result.id])
    assert unrelated.declined and "No passage in the documents is relevant" in unrelated.message


def test_an_answer_says_which_documents_are_searched_by_keywords_only(services: Services, tmp_path: Path) -> None:
    from rag.answering import Answer

    pdf = make_pdf(tmp_path / "leave.pdf", ["Leave policy. Employees accrue twenty days of paid leave per year."])
    services.pipeline.ingest([pdf], "hr", wait=False)
    ws = services.workspace()
    answer = ws._with_queue_note(Answer("How much leave?", "Twenty days [1].", False, "m", []), ["hr"], None)
    assert "Still being indexed: keyword search only for 1 document" in answer.message
    services.pipeline.embed_pending()  # then its pictures are looked at (a later step): still not fully indexed
    answer = ws._with_queue_note(Answer("How much leave?", "Twenty days [1].", False, "m", []), ["hr"], None)
    assert answer.message == "Still being indexed: looking for text in the pictures of 1 document."
    services.pipeline.fill_pending()
    answer = ws._with_queue_note(Answer("How much leave?", "Twenty days [1].", False, "m", []), ["hr"], None)
    assert answer.message == ""


@pytest.mark.parametrize(("queue", "text"), [
    (VectorQueue(0, 0, None), ""),
    (VectorQueue(2, 500, 40.2), "keyword search only for 2 documents, about 40 s left"),
    (VectorQueue(1, 9000, 600.0), "keyword search only for 1 document, about 10 min left"),
    (VectorQueue(3, 10, None), "keyword search only for 3 documents, semantic search follows as they are embedded"),
    (VectorQueue(0, 0, None, pictures=1), "looking for text in the pictures of 1 document"),
    (VectorQueue(2, 500, 40.2, pictures=2),
     "keyword search only for 2 documents, about 40 s left; looking for text in the pictures of 2 documents"),
    (VectorQueue(0, 0, None, pictures=3, picture_seconds_left=150.0),
     "looking for text in the pictures of 3 documents, about 2 min left"),
])
def test_the_queue_is_described_in_words(queue: VectorQueue, text: str) -> None:
    assert queue.describe() == text


def test_the_sidebar_shows_documents_still_being_embedded_and_answers_say_so(tmp_path: Path,
                                                                            embedder: object) -> None:
    from confidant.services import build_services
    from confidant.settings import Settings
    from tests.fakes import ExtractiveChat
    from tests.test_ui_app import app
    from ui.context import AppContext

    services = build_services(Settings(home=tmp_path / "home"), embedder=embedder,  # type: ignore[arg-type]
                              chat_model=ExtractiveChat())
    try:
        pdf = make_pdf(tmp_path / "hours.pdf", ["Office hours. The office opens at eight in the morning."])
        services.pipeline.ingest([pdf], "hr", wait=False)
        at = app(AppContext(services.gate()))  # no background filler here: the document stays keyword-only
        assert not at.exception, at.exception
        shown = [c.value for c in at.sidebar.caption]
        assert any("Indexing in the background: keyword search only for 1 document" in c for c in shown), shown
        at.chat_input[0].set_value("When does the office open?").run()
        assert not at.exception, at.exception
        texts = " ".join(str(m.value) for m in at.markdown) + " ".join(str(c.value) for c in at.caption) \
            + " ".join(str(i.value) for i in at.info) + " ".join(str(w.value) for w in at.warning)
        assert "Still being indexed: keyword search only for 1 document" in texts
    finally:
        services.close()


def test_ctrl_c_while_waiting_for_vectors_stops_the_embedding_thread_and_keeps_what_it_stored(
        services: Services, tmp_path: Path) -> None:
    """Ctrl-C in `confidant ingest` once every file is read (it waits for the vectors): the embedding thread ends
    with the batch it was storing counted, before the command closes the stores (left running, it went on embedding
    into a closed Chroma client and reported the document as failed)."""
    import signal

    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(HR_DOCS / BIG, folder / BIG)
    interrupted = threading.Event()
    seen: list[int] = []  # chunks done, at each progress report
    sent: list[int] = []  # how many reports there had been at each Ctrl-C

    def on_vectors(step: VectorProgress) -> None:
        seen.append(step.chunks_done)
        if step.chunks_done < 180:  # the file read long before: in drain()
            return
        # Ctrl-C, as the terminal sends it; again only when the first was lost: CPython drops a KeyboardInterrupt
        # that lands while the main thread runs an object's finalizer ("Exception ignored in …"; seen in the full
        # suite, with earlier tests' garbage collected), and then two more batches are reported (once the main
        # thread has it, stop() lets only the batch being embedded finish)
        if not sent or len(seen) - sent[-1] >= 3:
            sent.append(len(seen))
            interrupted.set()
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    handler = signal.getsignal(signal.SIGINT)
    raised = False
    try:
        services.pipeline.ingest([folder], "hr", on_vectors=on_vectors)
        time.sleep(60)  # (the interrupt may land just after the call returned: it must not pass silently)
    except KeyboardInterrupt:
        raised = True
    [record] = services.registry.documents("hr")
    assert raised, (f"no KeyboardInterrupt: SIGINT handler {handler!r}, {len(sent)} sent, vectors reported up "
                    f"to {max(seen, default=0)} of {record.chunks}, document {record.state} {record.reason!r}")
    assert interrupted.is_set()
    time.sleep(3)  # (an interrupted join() can report the thread as stopped: what it stores is the proof)
    [later] = services.registry.documents("hr")
    assert later.embedded == record.embedded, "vectors were still being embedded after Ctrl-C"
    assert record.state is DocState.INDEXED and 0 < record.embedded < record.chunks
    assert services.store.count(collection="hr", document_id=record.id) == record.embedded
