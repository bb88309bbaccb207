"""Issue #8: `confidant ingest` on a ~10,000-page folder: bounded memory, progress with pages/s and ETA, and resume
after kill -9 (and after Ctrl-C) without duplicates.

    python -m bench.big_folder [--pages 10000] [--workdir DIR] [--kill-after SECONDS] [--sigint-pages N] [--json]

Builds the folder from Debian's r-doc-pdf manuals and the HR set (plus byte-distinct copies of the R manuals until
the page target is met), then drives the real CLI in its own process group with a fresh CONFIDANT_HOME: run 1 is
killed with SIGKILL to the whole group after --kill-after seconds, run 2 resumes to the end (a --kill-after past
the run's length lets run 1 go to the end: then its ETA, a fresh run's, is reported too). RSS of every process in
the group is summed every 0.5 s. Progress goes to a pseudo-terminal, as a user would see it. Then the registry, the
Chroma store and the BM25 index are checked against each other. A shorter trial does the same with SIGINT (Ctrl-C).
Timings depend on the machine's load; memory and consistency are what this benchmark is for.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import pty
import re
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from bench import report
from bench.paths import HR

R_PACKAGE = "r-doc-pdf"
R_FALLBACK = Path("/usr/share/doc/r-doc-pdf")
HR_DOCS = HR / "docs"
COLLECTION = "big"
COPY_MAX_PAGES = 300  # only the shorter manuals are copied, so the folder grows in small steps
PAGE = os.sysconf("SC_PAGE_SIZE")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][AB0-2]")
CLOCK = re.compile(r"(-:--:--|\d+:\d\d:\d\d)")


@dataclass
class Doc:
    path: Path
    pages: int
    sha256: str


# --- the folder ----------------------------------------------------------------------------------
def _pages(path: Path) -> int:
    import pypdf

    return len(pypdf.PdfReader(path, strict=False).pages)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def r_manuals() -> list[Path]:
    """The PDFs the Debian package installs, symlinks resolved and deduplicated."""
    try:
        listed = subprocess.run(["dpkg", "-L", R_PACKAGE], capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        listed = [str(p) for p in R_FALLBACK.rglob("*.pdf")]
    found = {Path(p).resolve() for p in listed if p.endswith(".pdf") and Path(p).is_file()}
    if not found:
        sys.exit(f"no R manuals found: apt-get install -y {R_PACKAGE}")
    return sorted(found)


def build_folder(folder: Path, target: int) -> list[Doc]:
    """Originals (HR set first, then R manuals, shortest first) until `target` pages, then distinct copies."""
    if folder.exists():
        shutil.rmtree(folder)
    sources = [("hr-benefits", p) for p in sorted(HR_DOCS.glob("*.pdf"))]
    manuals = sorted(((_pages(p), p) for p in r_manuals()), key=lambda t: (t[0], t[1].name))
    sources += [("r-manuals", p) for _, p in manuals]
    docs: list[Doc] = []
    for sub, src in sources:
        if sum(d.pages for d in docs) >= target:
            break
        dest = folder / sub / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        docs.append(Doc(dest, _pages(dest), _sha(dest)))
    small = [(n, p) for n, p in manuals if n <= COPY_MAX_PAGES]
    copy = 0
    while sum(d.pages for d in docs) < target:
        copy += 1
        for n, src in small:
            if sum(d.pages for d in docs) >= target:
                break
            dest = folder / "r-copies" / f"{src.stem}-copy-{copy:02d}.pdf"
            dest.parent.mkdir(parents=True, exist_ok=True)
            # an incremental-update comment after %%EOF: same pages, different bytes, so a different document
            dest.write_bytes(src.read_bytes() + f"%\n% copy {copy}\n".encode())
            doc = Doc(dest, _pages(dest), _sha(dest))
            if doc.pages != n:
                sys.exit(f"pypdf reads {doc.pages} pages in {dest}, expected {n}")
            docs.append(doc)
    if len({d.sha256 for d in docs}) != len(docs):
        sys.exit("two files of the folder have the same bytes")
    return docs


def subset_folder(docs: list[Doc], root: Path, folder: Path, pages: int) -> list[Doc]:
    """Hard links to the first files (in ingest order) up to `pages` pages: same bytes, same document ids."""
    from ingest.pipeline import discover

    if folder.exists():
        shutil.rmtree(folder)
    by_path = {d.path: d for d in docs}
    chosen: list[Doc] = []
    for path in discover([root]):
        if sum(d.pages for d in chosen) >= pages:
            break
        dest = folder / path.relative_to(root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, dest)
        except OSError:
            shutil.copyfile(path, dest)
        chosen.append(Doc(dest, by_path[path].pages, by_path[path].sha256))
    return chosen


# --- memory --------------------------------------------------------------------------------------
def group_memory(pgid: int) -> dict[int, tuple[str, int, int]]:
    """pid -> (command, RSS bytes, peak RSS bytes from VmHWM) for every live process of the group."""
    found: dict[int, tuple[str, int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) != pgid or fields[0] == "Z":
                continue
            status = dict(line.split(":", 1) for line in Path(f"/proc/{entry}/status").read_text().splitlines()
                          if ":" in line)
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            continue  # gone meanwhile
        rss, hwm = (int(status.get(key, "0 kB").split()[0]) * 1024 for key in ("VmRSS", "VmHWM"))
        role = "parse worker" if "parse_server" in cmd else ("ingest" if "ingest" in cmd else cmd[:40])
        found[int(entry)] = (role, rss, hwm)
    return found


# --- one CLI run -----------------------------------------------------------------------------------
@dataclass
class Run:
    name: str
    seconds: float = 0.0
    exit_code: int | None = None
    signal_sent: str = ""
    peak_rss_mb: float = 0.0  # sampled sum over the process group
    peak_hwm_mb: dict[str, float] = field(default_factory=dict)  # per role, the kernel's high-water mark
    processes_seen: int = 0
    rss_series: list[tuple[float, float]] = field(default_factory=list)  # (s, MB) every ~15 s
    frames: list[tuple[float, str]] = field(default_factory=list)  # progress lines as shown, timestamped
    stderr_tail: str = ""
    results: list[dict[str, Any]] = field(default_factory=list)
    leftover_processes: int = 0
    code: str = ""  # hash of the package sources when the run started (others may edit them meanwhile)


def code_version() -> str:
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(p for d in ("confidant", "ingest", "storage", "rag") for p in (root / d).rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def confidant_command(folder: Path) -> list[str]:
    exe = Path(sys.executable).with_name("confidant")
    return [str(exe) if exe.exists() else "confidant", "ingest", str(folder), "--collection", COLLECTION, "--json"]


def run_cli(name: str, folder: Path, home: Path, logs: Path, stop_after: float | None = None,
            stop_signal: signal.Signals = signal.SIGKILL, timeout: float = 6 * 3600) -> Run:
    """Run the ingest command in its own process group, stderr on a 160-column pseudo-terminal."""
    run = Run(name, code=code_version())
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
    env = {**os.environ, "CONFIDANT_HOME": str(home), "COLUMNS": "160"}
    out_path, raw_path = logs / f"{name}-stdout.json", logs / f"{name}-stderr.log"
    started = time.monotonic()
    with out_path.open("wb") as stdout, raw_path.open("wb") as raw:
        proc = subprocess.Popen(confidant_command(folder), stdout=stdout, stderr=slave, stdin=subprocess.DEVNULL,
                                env=env, process_group=0)
        os.close(slave)
        reader = threading.Thread(target=_read_terminal, args=(master, raw, run, started), daemon=True)
        reader.start()
        pgid, last_series = proc.pid, -1e9
        seen: set[int] = set()
        while proc.poll() is None:
            now = time.monotonic() - started
            procs = group_memory(pgid)
            seen.update(procs)
            total = sum(rss for _, rss, _ in procs.values()) / 2**20
            run.peak_rss_mb = max(run.peak_rss_mb, total)
            for role, _, hwm in procs.values():
                run.peak_hwm_mb[role] = max(run.peak_hwm_mb.get(role, 0.0), round(hwm / 2**20, 1))
            if now - last_series >= 15:
                run.rss_series.append((round(now, 1), round(total, 1)))
                last_series = now
            if stop_after is not None and now >= stop_after and not run.signal_sent:
                os.killpg(pgid, stop_signal)
                run.signal_sent = f"{stop_signal.name} to the group at {now:.0f} s"
            if now > timeout:
                os.killpg(pgid, signal.SIGKILL)
            time.sleep(0.5)
        run.seconds = time.monotonic() - started
        run.exit_code = proc.returncode
        reader.join(timeout=10)
        os.close(master)
    time.sleep(1)
    run.leftover_processes = len(group_memory(pgid))
    run.processes_seen = len(seen)
    run.peak_rss_mb = round(run.peak_rss_mb, 1)
    text = ANSI.sub("", raw_path.read_text(errors="replace"))
    run.stderr_tail = "\n".join(line for line in re.split(r"[\r\n]", text)[-400:] if line.strip())[-1500:]
    try:
        run.results = json.loads(out_path.read_text() or "[]")
    except json.JSONDecodeError:
        run.results = []
    return run


def _read_terminal(fd: int, raw: Any, run: Run, started: float) -> None:
    """Keep every distinct progress line with the time it was shown."""
    pending = ""
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the child side is closed
            return
        if not data:
            return
        raw.write(data)
        raw.flush()
        now = round(time.monotonic() - started, 1)
        pending += ANSI.sub("", data.decode(errors="replace"))
        *lines, pending = re.split(r"[\r\n]", pending)
        for line in lines:
            line = line.rstrip()
            if ("pages" in line or "passages" in line) and line not in (f for _, f in run.frames[-2:]):
                run.frames.append((now, line))


# --- checks --------------------------------------------------------------------------------------
def registry(home: Path) -> list[dict[str, Any]]:
    exe = confidant_command(Path("."))[0]
    done = subprocess.run([exe, "docs", "list", "--collection", COLLECTION, "--json"], capture_output=True,
                          text=True, env={**os.environ, "CONFIDANT_HOME": str(home)}, check=True)
    return list(json.loads(done.stdout))


def bm25_chunks_by_doc(home: Path) -> dict[str, int]:
    """Chunks per document in the keyword index, read from a searcher (writes nothing between a kill and the
    resume; a cut-short write is left for the resumed run to repair)."""
    import tantivy

    from storage.keyword_index import ANALYZER, _analyzer

    folder = home / "keywords.tantivy"
    if not (folder / "meta.json").exists():
        return {}
    index = tantivy.Index.open(str(folder))
    index.register_tokenizer(ANALYZER, _analyzer())
    searcher = index.searcher()
    query = tantivy.Query.term_query(index.schema, "collection", COLLECTION)
    total = int(searcher.search(query, 1, count=True).count)  # type: ignore[attr-defined]  # missing from its stubs
    counts: dict[str, int] = {}
    for _, address in (searcher.search(query, total, count=False).hits if total else []):
        doc_id = str(searcher.doc(address)["document_id"][0])
        counts[doc_id] = counts.get(doc_id, 0) + 1
    return counts


def _attempt(errors: list[str], what: str, call: Any, fallback: Any = None) -> Any:
    """A check that raises is a finding, not the end of the benchmark."""
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - reported in the table
        errors.append(f"{what} raised {type(exc).__name__}: {str(exc)[:160]}")
        return fallback


def verify(home: Path, docs: list[Doc]) -> dict[str, Any]:
    from confidant.services import build_services
    from confidant.settings import Settings
    from rag.embedders import embedding_text
    from storage.records import FINAL_STATES, DocState

    records = registry(home)
    indexed = [r for r in records if r["state"] == DocState.INDEXED.value]
    indexed_ids = {r["id"] for r in indexed}
    ids = [r["id"] for r in records]
    errors: list[str] = []
    services = build_services(Settings(home=home))
    try:
        store, keywords = services.store, services.keywords
        store_total = _attempt(errors, "store.count", lambda: store.count(collection=COLLECTION), -1)
        bm25_total = _attempt(errors, "keywords.count", lambda: keywords.count(collection=COLLECTION), -1)
        store_by_doc = {r["id"]: _attempt(errors, "store.count(doc)", lambda r=r: store.count(COLLECTION, r["id"]), -1)
                        for r in records}
        bm25_by_doc = bm25_chunks_by_doc(home)
        store_docs = _attempt(errors, f'store.document_ids("{COLLECTION}")',
                              lambda: {d for _, d in store.document_ids(COLLECTION)})
        if store_docs is None:  # same question through counts: chunks in the store beyond those of indexed docs
            orphans = store_total - sum(store_by_doc[i] for i in indexed_ids)
        else:
            orphans = len(store_docs - indexed_ids)
        per_doc_mismatch = [r["file"] for r in indexed
                            if not store_by_doc[r["id"]] == bm25_by_doc.get(r["id"], 0) == r["chunks"]]
        # vector search finds a document's first chunk, within the document and overall (HNSW whole after a kill)
        probes = [r for r in indexed if r["chunks"]][:: max(1, len(indexed) // 10)][:12]
        own_found = near_found = 0
        for r in probes:
            chunks = _attempt(errors, "store.get_document_chunks",
                              lambda r=r: store.get_document_chunks(COLLECTION, r["id"]), [])
            if chunks:
                vector = services.embedder.embed_documents([embedding_text(chunks[0])])[0]
                own = store.query(vector, 1, [COLLECTION], document_ids=[r["id"]])
                near = store.query(vector, 10, [COLLECTION])  # itself, or a byte-distinct copy with the same text
                own_found += bool(own and own[0].chunk.index == 0)
                near_found += any(h.chunk.text == chunks[0].text for h in near)
        checks = {
            "documents": len(records), "indexed": len(indexed), "distinct_files": len({d.sha256 for d in docs}),
            "states": {s: sum(r["state"] == s for r in records) for s in sorted({r["state"] for r in records})},
            "not_final": [r["file"] for r in records if DocState(r["state"]) not in FINAL_STATES],
            "not_indexed": [f"{r['file']}: {r['state']} {r['reason']}" for r in records if r["id"] not in indexed_ids],
            "duplicate_ids": len(ids) - len(set(ids)),
            "duplicate_files": len(records) - len({r["file"] for r in records}),
            "indexed_pages": sum(r["pages"] for r in indexed), "folder_pages": sum(d.pages for d in docs),
            "registry_chunks": sum(r["chunks"] for r in indexed), "store_chunks": store_total,
            "bm25_chunks": bm25_total,
            "store_chunks_or_docs_not_indexed": orphans,
            "bm25_docs_not_indexed": len(set(bm25_by_doc) - indexed_ids),
            "indexed_docs_without_chunks": sum(1 for r in indexed if r["chunks"] and store_by_doc[r["id"]] <= 0),
            "per_doc_count_mismatch": per_doc_mismatch,
            "vector_hits_within_doc": f"{own_found}/{len(probes)}",
            "vector_hits_unfiltered_top10": f"{near_found}/{len(probes)}",
            "errors": errors,
        }
    finally:
        services.close()
    checks["consistent"] = (not checks["duplicate_ids"] and not checks["duplicate_files"]
                            and checks["registry_chunks"] == store_total == bm25_total
                            and not orphans and not checks["bm25_docs_not_indexed"]
                            and not checks["indexed_docs_without_chunks"] and not per_doc_mismatch
                            and own_found == len(probes))
    checks["all_indexed"] = not checks["not_final"] and checks["indexed"] == checks["distinct_files"] == len(records)
    checks["ok"] = checks["consistent"] and checks["all_indexed"] and not errors
    return checks


def after_stop(home: Path) -> dict[str, Any]:
    """What a stopped run left behind: finished documents, the one caught mid-way, its stray chunks."""
    records = registry(home)
    indexed = [r for r in records if r["state"] == "indexed"]
    caught = [r for r in records if r["state"] != "indexed"]
    bm25 = bm25_chunks_by_doc(home)
    return {"indexed_files": len(indexed), "indexed_pages": sum(r["pages"] for r in indexed),
            "registry": {r["id"]: (r["state"], r["updated"], r["chunks"]) for r in records},
            "caught": [{"file": r["file"], "state": r["state"], "reason": r["reason"], "id": r["id"],
                        "bm25_chunks_left": bm25.get(r["id"], 0)} for r in caught]}


def resume_facts(stopped: dict[str, Any], home: Path) -> dict[str, Any]:
    """Files indexed before the stop must be untouched by the resume; the caught file must be indexed again."""
    now = {r["id"]: (r["state"], r["updated"], r["chunks"]) for r in registry(home)}
    before = {i: v for i, v in stopped["registry"].items() if v[0] == "indexed"}
    return {"kept_untouched": sum(now.get(i) == v for i, v in before.items()), "kept_total": len(before),
            "caught_redone": [c["file"] for c in stopped["caught"] if now.get(c["id"], ("",))[0] == "indexed"]}


# --- the progress display ------------------------------------------------------------------------
def eta_of(line: str) -> float | None:
    """Seconds of the ETA a progress line shows; None when it shows none (or '-:--:--', 'ETA …')."""
    match = re.search(r"ETA ~((?:\d+:)?\d+:\d\d)", line)
    if match is None:
        clocks = re.findall(r"(-:--:--|\d+:\d\d:\d\d)", line)
        if len(clocks) < 2 or clocks[-1] == "-:--:--":  # the first clock is the elapsed time
            return None
        text = clocks[-1]
    else:
        text = match.group(1)
    seconds = 0
    for part in text.split(":"):
        seconds = seconds * 60 + int(part)
    return float(seconds)


def whole_run_lines(run: Run) -> list[tuple[float, str]]:
    """The lines that carry the ETA of the whole run: the vectors bar's (the reading bar says when reading ends);
    the reading bar's where there is no vectors bar (an older CLI, or --no-wait)."""
    vectors = [(t, line) for t, line in run.frames if "passages" in line]
    return vectors or run.frames


