"""Uploads from a browser or the API: limits checked, bytes saved safely under the data folder, then indexed.

A client's file name is only a label: it is reduced to a plain name (no folders, no control characters, not hidden)
and the file is stored under a folder named by the hash of its bytes, so one upload can never overwrite another
file or land outside the data folder. The file type is sniffed from the bytes at indexing, not taken from the name.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.pipeline import IngestPipeline, Progress
from storage.records import DocState, FileResult

_UNSAFE = re.compile(r"[^\w.,' ()-]+")  # letters and digits of any script stay: "Résumé 判決.pdf" keeps its name
MAX_NAME = 120


@dataclass(frozen=True)
class Upload:
    """A file as the browser sent it: the name is only a label, never a path."""

    name: str
    data: bytes
    size: int | None = None  # the size the client sent, when only the first bytes were kept

    @property
    def bytes_sent(self) -> int:
        return self.size if self.size is not None else len(self.data)


@dataclass(frozen=True)
class UploadRules:
    """Where uploads are kept and what is accepted."""

    files_dir: Path
    max_mb: float
    types: tuple[str, ...]


def megabytes(value: float) -> str:
    """A size in MB with the precision a reader needs: 0.25 MB, 3.4 MB, 120 MB."""
    return f"{value:,.2f}" if value < 1 else f"{value:,.1f}" if value < 10 else f"{value:,.0f}"


def safe_file_name(name: str) -> str:
    """A plain file name made from the client's name: no folders, no control or odd characters, not hidden."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFKC", name))[-1]
    base = _UNSAFE.sub("_", base).strip(" ._")
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    stem = stem[: MAX_NAME - len(ext) - 1].strip(" ._") or "upload"
    return f"{stem}.{ext.lower()}" if ext else stem


def extension(name: str) -> str:
    return Path(name).suffix.lower().lstrip(".")


def rejection(upload: Upload, collection: str, max_mb: float, types: Sequence[str]) -> FileResult | None:
    """Why the upload form refuses this file, or None when it may be indexed."""
    name = safe_file_name(upload.name)
    allowed = [t.lower().lstrip(".") for t in types]
    if extension(name) not in allowed:
        kind = f".{extension(name)} files" if extension(name) else "files without an extension"
        return FileResult(name, "", collection, DocState.UNSUPPORTED,
                          f"{kind} are not accepted; upload {', '.join('.' + t for t in allowed)}")
    size_mb = upload.bytes_sent / 2**20
    if upload.bytes_sent > max_mb * 2**20:
        return FileResult(name, "", collection, DocState.TOO_LARGE,
                          f"{megabytes(size_mb)} MB is more than the {megabytes(max_mb)} MB upload limit")
    if not upload.data:
        return FileResult(name, "", collection, DocState.INVALID, "the file is empty")
    return None


def save_upload(files_dir: Path, upload: Upload) -> tuple[Path, bool]:
    """Write the bytes to files_dir/<hash prefix>/<safe name>; returns the path and whether it was new."""
    digest = hashlib.sha256(upload.data).hexdigest()
    root = files_dir.resolve()
    path = (root / digest[:16] / safe_file_name(upload.name)).resolve()
    if root not in path.parents:  # cannot happen with a sanitised name; refuse anyway
        raise ValueError(f"unsafe upload name {upload.name!r}")
    if path.is_file():
        return path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(upload.data)
    os.replace(partial, path)
    return path, True


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty: another file with the same bytes lives there


def ingest_uploads(pipeline: IngestPipeline, rules: UploadRules, uploads: Sequence[Upload], collection: str,
                   on_progress: Callable[[Progress], None] | None = None, *, wait: bool = True) -> list[FileResult]:
    """Check, save and index uploads; one result per upload, in order. Duplicates are not indexed again."""
    results: list[FileResult | None] = []
    accepted: list[tuple[int, Path, bool]] = []
    for upload in uploads:
        refused = rejection(upload, collection, rules.max_mb, rules.types)
        results.append(refused)
        if refused is None:
            path, new = save_upload(rules.files_dir, upload)
            accepted.append((len(results) - 1, path, new))
    if accepted:
        done = pipeline.ingest([p for _, p, _ in accepted], collection, on_progress, wait=wait)
        for (slot, path, new), result in zip(accepted, done):
            results[slot] = result
            if new and result.state is not DocState.INDEXED:
                # a duplicate's indexed copy stays; a file that could not be indexed is not kept at all
                path.unlink(missing_ok=True)
                _remove_empty(path.parent)
    return [r for r in results if r is not None]
