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
