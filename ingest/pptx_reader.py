"""PowerPoint (.pptx) slides as pages, read with python-pptx."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.reading import ParsedDocument, ReadFailure, ReadLimits, brief_error, read_one, too_many_pages
from ingest.sniff import describe_bytes, is_encrypted_office, read_head
from storage.records import DocState

if TYPE_CHECKING:
    from pptx.shapes.base import BaseShape
    from pptx.slide import Slide


class PptxReader:
    """python-pptx; one page per slide: its title, text boxes in reading order (top to bottom, then left to right),
    tables row by row with " | " between cells, then the speaker notes after a "Notes:" line."""

    def read(self, path: Path, limits: ReadLimits) -> ParsedDocument:
        import pptx

        head = read_head(path, 1024)
        if not head:
            raise ReadFailure(DocState.INVALID, "the file is empty (0 bytes)")
        if is_encrypted_office(path):
            raise ReadFailure(DocState.PASSWORD, "the presentation is protected by a password")
        try:
            with zipfile.ZipFile(path) as zf:
                has_presentation = "ppt/presentation.xml" in zf.namelist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            if head.startswith(b"PK"):
                raise ReadFailure(DocState.INVALID,
                                  f"the presentation is truncated or damaged ({brief_error(exc)})") from None
            raise ReadFailure(DocState.INVALID,
                              f"not a PowerPoint presentation: the content is {describe_bytes(head)}") from None
        if not has_presentation:
            raise ReadFailure(DocState.INVALID,
                              "not a PowerPoint presentation: a ZIP archive without ppt/presentation.xml")
        try:
            presentation = pptx.Presentation(str(path))
            slides = list(presentation.slides)
            title = (presentation.core_properties.title or "").strip()
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - python-pptx raises many types on broken files
            raise ReadFailure(DocState.INVALID, f"the presentation cannot be opened ({brief_error(exc)})") from None
        too_many_pages(len(slides), limits, "slides")
        pages: list[str] = []
        notes: list[str] = []
        for number, slide in enumerate(slides, start=1):
            pages.append(read_one(partial(_slide_text, slide), f"slide {number}", "reading it", limits, notes))
        return ParsedDocument(pages, notes, title=title)


def _slide_text(slide: Slide) -> str:
    return "\n".join(_slide_lines(slide))


def _slide_lines(slide: Slide) -> list[str]:
    lines: list[str] = []
    title = slide.shapes.title
    if title is not None:
        lines.extend(_shape_lines(title))
    body = [s for s in slide.shapes if not (s.is_placeholder and s.placeholder_format.idx == 0)]
    for shape in _reading_order(body):
        lines.extend(_shape_lines(shape))
    if slide.has_notes_slide:
        frame = slide.notes_slide.notes_text_frame
        spoken = [] if frame is None else _paragraph_lines(p.text for p in frame.paragraphs)
        if spoken:
            lines.extend(["Notes:", *spoken])
    return lines


def _reading_order(shapes: Iterable[BaseShape]) -> list[BaseShape]:
    return sorted(shapes, key=lambda s: (s.top or 0, s.left or 0))  # stable: ties keep the file's order


def _shape_lines(shape: BaseShape) -> list[str]:
    from pptx.shapes.autoshape import Shape
    from pptx.shapes.graphfrm import GraphicFrame
    from pptx.shapes.group import GroupShape

    if isinstance(shape, GroupShape):
        return [line for child in _reading_order(shape.shapes) for line in _shape_lines(child)]
    if isinstance(shape, GraphicFrame) and shape.has_table:
        rows = (" | ".join(" ".join(c.text.split()) for c in row.cells if not c.is_spanned) for row in shape.table.rows)
        return [row for row in rows if row.replace("|", "").strip()]
    if isinstance(shape, Shape) and shape.has_text_frame:
        return _paragraph_lines(p.text for p in shape.text_frame.paragraphs)
    return []


def _paragraph_lines(paragraphs: Iterable[str]) -> list[str]:
    """Non-empty paragraphs; a soft line break (python-pptx's "\\v") becomes a new line."""
    return [line for text in paragraphs for line in text.split("\v") if line.strip()]


# HTML elements whose text is not part of the document (head: only its <title> is read, separately)
