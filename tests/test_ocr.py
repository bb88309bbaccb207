"""OCR of scanned PDFs with Debian's tesseract (installed by scripts/test), and the needs_ocr state without it."""

import shutil
from pathlib import Path

import pytest

from ingest.readers import ReadFailure, ReadLimits, read_document
from rag.embedders import Embedder
from storage.records import DocState
from tests.conftest import make_services
from tests.documents import HOSTILE_DIR, HR_DOCS

SCAN = HOSTILE_DIR / "ocrmypdf-vector.pdf"  # text drawn as vector outlines: no text layer at all


def test_scanned_pdf_is_read_by_ocr_and_answerable(tmp_path: Path, embedder: Embedder) -> None:
    assert shutil.which("tesseract"), "scripts/test installs Debian's tesseract-ocr"
    services = make_services(tmp_path / "home", embedder)
    result = services.pipeline.ingest([SCAN], "scans")[0]
    assert result.state is DocState.INDEXED, result.reason
    assert "read by OCR" in result.reason  # marked as OCR'd in the registry
    record = services.registry.get("scans", result.id)
    assert record is not None and "read by OCR" in record.reason
    hit = services.retriever.search("sample vector PDF for testing OCR processing", 1, ["scans"])[0]
    assert hit.chunk.file_name == SCAN.name and hit.chunk.page == 1 and "OCR processing" in hit.chunk.text
    assert record.ocr_pages == (1,)
    # the citation says so too (the app, `ask` and the API show "text read by OCR")
    assert services.workspace().provenance(hit.chunk)["ocr"] is True
    services.close()


def test_without_ocr_a_scan_needs_ocr(tmp_path: Path, embedder: Embedder) -> None:
    services = make_services(tmp_path / "home", embedder, ocr=False)
    result = services.pipeline.ingest([SCAN], "scans")[0]
    assert result.state is DocState.NEEDS_OCR and "switched off" in result.reason
    services.close()


def test_without_tesseract_the_reason_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ReadFailure) as caught:
        read_document(SCAN, ReadLimits(ocr=True))
    assert caught.value.state is DocState.NEEDS_OCR and "tesseract-ocr" in caught.value.reason


def test_a_table_pasted_as_a_picture_is_read_row_by_row(tmp_path: Path, embedder: Embedder) -> None:
    # Benefit_Options.pdf page 4: the cost-per-paycheck table is an image; pypdf finds no text in it
    services = make_services(tmp_path / "home", embedder)
    result = services.pipeline.ingest([HR_DOCS / "Benefit_Options.pdf"], "hr")[0]
    assert result.state is DocState.INDEXED and "pictures on page(s) 4 read by OCR" in result.reason
    record = services.registry.get("hr", result.id)
    assert record is not None and record.ocr_pages == (4,)
    hits = services.retriever.search("employee cost per paycheck Northwind Standard employee +1", 3, ["hr"])
    table = next(h.chunk for h in hits if h.chunk.page == 4)
    assert "Employee +1 $65.00 $71.00" in table.text  # a row stays a row: plan columns in order
    assert "Employee Only $45.00 $55.00" in table.text
    services.close()


def test_pictures_are_left_alone_when_the_setting_says_so(tmp_path: Path, embedder: Embedder) -> None:
    """CONFIDANT_OCR_PICTURES=false reaches the parsing worker: the pictured table is not read."""
    services = make_services(tmp_path / "home", embedder, ocr_pictures=False)
    result = services.pipeline.ingest([HR_DOCS / "Benefit_Options.pdf"], "hr", wait=False)[0]
    assert result.state is DocState.INDEXED and "pictures" not in result.reason
    record = services.registry.get("hr", result.id)
    assert record is not None and record.ocr_pages == ()
    services.close()


