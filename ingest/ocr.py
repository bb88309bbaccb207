"""OCR for PDF pages without a text layer, and for large pictures (tables pasted as images) on pages with text:
render with pypdfium2 (pixel count capped), recognise with Debian's tesseract (an optional system package;
without it scanned files end as needs_ocr)."""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

from ingest.normalize import normalize_text

MAX_PIXELS = 12_000_000  # a 1.2-gigapixel page is rendered small rather than exhausting memory
DPI = 300


def tesseract_path() -> str | None:
    return shutil.which("tesseract")


def tesseract_available() -> bool:
    return tesseract_path() is not None


def _tesseract(tesseract: str, image: bytes, languages: str, layout: str, timeout_s: float) -> str:
    """One tesseract run on a PNG, on one thread: its OpenMP threads spin waiting for each other, which made a
    picture 5.6× slower on two cores (1.0 s against 5.6 s for one table's three readings, same text)."""
    done = subprocess.run([tesseract, "stdin", "stdout", "-l", languages, "--psm", layout], input=image,
                          capture_output=True, timeout=timeout_s, check=True,
                          env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    return normalize_text(done.stdout.decode("utf-8", errors="replace"))


def render_page_png(path: Path, page_number: int, *, dpi: int = DPI, max_pixels: int = MAX_PIXELS) -> bytes:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(path))
    try:
        page = document[page_number - 1]
        width, height = page.get_size()  # points (1/72 inch)
        scale = min(dpi / 72, math.sqrt(max_pixels / max(1.0, width * height)))
        image = page.render(scale=scale, grayscale=True).to_pil()
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()
    finally:
        document.close()


def ocr_page(path: Path, page_number: int, *, languages: str = "eng", timeout_s: float = 60.0) -> str:
    """Text of one rendered page; raises subprocess.TimeoutExpired / CalledProcessError on failure."""
    tesseract = tesseract_path()
    if tesseract is None:
        raise FileNotFoundError("tesseract is not installed")
    return _tesseract(tesseract, render_page_png(path, page_number), languages, "3", timeout_s)


# --- pictures on pages that do have text (tables pasted as images, scanned figures) ----------------------------
MIN_WIDTH_SHARE = 0.4  # narrower pictures are logos and icons
MIN_HEIGHT_PT = 60.0
MAX_AREA_SHARE = 0.7  # a picture covering the page is a scan under its own text layer: nothing new to read
THRESHOLDS = (100, 130, 160)  # coloured table cells need binarising; the reading with most words wins
_WORD = re.compile(r"[\w$€£%.,'’+/-]{2,}")

Bounds = tuple[float, float, float, float]  # left, bottom, right, top in PDF points


def picture_regions(path: Path, pages: Iterable[int]) -> dict[int, list[Bounds]]:
    """Large pictures on the given pages (1-based), worth reading with OCR."""
    import pypdfium2 as pdfium

    found: dict[int, list[Bounds]] = {}
    document = pdfium.PdfDocument(str(path))
    try:
        for number in pages:
            page = document[number - 1]
            width, height = page.get_size()
            for left, bottom, right, top in _image_bounds(page.raw):
                w, h = right - left, top - bottom
                if w >= MIN_WIDTH_SHARE * width and h >= MIN_HEIGHT_PT and w * h <= MAX_AREA_SHARE * width * height:
                    found.setdefault(number, []).append((left, bottom, right, top))
    finally:
        document.close()
    return found


def _image_bounds(page: object, max_depth: int = 3) -> Iterator[Bounds]:
    """The bounds of every image object on a page, in form objects too (`max_depth` levels, as pypdfium2's
    get_objects counts them), through pdfium's own calls: a page of a filing holds thousands of text and path
    objects, and wrapping each in a Python object took 8 of the 10 s this scan needed on a 306-page annual report."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    image, form = pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_FORM
    left, bottom, right, top = ctypes.c_float(), ctypes.c_float(), ctypes.c_float(), ctypes.c_float()

    def walk(objects: Iterator[object], level: int) -> Iterator[Bounds]:  # in drawing order, forms where they are
        for obj in objects:
            if not obj:
                continue
            kind = pdfium_c.FPDFPageObj_GetType(obj)
            if kind == image and pdfium_c.FPDFPageObj_GetBounds(obj, left, bottom, right, top):
                yield (left.value, bottom.value, right.value, top.value)
            elif kind == form and level < max_depth - 1:
                inner = (pdfium_c.FPDFFormObj_GetObject(obj, i)
                         for i in range(max(0, pdfium_c.FPDFFormObj_CountObjects(obj))))
                yield from walk(inner, level + 1)

    yield from walk((pdfium_c.FPDFPage_GetObject(page, i)
                     for i in range(max(0, pdfium_c.FPDFPage_CountObjects(page)))), 0)


def ocr_picture(path: Path, page_number: int, bounds: Bounds, *, languages: str = "eng",
                timeout_s: float = 60.0) -> str:
    """Text of one picture on a page, rows kept in order (tesseract's single-block mode)."""
    import pypdfium2 as pdfium

    tesseract = tesseract_path()
    if tesseract is None:
        raise FileNotFoundError("tesseract is not installed")
    document = pdfium.PdfDocument(str(path))
    try:
        page = document[page_number - 1]
        width, height = page.get_size()
        left, bottom, right, top = bounds
        scale = min(DPI / 72, math.sqrt(MAX_PIXELS / max(1.0, (right - left) * (top - bottom))))
        crop = (max(0.0, left), max(0.0, bottom), max(0.0, width - right), max(0.0, height - top))
        image = page.render(scale=scale, crop=crop).to_pil().convert("L")
    finally:
        document.close()
    best = ""
    for threshold in THRESHOLDS:
        buffer = io.BytesIO()
        image.point(lambda v, t=threshold: 255 if v > t else 0).save(buffer, format="PNG")
        text = _tesseract(tesseract, buffer.getvalue(), languages, "6", timeout_s)
        if len(_WORD.findall(text)) > len(_WORD.findall(best)):
            best = text
    return best
