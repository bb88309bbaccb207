"""Chunk vectors and their metadata, kept in Chroma."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import chromadb
import numpy as np
import numpy.typing as npt
from chromadb.config import Settings as ChromaSettings

from storage.records import Chunk, ScoredChunk

# HNSW search breadth. Chroma's default (100) left the HR set's recall@5 at 0.887 or 0.902 depending on how the graph
# happened to be built (its build is multi-threaded); at 400 both builds give 0.902 (2026-12-01).
DEFAULT_EF_SEARCH = 400
# HNSW degree (Chroma's "max_neighbors", hnswlib's M: links per vector, twice that on the bottom layer), fixed when a
# collection's index is created. With Chroma's default, 16, the graph splits into islands once about 2 × 16 stored
# vectors lie close around one (a document's unchanged passages in its many versions, near-copies): in Chroma, 100,000
# passages with ≈41 near-copies of each vector, recall@10 against exact search 0.46 at 16 and 0.99 at 32, for 8 % fewer
# inserts per second and the same query time (bench/hnsw_scale.py, 2026-12-07; README "Search at scale").
DEFAULT_MAX_NEIGHBORS = 32

Vector = Sequence[float] | npt.NDArray[np.float32]
Vectors = Sequence[Vector] | npt.NDArray[np.float32]


def _persistent_client(path: Path) -> Any:
    return chromadb.PersistentClient(path=str(path),
                                     settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False))


class VectorStore(Protocol):
    """Keeps chunks with their vectors and finds the nearest ones."""

    def add(self, chunks: Sequence[Chunk], vectors: Vectors) -> None: ...
    def query(self, vector: Vector, k: int, collections: Sequence[str] | None = None,
              document_ids: Sequence[str] | None = None,
              exclude_document_ids: Sequence[str] | None = None) -> list[ScoredChunk]: ...
    def best_on_page(self, vector: Vector, collection: str, document_id: str, page: int) -> ScoredChunk | None: ...
    def get_document_chunks(self, collection: str, document_id: str) -> list[Chunk]: ...
    def delete_document(self, collection: str, document_id: str) -> None: ...
    def count(self, collection: str | None = None, document_id: str | None = None) -> int: ...
    def document_ids(self, collection: str | None = None) -> set[tuple[str, str]]: ...
    def close(self) -> None: ...


def _chunk(text: str, meta: dict[str, Any]) -> Chunk:
    return Chunk(
        document_id=str(meta["document_id"]),
        collection=str(meta["collection"]),
        file_name=str(meta["file_name"]),
        page=int(meta["page"]),
        start=int(meta["start"]),
        end=int(meta["end"]),
        text=text,
        index=int(meta["index"]),
    )


class ChromaStore:
    """One Chroma collection per Confidant collection and embedding model, so a search of the collections a caller
    may see reads only those indexes (a metadata filter over one shared index costs 20× more at 100k chunks;
    bench/search_scale.py). Pending or superseded documents are left out after the search, with a filtered second
    search only when they crowd out the visible passages.

    Chroma's embedded client keeps its index in memory per process and does not notice another process writing
    to the same folder (its searches then fail with "Error finding id" or miss new passages). A persistent store
    therefore watches its files and reopens itself before a read when another process has written: the app keeps
    working while `confidant ingest` or `sync` runs beside it.
    """

    def __init__(self, client: Any, index_name: str, path: Path | None = None, *,
                 ef_search: int = DEFAULT_EF_SEARCH, max_neighbors: int = DEFAULT_MAX_NEIGHBORS) -> None:
        self._client = client
        self._index_name = index_name
        self._ef_search = ef_search
        self._max_neighbors = max_neighbors
        self._path = path
        self._lock = threading.RLock()
        self._cols: dict[str, Any] = {}
        self._move_shared_index()
        self._seen = self._files_stamp()

    @classmethod
    def persistent(cls, path: Path, index_name: str, *, ef_search: int = DEFAULT_EF_SEARCH,
                   max_neighbors: int = DEFAULT_MAX_NEIGHBORS) -> ChromaStore:
        path.mkdir(parents=True, exist_ok=True)
        return cls(_persistent_client(path), index_name, path, ef_search=ef_search, max_neighbors=max_neighbors)

    @classmethod
    def server(cls, host: str, port: int, index_name: str, *, ef_search: int = DEFAULT_EF_SEARCH,
               max_neighbors: int = DEFAULT_MAX_NEIGHBORS) -> ChromaStore:
        """A Chroma server (`chroma run`) shared by several app processes or machines."""
        client = chromadb.HttpClient(host=host, port=port, settings=ChromaSettings(anonymized_telemetry=False))
        return cls(client, index_name, ef_search=ef_search, max_neighbors=max_neighbors)

    @classmethod
    def ephemeral(cls, index_name: str, *, ef_search: int = DEFAULT_EF_SEARCH,
                  max_neighbors: int = DEFAULT_MAX_NEIGHBORS) -> ChromaStore:
        client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
        return cls(client, index_name, ef_search=ef_search, max_neighbors=max_neighbors)

    def close(self) -> None:
        """Release this store's hold on the embedded client's files (the last holder in the process stops it)."""
        with self._lock:
            self._cols.clear()
            close = getattr(self._client, "close", None)
            if close is not None:
                close()

    # --- one Chroma collection per Confidant collection -------------------------------------------------
    def _name(self, collection: str) -> str:
        return f"{self._index_name}--{hashlib.sha256(collection.encode()).hexdigest()[:16]}"

    def _col(self, collection: str, *, create: bool = False) -> Any | None:
        with self._lock:
            col = self._cols.get(collection)
            if col is None:
                if create:
                    # the space goes in the configuration: beside it, the legacy "hnsw:space" metadata makes it l2
                    col = self._client.get_or_create_collection(
                        name=self._name(collection), metadata={"collection": collection},
                        configuration={"hnsw": {"space": "cosine", "ef_search": self._ef_search,
                                                "max_neighbors": self._max_neighbors}})
                else:
                    try:
                        col = self._client.get_collection(name=self._name(collection))
                    except Exception:  # noqa: BLE001 - chromadb raises NotFoundError (or ValueError) when absent
                        return None
                self._cols[collection] = self._with_search_breadth(col)
            return col

    def _with_search_breadth(self, col: Any) -> Any:
        """An index made with another search breadth (older data folders had Chroma's default, 100) gets ours."""
        hnsw = (col.configuration or {}).get("hnsw") or {}
        if hnsw.get("ef_search") != self._ef_search:
            col.modify(configuration={"hnsw": {"ef_search": self._ef_search}})
            self._wrote()
        return col

    def _all(self) -> list[tuple[str, Any]]:
        """(collection, Chroma collection) for every Confidant collection with chunks of this model."""
        found = []
        for col in self._client.list_collections():
            meta = col.metadata or {}
            if col.name.startswith(f"{self._index_name}--") and "collection" in meta:
                found.append((str(meta["collection"]), col))
        return found

    def _targets(self, collections: Sequence[str] | None) -> list[Any]:
        if collections is None:
            collections = [collection for collection, _ in self._all()]
        return [col for col in (self._col(c) for c in dict.fromkeys(collections)) if col is not None]

    def _move_shared_index(self) -> None:
        """Stores written before collections had their own index: move their chunks over (once)."""
        try:
            legacy = self._client.get_collection(name=self._index_name)
        except Exception:  # noqa: BLE001 - no legacy index
            return
        while True:
            part = legacy.get(limit=1000, include=["embeddings", "documents", "metadatas"])
            if not part["ids"]:
                break
            chunks = [_chunk(d, dict(m)) for d, m in zip(part["documents"] or [], part["metadatas"] or [])]
            self._add(chunks, list(part["embeddings"]))
            legacy.delete(ids=part["ids"])
        self._client.delete_collection(name=self._index_name)

    # --- noticing other processes' writes ----------------------------------------------------------------
    def _files_stamp(self) -> tuple[int, ...]:
        if self._path is None:
            return ()
        stamps = []
        for name in ("chroma.sqlite3", "chroma.sqlite3-wal"):
            try:
                stamps.append((self._path / name).stat().st_mtime_ns)
            except OSError:
                stamps.append(0)
        return tuple(stamps)

    def _wrote(self) -> None:
        with self._lock:
            self._seen = self._files_stamp()

    def _fresh(self) -> None:
        """Reopen the embedded client when another process changed the files since we last looked."""
        if self._path is None:
            return
        with self._lock:
            stamp = self._files_stamp()
            if stamp == self._seen:
                return
            from chromadb.api.shared_system_client import SharedSystemClient

            # forget this process's cached instance for the folder, so the new client reads the files afresh
            # (other clients still holding the old instance keep working with it)
            SharedSystemClient._identifier_to_system.pop(str(self._path), None)
            SharedSystemClient._identifier_to_refcount.pop(str(self._path), None)
            self._client = _persistent_client(self._path)
            self._cols.clear()
            # stamped after opening: opening writes to the files itself, and a stamp from before it would make the
            # next read reopen again (and again: every search paid ~25 ms for a new client)
            self._seen = self._files_stamp()

    # --- the VectorStore protocol ----------------------------------------------------------------------
    def add(self, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        if not chunks:
            return
        self._fresh()
        self._add(chunks, vectors)
        self._wrote()

    def _add(self, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        limit = self._client.get_max_batch_size()
        groups: dict[str, list[int]] = {}
        for i, c in enumerate(chunks):
            groups.setdefault(c.collection, []).append(i)
        for collection, rows in groups.items():
            col = self._col(collection, create=True)
            assert col is not None
            for lo in range(0, len(rows), limit):
                part = rows[lo : lo + limit]
                col.upsert(
                    ids=[chunks[i].chunk_id for i in part],
                    embeddings=[list(map(float, vectors[i])) for i in part],
                    documents=[chunks[i].text for i in part],
                    metadatas=[_metadata(chunks[i]) for i in part],
                )

    def query(self, vector: Vector, k: int, collections: Sequence[str] | None = None,
              document_ids: Sequence[str] | None = None,
              exclude_document_ids: Sequence[str] | None = None) -> list[ScoredChunk]:
        if (collections is not None and not collections) or (document_ids is not None and not document_ids) or k <= 0:
            return []
        self._fresh()
        embedding = [list(map(float, vector))]
        hidden = set(exclude_document_ids or ())
        narrowed = None if document_ids is None else {"document_id": {"$in": list(document_ids)}}
        hits: list[ScoredChunk] = []
        for col in self._targets(collections):
            found = self._search(col, embedding, k + (k if hidden else 0), narrowed)
            kept = [h for h in found if h.chunk.document_id not in hidden]
            if hidden and len(kept) < k and len(found) == 2 * k:
                # hidden documents crowd the top: ask again with them filtered out inside the index
                outside = {"document_id": {"$nin": sorted(hidden)}}
                where = outside if narrowed is None else {"$and": [narrowed, outside]}
                kept = self._search(col, embedding, k, where)
            hits.extend(kept)
        return sorted(hits, key=lambda h: h.score, reverse=True)[:k]

    @staticmethod
    def _search(col: Any, embedding: list[list[float]], n: int, where: dict[str, Any] | None) -> list[ScoredChunk]:
        res = col.query(query_embeddings=embedding, n_results=n, where=where,
                        include=["documents", "metadatas", "distances"])
        docs = (res.get("documents") or [[]])[0]
        metas = (res.get("metadatas") or [[]])[0]
        dists = (res.get("distances") or [[]])[0]
        return [ScoredChunk(_chunk(d, dict(m)), 1.0 - float(dist), 1.0 - float(dist))
                for d, m, dist in zip(docs, metas, dists)]

    def best_on_page(self, vector: Vector, collection: str, document_id: str, page: int) -> ScoredChunk | None:
        """The passage of this page nearest the vector."""
        self._fresh()
        col = self._col(collection)
        if col is None:
            return None
        where = {"$and": [{"document_id": document_id}, {"page": page}]}
        found = self._search(col, [list(map(float, vector))], 1, where)
        return found[0] if found else None

    def get_document_chunks(self, collection: str, document_id: str) -> list[Chunk]:
        self._fresh()
        col = self._col(collection)
        if col is None:
            return []
        chunks = [_chunk(d, dict(m)) for part in _pages(col, {"document_id": document_id}, ["documents", "metadatas"])
                  for d, m in zip(part["documents"] or [], part["metadatas"] or [])]
        return sorted(chunks, key=lambda c: c.index)

    def delete_document(self, collection: str, document_id: str) -> None:
        self._fresh()
        col = self._col(collection)
        if col is not None:
            col.delete(where={"document_id": document_id})
            self._wrote()

    def count(self, collection: str | None = None, document_id: str | None = None) -> int:
        self._fresh()
        total = 0
        for col in self._targets(None if collection is None else [collection]):
            if document_id is None:
                total += int(col.count())
            else:
                total += len(col.get(where={"document_id": document_id}, include=[])["ids"])
        return total

    def document_ids(self, collection: str | None = None) -> set[tuple[str, str]]:
        """(collection, document_id) pairs that have chunks in the store."""
        self._fresh()
        found: set[tuple[str, str]] = set()
        for col in self._targets(None if collection is None else [collection]):
            for part in _pages(col, None, ["metadatas"]):
                found |= {(str(m["collection"]), str(m["document_id"])) for m in part["metadatas"] or []}
        return found


PAGE = 5000  # Chroma's get() of a whole big collection at once fails with "too many SQL variables"


def _pages(col: Any, where: dict[str, Any] | None, include: list[str]) -> Iterator[Any]:
    """col.get() in pages of PAGE rows."""
    offset = 0
    while True:
        part = col.get(where=where, include=include, limit=PAGE, offset=offset)
        if not part["ids"]:
            return
        yield part
        if len(part["ids"]) < PAGE:
            return
        offset += PAGE


def _metadata(c: Chunk) -> dict[str, Any]:
    return {"document_id": c.document_id, "collection": c.collection, "file_name": c.file_name, "page": c.page,
            "start": c.start, "end": c.end, "index": c.index}
