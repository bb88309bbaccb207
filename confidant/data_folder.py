"""The data folder is private to the user who runs Confidant: created 0700, and every file Confidant (or a library
it drives: SQLite, Chroma, Tantivy, the model assembly) creates in it is 0600 / folders 0700, by the process umask.
A folder made earlier with looser modes is reported, not silently changed, with the command that fixes it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
MAX_REPORTED = 5


def make_private(data_dir: Path) -> None:
    """Create the data folder 0700 if needed and make this process create only private files from now on."""
    os.umask(PRIVATE_UMASK)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)


def loose_modes(data_dir: Path, limit: int = 10_000) -> list[Path]:
    """Entries of the data folder (itself included) that other users may read, write or enter."""
    found: list[Path] = []
    if not data_dir.exists():
        return found
    stack, seen = [data_dir], 0
    while stack and seen < limit:
        folder = stack.pop()
        if _is_loose(folder):
            found.append(folder)
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if entry.is_symlink():
                continue
            if entry.is_dir():
                stack.append(Path(entry.path))
            elif _is_loose(Path(entry.path)):
                found.append(Path(entry.path))
    return found


def loose_modes_warning(data_dir: Path) -> str | None:
    """A warning for people to read when the data folder is open to other users, or None."""
    loose = loose_modes(data_dir)
    if not loose:
        return None
    names = ", ".join(str(p) for p in loose[:MAX_REPORTED]) + (f" and {len(loose) - MAX_REPORTED} more"
                                                               if len(loose) > MAX_REPORTED else "")
    return (f"The data folder {data_dir} can be read by other users of this machine ({names}). "
            f"Make it private: chmod -R go-rwx {data_dir}")


def _is_loose(path: Path) -> bool:
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(stat.S_IMODE(mode) & 0o077)
