"""Who may see what: every read and write of documents goes through a Workspace bound to one caller.

A Workspace holds the caller's visible collections and passes them to every stage of retrieval (vector, BM25,
rerank), to listings, downloads, page images, evaluation and the API — so a collection the caller is not a member
of cannot leak a passage, a file name, a count or an audit entry, whatever parameters are crafted. Collections
the caller may not see and collections that do not exist get the same answer ("no such collection"), so names
cannot be probed. Admins see every collection; in local single-user mode the caller is the local admin.

Asking, searching, ingesting, deleting and downloading are written to the audit log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from confidant.limits import ClientLimits
from ingest.pipeline import Progress, sha256_file
from ingest.sync import SyncPlan, SyncReport, apply_sync
from ingest.uploads import Upload, ingest_uploads
from rag.answering import Answer, Answerer, AnswerEvent
from rag.evaluation import AnswerReport, EvalReport, Question, evaluate, evaluate_answers
from storage.accounts import Role, User
from storage.audit import AuditEvent, AuditLog
from storage.records import Chunk, DocState, DocumentRecord, FileResult, ScoredChunk

if TYPE_CHECKING:
    from confidant.services import Services


class AccessDenied(Exception):
    """The caller may not do this (or the thing does not exist: the two are not told apart)."""


@dataclass(frozen=True)
class Caller:
    username: str
    role: Role
    collections: frozenset[str] | None  # None: every collection (admins, local mode)
    client: str = "ui"

    @property
    def can_edit(self) -> bool:
        return self.role in (Role.ADMIN, Role.EDITOR)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @classmethod
    def for_user(cls, user: User, memberships: set[str], client: str = "ui") -> Caller:
        return cls(user.username, user.role, None if user.is_admin else frozenset(memberships), client)


LOCAL_CALLER = Caller("local", Role.ADMIN, None, "local")


def provenance_label(info: dict[str, object]) -> str:
    """', version 2 of 3 (older)' / ', OCR' — what a citation adds to 'file, page N'; empty for a plain case."""
    parts = []
    if info.get("version", 1) != 1 or info.get("current") is False:
        parts.append(f"version {info['version']}" + ("" if info.get("current", True) else " (older version)")
                     + (f", effective {info['effective_date']}" if info.get("effective_date") else ""))
    if info.get("ocr"):
        parts.append("text read by OCR")
    return "".join(f" · {p}" for p in parts)
NOT_FOUND = "no such collection or document"


class Workspace:
    """The services as one caller may use them."""

    def __init__(self, services: Services, caller: Caller, audit: AuditLog | None = None,
                 known_collections: Callable[[], Sequence[str]] | None = None) -> None:
        self.services = services
        self.caller = caller
        self.audit = audit
        self._known_collections = known_collections or services.registry.collections
        s = services.settings
        self.limits = ClientLimits(max_question_chars=s.max_question_chars, max_history_items=s.max_history_items,
                                   max_history_chars=s.max_history_chars, max_k=s.max_k,
                                   on_refusal=lambda reason: self._record("refused", (), detail=reason))

    # --- what the caller may see -------------------------------------------------------------------
    def collections(self) -> list[str]:
        """Collections the caller can see: every known one for admins, otherwise their memberships."""
        known = set(self._known_collections()) | {self.services.settings.default_collection}
        if self.caller.collections is None:
            return sorted(known)
        return sorted(self.caller.collections)

    def may_see(self, collection: str) -> bool:
        return self.caller.collections is None or collection in self.caller.collections

    def scope(self, requested: Sequence[str] | None) -> list[str]:
        """The collections to search: the requested ones (each must be visible) or all visible ones."""
        if requested is None:
            return self.collections()
        self.limits.collections(requested)
        for name in requested:
            if not self.may_see(name):
                raise self._denied(NOT_FOUND, f"collection {name!r}")
        return list(dict.fromkeys(requested))

    def documents(self, collection: str | None = None, state: DocState | None = None) -> list[DocumentRecord]:
        if collection is not None:
            self.scope([collection])
        records = self.services.registry.documents(collection, state)
        return [r for r in records if self.may_see(r.collection)]

    def document(self, collection: str, document_id: str) -> DocumentRecord:
        record = self.services.registry.get(collection, document_id) if self.may_see(collection) else None
        if record is None:
            raise self._denied(NOT_FOUND, f"document {document_id[:64]!r} in {collection!r}")
        return record

    def original_file(self, collection: str, document_id: str, *, audit: bool = True) -> Path:
        """The stored original of a document, for download or page images (a download is audited)."""
        record = self.document(collection, document_id)
        path = Path(record.source_path)
        if not path.is_file() or (not record.current and sha256_file(path) != record.id):
            # an older version of a synced file: its path now holds the newer content
            raise AccessDenied("the original file of this version is no longer on disk")
        if audit:
            self._record("download", [collection], documents=[record.file_name])
        return path

    def note_download(self, collection: str, document_id: str) -> None:
        """Audit a download the page offered (the browser fetched the bytes the page already held)."""
        record = self.document(collection, document_id)
        self._record("download", [collection], documents=[record.file_name])

    def provenance(self, chunk: Chunk) -> dict[str, object]:
        """What a citation says besides file and page: which version of the document, and whether the page's
        text came from OCR (so a reader double-checks figures against the page image)."""
        record = self.services.registry.get(chunk.collection, chunk.document_id) if self.may_see(
            chunk.collection) else None
        if record is None:
            return {}
        return {"version": record.version, "current": record.current, "effective_date": record.effective_date,
                "ocr": chunk.page in record.ocr_pages}

    def answer_json(self, answer: Answer) -> dict[str, object]:
        """The answer as JSON, each citation and passage with its provenance."""
        data = answer.as_json()
        by_n = {n: p.chunk for n, p in enumerate(answer.passages, start=1)}
        for item in [*data["citations"], *data["passages"]]:  # type: ignore[misc]
            chunk = by_n.get(int(item["n"]))
            if chunk is not None:
                item.update(self.provenance(chunk))
        return data

    def chunks(self, collection: str, document_id: str) -> list[Chunk]:
        self.document(collection, document_id)
        return self.services.store.get_document_chunks(collection, document_id)

    # --- search and answers -----------------------------------------------------------------------------
    def search(self, query: str, k: int, collections: Sequence[str] | None = None,
               document_ids: Sequence[str] | None = None, *, audit: bool = True,
               all_versions: bool = False) -> list[ScoredChunk]:
        self.limits.question(query, "search")
        self.limits.k(k)
        if document_ids is not None:
            self.limits.documents(document_ids)
        scope = self.scope(collections)
        hits = self.services.retriever.search(query, k, scope, document_ids, all_versions=all_versions)
        hits = [h for h in hits if self.may_see(h.chunk.collection)]  # belt and braces: the filter ran inside
        if audit:
            self._record("search", scope, question=query, documents=[h.chunk.file_name for h in hits])
        return hits

    def answerer(self, collections: Sequence[str] | None = None,
                 document_ids: Sequence[str] | None = None) -> Answerer:
        """An Answerer that can only retrieve from the caller's collections (optionally narrowed)."""
        scope = self.scope(collections)
        s = self.services

        def search(query: str, k: int) -> list[ScoredChunk]:
            return self.search(query, k, scope, document_ids, audit=False)

        return Answerer(search, s.chat_model, s.embedder, k=s.settings.answer_k,
                        min_relevance=s.settings.relevance_floor, max_tokens=s.settings.llm_max_tokens,
                        passage_chars=s.settings.prompt_passage_chars,
                        searched_question=lambda q: s.retriever.searched_question(q, scope, document_ids),
                        rank_sentences=s.rank_sentences,
                        cut_with_ranker=s.settings.prompt_sentence_ranker == "cross-encoder")

    def stream_answer(self, question: str, collections: Sequence[str] | None = None,
                      document_ids: Sequence[str] | None = None, history: Sequence[str] = (),
                      instructions: str = "") -> Iterator[AnswerEvent]:
        self.limits.question(question)
        history = self.limits.history(history)
        if document_ids is not None:
            self.limits.documents(document_ids)
        scope = self.scope(collections)
        for event in self.answerer(scope, document_ids).stream(question, history, instructions):
            if isinstance(event, Answer):
                self.record_answer(event, scope)
            yield event

    def ask(self, question: str, collections: Sequence[str] | None = None,
            document_ids: Sequence[str] | None = None, history: Sequence[str] = ()) -> Answer:
        for event in self.stream_answer(question, collections, document_ids, history):
            if isinstance(event, Answer):
                return event
        raise AssertionError("stream ended without an answer")

    def record_answer(self, answer: Answer, collections: Sequence[str]) -> None:
        cited = list(dict.fromkeys(c.chunk.file_name for c in answer.citations))
        self._record("ask", collections, question=answer.question, documents=cited, model=answer.model,
                     detail="declined" if answer.declined else "")

    def evaluate(self, questions: Sequence[Question], k: int, collections: Sequence[str] | None = None,
                 on_question: Callable[[int, int], None] | None = None) -> EvalReport:
        scope = self.scope(collections)
        report = evaluate(questions, lambda q, n: self.search(q, n, scope, audit=False), k, on_question)
        self._record("eval", scope, detail=f"{len(questions)} questions")
        return report

    def evaluate_answers(self, questions: Sequence[Question], collections: Sequence[str] | None = None,
                         on_question: Callable[[int, int], None] | None = None) -> AnswerReport:
        scope = self.scope(collections)
        report = evaluate_answers(questions, self.answerer(scope), on_question, self.services.embedder)
        self._record("eval", scope, detail=f"{len(questions)} questions answered by the model")
        return report

    # --- changes ------------------------------------------------------------------------------------------
    def require_admin(self, what: str) -> None:
        """Only administrators (every local single user is one) may do `what`; a refusal is audited."""
        if not self.caller.is_admin:
            raise self._denied("only an administrator may do this", what)

    def require_editing(self, what: str) -> None:
        """Only editors and administrators may change documents; a refusal is audited."""
        if not self.caller.can_edit:
            raise self._denied("your role may read but not change documents", what)

    def require_editor(self, collection: str) -> None:
        if not self.caller.can_edit:
            raise self._denied("your role may read but not change documents", f"change {collection!r}")
        if not self.may_see(collection):
            raise self._denied(NOT_FOUND, f"change {collection!r}")

    def ingest_uploads(self, uploads: Sequence[Upload], collection: str,
                       on_progress: Callable[[Progress], None] | None = None) -> list[FileResult]:
        self.require_editor(collection)
        results = ingest_uploads(self.services, uploads, collection, on_progress)
        self._record("ingest", [collection], documents=[r.file for r in results],
                     detail="; ".join(f"{r.file}: {r.state.value}" for r in results)[:1000])
        return results

    def ingest_files(self, paths: Sequence[Path], collection: str,
                     on_progress: Callable[[Progress], None] | None = None,
                     keyed: Sequence[tuple[Path, str]] | None = None) -> list[FileResult]:
        """Index files and folders of this machine (the CLI); `keyed` gives each file its source key (sync)."""
        self.require_editor(collection)
        self.limits.collections([collection])
        pipeline = self.services.pipeline
        try:
            if keyed is not None:
                results = pipeline.ingest_keyed(list(keyed), collection, on_progress)
            else:
                results = pipeline.ingest(list(paths), collection, on_progress)
        except KeyboardInterrupt:
            self._record("ingest", [collection], detail="interrupted; finished files are kept")
            raise
        self._record("ingest", [collection], documents=[r.file for r in results],
                     detail="; ".join(f"{r.file}: {r.state.value}" for r in results)[:1000])
        return results

    def sync_remove(self, plan: SyncPlan) -> SyncReport:
        """The removal half of a folder sync: documents whose files left the folder go, with their versions."""
        self.require_editor(plan.collection)
        report = apply_sync(SyncPlan(plan.folder, plan.collection, remove=plan.remove), self.services.pipeline,
                            self.services.registry)
        for record in report.removed:
            self._forget_original(record)
        self._record("sync", [plan.collection], documents=[r.file_name for r in report.removed],
                     detail=f"{plan.folder}: {len(plan.add)} added, {len(plan.change)} changed, "
                            f"{len(report.removed)} removed")
        return report

    def reindex(self, collection: str, document_id: str) -> list[FileResult]:
        self.require_editor(collection)
        record = self.document(collection, document_id)
        self.services.pipeline.delete(collection, document_id)
        results = self.services.pipeline.ingest([Path(record.source_path)], collection)
        self._record("reindex", [collection], documents=[record.file_name])
        return results

    def delete(self, collection: str, document_id: str) -> DocumentRecord:
        self.require_editor(collection)
        record = self.document(collection, document_id)
        self.services.pipeline.delete(collection, document_id)
        self._forget_original(record)
        self._record("delete", [collection], documents=[record.file_name])
        return record

    def _forget_original(self, record: DocumentRecord) -> None:
        """Delete the uploaded original of a deleted document, unless another record still uses the same file.
        Files outside the data folder (a folder the CLI ingested or synced) belong to the user and stay."""
        files = self.services.settings.files_dir.resolve()
        path = Path(record.source_path).resolve()
        if files not in path.parents:
            return
        if any(Path(r.source_path).resolve() == path for r in self.services.registry.find(record.id)):
            return  # the same bytes under the same name in another collection
        path.unlink(missing_ok=True)
        try:
            path.parent.rmdir()  # the per-content folder, when nothing else is in it
        except OSError:
            pass

    # --- audit ----------------------------------------------------------------------------------------------
    def audit_events(self, **filters: object) -> list[AuditEvent]:
        """Admins read the whole log; everyone else only their own entries on collections they can see."""
        if self.audit is None:
            return []
        if self.caller.is_admin:
            return self.audit.events(include_global=True, **filters)  # type: ignore[arg-type]
        filters["user"] = self.caller.username
        asked = filters.pop("collections", None)
        visible = [c for c in self.collections() if asked is None or c in asked]  # type: ignore[operator]
        return self.audit.events(collections=visible, **filters)  # type: ignore[arg-type]

    def _denied(self, message: str, what: str) -> AccessDenied:
        """An AccessDenied for the caller, written to the audit log first (who asked for what, from where)."""
        self._record("refused", (), detail=f"{message}: {what}")
        return AccessDenied(message)

    def _record(self, action: str, collections: Sequence[str], **fields: object) -> None:
        if self.audit is None:
            return
        self.audit.record(AuditEvent(at="", user=self.caller.username, action=action,
                                     collections=tuple(collections), client=self.caller.client,
                                     **fields))  # type: ignore[arg-type]
