"""Readers turn one file into the text of its pages (1-based), or say clearly why they cannot.

They run inside the parsing worker process (see ingest/worker.py), under its time and memory limits.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.normalize import join_line_end_hyphens, normalize_text
from ingest.reading import (
    ParsedDocument,
    Reader,
    ReadFailure,
    ReadLimits,
    brief_error,
    read_one,
)
from ingest.sniff import describe_bytes, has_pdf_header, is_docx, is_encrypted_office, kind_for, read_head
from storage.records import DocState

if TYPE_CHECKING:
    import pypdf
    import pypdfium2


class PdfReader:
    """pypdf opens the file and says what is wrong with it (password, damage, too deep); the text comes from pdfium
    (16x faster than pypdf's extraction on the HR set, the same words in the same order), page by page, with pypdf's
    extraction for a page pdfium cannot read or a file it cannot open. Every exception is caught per page or file."""

    def read(self, path: Path, limits: ReadLimits) -> ParsedDocument:
        import pypdf
        from pypdf.errors import FileNotDecryptedError, PdfReadError

        with path.open("rb") as fh:
            head = fh.read(1024)
        if not head:
            raise ReadFailure(DocState.INVALID, "the file is empty (0 bytes)")
        if not has_pdf_header(head):
            raise ReadFailure(DocState.INVALID, f"not a PDF: the content is {describe_bytes(head)}")
        try:
            reader = pypdf.PdfReader(path, strict=False)
            if reader.is_encrypted and not reader.decrypt(""):
                raise ReadFailure(DocState.PASSWORD, "the PDF is protected by a password")
            page_count = len(reader.pages)
        except ReadFailure:
            raise
        except FileNotDecryptedError:
            raise ReadFailure(DocState.PASSWORD, "the PDF is protected by a password") from None
        except (PdfReadError, RecursionError) as exc:
            message = str(exc).lower()
            if "limit" in message or "depth" in message or isinstance(exc, RecursionError):
                raise ReadFailure(DocState.TOO_LARGE,
                                  f"the PDF's structure is too deep or cyclic ({brief_error(exc)})") from None
            raise ReadFailure(DocState.INVALID, f"the PDF is damaged and cannot be opened ({brief_error(exc)})") from None
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - pypdf raises many types on broken files
            if "Limit" in type(exc).__name__:
                # pypdf's safety limits (array sizes, tree depth) trip on some large real filings that pdfium reads
                # fine; pdfium runs here under the same worker time and memory limits
                return self._pdfium_only(path, limits, exc)
            raise ReadFailure(DocState.INVALID, f"the PDF cannot be opened ({brief_error(exc)})") from None
        return self._pages(path, reader, page_count, limits)

    def _pdfium_only(self, path: Path, limits: ReadLimits, refused: Exception) -> ParsedDocument:
        """Read by pdfium alone, after pypdf refused the file at one of its safety limits."""
        too_large = ReadFailure(DocState.TOO_LARGE, f"the PDF exceeds a safety limit ({brief_error(refused)})")
        import pypdfium2

        try:
            document = pypdfium2.PdfDocument(str(path))
        except Exception:  # noqa: BLE001 - pdfium cannot open it either: pypdf's reason stands
            raise too_large from None
        try:
            page_count = len(document)
        finally:
            document.close()
        if page_count == 0:
            raise too_large
        parsed = self._pages(path, None, page_count, limits)
        if not any(text.strip() for text in parsed.pages):
            raise too_large  # nothing readable came of it: pypdf's reason is the clearer one
        parsed.notes.insert(0, f"read by pdfium: pypdf stopped at a safety limit ({brief_error(refused)})")
        return parsed

    def _pages(self, path: Path, reader: pypdf.PdfReader | None, page_count: int,
               limits: ReadLimits) -> ParsedDocument:
        if page_count == 0:
            raise ReadFailure(DocState.INVALID, "the PDF has no pages")
        if page_count > limits.max_pages:
            raise ReadFailure(DocState.TOO_LARGE,
                              f"{page_count:,} pages is more than the {limits.max_pages:,}-page limit")
        notes: list[str] = []
        with _pdfium_document(path, page_count) as document:
            if document is None and reader is None:
                raise ReadFailure(DocState.INVALID, "the PDF cannot be opened")
            pages = [_page_text(reader, document, number, limits, notes) for number in range(1, page_count + 1)]
        parsed = ParsedDocument(pages, notes)
        if limits.ocr:
            _ocr_empty_pages(path, parsed, limits)
            if limits.ocr_pictures:
                _ocr_pictures(path, parsed, limits)
        return parsed


@contextmanager
def _pdfium_document(path: Path, page_count: int) -> Iterator[pypdfium2.PdfDocument | None]:
    """The file opened by pdfium, or None when pdfium cannot open it or counts other pages than pypdf."""
    import pypdfium2

    try:
        document = pypdfium2.PdfDocument(str(path))
    except Exception:  # noqa: BLE001 - pdfium gives up on some files pypdf repairs: pypdf reads those
        document = None
    try:
        yield document if document is not None and len(document) == page_count else None
    finally:
        if document is not None:
            document.close()


def _page_text(reader: pypdf.PdfReader | None, document: pypdfium2.PdfDocument | None, number: int,
               limits: ReadLimits, notes: list[str]) -> str:
    """One page's text by pdfium; by pypdf when pdfium has not opened the file or fails on this page (and pypdf
    has opened it)."""
    by_pypdf = partial(_pypdf_text, reader, number) if reader is not None else None
    if document is None:
        assert by_pypdf is not None
        return read_one(by_pypdf, f"page {number}", "text extraction", limits, notes)
    return read_one(partial(_pdfium_text, document, number), f"page {number}", "text extraction", limits, notes,
                    fallback=by_pypdf)


def _pdfium_text(document: pypdfium2.PdfDocument, number: int) -> str:
    page = document[number - 1]
    try:
        textpage = page.get_textpage()
        try:
            return join_line_end_hyphens(textpage.get_text_bounded())
        finally:
            textpage.close()
    finally:
        page.close()


def _pypdf_text(reader: pypdf.PdfReader, number: int) -> str:
    return reader.pages[number - 1].extract_text() or ""


def _ocr_empty_pages(path: Path, parsed: ParsedDocument, limits: ReadLimits) -> None:
    from ingest.ocr import ocr_page, tesseract_available

    empty = [n for n, text in enumerate(parsed.pages, start=1) if not text.strip()]
    if not empty or not tesseract_available():
        return
    for number in empty:
        try:
            text = ocr_page(path, number, languages=limits.ocr_languages, timeout_s=limits.page_timeout_s * 3)
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - a page OCR cannot read stays empty, the others go on
            parsed.notes.append(f"page {number}: OCR failed ({brief_error(exc)})")
            continue
        if text.strip():
            parsed.pages[number - 1] = text
            parsed.ocr_pages.append(number)
    if parsed.ocr_pages:
        parsed.notes.append(f"text of page(s) {_page_list(parsed.ocr_pages)} read by OCR")


def _ocr_pictures(path: Path, parsed: ParsedDocument, limits: ReadLimits) -> None:
    """Append the text of large pictures (a table pasted as an image, a scanned figure) to their page's text."""
    from ingest.ocr import ocr_picture, picture_regions, tesseract_available

    with_text = [n for n, text in enumerate(parsed.pages, start=1) if text.strip() and n not in parsed.ocr_pages]
    if not with_text or not tesseract_available():
        return
    try:
        regions = picture_regions(path, with_text)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - the text layer is already read; pictures are a bonus
        parsed.notes.append(f"pictures not read: {brief_error(exc)}")
        return
    read: list[int] = []
    budget = limits.max_pictures
    for number, boxes in sorted(regions.items()):
        for box in boxes:
            if budget <= 0:
                parsed.notes.append(f"only the first {limits.max_pictures} pictures were read by OCR")
                break
            budget -= 1
            try:
                text = ocr_picture(path, number, box, languages=limits.ocr_languages, timeout_s=limits.page_timeout_s)
            except MemoryError:
                raise
            except Exception as exc:  # noqa: BLE001 - one unreadable picture does not matter to the rest
                parsed.notes.append(f"page {number}: a picture could not be read by OCR ({brief_error(exc)})")
                continue
            if len(text.split()) >= 3:
                parsed.pages[number - 1] = f"{parsed.pages[number - 1].rstrip()}\n\n{text}"
                if number not in read:
                    read.append(number)
    if read:
        parsed.ocr_pages.extend(read)
        parsed.notes.append(f"pictures on page(s) {_page_list(read)} read by OCR")


