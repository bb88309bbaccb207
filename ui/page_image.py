"""Render a PDF page with pypdfium2 and highlight a passage's text boxes on it."""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageDraw

Rect = tuple[float, float, float, float]  # left, bottom, right, top in PDF points
_PROBE = 40  # characters matched at each end when the whole passage is not found


def _squeeze(text: str) -> str:
    return "".join(ch.lower() for ch in text if ch.isalnum())


def _char_range(page_text: str, passage: str) -> tuple[int, int] | None:
    """Index of the first and last page character of the passage, comparing letters and digits only.

    Extraction normalises text (joins hyphenated line ends, folds ligatures and quotes), so punctuation and
    spacing differ between the chunk and the PDF's own text layer.
    """
    kept = [(ch.lower(), i) for i, ch in enumerate(page_text) if ch.isalnum()]
    flat = "".join(ch for ch, _ in kept)
    want = _squeeze(passage)
    if not want:
        return None
    at = flat.find(want)
    if at >= 0:
        return kept[at][1], kept[at + len(want) - 1][1]
    head, tail = want[:_PROBE], want[-_PROBE:]
    start = flat.find(head)
    if start < 0:
        return None
    end = flat.find(tail, start)
    stop = end + len(tail) - 1 if end >= 0 else min(len(kept) - 1, start + len(want) - 1)
    return kept[start][1], kept[stop][1]


def passage_rects(pdf: pdfium.PdfDocument, page_number: int, passage: str) -> list[Rect]:
    """Text-line rectangles that cover the passage on a 1-based page; empty when it is not found."""
    page = pdf[page_number - 1]
    textpage = page.get_textpage()
    count = textpage.count_chars()
    text = textpage.get_text_range(0, count)
    if len(text) != count:  # characters outside the BMP: fall back to per-character reads
        text = "".join(textpage.get_text_range(i, 1)[:1] or " " for i in range(count))
    found = _char_range(text, passage)
    if found is None:
        return []
    first, last = found
    n = textpage.count_rects(first, last - first + 1)
    return merge_lines([tuple(textpage.get_rect(i)) for i in range(n)])


def merge_lines(rects: list[Rect]) -> list[Rect]:
    """Join the pieces of one text line (pdfium gives one rectangle per text run) into one box."""
    merged: list[Rect] = []
    for left, bottom, right, top in sorted(rects, key=lambda r: (-r[3], r[0])):
        if merged:
            l0, b0, r0, t0 = merged[-1]
            overlap = min(top, t0) - max(bottom, b0)
            if overlap > 0.5 * min(top - bottom, t0 - b0):
                merged[-1] = (min(l0, left), min(b0, bottom), max(r0, right), max(t0, top))
                continue
        merged.append((left, bottom, right, top))
    return merged


def highlighted_page(path: Path, page_number: int, passage: str | list[str],
                     scale: float = 1.5) -> tuple[Image.Image, bool]:
    """The page as an image with the passage (or each of several sentences of it) shaded; the flag says whether
    all of them were found."""
    texts = [passage] if isinstance(passage, str) else passage
    pdf = pdfium.PdfDocument(str(path))
    try:
        if not 1 <= page_number <= len(pdf):
            raise ValueError(f"page {page_number} is not in this {len(pdf)}-page file")
        found = [passage_rects(pdf, page_number, text) for text in texts]
        rects = [r for rs in found for r in rs]
        page = pdf[page_number - 1]
        height = page.get_height()
        image = page.render(scale=scale).to_pil().convert("RGBA")
    finally:
        pdf.close()
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for left, bottom, right, top in rects:
        box = (left * scale - 1, (height - top) * scale - 1, right * scale + 1, (height - bottom) * scale + 1)
        draw.rectangle(box, fill=(255, 214, 0, 96))
    return Image.alpha_composite(image, overlay).convert("RGB"), bool(found) and all(found)
