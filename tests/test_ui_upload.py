"""Uploads: safe names, limits with clear messages, indexing with a per-file report, duplicates reported."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from confidant.services import Services, build_services
from confidant.settings import Settings
from ingest.uploads import Upload, UploadRules, ingest_uploads, safe_file_name, save_upload
from rag.embedders import Embedder
from storage.records import DocState, FileResult
from tests.documents import make_pdf
from tests.fakes import ExtractiveChat


@pytest.fixture
def services(tmp_path: Path, embedder: Embedder) -> Iterator[Services]:
    s = build_services(Settings(home=tmp_path / "home", upload_max_mb=0.05), embedder=embedder,
                       chat_model=ExtractiveChat())
    yield s
    s.close()


def rules(services: Services) -> UploadRules:
    s = services.settings
    return UploadRules(s.files_dir, s.upload_max_mb, tuple(s.upload_types))


def pdf_bytes(tmp_path: Path, name: str, pages: list[str]) -> bytes:
    return make_pdf(tmp_path / name, pages).read_bytes()


@pytest.mark.parametrize(("given", "expected"), [
    ("report.PDF", "report.pdf"),
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system.ini", "system.ini"),
    ("/abs/path/x.txt", "x.txt"),
    (".hidden.md", "hidden.md"),
    ("a\x00b<script>.txt", "a_b_script.txt"),
    ("..", "upload"),
    ("", "upload"),
    ("x" * 400 + ".pdf", "x" * 116 + ".pdf"),
    ("Décision cour d'appel 10ᵉ — 判決.pdf", "Décision cour d'appel 10e _ 判決.pdf"),
    ("Привет мир.docx", "Привет мир.docx"),
])
def test_safe_file_name(given: str, expected: str) -> None:
    assert safe_file_name(given) == expected


def test_saved_upload_stays_inside_files_dir(tmp_path: Path) -> None:
    files = tmp_path / "files"
    path, new = save_upload(files, Upload("../../../evil.txt", b"hello"))
    assert new and files.resolve() in path.parents and path.read_bytes() == b"hello"
    assert save_upload(files, Upload("../../../evil.txt", b"hello")) == (path, False)
    assert not (tmp_path / "evil.txt").exists()


def test_upload_indexes_and_reports_per_file(services: Services, tmp_path: Path) -> None:
    data = pdf_bytes(tmp_path, "leave.pdf", ["Leave policy. Employees get sixteen weeks of paid parental leave.",
                                             "Second page about the office opening at eight."])
    results = ingest_uploads(services.pipeline, rules(services), [Upload("leave.pdf", data)], "hr")
    [r] = results
    assert (r.file, r.state, r.pages, r.collection) == ("leave.pdf", DocState.INDEXED, 2, "hr")
    assert r.chunks >= 2
    record = services.registry.get("hr", r.id)
    assert record is not None and Path(record.source_path).parent.parent == services.settings.files_dir


def test_duplicates_are_reported_not_reindexed(services: Services, tmp_path: Path) -> None:
    data = pdf_bytes(tmp_path, "a.pdf", ["The dental plan covers two cleanings per year."])
    [first] = ingest_uploads(services.pipeline, rules(services), [Upload("a.pdf", data)], "hr")
    chunks = services.store.count()
    results = ingest_uploads(services.pipeline, rules(services), [Upload("copy of a.pdf", data), Upload("a.pdf", data)],
                             "hr")
    assert [r.state for r in results] == [DocState.DUPLICATE, DocState.DUPLICATE]
    assert "already indexed" in results[0].reason
    assert services.store.count() == chunks
    saved = list(services.settings.files_dir.rglob("*.pdf"))
    assert [p.name for p in saved] == ["a.pdf"]  # the duplicate's copy is not kept
    assert first.state is DocState.INDEXED


def test_oversized_and_unsupported_files_get_clear_messages(services: Services, tmp_path: Path) -> None:
    good = pdf_bytes(tmp_path, "ok.pdf", ["A small policy about parking spaces for employees."])
    uploads = [Upload("big.pdf", b"%PDF-1.4" + b"0" * 80_000), Upload("tool.exe", b"MZ..."), Upload("ok.pdf", good),
               Upload("noext", b"text")]
    results = ingest_uploads(services.pipeline, rules(services), uploads, "hr")
    assert [r.file for r in results] == ["big.pdf", "tool.exe", "ok.pdf", "noext"]
    big, exe, ok, noext = results
    assert big.state is DocState.TOO_LARGE and "0.08 MB is more than the 0.05 MB upload limit" in big.reason
    assert exe.state is DocState.UNSUPPORTED and ".exe files are not accepted" in exe.reason
    assert ".pdf, .docx, .pptx, .html, .htm, .txt, .md" in exe.reason
    assert noext.state is DocState.UNSUPPORTED and "without an extension" in noext.reason
    assert ok.state is DocState.INDEXED
    assert [d.file_name for d in services.registry.documents()] == ["ok.pdf"]  # refused files are not kept
    assert [p.name for p in services.settings.files_dir.rglob("*") if p.is_file()] == ["ok.pdf"]


def show(results) -> None:  # type: ignore[no-untyped-def]  # AppTest runs this source alone
    from ui.upload import show_report

    show_report(results)


def test_report_renders_states_and_reasons() -> None:
    results = [FileResult("a.pdf", "1", "hr", DocState.INDEXED, "", 3, 7),
               FileResult("b.pdf", "1", "hr", DocState.DUPLICATE, "same content as a.pdf, already indexed", 3, 7),
               FileResult("c.exe", "", "hr", DocState.UNSUPPORTED, ".exe files are not accepted")]
    at = AppTest.from_function(show, args=(results,))
    at.run()
    assert not at.exception
    assert "b.pdf: duplicate — same content as a.pdf, already indexed. Not indexed again." in at.info[0].value
    assert at.error[0].value == "c.exe: unsupported — .exe files are not accepted"
    table = at.dataframe[0].value
    assert table["state"].tolist() == ["indexed", "duplicate", "unsupported"]
    assert table["pages"].tolist() == [3, 3, 0]


def test_upload_page_renders_limits(services: Services) -> None:
    def page(services) -> None:  # type: ignore[no-untyped-def]
        from ui.context import AppContext
        from ui.upload import upload_page

        upload_page(AppContext.create(services))

    at = AppTest.from_function(page, args=(services,), default_timeout=30)
    at.run()
    assert not at.exception
    accepted = "Accepted: .pdf, .docx, .pptx, .html, .htm, .txt, .md; at most 0.05 MB per file"
    assert any(accepted in c.value for c in at.caption)
