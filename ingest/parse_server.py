"""The parsing worker process: reads requests on stdin (a file path: read its text; ("pictures", path, pages): read
the large pictures on those pages by OCR; "warm": load the readers now), answers on its private pipe.

Started by ingest.worker.ParseWorker as `python -m ingest.parse_server`. It runs under an address-space limit;
the parent enforces the wall-clock limit and restarts it when it has to be killed.
"""

from __future__ import annotations

import argparse
import os
import pickle
import resource
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ingest.readers import PictureText, read_document, read_pictures
from ingest.reading import ParsedDocument, ReadFailure, ReadLimits
from storage.records import DocState

_HEADER = struct.Struct("!Q")
_T = TypeVar("_T")


def read_message(fd: int) -> object | None:
    header = _read_exact(fd, _HEADER.size)
    if header is None:
        return None
    (length,) = _HEADER.unpack(header)
    body = _read_exact(fd, length)
    return None if body is None else pickle.loads(body)  # noqa: S301 - only our own parent writes here


def write_message(fd: int, message: object) -> None:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    data = _HEADER.pack(len(body)) + body
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        part = os.read(fd, size - len(chunks))
        if not part:
            return None
        chunks += part
    return bytes(chunks)


def parse_one(path: Path, limits: ReadLimits, memory_mb: int) -> ParsedDocument | ReadFailure:
    def read() -> ParsedDocument:
        parsed = read_document(path, limits)
        parsed.split(limits.splitter)  # the pages no reader split as it read
        return parsed

    return _answer(read, memory_mb)


def pictures_of(path: Path, pages: list[int], limits: ReadLimits, memory_mb: int) -> PictureText | ReadFailure:
    return _answer(lambda: read_pictures(path, pages, limits), memory_mb)


def _answer(read: Callable[[], _T], memory_mb: int) -> _T | ReadFailure:
    try:
        return read()
    except ReadFailure as failure:
        return failure
    except MemoryError:
        return ReadFailure(DocState.TOO_LARGE, f"reading it needed more than the {memory_mb:,} MiB memory limit")
    except RecursionError:
        return ReadFailure(DocState.TOO_LARGE, "its structure is nested too deeply to read")
    except Exception as exc:  # noqa: BLE001 - report anything, never die silently
        return ReadFailure(DocState.FAILED, f"unexpected error while reading: {type(exc).__name__}: {exc}"[:300])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory-mb", type=int, required=True)
    parser.add_argument("--max-pages", type=int, required=True)
    parser.add_argument("--page-timeout", type=float, required=True)
    parser.add_argument("--ocr-languages", default="", help="tesseract languages; empty switches OCR off")
    parser.add_argument("--max-pictures", type=int, default=ReadLimits.max_pictures,
                        help="pictures on pages with text read by OCR per document; 0 reads none")
    parser.add_argument("--text-processes", type=int, default=1,
                        help="processes reading a long PDF's text at once (this one and forked helpers)")
    parser.add_argument("--split-tokenizer", default="", help="tokenizer.json to split pages into passages by")
    parser.add_argument("--chunk-size", type=int, default=128)
    parser.add_argument("--chunk-overlap", type=int, default=30)
    args = parser.parse_args()
    splitter = None
    if args.split_tokenizer:
        from ingest.splitter import TokenSplitter
        from rag.onnx_embedders import load_tokenizer

        tokenizer = load_tokenizer(Path(args.split_tokenizer))
        splitter = TokenSplitter(lambda text: tokenizer.encode(text, add_special_tokens=False).offsets,
                                 args.chunk_size, args.chunk_overlap, tokenizer=args.split_tokenizer)
    limits = ReadLimits(max_pages=args.max_pages, page_timeout_s=args.page_timeout, ocr=bool(args.ocr_languages),
                        ocr_languages=args.ocr_languages or "eng", ocr_pictures=args.max_pictures > 0,
                        max_pictures=max(0, args.max_pictures), text_processes=max(1, args.text_processes),
                        splitter=splitter)
    memory = args.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # answers go to a private copy of stdout; anything a library prints goes to stderr instead
    answer_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    request_fd = 0
    while True:
        request = read_message(request_fd)
        if request is None:
            return
        result: object
        if request == "warm":  # load the readers' libraries now, not on the first file
            import pypdf  # noqa: F401
            import pypdfium2  # noqa: F401

            result = None
        elif isinstance(request, tuple) and request[0] == "pictures":
            result = pictures_of(Path(str(request[1])), list(request[2]), limits, args.memory_mb)
        else:
            result = parse_one(Path(str(request)), limits, args.memory_mb)
        try:
            write_message(answer_fd, result)
        except MemoryError:
            write_message(answer_fd, ReadFailure(DocState.TOO_LARGE, "its text is too large for the memory limit"))


if __name__ == "__main__":
    main()