def eta_samples(run: Run, count: int = 6) -> list[dict[str, Any]]:
    """Progress lines at evenly spaced moments, each with the ETA it showed and the time that was really left."""
    frames = whole_run_lines(run)
    if not frames:
        return []
    picks = sorted({min(range(len(frames)), key=lambda i: abs(frames[i][0] - run.seconds * f))
                    for f in [i / count for i in range(1, count)]} | {len(frames) - 1})
    out = []
    for i in picks:
        t, line = frames[i]
        out.append({"t_s": t, "line": line.strip(), "eta_shown_s": eta_of(line),
                    "really_left_s": round(run.seconds - t)})
    return out


def eta_quality(run: Run) -> dict[str, Any]:
    """Share of progress lines with an ETA, and how far off it was (shown / really left) over the run."""
    frames = whole_run_lines(run)
    shown = [(t, eta) for t, line in frames if (eta := eta_of(line)) is not None and "Done" not in line]
    ratios = sorted(eta / (run.seconds - t) for t, eta in shown if run.seconds - t > 30)

    def pick(q: float) -> float | None:
        return round(ratios[int(q * (len(ratios) - 1))], 2) if ratios else None

    after_tenth = sorted(eta / (run.seconds - t) for t, eta in shown if t >= run.seconds / 10 and run.seconds - t > 30)
    within = sum(0.8 <= r <= 1.2 for r in after_tenth)
    return {"lines": len(frames), "with_eta": round(len(shown) / len(frames), 2) if frames else 0.0,
            "ratio_shown_to_real_p10_p50_p90": [pick(0.1), pick(0.5), pick(0.9)],
            "after_first_tenth_within_20pct": f"{within}/{len(after_tenth)}",
            "after_first_tenth_ratio_min_max": [round(after_tenth[0], 2), round(after_tenth[-1], 2)] if after_tenth
            else None}


