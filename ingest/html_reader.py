"""HTML pages as text, read with Beautiful Soup (stdlib html.parser): headings, paragraphs, list items and table
rows become lines; <hr> and CSS page breaks start a new page."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.normalize import normalize_text
from ingest.reading import ParsedDocument, ReadFailure, ReadLimits, too_many_pages
from ingest.sniff import describe_bytes
from storage.records import DocState

if TYPE_CHECKING:
    from bs4 import BeautifulSoup


_HTML_DROP = frozenset({"script", "style", "nav", "template", "noscript", "head", "svg", "iframe", "object", "embed",
                        "canvas"})
_HTML_BLOCKS = frozenset({"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dt", "dd", "ul", "ol", "dl",
                          "table", "caption", "thead", "tbody", "tfoot", "section", "article", "main", "header",
                          "footer", "aside", "blockquote", "pre", "address", "figure", "figcaption", "form",
                          "fieldset", "legend", "details", "summary", "body", "title"})
_PAGE_BREAK_STYLES = ("page-break-before:always", "break-before:page")
_PAGE_BREAK_AFTER_STYLES = ("page-break-after:always", "break-after:page")


class HtmlReader:
    """Beautiful Soup with the standard library's parser. Scripts, styles, navigation and templates are dropped;
    headings, paragraphs, list items and table rows (" | " between cells) become lines. <hr> and CSS page breaks
    start a new page; otherwise the document is one page. The <title> heads the first page."""

    def read(self, path: Path, limits: ReadLimits) -> ParsedDocument:
        import bs4

        data = path.read_bytes()
        if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise ReadFailure(DocState.INVALID, f"not an HTML page: the content is {describe_bytes(data[:1024])}")
        try:  # UTF-8 first: Beautiful Soup guesses a charset before trying UTF-8, and misreads short pages
            markup: str | bytes = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            markup = data  # a BOM, a declared <meta charset>, a guess, then windows-1252
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", bs4.UnusualUsageWarning)  # e.g. "this looks like a file name"
            soup = bs4.BeautifulSoup(markup, "html.parser")
        title = _html_title(soup)
        pages = _html_pages(soup)
        if title and not (pages and pages[0] and pages[0][0] == title):
            pages[0].insert(0, title)
        texts = [normalize_text("\n".join(lines)) for lines in pages]
        too_many_pages(len(texts), limits)
        return ParsedDocument(texts, title=title)


def _html_title(soup: BeautifulSoup) -> str:
    holder = soup.head if soup.head is not None else soup
    tag = holder.find("title")
    return " ".join(tag.get_text(" ").split()) if tag is not None else ""


def _html_pages(soup: BeautifulSoup) -> list[list[str]]:
    """Walk the tree without recursion (deeply nested pages must not overflow the stack)."""
    from bs4.element import NavigableString, PreformattedString, Tag

    pages: list[list[str]] = [[]]
    line: list[str] = []
    cells: list[int] = []  # cells seen so far in each open table row (inner tables nest)
    pre = 0

    def end_line() -> None:
        if cells:  # a table row stays on one line: blocks inside a cell only separate words
            line.append(" ")
            return
        text = " ".join("".join(line).split())
        line.clear()
        if text:
            pages[-1].append(text)

    def end_page() -> None:
        end_line()
        if pages[-1] and not cells:
            pages.append([])

    stack: list[tuple[object, bool]] = [(soup, False)]
    while stack:
        node, leaving = stack.pop()
        if isinstance(node, NavigableString):
            if isinstance(node, PreformattedString):  # comments, doctype, CDATA, processing instructions
                continue
            if pre and not cells:
                first, *rest = str(node).split("\n")
                line.append(first)
                for part in rest:
                    end_line()
                    line.append(part)
            else:
                line.append(str(node))
            continue
        if not isinstance(node, Tag) or node.name in _HTML_DROP:
            continue
        name = node.name
        declared = node.get("style")
        style = "".join(str(declared).lower().split()) if declared else ""
        if leaving:
            if name == "tr":
                cells.pop()
                end_line()
            elif name in _HTML_BLOCKS or (name in ("td", "th") and not cells):
                end_line()
            if name == "pre":
                pre -= 1
            if any(marker in style for marker in _PAGE_BREAK_AFTER_STYLES):
                end_page()
            continue
        if name == "hr" or any(marker in style for marker in _PAGE_BREAK_STYLES):
            end_page()
        if name == "br":
            end_line()
        elif name == "tr":
            end_line()
            cells.append(0)
        elif name in ("td", "th") and cells:
            if cells[-1]:
                line.append(" | ")
            cells[-1] += 1
        elif name in _HTML_BLOCKS or name in ("td", "th"):
            end_line()
        if name == "pre":
            pre += 1
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.contents))
    end_line()
    if len(pages) > 1 and not pages[-1]:
        pages.pop()
    return pages
