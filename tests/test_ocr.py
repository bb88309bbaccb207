"""OCR of scanned PDFs with Debian's tesseract (installed by scripts/test), and the needs_ocr state without it."""

import shutil
from pathlib import Path

import pytest

from confidant.access import LOCAL_CALLER, Workspace
from ingest.readers import ReadFailure, ReadLimits, read_document
from rag.embedders import Embedder
from storage.records import DocState
from tests.conftest import make_services
from tests.documents import HOSTILE_DIR

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
    assert Workspace(services, LOCAL_CALLER).provenance(hit.chunk)["ocr"] is True
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