# --- the benchmark -------------------------------------------------------------------------------
def trial(name: str, folder: Path, docs: list[Doc], home: Path, logs: Path, stop_after: float,
          stop_signal: signal.Signals) -> dict[str, Any]:
    if home.exists():
        shutil.rmtree(home)
    slug = re.sub(r"[^a-z0-9]+", "", name.lower())
    first = run_cli(f"{slug}-stopped", folder, home, logs, stop_after, stop_signal)
    stopped = after_stop(home)
    (logs / f"{slug}-stopped.json").write_text(json.dumps({**asdict(first), "at_stop": stopped}, default=str))
    second = run_cli(f"{slug}-resumed", folder, home, logs)
    (logs / f"{slug}-resumed.json").write_text(json.dumps(asdict(second), default=str))
    facts = resume_facts(stopped, home)
    checks_code = code_version()
    checks = verify(home, docs)
    pages = sum(d.pages for d in docs)
    return {"name": name, "files": len(docs), "pages": pages, "stopped": first, "resumed": second,
            "at_stop": {k: v for k, v in stopped.items() if k != "registry"}, "resume": facts, "checks": checks,
            "checks_code": checks_code,
            "run2_states": {s: sum(r["state"] == s for r in second.results) for s in {r["state"] for r in second.results}},
            "pages_per_s_run2": round((checks["indexed_pages"] - stopped["indexed_pages"]) / second.seconds, 2),
            "pages_per_s_overall": round(checks["indexed_pages"] / (first.seconds + second.seconds), 2)}


