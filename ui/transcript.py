"""A conversation as Markdown or as a PDF, with its citations, for download."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

from rag.answering import Answer


@dataclass
class Turn:
    """One question and its answer on the chat page (no answer while it is written, or if it was interrupted)."""

    question: str
    answer: Answer | None
    scope: str  # which collections or document were asked
    id: str = field(default_factory=lambda: uuid.uuid4().hex)  # what a rating and the answer's widgets are keyed by
    state: str = "answered"  # asking · answered · interrupted · withheld (storage/conversations.py)
    partial: str = ""  # what the model had written when it stopped (never checked against the passages)
    rating: str = ""


UNANSWERED = {
    "asking": "The answer is still being written.",
    "interrupted": "The answer was interrupted before it was finished and checked.",
    "withheld": "The answer cites documents you can no longer see.",
    "answered": "No answer.",
}


def chat_markdown(turns: list[Turn], title: str = "Confidant conversation") -> str:
    lines = [f"# {title}", ""]
    for turn in turns:
        a = turn.answer
        if a is None:
            lines += [f"## Q: {turn.question}", "", f"*Asked: {turn.scope}*", "", f"({UNANSWERED[turn.state]})", ""]
            continue
        lines += [f"## Q: {turn.question}", "", f"*Asked: {turn.scope} · model: {a.model}*", ""]
        lines += [a.text or "(no answer)", ""]
        if a.declined:
            lines += [f"> Not answered from the documents. {a.message}".rstrip(), ""]
        elif a.message:
            lines += [f"> {a.message}", ""]
        for sentence in a.unsupported:
            lines.append(f"- ⚠ left out, not supported by the documents: {sentence}")
        if a.unsupported:
            lines.append("")
        if a.citations:
            lines.append("Sources:")
            for c in a.citations:
                quote = " ".join(c.chunk.text.split())
                lines.append(f"- [{c.n}] {c.chunk.file_name}, page {c.chunk.page}: “{quote}”")
            lines.append("")
    return "\n".join(lines)


FONTS = Path("/usr/share/fonts/truetype/dejavu")  # fonts-dejavu-core (scripts/apt-packages.txt): every script's letters


def chat_pdf(turns: list[Turn], title: str = "Confidant conversation") -> bytes:
    """The conversation as a PDF: each question, its answer, what was left out, and the cited passages quoted with
    file and page (the same content as `chat_markdown`)."""
    from fpdf import FPDF  # type: ignore[import-untyped,unused-ignore]

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.set_title(title)
    regular, bold = FONTS / "DejaVuSans.ttf", FONTS / "DejaVuSans-Bold.ttf"
    unicode = regular.is_file() and bold.is_file()
    if unicode:
        pdf.add_font("Text", "", str(regular))
        pdf.add_font("Text", "B", str(bold))
    family = "Text" if unicode else "Helvetica"

    def clean(text: str) -> str:  # the PDF core font holds Latin-1 only
        return text if unicode else text.encode("latin-1", "replace").decode("latin-1")
    pdf.add_page()

    def write(text: str, size: float = 10.5, style: str = "", grey: bool = False, gap: float = 2) -> None:
        pdf.set_font(family, style, size)
        pdf.set_text_color(110 if grey else 20)
        pdf.multi_cell(0, size * 0.5, clean(text), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    write(title, 16, "B", gap=4)
    for turn in turns:
        a = turn.answer
        write(f"Q: {turn.question}", 12, "B", gap=1)
        write(f"Asked: {turn.scope}" + (f" · model: {a.model}" if a is not None else ""), 9, grey=True)
        if a is None:
            write(UNANSWERED[turn.state], gap=4)
            continue
        write(a.text or "(no answer)")
        if a.declined:
            write(f"Not answered from the documents. {a.message}".rstrip(), 9.5, grey=True)
        elif a.message:
            write(a.message, 9.5, grey=True)
        for sentence in a.unsupported:
            write(f"Left out, not supported by the documents: {sentence}", 9.5, grey=True)
        if a.citations:
            write("Sources", 10, "B", gap=1)
            for c in a.citations:
                quote = " ".join(c.chunk.text.split())
                write(f"[{c.n}] {c.chunk.file_name}, page {c.chunk.page}: “{quote}”", 9, gap=1.5)
        pdf.ln(3)
    return bytes(pdf.output())
