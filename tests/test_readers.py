import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.readers import ReadFailure, ReadLimits, read_document
from ingest.worker import ParseWorker, WorkerLimits
from storage.records import DocState
from tests.documents import HR_DOCS, SHARED, SlideSpec, make_docx, make_pdf, make_pptx

LIMITS = ReadLimits()


def test_pdf_pages_are_numbered_from_one(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "three.pdf", ["Alpha page text.", "Beta page text.", "Gamma page text."])
    parsed = read_document(path, LIMITS)
    assert [p.split()[0] for p in parsed.pages] == ["Alpha", "Beta", "Gamma"]


def test_real_hr_pdf_page_count() -> None:
    parsed = read_document(HR_DOCS / "PerksPlus.pdf", LIMITS)
    assert len(parsed.pages) == 4
    assert "PerksPlus" in " ".join(parsed.pages)


def test_pdf_text_comes_from_pdfium_with_line_end_hyphens_kept() -> None:
    """pdfium reads the text (pypdf only opens and checks the file): the same words pypdf finds, and a compound
    broken at a line end keeps its hyphen ("out-of-pocket"; pypdf's text made that "outof-pocket")."""
    page = read_document(HR_DOCS / "Northwind_Standard_Benefits_Details.pdf", ReadLimits(ocr=False)).pages[2]
    assert "your out-of-pocket expenses" in " ".join(page.split())
    assert "outof" not in page and "\x02" not in page


def test_pdf_pdfium_cannot_open_is_read_by_pypdf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pypdfium2

    def refuse(*args: object, **kwargs: object) -> None:
        raise pypdfium2.PdfiumError("Failed to load document (PDFium: Data format error).")

    path = make_pdf(tmp_path / "two.pdf", ["First page words.", "Second page words."])
    monkeypatch.setattr(pypdfium2, "PdfDocument", refuse)
    assert read_document(path, ReadLimits(ocr=False)).pages == ["First page words.", "Second page words."]


def test_a_pdf_past_one_of_pypdfs_safety_limits_is_read_by_pdfium(tmp_path: Path) -> None:
    """Real 10-Q filings hold arrays longer than pypdf's 100,000-element limit; pypdf refuses them while counting
    pages, pdfium reads them (inside the same worker limits). A file pdfium cannot read either stays too_large."""
    import pypdf
    from pypdf.generic import ArrayObject, NameObject, NumberObject

    plain = make_pdf(tmp_path / "plain.pdf", ["The renewal notice is ninety days.", "Payment is due in thirty days."])
    writer = pypdf.PdfWriter(clone_from=str(plain))
    writer.pages[0][NameObject("/LongArray")] = ArrayObject([NumberObject(0)] * 100_001)
    filing = tmp_path / "filing.pdf"
    writer.write(str(filing))
    with pytest.raises(pypdf.errors.LimitReachedError):
        len(pypdf.PdfReader(filing).pages)
    doc = read_document(filing, ReadLimits())
    assert [page.strip() for page in doc.pages] == ["The renewal notice is ninety days.",
                                                     "Payment is due in thirty days."]
    assert "pypdf stopped at a safety limit" in doc.notes[0]


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
        ("blob.bin", bytes(range(256)) * 16, DocState.UNSUPPORTED),
        ("slides.pptx", b"plain text, not a zip", DocState.INVALID),
        ("old.pptx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), DocState.INVALID),
        ("picture.html", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), DocState.INVALID),
        ("empty.html", b"<html><head><title></title><script>var x;</script></head><body></body></html>", DocState.INVALID),
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


def test_pptx_one_page_per_slide_with_title_text_table_and_notes(tmp_path: Path) -> None:
    path = make_pptx(tmp_path / "review.pptx", [
        SlideSpec("Quarterly review", ["Revenue grew 12 percent", "Two new offices opened"],
                  notes="Mention the Lisbon office.\nThank the support team."),
        SlideSpec("Headcount", table=[["Team", "People"], ["Sales", "14"], ["Support", "9"]]),
        SlideSpec("Next steps", ["Hire a finance director"]),
    ])
    parsed = read_document(path, LIMITS)
    assert parsed.pages == [
        "Quarterly review\nRevenue grew 12 percent\nTwo new offices opened\n"
        "Notes:\nMention the Lisbon office.\nThank the support team.",
        "Headcount\nTeam | People\nSales | 14\nSupport | 9",
        "Next steps\nHire a finance director",
    ]
    assert parsed.notes == []


def test_pptx_named_docx_is_read_as_a_presentation(tmp_path: Path) -> None:
    path = make_pptx(tmp_path / "deck.pptx", [SlideSpec("Only slide", ["Bytes decide, not names"])])
    renamed = tmp_path / "deck.docx"
    renamed.write_bytes(path.read_bytes())
    assert read_document(renamed, LIMITS).pages == ["Only slide\nBytes decide, not names"]


