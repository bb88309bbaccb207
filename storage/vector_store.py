"""Chunk vectors and their metadata, kept in Chroma."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import chromadb
import numpy as np
import numpy.typing as npt
from chromadb.config import Settings as ChromaSettings

from storage.records import Chunk, ScoredChunk

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
    def delete_document(self, collection: str, document_id: str) -> None: ...
    def count(self, collection: str | None = None, document_id: str | None = None) -> int: ...
    def document_ids(self, collection: str | None = None) -> set[tuple[str, str]]: ...


def _where(collections: Sequence[str] | None = None, document_ids: Sequence[str] | None = None,
           collection: str | None = None, document_id: str | None = None,
           exclude_document_ids: Sequence[str] | None = None) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = []
    if exclude_document_ids:
        clauses.append({"document_id": {"$nin": list(exclude_document_ids)}})
    if collections is not None:
        clauses.append({"collection": {"$in": list(collections)}})
    if document_ids is not None:
        clauses.append({"document_id": {"$in": list(document_ids)}})
    if collection is not None:
        clauses.append({"collection": collection})
    if document_id is not None:
        clauses.append({"document_id": document_id})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


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
    """All collections share one Chroma collection per embedding model; the `collection` field filters.

    Chroma's embedded client keeps its index in memory per process and does not notice another process writing
    to the same folder (its searches then fail with "Error finding id" or miss new passages). A persistent store
    therefore watches its files and reopens itself before a read when another process has written: the app keeps
    working while `confidant ingest` or `sync` runs beside it.
    """

    def __init__(self, client: Any, index_name: str, path: Path | None = None) -> None:
        self._client = client
        self._index_name = index_name
        self._col = client.get_or_create_collection(name=index_name, metadata={"hnsw:space": "cosine"})
        self._path = path
        self._lock = threading.Lock()
        self._seen = self._files_stamp()

    @classmethod
    def persistent(cls, path: Path, index_name: str) -> ChromaStore:
        path.mkdir(parents=True, exist_ok=True)
        return cls(_persistent_client(path), index_name, path)

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
            self._col = self._client.get_or_create_collection(name=self._index_name,
                                                              metadata={"hnsw:space": "cosine"})
            self._seen = stamp

    @classmethod
    def server(cls, host: str, port: int, index_name: str) -> ChromaStore:
        """A Chroma server (`chroma run`) shared by several app processes or machines."""
        client = chromadb.HttpClient(host=host, port=port, settings=ChromaSettings(anonymized_telemetry=False))
        return cls(client, index_name)

    @classmethod
    def ephemeral(cls, index_name: str) -> ChromaStore:
        client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
        return cls(client, index_name)

    def add(self, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        if not chunks:
            return
        self._fresh()
        limit = self._client.get_max_batch_size()
        for lo in range(0, len(chunks), limit):
            part = chunks[lo : lo + limit]
            self._col.upsert(
                ids=[c.chunk_id for c in part],
                embeddings=[list(map(float, v)) for v in vectors[lo : lo + limit]],
                documents=[c.text for c in part],
                metadatas=[
                    {"document_id": c.document_id, "collection": c.collection, "file_name": c.file_name,
                     "page": c.page, "start": c.start, "end": c.end, "index": c.index}
                    for c in part
                ],
            )
        self._wrote()

    def query(self, vector: Vector, k: int, collections: Sequence[str] | None = None,
              document_ids: Sequence[str] | None = None,
              exclude_document_ids: Sequence[str] | None = None) -> list[ScoredChunk]:
        if collections is not None and not collections:
            return []
        self._fresh()
        res = self._col.query(
            query_embeddings=[list(map(float, vector))],
            n_results=k,
            where=_where(collections, document_ids, exclude_document_ids=exclude_document_ids),
            include=["documents", "metadatas", "distances"],
        )
        docs = (res.get("documents") or [[]])[0]
        metas = (res.get("metadatas") or [[]])[0]
        dists = (res.get("distances") or [[]])[0]
        return [ScoredChunk(_chunk(d, dict(m)), 1.0 - float(dist), 1.0 - float(dist))
                for d, m, dist in zip(docs, metas, dists)]

    def get_document_chunks(self, collection: str, document_id: str) -> list[Chunk]:
        self._fresh()
        res = self._col.get(where=_where(collection=collection, document_id=document_id),
                            include=["documents", "metadatas"])
        chunks = [_chunk(d, dict(m)) for d, m in zip(res["documents"] or [], res["metadatas"] or [])]
        return sorted(chunks, key=lambda c: c.index)

    def delete_document(self, collection: str, document_id: str) -> None:
        self._fresh()
        self._col.delete(where=_where(collection=collection, document_id=document_id))
        self._wrote()

    def count(self, collection: str | None = None, document_id: str | None = None) -> int:
        self._fresh()
        where = _where(collection=collection, document_id=document_id)
        if where is None:
            return int(self._col.count())
        return len(self._col.get(where=where, include=[])["ids"])

    def document_ids(self, collection: str | None = None) -> set[tuple[str, str]]:
        """(collection, document_id) pairs that have chunks in the store."""
        self._fresh()
        res = self._col.get(where=_where(collection=collection), include=["metadatas"])
        return {(str(m["collection"]), str(m["document_id"])) for m in res["metadatas"] or []}
