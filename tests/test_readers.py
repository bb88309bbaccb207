from pathlib import Path

import pytest

from ingest.readers import ReadFailure, ReadLimits, read_document
from storage.records import DocState
from tests.documents import HR_DOCS, make_docx, make_pdf

LIMITS = ReadLimits()


def test_pdf_pages_are_numbered_from_one(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "three.pdf", ["Alpha page text.", "Beta page text.", "Gamma page text."])
    parsed = read_document(path, LIMITS)
    assert [p.split()[0] for p in parsed.pages] == ["Alpha", "Beta", "Gamma"]


def test_real_hr_pdf_page_count() -> None:
    parsed = read_document(HR_DOCS / "PerksPlus.pdf", LIMITS)
    assert len(parsed.pages) == 4
    assert "PerksPlus" in " ".join(parsed.pages)


def test_docx_page_breaks_start_new_pages(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "memo.docx", ["First page words.", "Second page words."])
    parsed = read_document(path, LIMITS)
    assert parsed.pages == ["First page words.", "Second page words."]


def test_text_and_markdown(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("page one\fpage two", encoding="utf-8")
    (tmp_path / "b.md").write_text("# Title\n\nSome *markdown* text.", encoding="utf-8")
    assert read_document(tmp_path / "a.txt", LIMITS).pages == ["page one", "page two"]
    assert read_document(tmp_path / "b.md", LIMITS).pages == ["# Title\n\nSome *markdown* text."]


def test_latin1_text_is_decoded(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_bytes("Café déjà vu, naïve résumé über straße".encode("latin-1"))
    assert "Café" in read_document(tmp_path / "old.txt", LIMITS).pages[0]


@pytest.mark.parametrize(
    ("name", "content", "state"),
    [
        ("notes.xyz", b"hello", DocState.UNSUPPORTED),
        ("fake.pdf", b"\x89PNG\r\n\x1a\n....", DocState.INVALID),
        ("empty.pdf", b"", DocState.INVALID),
        ("fake.docx", b"plain text, not a zip", DocState.INVALID),
        ("binary.txt", b"\x00\x01\x02\x03" * 100, DocState.INVALID),
        ("blank.txt", b"   \n\n  ", DocState.INVALID),
    ],
)
def test_bad_files_fail_with_a_clear_state(tmp_path: Path, name: str, content: bytes, state: DocState) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ReadFailure) as caught:
        read_document(path, LIMITS)
    assert caught.value.state is state
    assert caught.value.reason


def test_page_limit(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "long.pdf", [f"page {i}" for i in range(6)])
    with pytest.raises(ReadFailure) as caught:
        read_document(path, ReadLimits(max_pages=5))
    assert caught.value.state is DocState.TOO_LARGE
    assert "6 pages" in caught.value.reason
