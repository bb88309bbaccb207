"""Uploads to the API read as a stream, so that a refused upload is refused before its bytes are read or stored.

The route checks the token, the role and Content-Length before reading the body; then this module feeds the body,
chunk by chunk, through python-multipart's streaming parser. File bytes stay in memory — nothing is spooled to a
temporary file — and reading stops with 413 the moment a limit is passed, with or without Content-Length:

- at most MAX_FILES files (multipart field `files`) in one request;
- each file at most `upload_max_mb`: a file over it is kept only to that size plus one byte and ends as too_large,
  like one added in the app;
- the whole body at most `upload_max_mb` × the files begun so far + 1 MiB (the multipart framing and the form
  field): one file over the limit is refused once its body passes the limit by 1 MiB. Content-Length, when sent,
  is held before reading to the most any request may carry, `upload_max_mb` × MAX_FILES + 1 MiB.

The collection is named by the query parameter `?collection=`, so the role is checked before the body is read. A
form field `collection` is still accepted when it comes before the first file (as `curl -F collection=… -F files=@…`
sends it): the role is then checked when the first file's part begins, before any of its bytes are kept.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from ingest.uploads import Upload, megabytes

MAX_FILES = 10
ALLOWANCE = 2**20  # bytes of multipart framing and form fields allowed beyond the files' own limit
FILE_FIELD = "files"
TEXT_FIELDS = frozenset({"collection"})
MAX_FIELD_BYTES = 1024


class UploadRefused(Exception):
    """The upload is refused with this HTTP status and readable reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class UploadLimits:
    max_file_mb: float
    max_files: int = MAX_FILES
    allowance: int = ALLOWANCE

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 2**20)

    def body_cap(self, files: int) -> int:
        """The most bytes a body may have once `files` files have begun (at least one is always allowed for)."""
        return self.max_file_bytes * max(1, min(files, self.max_files)) + self.allowance

    @property
    def hard_cap(self) -> int:
        return self.body_cap(self.max_files)

    def too_large(self) -> UploadRefused:
        return UploadRefused(413, f"more than the {megabytes(self.max_file_mb)} MB upload limit per file "
                                  f"(at most {self.max_files} files in one request)")

    def check_declared(self, headers: Mapping[str, str]) -> None:
        """413 before reading when Content-Length is more than any upload may be."""
        declared = headers.get("content-length")
        if declared is None:
            return
        if not declared.strip().isdigit():
            raise UploadRefused(400, "the Content-Length header is not a number")
        if int(declared) > self.hard_cap:
            raise self.too_large()


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)
    size: int = 0


class MultipartUploads:
    """A multipart/form-data body parsed as it arrives into form fields and Uploads, within UploadLimits.

    `before_files(fields)` is called once with the text fields seen so far, when the first file part begins (or at
    the end when there is none); it may raise to refuse the upload before any file byte is kept."""

    def __init__(self, content_type: str, limits: UploadLimits,
                 before_files: Callable[[Mapping[str, str]], None]) -> None:
        kind, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise UploadRefused(400, "send the files as multipart/form-data (field 'files')")
        self.limits = limits
        self.fields: dict[str, str] = {}
        self.uploads: list[Upload] = []
        self._before_files: Callable[[Mapping[str, str]], None] | None = before_files
        self._part = _Part()
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._files = 0
        self._received = 0
        self._ended = False
        self._parser = MultipartParser(boundary, {
            "on_part_begin": self._begin, "on_part_data": self._data, "on_part_end": self._end_part,
            "on_header_field": self._field, "on_header_value": self._value, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_done, "on_end": self._end,
        })

    def feed(self, chunk: bytes) -> None:
        self._received += len(chunk)
        if self._received > self.limits.hard_cap:
            raise self.limits.too_large()
        try:
            self._parser.write(chunk)
        except FormParserError as exc:
            raise UploadRefused(400, f"the upload is not valid multipart/form-data ({exc})") from None
        if self._received > self.limits.body_cap(self._files):
            raise self.limits.too_large()

    def finish(self) -> list[Upload]:
        if not self._ended:
            raise UploadRefused(400, "the upload ended before its closing multipart boundary")
        self._call_before_files()
        if not self.uploads:
            raise UploadRefused(400, f"no files in the upload: send them in the multipart field '{FILE_FIELD}'")
        return self.uploads

    # --- parser callbacks --------------------------------------------------------------------------------------
    def _begin(self) -> None:
        self._part = _Part()

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._part.headers[bytes(self._header_name).lower()] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def _headers_done(self) -> None:
        disposition, options = parse_options_header(self._part.headers.get(b"content-disposition", b""))
        if disposition != b"form-data" or b"name" not in options:
            raise UploadRefused(400, "each part of the upload needs a Content-Disposition: form-data name")
        part = self._part
        part.name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            if part.name != FILE_FIELD:
                raise UploadRefused(400, f"files go in the multipart field '{FILE_FIELD}', not {part.name[:80]!r}")
            self._files += 1
            if self._files > self.limits.max_files:
                raise UploadRefused(413, f"more than {self.limits.max_files} files in one upload")
            part.filename = options[b"filename"].decode("utf-8", "replace") or "upload"
            self._call_before_files()
        elif part.name not in TEXT_FIELDS:
            raise UploadRefused(400, f"unexpected form field {part.name[:80]!r}: send files as '{FILE_FIELD}' and "
                                     "name the collection with ?collection=")
        elif self._before_files is None:
            raise UploadRefused(400, f"the form field {part.name!r} must come before the files (or use "
                                     f"?{part.name}=)")

    def _data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        part.size += end - start
        if part.filename is None:
            if part.size > MAX_FIELD_BYTES:
                raise UploadRefused(400, f"the form field {part.name!r} is longer than {MAX_FIELD_BYTES} bytes")
            part.data += data[start:end]
        elif len(part.data) <= self.limits.max_file_bytes:  # keep one byte more than the limit, then only count
            part.data += data[start:min(end, start + self.limits.max_file_bytes + 1 - len(part.data))]

    def _end_part(self) -> None:
        part = self._part
        if part.filename is None:
            self.fields[part.name] = part.data.decode("utf-8", "replace")
        else:
            size = part.size if part.size > len(part.data) else None
            self.uploads.append(Upload(part.filename, bytes(part.data), size))

    def _end(self) -> None:
        self._ended = True

    def _call_before_files(self) -> None:
        if self._before_files is not None:
            check, self._before_files = self._before_files, None
            check(self.fields)


async def read_uploads(stream: AsyncIterator[bytes], content_type: str, limits: UploadLimits,
                       before_files: Callable[[Mapping[str, str]], None]) -> tuple[dict[str, str], list[Upload]]:
    """The form fields and the files of a multipart body, read within the limits (UploadRefused otherwise)."""
    parser = MultipartUploads(content_type, limits, before_files)
    try:
        async for chunk in stream:
            parser.feed(chunk)
    except ClientDisconnect:
        raise UploadRefused(400, "the client closed the connection before the upload ended") from None
    return parser.fields, parser.finish()
