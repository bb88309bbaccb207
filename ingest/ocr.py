"""OCR for PDF pages without a text layer: render with pypdfium2 (pixel count capped), recognise with Debian's
tesseract (an optional system package; without it such files end as needs_ocr)."""

from __future__ import annotations

import io
import math
import shutil
import subprocess
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
