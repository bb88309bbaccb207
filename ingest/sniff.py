"""What a file really is, from its first bytes rather than its name."""

from __future__ import annotations

import zipfile
from pathlib import Path

SUPPORTED_EXTENSIONS = {".pdf": "pdf", ".docx": "docx", ".txt": "text", ".md": "text", ".markdown": "text"}

_MAGIC: list[tuple[bytes, str]] = [
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office (OLE) file"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\x7fELF", "a program (ELF)"),
    (b"MZ", "a Windows program"),
]


def describe_bytes(head: bytes) -> str:
    """A short human description of what the leading bytes look like."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    lowered = head[:512].lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<html" in lowered:
        return "an HTML or XML document"
    if b"\x00" in head[:1024]:
        return "binary data"
    return "text"


def has_pdf_header(head: bytes) -> bool:
    """PDF readers accept junk before %PDF- within the first kilobyte."""
    return b"%PDF-" in head[:1024]


def is_docx(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return "word/document.xml" in zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def kind_for(path: Path) -> str | None:
    """Reader kind for a file name, or None when the type is not supported."""
    return SUPPORTED_EXTENSIONS.get(path.suffix.lower())
