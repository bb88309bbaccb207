"""What a file really is, from its first bytes rather than its name.

The name only says whether the file claims to be a document Confidant reads; the bytes then pick the reader.
A PDF header wins over any supported name (a "report.html" saved from a link that served a PDF is read as a PDF),
a ZIP named as an Office document is read as what its parts say it is (.docx or .pptx), and a text file that
starts like an HTML page is read as HTML. Bytes that match nothing go to the reader the name asks for, which says
clearly what the file is instead.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

SUPPORTED_EXTENSIONS = {".pdf": "pdf", ".docx": "docx", ".pptx": "pptx", ".html": "html", ".htm": "html",
                        ".txt": "text", ".md": "text", ".markdown": "text"}

SNIFF_BYTES = 8192  # how much of the start of a file the sniffers look at

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
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")  # the stream an Office password puts the real file in
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_LEADING_COMMENTS = re.compile(rb"\A(?:\s|<!--.*?-->|<\?xml[^>]*>)*", re.S)
_HTML_START = re.compile(rb"<(?:!doctype\s+html|html|head|body)[\s>/]", re.I)
_HTML_TAG = re.compile(
    rb"<(?:html|head|body|title|meta|p|div|span|br|hr|table|tr|td|th|ul|ol|li|h[1-6]|a|img|section|article|main"
    rb"|header|footer|nav|form|script|style|link|pre|blockquote|strong|em|b|i)[\s>/]",
    re.I,
)


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


def read_head(path: Path, size: int = SNIFF_BYTES) -> bytes:
    """The first `size` bytes of a file (fewer when it is shorter)."""
    with path.open("rb") as fh:
        return fh.read(size)


def has_pdf_header(head: bytes) -> bool:
    """PDF readers accept junk before %PDF- within the first kilobyte."""
    return b"%PDF-" in head[:1024]


def _ascii_view(head: bytes) -> bytes:
    """The leading bytes as ASCII-compatible bytes: UTF-16 (with a BOM) re-encoded, a UTF-8 BOM dropped."""
    if head.startswith(_UTF16_BOMS):
        return head[: len(head) & ~1].decode("utf-16", errors="ignore").encode("utf-8", errors="ignore")
    return head.removeprefix(b"\xef\xbb\xbf")


def starts_like_html(head: bytes) -> bool:
    """After a BOM, whitespace and comments, the text opens with <!doctype html>, <html>, <head> or <body>."""
    text = _ascii_view(head)
    lead = _LEADING_COMMENTS.match(text)
    return _HTML_START.match(text, lead.end() if lead else 0) is not None


def is_html(head: bytes) -> bool:
    """Text that starts like an HTML page, or has common HTML tags within its first few kilobytes."""
    if b"\x00" in head and not head.startswith(_UTF16_BOMS):
        return False
    return starts_like_html(head) or _HTML_TAG.search(_ascii_view(head)) is not None


def office_kind(path: Path) -> str | None:
    """"docx" or "pptx" for a readable ZIP holding a Word document or a presentation, else None."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None
    if "word/document.xml" in names:
        return "docx"
    if "ppt/presentation.xml" in names:
        return "pptx"
    return None


def is_docx(path: Path) -> bool:
    return office_kind(path) == "docx"


def is_pptx(path: Path) -> bool:
    return office_kind(path) == "pptx"


def is_encrypted_office(path: Path, limit: int = 64 << 20) -> bool:
    """An Office file protected by a password: an OLE container holding an "EncryptedPackage" stream."""
    try:
        with path.open("rb") as fh:
            if fh.read(len(_OLE_MAGIC)) != _OLE_MAGIC:
                return False
            tail, seen = b"", len(_OLE_MAGIC)
            while seen < limit and (block := fh.read(1 << 20)):
                if _ENCRYPTED_PACKAGE in tail + block:
                    return True
                tail, seen = block[-len(_ENCRYPTED_PACKAGE):], seen + len(block)
    except OSError:
        return False
    return False


def kind_for(path: Path) -> str | None:
    """Reader kind for a file, or None when its name is not one of a supported type.

    The name must be a supported one; the bytes then decide which reader reads it (see the module docstring).
    """
    declared = SUPPORTED_EXTENSIONS.get(path.suffix.lower())
    if declared is None:
        return None
    try:
        head = read_head(path)
    except OSError:
        return declared  # the reader reports why the file cannot be read
    if has_pdf_header(head):
        return "pdf"
    if declared in ("docx", "pptx") and head.startswith(b"PK\x03\x04"):
        return office_kind(path) or declared
    if declared == "html":  # markup, or binary the HTML reader will name; plain text under an .html name is text
        return "html" if is_html(head) or describe_bytes(head) != "text" else "text"
    if declared == "text" and starts_like_html(head):
        return "html"
    return declared