def _page_list(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers)) if len(numbers) <= 8 else f"{numbers[0]}–{numbers[-1]} ({len(numbers)} pages)"


class DocxReader:
    """python-docx; explicit and rendered page breaks start a new page, tables are read row by row."""

    def read(self, path: Path, limits: ReadLimits) -> ParsedDocument:
        import docx
        from docx.oxml.ns import qn

        if not is_docx(path):
            if is_encrypted_office(path):
                raise ReadFailure(DocState.PASSWORD, "the Word document is protected by a password")
            head = read_head(path, 1024)
            raise ReadFailure(DocState.INVALID, f"not a Word document: the content is {describe_bytes(head)}")
        try:
            document = docx.Document(str(path))
        except Exception as exc:  # noqa: BLE001
            raise ReadFailure(DocState.INVALID, f"the Word document cannot be opened ({brief_error(exc)})") from None
        pages: list[list[str]] = [[]]
        page_break, rendered_break, text_tag = qn("w:br"), qn("w:lastRenderedPageBreak"), qn("w:t")

        def new_page() -> None:
            if pages[-1]:
                pages.append([])

        for block in document.element.body.iterchildren():
            if block.tag == qn("w:p"):
                line: list[str] = []
                for node in block.iter(text_tag, page_break, rendered_break):
                    if node.tag == text_tag:
                        line.append(node.text or "")
                    elif node.tag == rendered_break or node.get(qn("w:type")) == "page":
                        if "".join(line).strip():
                            pages[-1].append("".join(line))
                        line = []
                        new_page()
                if "".join(line).strip():
                    pages[-1].append("".join(line))
            elif block.tag == qn("w:tbl"):
                for row in block.iter(qn("w:tr")):
                    cells = ["".join(t.text or "" for t in cell.iter(text_tag)) for cell in row.iter(qn("w:tc"))]
                    pages[-1].append(" | ".join(c.strip() for c in cells))
        texts = [normalize_text("\n".join(p)) for p in pages]
        if len(texts) > limits.max_pages:
            raise ReadFailure(DocState.TOO_LARGE, f"{len(texts):,} pages is more than the {limits.max_pages:,}-page limit")
        return ParsedDocument(texts)


