"""OCR for PDF pages without a text layer, and for large pictures (tables pasted as images) on pages with text:
render with pypdfium2 (pixel count capped), recognise with Debian's tesseract (an optional system package;
without it scanned files end as needs_ocr)."""

from __future__ import annotations

import io
import math
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from ingest.normalize import normalize_text

MAX_PIXELS = 12_000_000  # a 1.2-gigapixel page is rendered small rather than exhausting memory
DPI = 300


def tesseract_path() -> str | None:
    return shutil.which("tesseract")


def tesseract_available() -> bool:
    return tesseract_path() is not None


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
    png = render_page_png(path, page_number)
    done = subprocess.run([tesseract, "stdin", "stdout", "-l", languages, "--psm", "3"], input=png,
                          capture_output=True, timeout=timeout_s, check=True)
    return normalize_text(done.stdout.decode("utf-8", errors="replace"))


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
    import pypdfium2.raw as pdfium_c

    found: dict[int, list[Bounds]] = {}
    document = pdfium.PdfDocument(str(path))
    try:
        for number in pages:
            page = document[number - 1]
            width, height = page.get_size()
            for obj in page.get_objects(max_depth=3):
                if obj.type != pdfium_c.FPDF_PAGEOBJ_IMAGE:
                    continue
                left, bottom, right, top = obj.get_bounds()
                w, h = right - left, top - bottom
                if w >= MIN_WIDTH_SHARE * width and h >= MIN_HEIGHT_PT and w * h <= MAX_AREA_SHARE * width * height:
                    found.setdefault(number, []).append((left, bottom, right, top))
    finally:
        document.close()
    return found


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
        done = subprocess.run([tesseract, "stdin", "stdout", "-l", languages, "--psm", "6"], input=buffer.getvalue(),
                              capture_output=True, timeout=timeout_s, check=True)
        text = normalize_text(done.stdout.decode("utf-8", errors="replace"))
        if len(_WORD.findall(text)) > len(_WORD.findall(best)):
            best = text
    return best
