"""Folder sync: make a collection match a folder — new files added, changed files indexed as a new version,
documents whose files disappeared removed (with their earlier versions).

A document belongs to the folder when its original lives under it; its source key is its path inside the folder,
so a file that changes keeps its history as versions of one document.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ingest.pipeline import IngestPipeline, ProgressCallback, discover_with_keys, sha256_file
from storage.records import DocState, DocumentRecord, FileResult
from storage.registry import Registry


@dataclass
class SyncPlan:
    folder: Path
    collection: str
    add: list[tuple[Path, str]] = field(default_factory=list)  # new files (path, key)
    change: list[tuple[Path, str]] = field(default_factory=list)  # new content for a known key
    unchanged: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)  # keys whose file is gone

    def rows(self) -> list[tuple[str, str]]:
        return ([("add", k) for _, k in self.add] + [("change", k) for _, k in self.change]
                + [("remove", k) for k in self.remove] + [("unchanged", k) for k in self.unchanged])

    @property
    def empty(self) -> bool:
        return not (self.add or self.change or self.remove)


@dataclass
class SyncReport:
    plan: SyncPlan
    results: list[FileResult]
    removed: list[DocumentRecord]


def _under(path: str, folder: Path) -> bool:
    try:
        return Path(path).resolve().is_relative_to(folder)
    except (OSError, ValueError):
        return False


def plan_sync(folder: Path, collection: str, registry: Registry) -> SyncPlan:
    """What a sync would do (reads and hashes the files; changes nothing)."""
    root = folder.resolve()
    plan = SyncPlan(root, collection)
    by_key: dict[str, list[DocumentRecord]] = defaultdict(list)
    for record in registry.documents(collection):
        if _under(record.source_path, root):
            by_key[record.source_key].append(record)
    present = set()
    for path, key in discover_with_keys([root]):
        present.add(key)
        known = by_key.get(key)
        if not known:
            plan.add.append((path, key))
            continue
        latest = max(known, key=lambda r: (r.current and r.state is DocState.INDEXED, r.updated_at))
        if sha256_file(path) == latest.id:
            plan.unchanged.append(key)
        else:
            plan.change.append((path, key))
    plan.remove = sorted(k for k in by_key if k not in present)
    return plan


def apply_sync(plan: SyncPlan, pipeline: IngestPipeline, registry: Registry,
               on_progress: ProgressCallback | None = None) -> SyncReport:
    results = pipeline.ingest_keyed(plan.add + plan.change, plan.collection, on_progress)
    removed = []
    for key in plan.remove:
        for record in registry.versions(plan.collection, key):
            if _under(record.source_path, plan.folder) and pipeline.delete(plan.collection, record.id):
                removed.append(record)
    return SyncReport(plan, results, removed)
