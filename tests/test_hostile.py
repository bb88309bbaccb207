"""Every file of the hostile corpus ends in the state its manifest expects; none crashes or stops the run."""

import csv
import hashlib
import unicodedata
from pathlib import Path

import pytest

from rag.embedders import Embedder
from storage.records import FINAL_STATES, DocState
from tests.conftest import make_services
from tests.documents import HOSTILE_DIR

EXPECTED = {"text": {DocState.INDEXED}, "needs_ocr": {DocState.NEEDS_OCR}, "password": {DocState.PASSWORD},
            "invalid": {DocState.INVALID}, "limit": set(FINAL_STATES) - {DocState.FAILED}}


def manifest() -> list[dict[str, str]]:
    with (HOSTILE_DIR / "manifest.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def locate(row: dict[str, str]) -> Path:
    """Find a manifest file by name (either Unicode form), falling back to its sha256."""
    for name in (row["file"], unicodedata.normalize("NFC", row["file"]), unicodedata.normalize("NFD", row["file"])):
        if (HOSTILE_DIR / name).exists():
            return HOSTILE_DIR / name
    for path in HOSTILE_DIR.iterdir():
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == row["sha256"]:
            return path
    raise FileNotFoundError(row["file"])


@pytest.fixture(scope="module")
def hostile_results(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> dict[str, object]:
    home = tmp_path_factory.mktemp("hostile")
    # OCR off: the scans must be reported as needing OCR (tests/test_ocr.py covers reading them)
    services = make_services(home, embedder, parse_timeout_s=60.0, parse_timeout_s_per_mb=0.0, parse_memory_mb=1024,
                             ocr=False)
    rows = manifest()
    results = services.pipeline.ingest([locate(r) for r in rows], "hostile")
    services.close()
    assert len(results) == len(rows)  # one result per file: nothing stopped the run
    return {"rows": rows, "results": results}


def test_every_hostile_file_ends_in_its_expected_state(hostile_results: dict[str, object]) -> None:
    rows: list[dict[str, str]] = hostile_results["rows"]  # type: ignore[assignment]
    results = hostile_results["results"]
    wrong = []
    for row, result in zip(rows, results):  # type: ignore[call-overload]
        if result.state not in EXPECTED[row["expected"]]:
            wrong.append(f"{row['file']}: expected {row['expected']}, got {result.state.value} ({result.reason})")
    assert not wrong, "\n".join(wrong)


def test_every_non_indexed_file_has_a_reason(hostile_results: dict[str, object]) -> None:
    for result in hostile_results["results"]:  # type: ignore[attr-defined]
        assert result.state in FINAL_STATES
        if result.state is not DocState.INDEXED:
            assert len(result.reason) > 10, result


def test_password_files_say_so(hostile_results: dict[str, object]) -> None:
    rows: list[dict[str, str]] = hostile_results["rows"]  # type: ignore[assignment]
    for row, result in zip(rows, hostile_results["results"]):  # type: ignore[call-overload]
        if row["expected"] == "password":
            assert "password" in result.reason
