"""Real small documents made on the fly for tests (PDF via fpdf2, DOCX via python-docx)."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

SHARED = Path(__file__).resolve().parents[2] / "shared"
HR_DIR = SHARED / "eval" / "hr-benefits"
HR_DOCS = HR_DIR / "docs"
HR_QUESTIONS = HR_DIR / "questions.jsonl"
HOSTILE_DIR = SHARED / "corpus" / "hostile"


def make_pdf(path: Path, pages: list[str]) -> Path:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    pdf.output(str(path))
    return path


def make_docx(path: Path, pages: list[str]) -> Path:
    import docx
    from docx.enum.text import WD_BREAK

    document = docx.Document()
    for i, text in enumerate(pages):
        paragraph = document.add_paragraph(text)
        if i < len(pages) - 1:
            paragraph.add_run().add_break(WD_BREAK.PAGE)
    document.save(str(path))
    return path
