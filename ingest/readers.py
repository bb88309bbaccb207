"""Readers turn one file into the text of its pages (1-based), or say clearly why they cannot.

They run inside the parsing worker process (see ingest/worker.py), under its time and memory limits.
"""

from __future__ import annotations

import os
import pickle
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.normalize import join_line_end_hyphens, normalize_text
from ingest.reading import (
    PageTimeout,
    ParsedDocument,
    Reader,
    ReadFailure,
    ReadLimits,
    brief_error,
    page_time_limit,
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
        helpers = _TextHelpers.start(path, page_count, limits)  # before this process opens the file with pdfium
        try:
            with _pdfium_document(path, page_count) as document:
                if document is None and reader is None:
                    raise ReadFailure(DocState.INVALID, "the PDF cannot be opened")
                mine = helpers.first_pages if helpers is not None else page_count
                pages: list[str] = []
                spans: list[list[tuple[int, int]] | None] = []
                for number in range(1, mine + 1):  # split as it goes: the helpers split theirs meanwhile
                    pages.append(_page_text(reader, document, number, limits, notes))
                    spans.append(limits.splitter.spans(pages[-1]) if limits.splitter is not None else None)
                theirs = helpers.collect() if helpers is not None else {}
                for number in range(mine + 1, page_count + 1):  # a page a helper could not read is read here
                    text, split = theirs.get(number) or (_page_text(reader, document, number, limits, notes), None)
                    pages.append(text)
                    spans.append(split)
                if helpers is not None:
                    notes.extend(helpers.notes)
        finally:
            if helpers is not None:
                helpers.close()
        parsed = ParsedDocument(pages, notes, spans=spans)
        if limits.ocr:
            _ocr_empty_pages(path, parsed, limits)
            if limits.ocr_pictures and limits.max_pictures > 0:
                # pictures are read later (read_pictures), after the text is already searchable: finding and
                # reading them takes longer than reading all of a long report's text
                parsed.picture_pages = [n for n, text in enumerate(parsed.pages, start=1)
                                        if text.strip() and n not in parsed.ocr_pages]
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


class _TextHelpers:
    """Forked copies of the parsing worker that read the later pages of a long PDF while the worker reads the first
    ones. Only in a single-threaded process (the worker: forking a process with threads can copy a held lock); each
    helper has the worker's memory limit, the same page time limit, and dies with the worker. Their pages come back
    as text, or not at all when pdfium failed on them (the worker then reads those itself, with pypdf's fallback)."""

    MIN_PAGES = 40  # shorter files are read in a blink by one process

    def __init__(self, first_pages: int, children: list[tuple[int, int, range]]) -> None:
        self.first_pages = first_pages
        self._children = children  # (pid, read end of its pipe, its pages)
        self.notes: list[str] = []

    @classmethod
    def start(cls, path: Path, page_count: int, limits: ReadLimits) -> _TextHelpers | None:
        processes = min(limits.text_processes, page_count // cls.MIN_PAGES)
        if processes < 2 or not hasattr(os, "fork") or threading.active_count() > 1:
            return None
        share = -(-page_count // processes)
        children = []
        for first in range(share + 1, page_count + 1, share):
            numbers = range(first, min(first + share, page_count + 1))
            child = _fork_reader(path, numbers, limits)
            if child is None:
                break
            children.append((*child, numbers))
        if not children:
            return None
        return cls(children[0][2].start - 1, children)

    def collect(self) -> dict[int, tuple[str, list[tuple[int, int]] | None]]:
        """The helpers' pages by number, with their passages when the helper split them (waits for them)."""
        pages: dict[int, tuple[str, list[tuple[int, int]] | None]] = {}
        for pid, fd, _numbers in self._children:
            with os.fdopen(fd, "rb") as answer:
                data = answer.read()
            os.waitpid(pid, 0)
            if data:
                texts, notes = pickle.loads(data)  # noqa: S301 - our own forked copy wrote it
                pages.update((n, t) for n, t in texts.items() if t is not None)
                self.notes.extend(notes)
        self._children = []
        return pages

    def close(self) -> None:
        """Stop helpers not collected (the worker's reading failed meanwhile)."""
        for pid, fd, _numbers in self._children:
            with suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                os.close(fd)
            with suppress(ChildProcessError):
                os.waitpid(pid, 0)
        self._children = []


def _fork_reader(path: Path, numbers: range, limits: ReadLimits) -> tuple[int, int] | None:
    """Fork a helper that reads these pages with pdfium and writes {page: text or None} and its notes to a pipe."""
    parent = os.getpid()
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid:
        os.close(write_end)
        return pid, read_end
    # the helper: nothing here may return into the caller's code
    code = 1
    try:
        os.close(read_end)
        _die_with(parent)
        texts: dict[int, tuple[str, list[tuple[int, int]] | None] | None] = {}
        notes: list[str] = []
        document = _open_pdfium(path)
        for number in numbers:
            try:
                with page_time_limit(limits.page_timeout_s):
                    text = normalize_text(_pdfium_text(document, number))
            except PageTimeout:
                notes.append(f"page {number} skipped: text extraction took over {limits.page_timeout_s:g} s")
                text = ""
            except Exception:  # noqa: BLE001 - the worker reads this page itself, with pypdf's fallback
                texts[number] = None
                continue
            texts[number] = (text, limits.splitter.spans(text) if limits.splitter is not None else None)
        data = pickle.dumps((texts, notes), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write_end, "wb") as out:
            out.write(data)
        code = 0
    finally:
        os._exit(code)


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when its parent dies (a worker killed at its time limit takes its helpers
    with it)."""
    import ctypes

    with suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


def _open_pdfium(path: Path) -> pypdfium2.PdfDocument:
    import pypdfium2

    return pypdfium2.PdfDocument(str(path))


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
            if parsed.spans is not None:
                parsed.spans[number - 1] = None  # split again, as read by OCR
    if parsed.ocr_pages:
        parsed.notes.append(f"text of page(s) {_page_list(parsed.ocr_pages)} read by OCR")


@dataclass
class PictureText:
    """What the large pictures on a document's pages say (a table pasted as an image, a scanned figure): the text
    per page number, in reading order, and notes on what could not be read."""

    pages: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        read = sorted(self.pages)
        return "; ".join([*self.notes, *([f"pictures on page(s) {_page_list(read)} read by OCR"] if read else [])])


def read_pictures(path: Path, pages: Sequence[int], limits: ReadLimits) -> PictureText:
    """Read the large pictures on these pages of a PDF by OCR (at most `limits.max_pictures` per document)."""
    from ingest.ocr import ocr_picture, picture_regions, tesseract_available

    found = PictureText()
    if not pages or not tesseract_available():
        return found
    try:
        regions = picture_regions(path, list(pages))
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - the text layer is already read; pictures are a bonus
        found.notes.append(f"pictures not read: {brief_error(exc)}")
        return found
    budget = limits.max_pictures
    for number, boxes in sorted(regions.items()):
        for box in boxes:
            if budget <= 0:
                found.notes.append(f"only the first {limits.max_pictures} pictures were read by OCR")
                return found
            budget -= 1
            try:
                text = ocr_picture(path, number, box, languages=limits.ocr_languages, timeout_s=limits.page_timeout_s)
            except MemoryError:
                raise
            except Exception as exc:  # noqa: BLE001 - one unreadable picture does not matter to the rest
                found.notes.append(f"page {number}: a picture could not be read by OCR ({brief_error(exc)})")
                continue
            if len(text.split()) >= 3:
                found.pages[number] = f"{found.pages[number]}\n\n{text}" if number in found.pages else text
    return found


def with_pictures(path: Path, parsed: ParsedDocument, limits: ReadLimits) -> ParsedDocument:
    """The document with its pictures' text after its pages' text, as one reading (for tools that want the whole
    text at once; the pipeline adds pictures later, see IngestPipeline.read_pictures)."""
    pictures = read_pictures(path, parsed.picture_pages, limits)
    for number, text in pictures.pages.items():
        parsed.pages[number - 1] = f"{parsed.pages[number - 1].rstrip()}\n\n{text}"
        if parsed.spans is not None:
            parsed.spans[number - 1] = None
    parsed.ocr_pages.extend(n for n in sorted(pictures.pages) if n not in parsed.ocr_pages)
    if pictures.describe():
        parsed.notes.append(pictures.describe())
    parsed.picture_pages = []
    return parsed


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
