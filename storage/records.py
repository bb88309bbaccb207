"""Values that flow between ingestion, storage and retrieval."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class DocState(StrEnum):
    """The one clear state every file ends in."""

    PENDING = "pending"
    INDEXED = "indexed"
    DUPLICATE = "duplicate"
    NEEDS_OCR = "needs_ocr"
    PASSWORD = "password"  # noqa: S105 - a state name, not a secret
    INVALID = "invalid"
    TOO_LARGE = "too_large"
    UNSUPPORTED = "unsupported"
    FAILED = "failed"


#: States a file may end in (pending is not an end).
FINAL_STATES = frozenset(DocState) - {DocState.PENDING}


@dataclass(frozen=True)
class Chunk:
    """A passage of one page, with the span it covers in that page's text."""

    document_id: str
    collection: str
    file_name: str
    page: int  # 1-based
    start: int  # character offset in the page text
    end: int
    text: str
    index: int  # position of the chunk within its document

    @property
    def chunk_id(self) -> str:
        return f"{self.collection}/{self.document_id}/{self.index}"


@dataclass(frozen=True)
class ScoredChunk:
    """A chunk returned by a search, with its score (higher is better) and, when the vector search saw it,
    its cosine similarity to the question (used to tell whether anything relevant was found)."""

    chunk: Chunk
    score: float
    similarity: float | None = None


@dataclass
class DocumentRecord:
    """What the registry remembers about one document in one collection."""

    id: str  # sha256 of the file bytes
    collection: str
    file_name: str
    source_path: str
    bytes: int
    state: DocState
    reason: str = ""
    pages: int = 0
    chunks: int = 0
    characters: int = 0
    created_at: str = ""
    updated_at: str = ""
    source_key: str = ""  # what makes later files versions of this one: the path in a synced folder, or the name
    version: int = 1
    current: bool = True  # False once a newer version of the same source is indexed
    effective_date: str = ""  # YYYY-MM-DD: the file's date, or one set by the user
    ocr_pages: tuple[int, ...] = ()  # pages whose text came from OCR
    embedded: int = 0  # chunks whose vectors are stored (all of them once equal to `chunks`)
    pictures_pending: bool = False  # the large pictures on its pages are still to be read (more chunks follow)

    @property
    def vectors_pending(self) -> int:
        """Chunks of an indexed document still waiting for their vectors (keyword search finds them already)."""
        return max(0, self.chunks - self.embedded) if self.state is DocState.INDEXED else 0


@dataclass
class FileResult:
    """How one file ended after an ingest run."""

    file: str
    id: str
    collection: str
    state: DocState
    reason: str = ""
    pages: int = 0
    chunks: int = 0
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "id": self.id,
            "collection": self.collection,
            "state": self.state.value,
            "reason": self.reason,
            "pages": self.pages,
            "chunks": self.chunks,
        }
