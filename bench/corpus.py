"""A synthetic search corpus of 100k–1M chunks, grown from real text with real vectors, cached on disk.

    python -m bench.corpus [--base 24000] [--minutes 15] [--sizes 100000,1000000]

How it is built — read this before trusting any number measured on it:

1. REAL text: the licence texts and manuals Debian ships (/usr/share/common-licenses/*, every
   /usr/share/doc/**/copyright, the gzipped plain-text docs under /usr/share/doc — READMEs, NEWS, changelogs —
   and the info manuals in /usr/share/info), plus the hr-benefits PDFs (pypdf). Each file is split into chunks of
   about 100 words; chunks that are mostly not words are dropped and exact duplicates removed.
2. REAL vectors for a BASE set: the hr-benefits chunks, then a seeded random sample of the rest, embedded with the
   real default embedder (bge-small-en-v1.5 INT8, ONNX; title + text, as ingestion embeds them) until --base chunks
   or --minutes run out (about 40 chunks/s on 2 cores). Checkpointed, so an interrupted run resumes.
3. DERIVED chunks fill the corpus up to each size (the first rows are the base chunks, unchanged). Derived row i
   picks a base chunk b at random and gets:
     text   = b's sentences in shuffled order, ~5 % of adjacent words swapped, ~5 % of words (at least 3)
              replaced by words of another random base chunk — real vocabulary and word statistics, not real prose;
     vector = normalise(v_b + N(0, σ²·I)), σ = 0.0247, so that cos(vector, v_b) ≈ 0.90 (measured and reported).
   The vectors are therefore NOT the embeddings of the derived texts: they are clusters of near-copies around real
   embeddings (≈3 per base chunk at 100k, ≈40 at 1M), with isotropic noise the real model would not produce.
   Search latency and memory depend on the count and dimension far more than on content, which is what this
   corpus is for; it says nothing about retrieval quality at scale.

Cache (~/.cache/confidant-bench/): base-v1.npz (texts + real vectors), and per size a folder corpus-<N>-b<base>-v1/ with
vectors.npy (float32, N × 384, open with mmap_mode="r"), texts.bin + offsets.npy (UTF-8 texts), base_of.npy,
meta.json. A smaller corpus is a prefix of a larger one (derivation is seeded per block of rows).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.paths import HR

CACHE = Path.home() / ".cache" / "confidant-bench"
HR_DOCS = HR / "docs"
SEED = 20261123
SIGMA = 0.0247  # per dimension: cos ≈ 1 / sqrt(1 + 384 σ²) ≈ 0.90
BLOCK = 10_000
WORDS = 100
_WORD = re.compile(r"\S+")
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+")
_ALPHA = re.compile(r"^[A-Za-z][a-z'’-]*[.,;:!?)]?$")
_SKIP = re.compile(r"\.(html?|pdf|png|jpe?g|gif|svg|css|js|json|xml|ps|dvi)(\.gz)?$|\.bz2$|\.xz$", re.I)


@dataclass
class Corpus:
    """N chunks: texts (read lazily from a UTF-8 blob), vectors (memory-mapped), and the base row of each."""

    folder: Path
    vectors: np.ndarray
    offsets: np.ndarray
    base_of: np.ndarray
    files: list[str]
    meta: dict[str, Any]
    _blob: Any = None

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    def text(self, i: int) -> str:
        if self._blob is None:
            self._blob = np.memmap(self.folder / "texts.bin", dtype=np.uint8, mode="r")
        return bytes(self._blob[self.offsets[i]: self.offsets[i + 1]]).decode("utf-8")

    def file_name(self, i: int) -> str:
        b = int(self.base_of[i])
        return self.files[b] if b == i else f"{Path(self.files[b]).stem} (derived).txt"


def _chunks(text: str) -> Iterator[str]:
    words = _WORD.findall(text.replace("\x1f", " ").replace("\x00", " "))
    for lo in range(0, len(words), WORDS):
        part = words[lo: lo + WORDS]
        if len(part) >= 30 and sum(1 for w in part if _ALPHA.match(w)) >= 0.6 * len(part):
            yield " ".join(part)


def _sources() -> Iterator[tuple[str, str]]:
    """(file name, text) of every source document, in a fixed order."""
    for path in sorted(Path("/usr/share/common-licenses").glob("*")):
        if path.is_file():
            yield f"{path.name}.txt", path.read_text("utf-8", errors="replace")
    for path in sorted(Path("/usr/share/doc").glob("*/copyright")):
        yield f"{path.parent.name}_copyright.txt", path.read_text("utf-8", errors="replace")
    gz = sorted(Path("/usr/share/doc").rglob("*.gz")) + sorted(Path("/usr/share/info").glob("*.gz"))
    for path in gz:
        if _SKIP.search(path.name) or not path.is_file():
            continue
        try:
            text = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
        except (OSError, EOFError):
            continue
        if text.count("\ufffd") > len(text) // 100:
            continue
        pkg = path.parent.name if path.parent.name not in ("doc", "info") else "info"
        yield f"{pkg}_{path.name.removesuffix('.gz')}.txt", text


def _hr_sources() -> Iterator[tuple[str, str]]:
    from pypdf import PdfReader

    for path in sorted(HR_DOCS.glob("*.pdf")):
        yield path.name, "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)


def candidate_chunks() -> list[tuple[str, str]]:
    """(file name, text): hr-benefits chunks first, then a seeded shuffle of every other unique chunk."""
    seen: set[bytes] = set()

    def unique(sources: Iterator[tuple[str, str]]) -> list[tuple[str, str]]:
        out = []
        for name, text in sources:
            for chunk in _chunks(text):
                key = hashlib.blake2b(chunk.lower().encode(), digest_size=12).digest()
                if key not in seen:
                    seen.add(key)
                    out.append((name, chunk))
        return out

    hr, rest = unique(_hr_sources()), unique(_sources())
    order = np.random.default_rng(SEED).permutation(len(rest))
    return hr + [rest[i] for i in order]


def _pack(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    encoded = [t.encode("utf-8") for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(e) for e in encoded])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def _unpack(blob: np.ndarray, offsets: np.ndarray) -> list[str]:
    raw = blob.tobytes()
    return [raw[offsets[i]: offsets[i + 1]].decode("utf-8") for i in range(len(offsets) - 1)]


def base(target: int = 24_000, minutes: float = 15.0, log: Any = print, cache: Path = CACHE,
         extend: bool = False) -> dict[str, Any]:
    """The real chunks with real vectors: texts, files, vectors, plus how they were made. Cached; resumable;
    `extend` embeds more (up to `target`, for `minutes` more) after an earlier run stopped on its time budget."""
    from rag.embedders import embedding_text
    from rag.onnx_embedders import bge_small_embedder
    from storage.records import Chunk

    done, partial = cache / "base-v1.npz", cache / "base-v1.partial.npz"
    if done.exists() and extend:  # embed more: the finished set becomes a checkpoint again
        with np.load(done) as z:
            if len(z["vectors"]) < target:
                np.savez(partial, vectors=z["vectors"], seconds=json.loads(bytes(z["meta"]).decode())["embed_seconds"])
                done.unlink()
    if done.exists():
        with np.load(done) as z:
            return {"texts": _unpack(z["texts"], z["offsets"]), "files": _unpack(z["files"], z["file_offsets"]),
                    "vectors": z["vectors"], "meta": json.loads(bytes(z["meta"]).decode())}
    cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    candidates = candidate_chunks()
    log(f"corpus: {len(candidates)} unique real chunks of ~{WORDS} words ({time.perf_counter() - started:.0f} s)")
    vectors = np.zeros((0, 384), dtype=np.float32)
    spent = 0.0
    if partial.exists():
        with np.load(partial) as z:
            vectors, spent = z["vectors"], float(z["seconds"])
        log(f"corpus: resuming after {len(vectors)} embedded chunks")
    embedder = bge_small_embedder()
    target = min(target, len(candidates))
    clock = time.perf_counter()
    budget = spent + minutes * 60 if extend else minutes * 60
    while len(vectors) < target and spent + time.perf_counter() - clock < budget:
        part = candidates[len(vectors): min(target, len(vectors) + 1024)]
        titled = [embedding_text(Chunk("", "", name, 1, 0, 0, text, 0)) for name, text in part]
        vectors = np.concatenate([vectors, np.asarray(embedder.embed_documents(titled), dtype=np.float32)])
        np.savez(partial, vectors=vectors, seconds=spent + time.perf_counter() - clock)
        rate = len(vectors) / (spent + time.perf_counter() - clock)
        log(f"corpus: embedded {len(vectors)}/{target} real chunks ({rate:.1f}/s)")
    spent += time.perf_counter() - clock
    picked = candidates[: len(vectors)]
    meta = {"model": embedder.name, "chunks": len(picked), "candidates": len(candidates),
            "hr_chunks": sum(1 for n, _ in picked if n.endswith(".pdf")), "embed_seconds": round(spent, 1),
            "embed_rate_per_s": round(len(picked) / spent, 1) if spent else None, "words_per_chunk": WORDS}
    texts, offsets = _pack([t for _, t in picked])
    files, file_offsets = _pack([n for n, _ in picked])
    np.savez(done, texts=texts, offsets=offsets, files=files, file_offsets=file_offsets, vectors=vectors,
             meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    partial.unlink(missing_ok=True)
    return base(target, minutes, log, cache)


def derive_text(text: str, donor: str, rng: np.random.Generator) -> str:
    """Shuffle sentences, swap ~5 % of adjacent words, replace ~5 % (≥ 3) of words by the donor's words."""
    sentences = _SENTENCE.split(text)
    words = " ".join(sentences[i] for i in rng.permutation(len(sentences))).split()
    donor_words = donor.split()
    n = len(words)
    for i in rng.integers(0, n - 1, size=max(1, n // 20)):
        words[i], words[i + 1] = words[i + 1], words[i]
    for i, j in zip(rng.integers(0, n, size=max(3, n // 20)), rng.integers(0, len(donor_words), size=max(3, n // 20))):
        words[i] = donor_words[j]
    return " ".join(words)


def folder_of(size: int, n_base: int, cache: Path = CACHE) -> Path:
    return cache / f"corpus-{size}-b{n_base}-v1"


def build(size: int, real: dict[str, Any], log: Any = print, cache: Path = CACHE) -> Corpus:
    """The first `size` rows: the base chunks, then derived ones (seeded per block of rows). Cached."""
    folder = folder_of(size, len(real["texts"]), cache)
    if (folder / "meta.json").exists():
        return load(folder)
    vectors_in, texts_in = real["vectors"], real["texts"]
    n_base = len(texts_in)
    if size < n_base:
        raise ValueError(f"size {size} is smaller than the {n_base} base chunks")
    tmp = folder.with_suffix(".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    vectors = np.lib.format.open_memmap(tmp / "vectors.npy", mode="w+", dtype=np.float32, shape=(size, 384))
    vectors[:n_base] = vectors_in
    base_of = np.arange(size, dtype=np.int32)
    offsets = np.zeros(size + 1, dtype=np.int64)
    cosines: list[float] = []
    started = time.perf_counter()
    with open(tmp / "texts.bin", "wb") as blob:
        encoded = [t.encode("utf-8") for t in texts_in]
        blob.write(b"".join(encoded))
        offsets[1: n_base + 1] = np.cumsum([len(e) for e in encoded])
        for lo in range(n_base, size, BLOCK):
            hi = min(size, lo + BLOCK)
            rng = np.random.default_rng([SEED, lo // BLOCK])
            picks = rng.integers(0, n_base, size=hi - lo)
            donors = rng.integers(0, n_base, size=hi - lo)
            noisy = vectors_in[picks] + rng.normal(0.0, SIGMA, size=(hi - lo, 384)).astype(np.float32)
            noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
            vectors[lo:hi] = noisy
            cosines.append(float(np.mean(np.sum(noisy * vectors_in[picks], axis=1))))
            base_of[lo:hi] = picks
            encoded = [derive_text(texts_in[b], texts_in[d], rng).encode("utf-8") for b, d in zip(picks, donors)]
            blob.write(b"".join(encoded))
            offsets[lo + 1: hi + 1] = offsets[lo] + np.cumsum([len(e) for e in encoded])
            if (hi // BLOCK) % 10 == 0 or hi == size:
                log(f"corpus: derived {hi - n_base}/{size - n_base} chunks ({time.perf_counter() - started:.0f} s)")
    vectors.flush()
    del vectors
    np.save(tmp / "offsets.npy", offsets)
    np.save(tmp / "base_of.npy", base_of)
    (tmp / "files.json").write_text(json.dumps(real["files"]), encoding="utf-8")
    meta = {"size": size, "base": real["meta"], "derived": size - n_base, "sigma": SIGMA, "seed": SEED,
            "mean_cos_derived_to_base": round(float(np.mean(cosines)), 4) if cosines else None,
            "derive_seconds": round(time.perf_counter() - started, 1)}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    tmp.rename(folder)
    return load(folder)


def load(folder: Path) -> Corpus:
    return Corpus(folder, np.load(folder / "vectors.npy", mmap_mode="r"), np.load(folder / "offsets.npy"),
                  np.load(folder / "base_of.npy"), json.loads((folder / "files.json").read_text("utf-8")),
                  json.loads((folder / "meta.json").read_text("utf-8")))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base", type=int, default=24_000, help="real chunks to embed (at most)")
    parser.add_argument("--minutes", type=float, default=15.0, help="time budget for embedding the base set")
    parser.add_argument("--sizes", default="100000", help="corpus sizes to derive, comma-separated")
    parser.add_argument("--extend", action="store_true", help="embed more base chunks (--minutes more), up to --base")
    args = parser.parse_args(argv)
    real = base(args.base, args.minutes, extend=args.extend)
    print(json.dumps(real["meta"]))
    for size in (int(s) for s in args.sizes.split(",") if s):
        print(json.dumps(build(size, real).meta))


if __name__ == "__main__":
    main()
