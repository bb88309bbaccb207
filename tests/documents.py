"""Real small documents made on the fly for tests (PDF via fpdf2, DOCX via python-docx, PPTX via python-pptx)."""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass
class SlideSpec:
    """One slide for make_pptx: a title, bullet paragraphs, a table (placed below the bullets) and speaker notes."""

    title: str
    bullets: list[str] = field(default_factory=list)
    table: list[list[str]] = field(default_factory=list)
    notes: str = ""


def make_pptx(path: Path, slides: list[SlideSpec]) -> Path:
    from pptx import Presentation
    from pptx.util import Inches

    presentation = Presentation()
    layout = presentation.slide_layouts[1]  # "Title and Content": a title and a body placeholder
    for spec in slides:
        slide = presentation.slides.add_slide(layout)
        slide.shapes.title.text = spec.title
        frame = slide.placeholders[1].text_frame
        frame.text = spec.bullets[0] if spec.bullets else ""
        for bullet in spec.bullets[1:]:
            frame.add_paragraph().text = bullet
        if spec.table:
            shape = slide.shapes.add_table(len(spec.table), len(spec.table[0]), Inches(1), Inches(5.5), Inches(8),
                                           Inches(1.2))
            for r, row in enumerate(spec.table):
                for c, text in enumerate(row):
                    shape.table.cell(r, c).text = text
        if spec.notes:
            slide.notes_slide.notes_text_frame.text = spec.notes
    presentation.save(str(path))
    return path