class TextReader:
    """Plain text and Markdown; form feeds separate pages, otherwise the file is one page."""

    def read(self, path: Path, limits: ReadLimits) -> ParsedDocument:
        data = path.read_bytes()
        if b"\x00" in data[:4096]:
            raise ReadFailure(DocState.INVALID, f"not a text file: the content is {describe_bytes(data[:1024])}")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            from charset_normalizer import from_bytes

            best = from_bytes(data).best()
            if best is None:
                raise ReadFailure(DocState.INVALID, "not a text file: the bytes are in no known text encoding") from None
            text = str(best)
        return ParsedDocument([normalize_text(p) for p in text.split("\f")])


def _readers() -> dict[str, Reader]:
    from ingest.html_reader import HtmlReader
    from ingest.pptx_reader import PptxReader

    return {"pdf": PdfReader(), "docx": DocxReader(), "pptx": PptxReader(), "html": HtmlReader(),
            "text": TextReader()}


def read_document(path: Path, limits: ReadLimits) -> ParsedDocument:
    """Pick the reader for the file type and read it. Raises ReadFailure with a clear state and reason."""
    kind = kind_for(path)
    if kind is None:
        suffix = path.suffix or "(no extension)"
        raise ReadFailure(DocState.UNSUPPORTED,
                          f"{suffix} files are not supported (PDF, DOCX, PPTX, HTML, TXT and Markdown are)")
    parsed = _readers()[kind].read(path, limits)
    if not any(p.strip() for p in parsed.pages):
        if kind == "pdf":
            from ingest.ocr import tesseract_available

            if limits.ocr and tesseract_available():
                how = "OCR found no readable text either"
            elif limits.ocr:
                how = "it needs OCR: install Debian's tesseract-ocr to read it"
            else:
                how = "it needs OCR, which is switched off (CONFIDANT_OCR)"
            raise ReadFailure(DocState.NEEDS_OCR,
                              f"no text layer on any of its {len(parsed.pages)} page(s) (a scan or drawing); {how}")
        raise ReadFailure(DocState.INVALID, "the document contains no text")
    return parsed