def test_truncated_pptx_is_invalid_with_a_reason(tmp_path: Path) -> None:
    data = make_pptx(tmp_path / "full.pptx", [SlideSpec("Cut short", ["Some text"])]).read_bytes()
    for name, cut in (("half.pptx", data[: len(data) // 2]), ("tail.pptx", data[:-40])):
        (tmp_path / name).write_bytes(cut)
        with pytest.raises(ReadFailure) as caught:
            read_document(tmp_path / name, LIMITS)
        assert caught.value.state is DocState.INVALID
        assert "truncated or damaged" in caught.value.reason


def test_pptx_slide_limit(tmp_path: Path) -> None:
    path = make_pptx(tmp_path / "long.pptx", [SlideSpec(f"Slide {i}") for i in range(6)])
    with pytest.raises(ReadFailure) as caught:
        read_document(path, ReadLimits(max_pages=5))
    assert caught.value.state is DocState.TOO_LARGE
    assert "6 slides" in caught.value.reason


PAGE = """\ufeff<!-- saved from the intranet -->
<!DOCTYPE html>
<html lang="en"><head><title>Leave policy &amp; holidays</title>
<style>body { font-family: sans-serif }</style>
<script>var tracking = "do not index this";</script></head>
<body><nav><a href="/">Home</a> <a href="/hr">HR menu</a></nav>
<h1>Annual leave</h1>
<p>Staff get <b>25 days</b>
   of paid leave.</p>
<ul><li>Carry over up to 5 days</li><li>Ask your manager</li></ul>
<table><tr><th>Years</th><th>Days</th></tr><tr><td>0-5</td><td><p>25</p></td></tr><tr><td>5+</td><td>28</td></tr></table>
<noscript>Please enable JavaScript</noscript><template><p>template text</p></template>
<script>document.write("more script")</script>
</body></html>"""


def test_html_keeps_text_and_table_rows_and_drops_scripts_and_styles(tmp_path: Path) -> None:
    path = tmp_path / "leave.html"
    path.write_text(PAGE, encoding="utf-8")
    parsed = read_document(path, LIMITS)
    assert parsed.pages == [
        "Leave policy & holidays\nAnnual leave\nStaff get 25 days of paid leave.\nCarry over up to 5 days\n"
        "Ask your manager\nYears | Days\n0-5 | 25\n5+ | 28",
    ]
    assert parsed.title == "Leave policy & holidays"


def test_html_page_breaks_and_htm_and_html_text_file(tmp_path: Path) -> None:
    (tmp_path / "book.htm").write_text(
        "<body><p>First part.</p><hr><p>Second part.</p>"
        '<div style="page-break-before: always">Third part.</div></body>', encoding="utf-8")
    assert read_document(tmp_path / "book.htm", LIMITS).pages == ["First part.", "Second part.", "Third part."]
    (tmp_path / "saved.txt").write_text("<!doctype html><html><body><p>Saved as text.</p>"
                                        "<script>x()</script></body></html>", encoding="utf-8")
    assert read_document(tmp_path / "saved.txt", LIMITS).pages == ["Saved as text."]


def test_html_file_holding_a_pdf_is_read_as_a_pdf(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "real.pdf", ["Alpha page text.", "Beta page text."])
    path = tmp_path / "download.html"
    path.write_bytes(pdf.read_bytes())
    parsed = read_document(path, LIMITS)
    assert [p.split()[0] for p in parsed.pages] == ["Alpha", "Beta"]


def test_markdown_with_inline_html_stays_markdown(tmp_path: Path) -> None:
    text = '<p align="center"><img src="logo.png"></p>\n\n# Handbook\n\nRead *this* first.'
    (tmp_path / "README.md").write_text(text, encoding="utf-8")
    assert read_document(tmp_path / "README.md", LIMITS).pages == [text]


LONG_REPORT = SHARED / "eval" / "financebench-dev" / "docs" / "AMERICANWATERWORKS_2022_10K.pdf"  # 306 pages

_TWO_WAYS = """
import json, os, sys
from pathlib import Path
from ingest.readers import read_document
from ingest.reading import ReadLimits
forks = []
fork = os.fork
def counted():
    pid = fork()
    if pid:
        forks.append(pid)
    return pid
os.fork = counted
path = Path(sys.argv[1])
one = read_document(path, ReadLimits(text_processes=1))
two = read_document(path, ReadLimits(text_processes=2))
print(json.dumps({"helpers": len(forks), "pages": len(two.pages), "same": one.pages == two.pages,
                  "notes": one.notes == two.notes, "pictures": one.picture_pages == two.picture_pages}))
"""


def test_a_long_pdf_is_read_by_two_processes_into_the_same_text() -> None:
    """The parsing worker (single-threaded, as this script) forks a helper for the second half of a long PDF."""
    done = subprocess.run([sys.executable, "-c", _TWO_WAYS, str(HR_DOCS / "Northwind_Standard_Benefits_Details.pdf")],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[1],
                          check=True)
    assert json.loads(done.stdout) == {"helpers": 1, "pages": 104, "same": True, "notes": True, "pictures": True}


def test_a_reader_killed_at_its_time_limit_takes_its_helper_with_it() -> None:
    def parse_servers() -> set[int]:
        found = set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if b"ingest.parse_server" in (entry / "cmdline").read_bytes():
                        found.add(int(entry.name))
        return found

    before = parse_servers()
    worker = ParseWorker(WorkerLimits(timeout_s=0.8, timeout_s_per_mb=0, read=ReadLimits(text_processes=2)))
    try:
        worker.parse(HR_DOCS / "PerksPlus.pdf")  # started and warm
        with pytest.raises(ReadFailure) as caught:
            worker.parse(LONG_REPORT)  # about 1.5 s for each half
        assert caught.value.state is DocState.TOO_LARGE
        for _ in range(10):  # the kernel kills the helper as its parent dies; give it a moment (reading goes on ~1 s)
            if not parse_servers() - before:
                break
            time.sleep(0.02)
        assert parse_servers() - before == set()  # no helper left reading on its own
    finally:
        worker.close()


def test_a_warmed_worker_is_running_before_the_first_file_and_reads_it() -> None:
    """The app and the API start the parsing worker (and load its readers) when they start, not on the first upload."""
    worker = ParseWorker(WorkerLimits())
    try:
        worker.warm()
        assert worker._proc is not None and worker._proc.poll() is None
        started = worker._proc.pid
        assert worker.parse(HR_DOCS / "PerksPlus.pdf").pages
        worker.warm()  # already running: nothing to do
        assert worker._proc is not None and worker._proc.pid == started
    finally:
        worker.close()