def table(trials: list[dict[str, Any]]) -> Table:
    out = Table(title="confidant ingest on a big folder: stop, resume, check")
    heads = ("trial", "files", "pages", "run 1\ns", "pages\ndone at\nstop", "run 2\ns", "pages/s\nrun 2",
             "pages/s\noverall", "indexed\n/ files", "peak\nRSS MB\nrun 1", "peak\nRSS MB\nrun 2", "dupli-\ncates",
             "chunks store/\nBM25/registry", "resume: kept of done,\nredone, exit codes")
    for col in heads:
        wide = col.startswith(("chunks", "resume"))
        out.add_column(col, justify="left" if wide or col == "trial" else "right", no_wrap=not wide)
    for t in trials:
        c, f = t["checks"], t["resume"]
        agree = f"{c['store_chunks']}/{c['bm25_chunks']}/{c['registry_chunks']} "
        agree += "agree" if c["consistent"] else "MISMATCH"
        resumed = (f"{f['kept_untouched']}/{f['kept_total']}, {len(f['caught_redone'])} redone, "
                   f"exit {t['stopped'].exit_code}→{t['resumed'].exit_code}")
        out.add_row(t["name"], str(t["files"]), str(t["pages"]), f"{t['stopped'].seconds:.0f}",
                    str(t["at_stop"]["indexed_pages"]), f"{t['resumed'].seconds:.0f}", f"{t['pages_per_s_run2']:.2f}",
                    f"{t['pages_per_s_overall']:.2f}", f"{c['indexed']}/{c['distinct_files']}",
                    f"{t['stopped'].peak_rss_mb:.0f}",
                    f"{t['resumed'].peak_rss_mb:.0f}", str(c["duplicate_ids"] + c["duplicate_files"]), agree, resumed)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pages", type=int, default=10_000, help="pages the folder should hold (at least)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/confidant-big-folder"),
                        help="folder for the documents, the data folders and the raw logs")
    parser.add_argument("--kill-after", type=float, default=240.0, help="seconds before SIGKILL of run 1")
    parser.add_argument("--sigint-after", type=float, default=60.0, help="seconds before SIGINT in the Ctrl-C trial")
    parser.add_argument("--sigint-pages", type=int, default=1500, help="pages for the Ctrl-C trial; 0 skips it")
    parser.add_argument("--save-as", default="big-folder", help="results file name (bench/results/NAME-DATE.txt)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    args = parser.parse_args(argv)
    # a shell starts background jobs with Ctrl-C ignored, and an ignored SIGINT is inherited through exec: the CLI
    # would never see the Ctrl-C trial's signal. Python's own handler here is reset to the default in the child.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    out = report.console(args.json)
    context = report.machine()
    work = args.workdir.resolve()
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    docs = build_folder(work / "folder", args.pages)
    out.print(f"folder {work / 'folder'}: {len(docs)} files, {sum(d.pages for d in docs)} pages")
    out.print("command: CONFIDANT_HOME=<fresh> " + " ".join(confidant_command(work / "folder")))
    trials = [trial("kill -9", work / "folder", docs, work / "home-kill", logs, args.kill_after, signal.SIGKILL)]
    if args.sigint_pages > 0:
        small = subset_folder(docs, work / "folder", work / "folder-sigint", args.sigint_pages)
        trials.append(trial("Ctrl-C", work / "folder-sigint", small, work / "home-sigint", logs, args.sigint_after,
                            signal.SIGINT))
    out.print(table(trials))
    for t in trials:
        first, second = t["stopped"], t["resumed"]
        out.print(f"[bold]{t['name']}[/]: {first.signal_sent}; caught mid-way: {t['at_stop']['caught']}")
        out.print(f"  peak RSS (sum over the group, sampled): run 1 {first.peak_rss_mb} MB, run 2 {second.peak_rss_mb}"
                  f" MB; kernel high-water marks per process: run 1 {first.peak_hwm_mb}, run 2 {second.peak_hwm_mb}")
        out.print(f"  RSS over run 2 (s, MB): {second.rss_series}")
        out.print(f"  code version at start: run 1 {first.code}, run 2 {second.code}, checks {t['checks_code']}")
        out.print(f"  leftover processes after exit: {first.leftover_processes}, {second.leftover_processes}")
        if t["name"] == "Ctrl-C":
            out.print(f"  exit code after SIGINT: {first.exit_code}; 'Interrupted' shown: "
                      f"{'Interrupted' in first.stderr_tail}; stderr tail: {first.stderr_tail[-300:]!r}")
        out.print(f"  run 2 reported: {t['run2_states']}")
        out.print(f"  checks: { {k: v for k, v in t['checks'].items()} }")
        if not first.signal_sent:  # run 1 went to the end (--kill-after past it): a fresh run's ETA
            out.print(f"  run 1 ETA: {eta_quality(first)}; samples:")
            for s in eta_samples(first):
                out.print(f"    t={s['t_s']:>7}s  ETA shown {s['eta_shown_s']}s, really left {s['really_left_s']:>5}s "
                          f" | {s['line']}")
        out.print(f"  run 2 ETA: {eta_quality(second)}; samples:")
        for s in eta_samples(second):
            out.print(f"    t={s['t_s']:>7}s  ETA shown {s['eta_shown_s']}s, really left {s['really_left_s']:>5}s "
                      f" | {s['line']}")
    payload = {"benchmark": "big-folder", "machine": context | {"load_average_end": report.machine()["load_average"]},
               "command": confidant_command(work / "folder"), "pages_target": args.pages,
               "files": [{"file": str(d.path.relative_to(work / 'folder')), "pages": d.pages} for d in docs],
               "trials": [{**{k: v for k, v in t.items() if k not in ("stopped", "resumed")},
                           "stopped": {**asdict(t["stopped"]), "frames": t["stopped"].frames[-20:], "results": None,
                                       **({} if t["stopped"].signal_sent else {
                                           "eta_quality": eta_quality(t["stopped"]),
                                           "eta_samples": eta_samples(t["stopped"], 12)})},
                           "resumed": {**asdict(t["resumed"]), "frames": eta_samples(t["resumed"], 12),
                                       "results": None}} for t in trials]}
    report.save(args.save_as, out, payload, args.json)


if __name__ == "__main__":
    main()
