"""Upload: check limits, save each file safely under the data folder, index it, report per file."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from confidant.services import Services
from ingest.pipeline import Progress
from storage.collections import CollectionSettings, valid_collection_name
from storage.records import DocState, FileResult
from ui.context import AppContext

_UNSAFE = re.compile(r"[^\w.,' ()-]+")  # letters and digits of any script stay: "Résumé 判決.pdf" keeps its name
MAX_NAME = 120
REPORT = "upload_report"


@dataclass(frozen=True)
class Upload:
    """A file as the browser sent it: the name is only a label, never a path."""

    name: str
    data: bytes


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
    size_mb = len(upload.data) / 2**20
    if size_mb > max_mb:
        return FileResult(name, "", collection, DocState.TOO_LARGE,
                          f"{size_mb:,.1f} MB is more than the {max_mb:,.0f} MB upload limit")
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


def ingest_uploads(services: Services, uploads: Sequence[Upload], collection: str,
                   on_progress: Callable[[Progress], None] | None = None) -> list[FileResult]:
    """Check, save and index uploads; one result per upload, in order. Duplicates are not indexed again."""
    s = services.settings
    results: list[FileResult | None] = []
    accepted: list[tuple[int, Path, bool]] = []
    for upload in uploads:
        refused = rejection(upload, collection, s.upload_max_mb, s.upload_types)
        results.append(refused)
        if refused is None:
            path, new = save_upload(s.files_dir, upload)
            accepted.append((len(results) - 1, path, new))
    if accepted:
        done = services.pipeline.ingest([p for _, p, _ in accepted], collection, on_progress)
        for (slot, path, new), result in zip(accepted, done):
            results[slot] = result
            if new and result.state is DocState.DUPLICATE:
                path.unlink(missing_ok=True)  # the indexed copy stays; do not keep a second one
    return [r for r in results if r is not None]


def report_rows(results: Sequence[FileResult]) -> list[dict[str, object]]:
    return [{"file": r.file, "state": r.state.value, "pages": r.pages, "chunks": r.chunks, "reason": r.reason}
            for r in results]


def upload_page(ctx: AppContext) -> None:
    s = ctx.services.settings
    st.title("Add documents")
    names = ctx.collection_names()
    default = names.index(s.default_collection) if s.default_collection in names else 0
    collection = st.selectbox("Collection", names, index=default, key="upload_collection")
    new_name = st.text_input("…or a new collection", key="upload_new_collection").strip()
    if new_name:
        problem = valid_collection_name(new_name)
        if problem:
            st.error(problem)
            return
        collection = new_name
    types = ", ".join("." + t for t in s.upload_types)
    st.caption(f"Accepted: {types}; at most {s.upload_max_mb:,.0f} MB per file. Files stay on this computer.")
    files = st.file_uploader("Files", accept_multiple_files=True, key="upload_files")
    if st.button("Add to collection", type="primary", disabled=not files):
        if new_name:
            ctx.collections.put(ctx.collections.get(new_name) if new_name in ctx.collections.names()
                                else CollectionSettings(new_name))
        uploads = [Upload(f.name, f.getvalue()) for f in files or []]
        st.session_state[REPORT] = run_with_progress(ctx.services, uploads, collection)
    report = st.session_state.get(REPORT)
    if report:
        show_report(report)


def run_with_progress(services: Services, uploads: list[Upload], collection: str) -> list[FileResult]:
    with st.status(f"Indexing {len(uploads)} file(s) into {collection}…", expanded=True) as status:
        bar = st.progress(0.0)

        def on_progress(p: Progress) -> None:
            share = (p.index + (1 if p.result else 0.5)) / max(1, p.total)
            if p.result is not None:
                st.write(f"{p.file.name}: {p.result.state.value}" + (f" — {p.result.reason}" if p.result.reason else ""))
            bar.progress(min(1.0, share), text=f"{p.file.name}: page {p.pages}" if p.pages else p.file.name)

        results = ingest_uploads(services, uploads, collection, on_progress)
        bar.progress(1.0, text="Done")
        failed = [r for r in results if r.state not in (DocState.INDEXED, DocState.DUPLICATE)]
        status.update(label=f"{len(results) - len(failed)} of {len(results)} file(s) ready",
                      state="error" if failed else "complete", expanded=bool(failed))
    return results


def show_report(results: Sequence[FileResult]) -> None:
    st.subheader("Report")
    for r in results:
        if r.state is DocState.DUPLICATE:
            st.info(f"{r.file}: duplicate — {r.reason}. Not indexed again.")
        elif r.state is not DocState.INDEXED:
            st.error(f"{r.file}: {r.state.value} — {r.reason}")
    st.dataframe(report_rows(results), hide_index=True, width="stretch")