def test_pictures_are_read_after_the_text_is_searchable_then_found_like_the_text(tmp_path: Path,
                                                                               embedder: Embedder) -> None:
    """Reading a page's pictures takes longer than reading a long report's text, so it is a later step: the text is
    keyword-searchable at once, the pictured table's words follow as more chunks of page 4, in every index."""
    services = make_services(tmp_path / "home", embedder)
    result = services.pipeline.ingest([HR_DOCS / "Benefit_Options.pdf"], "hr", wait=False)[0]
    assert result.state is DocState.INDEXED and "pictures" not in result.reason
    record = services.registry.get("hr", result.id)
    assert record is not None and record.pictures_pending and record.ocr_pages == ()
    text_chunks = record.chunks
    table_words = "Employee Only $45.00 $55.00"
    assert not any(table_words in c.text for c in services.keywords.document_chunks("hr", result.id))
    assert services.retriever.search("employee cost per paycheck Northwind Standard", 3, ["hr"], mode="keyword")
    services.pipeline.embed_pending()  # the vectors first: then only the pictures wait, and the sidebar says so
    queue = services.workspace().indexing_queue(["hr"])
    assert (queue.documents, queue.pictures, queue.describe()) == (0, 1, "looking for text in the pictures of 1 document")

    services.pipeline.fill_pending()
    record = services.registry.get("hr", result.id)
    assert record is not None and not record.pictures_pending and record.ocr_pages == (4,)
    assert "pictures on page(s) 4 read by OCR" in record.reason
    assert record.chunks > text_chunks and record.embedded == record.chunks
    assert services.store.count(document_id=result.id) == services.keywords.count(document_id=result.id) \
        == record.chunks
    added = services.keywords.document_chunks("hr", result.id)[text_chunks:]
    assert added and all(c.page == 4 for c in added) and any(table_words in c.text for c in added)
    page_four = next(p for p in services.pages.document_chunks("hr", result.id) if p.page == 4)
    assert table_words in page_four.text and page_four.text.index(table_words) >= added[0].start - 2
    for mode in ("keyword", "vector"):
        hits = services.retriever.search("employee cost per paycheck Northwind Standard employee +1", 3, ["hr"],
                                         mode=mode)
        assert any(table_words in h.chunk.text for h in hits), mode
    assert services.registry.awaiting_pictures() == [] and services.pipeline.fill_pending() == 0
    assert services.workspace().indexing_queue(["hr"]).empty
    services.close()


def test_the_time_the_pictures_take_is_measured_and_counted_in_what_is_left(tmp_path: Path,
                                                                            embedder: Embedder) -> None:
    """The pictures are read after the last vector, so a long ingest's last minutes were missing from its ETA (on
    10,000 pages: the bar said seconds while four minutes were left). Each step of the later stages now says how
    many pages still have their pictures to read and how long those read so far took."""
    from ingest.vector_filler import VectorQueue
    from tests.documents import make_pdf

    services = make_services(tmp_path / "home", embedder)
    booklet = services.pipeline.ingest([HR_DOCS / "Benefit_Options.pdf"], "hr", wait=False)[0]
    memo = services.pipeline.ingest([make_pdf(tmp_path / "memo.pdf", ["Parking is free in the north garage."])],
                                    "hr", wait=False)[0]
    assert (booklet.pages, memo.pages) == (4, 1)
    steps: list = []  # type: ignore[type-arg]
    services.pipeline.fill_pending(steps.append)
    read = [s for s in steps if s.picture_pages_done]
    assert steps[0].picture_pages_left == 5 and steps[0].picture_seconds_left() is None  # not measured yet
    first = {"Benefit_Options.pdf": 4, "memo.pdf": 1}[read[0].file_name]  # the document whose pictures came first
    assert read[0].picture_pages_done == first and read[0].picture_pages_left == 5 - first
    assert read[0].picture_seconds > 0
    assert read[0].picture_seconds_left() == pytest.approx((5 - first) * read[0].picture_seconds / first)
    assert steps[-1].picture_pages_left == 0 and steps[-1].picture_seconds_left() == 0.0
    # the app's queue: the pictures' time left at the speed measured
    waiting = [services.registry.get("hr", memo.id)]
    assert VectorQueue.of([], None, waiting, 0.5).describe() == \
        "looking for text in the pictures of 1 document, about 0 s left"
    services.close()


def test_a_crash_while_adding_the_pictures_text_is_mended_by_reading_the_file_again(tmp_path: Path,
                                                                                   embedder: Embedder,
                                                                                   monkeypatch: pytest.MonkeyPatch
                                                                                   ) -> None:
    """Killed after the pictures' chunks were written but before they were counted: the next pass sees keyword
    entries the registry does not know, reads the file again, and ends with every chunk once."""
    services = make_services(tmp_path / "home", embedder)
    result = services.pipeline.ingest([HR_DOCS / "Benefit_Options.pdf"], "hr", wait=False)[0]
    services.pipeline.embed_pending()  # the text's vectors are all in: only the pictures wait

    def killed(*args: object, **kwargs: object) -> bool:
        raise SystemExit("killed")

    monkeypatch.setattr(services.registry, "add_pictures", killed)
    record = services.registry.awaiting_pictures()[0]
    with pytest.raises(SystemExit):
        services.pipeline.read_pictures(record)
    assert services.keywords.count(document_id=result.id) > record.chunks  # written, not counted
    monkeypatch.undo()

    services.pipeline.fill_pending()
    mended = services.registry.get("hr", result.id)
    assert mended is not None and mended.state is DocState.INDEXED and not mended.pictures_pending
    assert mended.ocr_pages == (4,) and mended.embedded == mended.chunks
    chunks = services.keywords.document_chunks("hr", result.id)
    assert len(chunks) == mended.chunks == services.store.count(document_id=result.id)
    assert sorted(c.index for c in chunks) == list(range(mended.chunks))  # nothing twice
    services.close()
