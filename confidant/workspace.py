"""The application layer: every use case of Confidant, for one caller — the only door to documents and records.

Each face (the CLI, the REST API, the app's pages) gets a Workspace bound to its caller and calls one method per
action; the method checks the caller's role and collections itself (confidant/access.py holds the policy) and writes
the audit entry. Faces hold no business logic and never touch storage. Before anyone is signed in, the Gate is the
door: it turns a password, a token or a trusted single-sign-on header into a Caller, and audits each attempt.

What a caller may see: the caller's visible collections go to every stage of retrieval (vector, BM25, rerank), to
listings, downloads, page images, evaluation and the API — so a collection the caller is not a member of cannot leak
a passage, a file name, a count or an audit entry, whatever parameters are crafted. Collections the caller may not
see and collections that do not exist get the same answer ("no such collection"), so names cannot be probed. Admins
see every collection; in local single-user mode the caller is the local admin.

The Workspace is built from explicit parts (WorkspaceParts), each loaded on first use, not from the wiring's whole
bag of services.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO, TypeVar

from confidant.access import NOT_FOUND, AccessDenied, Caller
from confidant.grid_runs import GridRun, GridRuns
from confidant.limits import ClientLimits
from confidant.model_choice import DEFAULT, AnswerModel, AnswerModelPool
from confidant.settings import Settings
from ingest.pipeline import IngestPipeline, Progress, VectorCallback, discover_with_keys, sha256_file
from ingest.sync import SyncPlan, SyncReport, apply_sync, plan_sync
from ingest.uploads import Upload, UploadRules, ingest_uploads
from ingest.vector_filler import VectorFiller, VectorQueue
from rag.answering import Answer, Answerer, AnswerEvent, AnswerOptions, Retrieved, Token
from rag.chat import ChatModel
from rag.embedders import Embedder
from rag.evaluation import AnswerReport, EvalReport, Evidence, Question, evaluate, evaluate_answers
from rag.grid import TEMPLATES, Grid, GridCell, GridProgress, cell_from_answer, grid_version, still_current
from rag.prompting import DECLINE_TEXT
from rag.retriever import Mode, Retriever
from rag.summary import OnProgress, Summary, summarise
from storage.accounts import AccountError, Accounts, LoginRefused, Role, TokenInfo, User
from storage.audit import AuditEvent, AuditLog
from storage.collections import CollectionSettings, CollectionSettingsStore, valid_collection_name
from storage.conversations import Conversation, ConversationNotFound, ConversationStore, ConversationTurn
from storage.feedback import Feedback, FeedbackStore, Rating
from storage.grid_cells import GridCellStore
from storage.keyword_index import KeywordIndex
from storage.preferences import SITE, PreferenceStore
from storage.records import Chunk, DocState, DocumentRecord, FileResult, ScoredChunk
from storage.registry import Registry
from storage.vector_store import VectorStore

T = TypeVar("T")
AROUND = 2  # passages either side of a cited one where an answer's other cases are looked for (rag/cases.py)


@dataclass(frozen=True)
class WorkspaceParts:
    """What the use cases are made of. Each part but the settings is a provider called on first use, so that a
    command that lists users loads no model and opens no vector store."""

    settings: Settings
    registry: Callable[[], Registry]
    store: Callable[[], VectorStore]
    keywords: Callable[[], KeywordIndex]  # every passage, from the moment a document is read (its vectors follow)
    retriever: Callable[[], Retriever]
    pipeline: Callable[[], IngestPipeline]
    vector_filler: Callable[[], VectorFiller]
    chat_model: Callable[[], ChatModel]
    embedder: Callable[[], Embedder]
    rank_sentences: Callable[[str, list[str]], list[float]]
    accounts: Callable[[], Accounts]
    audit: Callable[[], AuditLog]
    assistants: Callable[[], CollectionSettingsStore]
    feedback: Callable[[], FeedbackStore]
    conversations: Callable[[], ConversationStore]
    answer_models: Callable[[], AnswerModelPool]
    preferences: Callable[[], PreferenceStore]
    grid_cells: Callable[[], GridCellStore]  # the review grid's answered cells
    grid_runs: Callable[[], GridRuns]  # grids being filled in the background (this process's)
    answer_options: AnswerOptions
    data_folder_warning: str = ""


def provenance_label(info: dict[str, object]) -> str:
    """', version 2 of 3 (older)' / ', OCR' — what a citation adds to 'file, page N'; empty for a plain case."""
    parts = []
    if info.get("version", 1) != 1 or info.get("current") is False:
        parts.append(f"version {info['version']}" + ("" if info.get("current", True) else " (older version)")
                     + (f", effective {info['effective_date']}" if info.get("effective_date") else ""))
    if info.get("ocr"):
        parts.append("text read by OCR")
    return "".join(f" · {p}" for p in parts)


@dataclass(frozen=True)
class Status:
    """What the app's sidebar shows: the answering model, and for admins where the data lives."""

    model: str
    data_dir: str = ""
    warning: str = ""


_CONTENT_IDS: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) → sha256, so a page view hashes once


def _content_id(path: Path) -> str:
    """The sha256 of a file's bytes, remembered while its size and modification time stay the same."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    found = _CONTENT_IDS.get(key)
    if found is None:
        found = sha256_file(path)
        if len(_CONTENT_IDS) > 4096:
            _CONTENT_IDS.clear()
        _CONTENT_IDS[key] = found
    return found


def _question(item: dict[str, Any]) -> Question:
    """An evaluation question as `add_to_eval_set` keeps it (the fields of ../shared/eval's question files)."""
    evidence = tuple(Evidence(str(e["file"]), e.get("page")) for e in item.get("evidence") or [])
    return Question(str(item["id"]), str(item["question"]), str(item.get("answer", "")), evidence,
                    bool(item.get("answerable")))


class Gate:
    """The door before a caller exists: sign-in by password, token or trusted SSO header, each attempt audited."""

    def __init__(self, parts: WorkspaceParts) -> None:
        self.parts = parts

    def start_background_indexing(self) -> None:
        """Embed, behind the scenes, every document still without its vectors, now and as uploads come (the app
        and the API call this when they start: a restart resumes what was left)."""
        self.parts.vector_filler().start()

    @property
    def settings(self) -> Settings:
        return self.parts.settings

    def workspace(self, caller: Caller, audit: AuditLog | None = None) -> Workspace:
        return Workspace(self.parts, caller, audit)

    def has_accounts(self) -> bool:
        return bool(self.parts.accounts().users())

    def caller(self, username: str, client: str) -> Caller | None:
        """The caller of an existing, enabled account (read again on every call: a removed or disabled user, a
        changed role or membership counts at once); None otherwise."""
        accounts = self.parts.accounts()
        user = accounts.get_user(username)
        if user is None or user.disabled:
            return None
        return Caller.for_user(user, accounts.collections_of(user.username), client)

    def sign_in(self, username: str, password: str, client: str) -> Caller:
        """Check a password (LoginRefused with a readable reason otherwise); both outcomes are audited."""
        accounts = self.parts.accounts()
        try:
            user = accounts.verify_login(username, password)
        except LoginRefused as refused:
            self.record(username.strip().lower()[:64] or "?", "login_failed", refused.reason, client)
            raise
        self.record(user.username, "login", "password", client)
        return Caller.for_user(user, accounts.collections_of(user.username), client)

    def sign_in_sso(self, username: str, client: str) -> Caller | None:
        """A user named by a trusted proxy's header: their caller when the account exists and is enabled."""
        caller = self.caller(username, client)
        if caller is not None:
            self.record(caller.username, "login", "single sign-on", client)
        return caller

    def user_for_sso(self, username: str) -> User | None:
        return self.parts.accounts().get_user(username)

    def caller_for_token(self, token: str, client: str) -> Caller:
        """The caller a bearer token stands for (TokenRefused otherwise; the API audits the refusal)."""
        accounts = self.parts.accounts()
        user = accounts.user_for_token(token)
        return Caller.for_user(user, accounts.collections_of(user.username), client)

    def audit_log(self) -> AuditLog:
        """Where a face writes refusals made before there is a caller (the API's 401s and 422s)."""
        return self.parts.audit()

    def record(self, user: str, action: str, detail: str, client: str) -> None:
        self.parts.audit().record(AuditEvent(at="", user=user, action=action, collections=(), detail=detail,
                                             client=client))


class Workspace:
    """Every use case, as one caller may use it."""

    def __init__(self, parts: WorkspaceParts, caller: Caller, audit: AuditLog | None = None) -> None:
        self.parts = parts
        self.caller = caller
        self._audit = audit
        s = parts.settings
        self.limits = ClientLimits(max_question_chars=s.max_question_chars, max_history_items=s.max_history_items,
                                   max_history_chars=s.max_history_chars, max_k=s.max_k,
                                   on_refusal=lambda reason: self._record("refused", (), detail=reason))

    @property
    def settings(self) -> Settings:
        return self.parts.settings

    @property
    def audit(self) -> AuditLog:
        return self._audit if self._audit is not None else self.parts.audit()

    # --- what the caller may see -------------------------------------------------------------------
    def _known_collections(self) -> list[str]:
        """Collections with documents, collections created empty, and the default one."""
        return sorted(set(self.parts.registry().collections()) | set(self.parts.assistants().names())
                      | {self.settings.default_collection})

    def collections(self) -> list[str]:
        """Collections the caller can see: every known one for admins, otherwise their memberships."""
        if self.caller.collections is None:
            return self._known_collections()
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
        records = self.parts.registry().documents(collection, state)
        return [r for r in records if self.may_see(r.collection)]

    def find_documents(self, id_prefix: str, collection: str | None = None) -> list[DocumentRecord]:
        """Documents (any version) whose id starts with `id_prefix` (8+ characters, as the CLI shows them)."""
        if collection is not None:
            self.scope([collection])
        return [r for r in self.parts.registry().find(id_prefix)
                if self.may_see(r.collection) and (collection is None or r.collection == collection)]

    def document(self, collection: str, document_id: str) -> DocumentRecord:
        record = self.parts.registry().get(collection, document_id) if self.may_see(collection) else None
        if record is None:
            raise self._denied(NOT_FOUND, f"document {document_id[:64]!r} in {collection!r}")
        return record

    def versions(self, collection: str, document_id: str) -> list[DocumentRecord]:
        """Every version of the document's file, newest first."""
        record = self.document(collection, document_id)
        return self.parts.registry().versions(record.collection, record.source_key)

    def original_file(self, collection: str, document_id: str, *, audit: bool = True) -> Path:
        """The stored original of a document, for download or page images (a download is audited). Its bytes
        must still be the document's (sha256): a synced file's path may now hold a newer version, and a shared
        files folder may have been changed by hand."""
        record = self.document(collection, document_id)
        path = Path(record.source_path)
        if not path.is_file() or _content_id(path) != record.id:
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
        record = self.parts.registry().get(chunk.collection, chunk.document_id) if self.may_see(
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
        return self.parts.keywords().document_chunks(collection, document_id)

    def status(self) -> Status:
        if not self.caller.is_admin:
            return Status(self.model_name())
        return Status(self.model_name(), str(self.settings.data_dir), self.parts.data_folder_warning)

    def model_name(self) -> str:
        return self._chat_model().name

    # --- answer models --------------------------------------------------------------------------------------
    def answer_models(self) -> list[AnswerModel]:
        """The models this caller may answer with (the administrator may restrict them), each with its speed as
        measured on this machine."""
        prefs = self.parts.preferences()
        allowed = set(prefs.get(SITE, "allowed_models", []))
        found = []
        for model in self.parts.answer_models().available():
            if allowed and model.id not in allowed and model.id != DEFAULT:
                continue
            speed = prefs.get(SITE, f"speed:{model.id}", {})
            found.append(replace(model, tokens_per_s=speed.get("tokens_per_s"),
                                 first_token_s=speed.get("first_token_s"), answers=speed.get("answers", 0)))
        return found

    def answer_model(self) -> str:
        """The id of the model that answers this caller: their choice while it is offered and ready, else the
        administrator's default, else the configured one."""
        prefs = self.parts.preferences()
        offered = {m.id for m in self.answer_models() if m.ready}
        for wanted in (prefs.get(self.caller.username, "answer_model"), prefs.get(SITE, "default_model")):
            if wanted in offered:
                return str(wanted)
        return DEFAULT

    def choose_answer_model(self, model_id: str) -> None:
        """The caller's own choice of answer model (one of `answer_models`, ready), kept for their next visits."""
        self.limits.question(model_id, "model")
        if model_id not in {m.id for m in self.answer_models() if m.ready}:
            raise self._denied("that model is not offered here", f"choose model {model_id[:100]!r}")
        self.parts.preferences().put(self.caller.username, "answer_model", model_id)
        self._record("model_chosen", (), model=model_id)

    def model_policy(self) -> tuple[str, list[str]]:
        """Administrators: the default answer model and the models that may be chosen (empty: every one)."""
        self.require_admin("read the answer model policy")
        prefs = self.parts.preferences()
        return str(prefs.get(SITE, "default_model", DEFAULT)), list(prefs.get(SITE, "allowed_models", []))

    def set_model_policy(self, default_id: str, allowed: Sequence[str] = ()) -> None:
        """Administrators: the model everyone answers with unless they choose another, and which models may be
        chosen (none listed: every model on the machine)."""
        self.require_admin("set the answer models")
        known = {m.id for m in self.parts.answer_models().available()}
        unknown = [m for m in [default_id, *allowed] if m not in known]
        if unknown:
            raise ValueError(f"no such answer model: {', '.join(unknown)}")
        if allowed and default_id not in allowed and default_id != DEFAULT:
            raise ValueError("the default model must be one of the models that may be chosen")
        prefs = self.parts.preferences()
        prefs.put(SITE, "default_model", default_id)
        prefs.put(SITE, "allowed_models", list(dict.fromkeys(allowed)))
        self._record("model_policy_set", (), model=default_id, detail=", ".join(allowed) or "every model")

    def _chat_model(self) -> ChatModel:
        return self.parts.answer_models().get(self.answer_model())

    def _note_speed(self, model_id: str, model: ChatModel | None, answer: Answer) -> None:
        """Keep a running measure of the model's speed on this machine (what the model picker shows)."""
        timings = getattr(model, "last_timings", None) or {}
        per_s, first_ms = timings.get("predicted_per_second"), answer.timings.get("first_token_ms")
        if not per_s or not first_ms:
            return
        prefs = self.parts.preferences()
        key = f"speed:{model_id}"
        old = prefs.get(SITE, key, {})
        n = min(int(old.get("answers", 0)), 19)  # the mean of about the last 20 answers

        def mean(name: str, value: float) -> float:
            return round((float(old.get(name, value)) * n + value) / (n + 1), 2)

        prefs.put(SITE, key, {"tokens_per_s": mean("tokens_per_s", float(per_s)),
                              "first_token_s": mean("first_token_s", first_ms / 1000), "answers": n + 1})

    def assistant(self, collection: str) -> CollectionSettings:
        """How a collection presents itself on the chat page (title, instructions, starter questions)."""
        self.scope([collection])
        return self.parts.assistants().get(collection)

    # --- search and answers -----------------------------------------------------------------------------
    def search(self, query: str, k: int | None = None, collections: Sequence[str] | None = None,
               document_ids: Sequence[str] | None = None, *, audit: bool = True,
               all_versions: bool = False, mode: Mode | None = None) -> list[ScoredChunk]:
        """The k best passages in the caller's collections (or the ones named); `mode` shows one stage alone:
        vector (meaning), keyword (words, BM25), or hybrid (both fused, the default)."""
        k = self.settings.search_k if k is None else k
        self.limits.question(query, "search")
        self.limits.k(k)
        if document_ids is not None:
            self.limits.documents(document_ids)
        scope = self.scope(collections)
        hits = self.parts.retriever().search(query, k, scope, document_ids, all_versions=all_versions, mode=mode)
        hits = [h for h in hits if self.may_see(h.chunk.collection)]  # belt and braces: the filter ran inside
        if audit:
            self._record("search", scope, question=query, documents=[h.chunk.file_name for h in hits],
                         detail=f"mode {mode}" if mode else "")
        return hits

    def _opening(self, chunk: Chunk) -> list[Chunk]:
        """The passages of the first page of a passage's document (an answer may cite them: the reader may see it)."""
        chunks = self.parts.keywords().document_chunks(chunk.collection, chunk.document_id)
        first = min((c.page for c in chunks), default=0)
        return sorted((c for c in chunks if c.page == first), key=lambda c: c.start)

    def _around(self, chunk: Chunk) -> list[Chunk]:
        """The passages either side of a passage in its document (AROUND each way; the reader may see them)."""
        chunks = self.parts.keywords().document_chunks(chunk.collection, chunk.document_id)
        return [c for c in chunks if 0 < abs(c.index - chunk.index) <= AROUND]

    def _answerer(self, scope: list[str], document_ids: Sequence[str] | None = None,
                  model_id: str | None = None) -> Answerer:
        """The one ask loop, retrieving only from `scope` (already checked)."""
        retriever = self.parts.retriever()

        def search(query: str, k: int) -> list[ScoredChunk]:
            return self.search(query, k, scope, document_ids, audit=False)

        model = self.parts.answer_models().get(model_id or self.answer_model())
        return Answerer(search, model, self.parts.embedder(), self.parts.answer_options,
                        searched_question=lambda q: retriever.searched_question(q, scope, document_ids),
                        rank_sentences=self.parts.rank_sentences, opening=self._opening, around=self._around,
                        search_document=lambda chunk, query, k, mode: self.search(
                            query, k, [chunk.collection], [chunk.document_id], audit=False, mode=mode))

    def stream_answer(self, question: str, collections: Sequence[str] | None = None,
                      document_ids: Sequence[str] | None = None, history: Sequence[str] = (),
                      instructions: str = "") -> Generator[AnswerEvent, None, None]:
        """Retrieved passages, then tokens, then the checked Answer (audited when it is done)."""
        self.limits.question(question)
        history = self.limits.history(history)
        if document_ids is not None:
            self.limits.documents(document_ids)
        scope = self.scope(collections)
        if document_ids is None and not self.parts.registry().has_indexed(scope):
            yield from self._nothing_to_ask(question, scope)
            return
        model_id = self.answer_model()
        answerer = self._answerer(scope, document_ids, model_id)
        for event in answerer.stream(question, history, instructions):
            if isinstance(event, Answer):
                event = self._with_queue_note(event, scope, document_ids)
                self._note_speed(model_id, answerer.model, event)
                cited = list(dict.fromkeys(c.chunk.file_name for c in event.citations))
                self._record("ask", scope, question=event.question, documents=cited, model=event.model,
                             detail="declined" if event.declined else "")
            yield event

    def indexing_queue(self, collections: Sequence[str] | None = None) -> VectorQueue:
        """Documents of these collections (default: all the caller may see) still searched by keywords only, and
        about how long until their vectors are all in, at the speed this process's filler measured."""
        scope = self.scope(collections)
        return self._queue(self._waiting(scope), self._pictures_waiting(scope))

    def _waiting(self, scope: Sequence[str]) -> list[DocumentRecord]:
        named = set(scope)
        return [r for r in self.parts.registry().awaiting_vectors() if r.collection in named]

    def _pictures_waiting(self, scope: Sequence[str]) -> list[DocumentRecord]:
        named = set(scope)
        return [r for r in self.parts.registry().awaiting_pictures() if r.collection in named]

    def _queue(self, waiting: Sequence[DocumentRecord], pictures: Sequence[DocumentRecord] = ()) -> VectorQueue:
        filler = self.parts.vector_filler()
        return VectorQueue.of(waiting, filler.chunks_per_s if waiting else None, pictures,
                              filler.picture_s_per_page if pictures else None)

    def _with_queue_note(self, answer: Answer, scope: list[str], document_ids: Sequence[str] | None) -> Answer:
        """An answer from collections whose newest documents are not fully embedded says so (asked of some
        documents: when one of them waits)."""
        waiting, pictures = self._waiting(scope), self._pictures_waiting(scope)
        if document_ids is not None:
            asked = set(document_ids)
            waiting, pictures = [r for r in waiting if r.id in asked], [r for r in pictures if r.id in asked]
        queue = self._queue(waiting, pictures)
        if queue.empty:
            return answer
        note = f"Still being indexed: {queue.describe()}."
        answer.message = f"{answer.message} {note}".strip() if answer.message else note
        return answer

    def _nothing_to_ask(self, question: str, scope: list[str]) -> Iterator[AnswerEvent]:
        """The answer when the collections asked hold no document yet: said plainly, without asking the model."""
        names = ", ".join(scope) or "Your collections"
        message = (f"{names} {'has' if len(scope) == 1 else 'have'} no documents yet. Add some on the Upload page "
                   "(or with `confidant ingest`), then ask again.")
        yield Retrieved([])
        answer = Answer(question, DECLINE_TEXT, True, "none", [], message=message)
        self._record("ask", scope, question=question, detail="declined: no documents")
        yield answer

    def ask(self, question: str, collections: Sequence[str] | None = None,
            document_ids: Sequence[str] | None = None, history: Sequence[str] = ()) -> Answer:
        for event in self.stream_answer(question, collections, document_ids, history):
            if isinstance(event, Answer):
                return event
        raise AssertionError("stream ended without an answer")

    def summarise(self, collection: str, document_id: str, on_progress: OnProgress | None = None) -> Summary:
        """A cited summary of one document, its sentences checked against its passages (`on_progress`: see
        rag.summary; raising from it stops the work)."""
        record = self.document(collection, document_id)
        summary = summarise(self.chunks(collection, document_id), self._chat_model(), self.parts.embedder(),
                            on_progress=on_progress)
        self._record("summarise", [collection], documents=[record.file_name])
        return summary

    # --- the review grid ------------------------------------------------------------------------------
    def grid(self, collection: str, questions: Sequence[str], document_ids: Sequence[str] | None = None, *,
             on_cell: Callable[[GridCell, GridProgress], None] | None = None, redo: bool = False) -> Grid:
        """The same questions asked of each document of a collection alone (the current version of each, or the
        ones named): a cited short answer, the sentence it rests on and its page per cell. A cell already answered
        for the same version of its document is reused (a stopped grid resumes; a changed document redoes only its
        row) unless `redo`. `on_cell(cell, progress)` after each cell; raising from it stops the grid, keeping
        the cells answered so far."""
        questions, records = self._grid_rows(collection, questions, document_ids)
        self._record("grid", [collection], documents=[r.file_name for r in records],
                     detail=f"{len(records)} documents × {len(questions)} questions")
        return self._fill_grid(collection, questions, records, on_cell, redo)

    def start_grid(self, collection: str, questions: Sequence[str], document_ids: Sequence[str] | None = None, *,
                   redo: bool = False) -> GridRun:
        """Fill a grid (see `grid`) in the background, after the grids started before it; its cells can be read
        with `grid_run` as they are answered, and `cancel_grid` stops it (the cells answered so far are kept)."""
        questions, records = self._grid_rows(collection, questions, document_ids)
        self.limits.grid_runs(sum(not r.finished for r in self.parts.grid_runs().of(self.caller.username)))
        run = GridRun("", self.caller.username, collection, questions, [(r.id, r.file_name) for r in records])
        self.parts.grid_runs().submit(run, lambda on_cell: self._fill_grid(collection, questions, records, on_cell,
                                                                           redo))
        self._record("grid", [collection], documents=[r.file_name for r in records],
                     detail=f"{len(records)} documents × {len(questions)} questions, in the background ({run.id})")
        return run

    def grid_run(self, run_id: str) -> GridRun:
        """A grid the caller started in the background: its state, progress and the cells so far."""
        run = self.parts.grid_runs().get(run_id)
        if run is None or run.owner != self.caller.username:
            raise self._denied(NOT_FOUND, f"grid run {run_id[:40]!r}")
        return run

    def grid_runs(self) -> list[GridRun]:
        """The grids the caller started in this process, newest first."""
        return self.parts.grid_runs().of(self.caller.username)

    def cancel_grid(self, run_id: str) -> GridRun:
        """Stop a grid the caller started, at its next cell."""
        run = self.grid_run(run_id)
        self.parts.grid_runs().cancel(run.id)
        self._record("grid_cancel", [run.collection], detail=run.id)
        return run

    def _grid_rows(self, collection: str, questions: Sequence[str],
                   document_ids: Sequence[str] | None) -> tuple[list[str], list[DocumentRecord]]:
        """A grid's columns and rows, once the caller may grid this collection and within the limits."""
        questions = list(dict.fromkeys(q.strip() for q in self.limits.grid_questions(questions)))
        if document_ids is not None:
            self.limits.documents(document_ids)
        self.scope([collection])
        if document_ids is None:
            return questions, [r for r in self.documents(collection, DocState.INDEXED) if r.current]
        named = {r.id: r for r in self.documents(collection)}
        missing = [d for d in document_ids if d not in named]
        if missing:
            raise self._denied(NOT_FOUND, f"document {missing[0]!r} in {collection!r}")
        return questions, [named[d] for d in dict.fromkeys(document_ids) if named[d].state == DocState.INDEXED]

    def _fill_grid(self, collection: str, questions: list[str], records: list[DocumentRecord],
                   on_cell: Callable[[GridCell, GridProgress], None] | None, redo: bool) -> Grid:
        store = self.parts.grid_cells()
        stored = {(c.document_id, c.question): c for c in store.cells(collection, [r.id for r in records], questions)}
        grid = Grid([(r.id, r.file_name) for r in records], questions)
        kept = {key: cell for key, cell in stored.items()
                if not redo and (record := next(r for r in records if r.id == key[0])) and still_current(cell, record)}
        total, done = len(records) * len(questions), 0
        to_answer, answering_s = total - len(kept), 0.0
        for record in records:
            for question in questions:
                cell = kept.get((record.id, question))
                if cell is None:
                    started = time.perf_counter()
                    answer = self._answerer([collection], [record.id]).ask(question)
                    cell = cell_from_answer(answer, record.id, record.file_name, grid_version(record),
                                            time.perf_counter() - started)
                    answering_s += time.perf_counter() - started
                    store.put(collection, cell)
                    grid.answered += 1
                grid.cells[(record.id, question)] = cell
                done += 1
                if on_cell is not None:
                    left = answering_s / grid.answered * (to_answer - grid.answered) if grid.answered else None
                    on_cell(cell, GridProgress(done, total, left))
        return grid

    def review_grid_cell(self, collection: str, document_id: str, question: str, answer: str) -> GridCell:
        """Keep a reviewer's correction of a grid cell beside the model's answer (an editor of the collection)."""
        self.require_editor(collection)
        self.limits.question(answer, "correction")
        record = self.document(collection, document_id)
        if not self.parts.grid_cells().review(collection, document_id, question, answer, self.caller.username):
            raise self._denied(NOT_FOUND, f"grid cell {question[:80]!r} of {record.file_name!r}")
        self._record("grid_review", [collection], question=question, documents=[record.file_name], detail=answer)
        [cell] = self.parts.grid_cells().cells(collection, [document_id], [question])
        self.parts.grid_runs().reviewed(collection, cell)
        return cell

    def grid_templates(self, collection: str) -> dict[str, list[str]]:
        """Ready-made question sets, then the ones saved for this collection."""
        self.scope([collection])
        saved = self.parts.preferences().get(SITE, f"grid_templates/{collection}", {}) or {}
        return {**{name: list(qs) for name, qs in TEMPLATES.items()}, **{str(k): list(v) for k, v in saved.items()}}

    def save_grid_template(self, collection: str, name: str, questions: Sequence[str]) -> None:
        """Save a set of grid questions under a name, for everyone who may use the collection (an editor's)."""
        self.require_editor(collection)
        name = self.limits.question(name, "template name").strip()[:100]
        questions = self.limits.grid_questions(questions)
        prefs = self.parts.preferences()
        key = f"grid_templates/{collection}"
        prefs.put(SITE, key, {**(prefs.get(SITE, key, {}) or {}), name: list(questions)})
        self._record("grid_template", [collection], detail=f"{name}: {len(questions)} questions")

    def evaluate(self, questions: Sequence[Question], k: int, collections: Sequence[str] | None = None,
                 on_question: Callable[[int, int], None] | None = None) -> EvalReport:
        scope = self.scope(collections)
        report = evaluate(questions, lambda q, n: self.search(q, n, scope, audit=False), k, on_question)
        self._record("eval", scope, detail=f"{len(questions)} questions")
        return report

    def evaluate_answers(self, questions: Sequence[Question], collections: Sequence[str] | None = None,
                         on_question: Callable[[int, int], None] | None = None) -> AnswerReport:
        scope = self.scope(collections)
        report = evaluate_answers(questions, self._answerer(scope), on_question, self.parts.embedder())
        self._record("eval", scope, detail=f"{len(questions)} questions answered by the model")
        return report

    def rate_answer(self, question: str, answer: Answer, rating: Rating, comment: str = "",
                    turn: tuple[str, str] | None = None) -> None:
        """A reader's thumbs up or down on an answer they were given (answers marked wrong become evaluation
        questions for administrators); `turn` (conversation id, turn id) keeps the rating with the conversation."""
        self.limits.question(question)
        if comment:
            self.limits.question(comment, "comment")
        if turn is not None:
            self._conversation_store_call("rate an answer", lambda store: store.rate_turn(
                self.caller.username, turn[0], turn[1], rating))
        self.parts.feedback().add(question, answer.text, [c.as_json() for c in answer.citations], rating, comment)
        cited = list(dict.fromkeys(c.chunk.collection for c in answer.citations))
        self._record("feedback", [c for c in cited if self.may_see(c)], question=question, detail=rating)


    # --- the caller's own evaluation set ---------------------------------------------------------------
    EVAL_SET_MAX = 1000

    def add_to_eval_set(self, question: str, answer: Answer) -> Question:
        """Keep a question with the answer the caller checked as its reference and the cited pages as its evidence
        (a declined answer: a question the documents do not answer), for evaluating later changes."""
        self.limits.question(question)
        prefs = self.parts.preferences()
        kept = list(prefs.get(self.caller.username, "eval_set", []))
        if len(kept) >= self.EVAL_SET_MAX:
            raise ValueError(f"your evaluation set already holds {self.EVAL_SET_MAX} questions")
        evidence = list(dict.fromkeys((c.chunk.file_name, c.chunk.page) for c in answer.citations))
        item = {"id": f"mine-{len(kept) + 1}", "question": question, "answer": "" if answer.declined else answer.text,
                "evidence": [{"file": f, "page": p} for f, p in evidence],
                "answerable": bool(evidence) and not answer.declined}
        prefs.put(self.caller.username, "eval_set", [*kept, item])
        self._record("eval_set_added", list(dict.fromkeys(c.chunk.collection for c in answer.citations)),
                     question=question)
        return _question(item)

    def eval_set(self) -> list[Question]:
        """The caller's own evaluation set, in the order the questions were added."""
        return [_question(item) for item in self.parts.preferences().get(self.caller.username, "eval_set", [])]

    # --- conversations ------------------------------------------------------------------------------------
    PARTIAL_EVERY_S = 0.75  # how often a streaming answer's text so far is saved with its turn

    def conversations(self, search: str = "") -> list[Conversation]:
        """The caller's own conversations, newest activity first; `search` matches titles and questions."""
        if search:
            self.limits.question(search, "search")
        return self.parts.conversations().list(self.caller.username, search)

    def conversation(self, conversation_id: str) -> Conversation:
        """One of the caller's conversations with its turns. A turn that cites or asked a collection the caller may
        no longer see keeps its question but not its answer (state `withheld`)."""
        found = self._conversation_store_call("open a conversation", lambda store: store.get(
            self.caller.username, conversation_id))
        return replace(found, turns=[self._visible_turn(t) for t in found.turns])

    def _visible_turn(self, turn: ConversationTurn) -> ConversationTurn:
        cited: set[str] = set()
        if turn.answer is not None:
            cited = {str(p.get("collection")) for key in ("citations", "passages") for p in turn.answer.get(key, [])}
        asked = set(json.loads(turn.scope).get("collections", [])) if turn.scope.startswith("{") else set()
        if all(self.may_see(c) for c in cited | asked):
            return turn
        return replace(turn, state="withheld", answer=None, partial="")

    def start_conversation(self, first_question: str, scope: Mapping[str, object]) -> Conversation:
        """A new conversation of the caller's, titled from its first question."""
        self.limits.question(first_question)
        collections = self._scope_collections(scope)
        conversation = self.parts.conversations().create(self.caller.username, first_question, dict(scope))
        self._record("conversation_created", collections, detail=conversation.id)
        return conversation

    def rename_conversation(self, conversation_id: str, title: str) -> None:
        self.limits.question(title, "title")
        if not title.strip():
            raise ValueError("a conversation needs a title")
        self._conversation_store_call("rename a conversation", lambda store: store.rename(
            self.caller.username, conversation_id, title))
        self._record("conversation_renamed", (), detail=conversation_id)

    def delete_conversation(self, conversation_id: str) -> None:
        self._conversation_store_call("delete a conversation", lambda store: store.delete(
            self.caller.username, conversation_id))
        self._record("conversation_deleted", (), detail=conversation_id)

    def stream_answer_in(self, conversation_id: str, question: str, scope: Mapping[str, object],
                         instructions: str = "") -> Generator[AnswerEvent, None, None]:
        """`stream_answer` within one of the caller's conversations: the question is saved before anything else,
        the answer's text so far while it streams, the checked answer at the end. Stopping early (the page was left
        or reloaded: the generator is closed) stops the model and leaves the turn `interrupted` with what it had
        written. Follow-ups are read against the conversation's earlier questions as they were understood."""
        self.limits.question(question)
        collections = self._scope_collections(scope)
        documents = scope.get("documents")
        document_ids = [str(d) for d in documents.get("document_ids", [])] if isinstance(documents, dict) else None
        owner = self.caller.username
        store = self.parts.conversations()
        earlier = self.conversation(conversation_id).turns
        history = [t.answer.get("asked_as") or t.question for t in earlier
                   if t.state == "answered" and t.answer is not None][-self.limits.max_history_items:] \
            if self.limits.max_history_items else []
        events = self.stream_answer(question, collections, document_ids, history, instructions)
        turn_id = store.start_turn(owner, conversation_id, question, json.dumps(dict(scope)))
        written: list[str] = []
        saved_at = time.monotonic()
        finished = False
        try:
            for event in events:
                if isinstance(event, Answer):
                    store.finish_turn(owner, conversation_id, turn_id, {**event.as_json(), "turn_id": turn_id})
                    finished = True
                elif isinstance(event, Token):
                    written.append(event.text)
                    if time.monotonic() - saved_at >= self.PARTIAL_EVERY_S:
                        store.write_partial(owner, conversation_id, turn_id, "".join(written))
                        saved_at = time.monotonic()
                yield event
        finally:
            if not finished:
                events.close()  # closes the model's stream: generation stops
                store.interrupt_turn(owner, conversation_id, turn_id, "".join(written))

    def _scope_collections(self, scope: Mapping[str, object]) -> list[str]:
        """The collections a conversation scope asks (each must be visible to the caller). A scope is
        {"collections": [names]} or {"documents": {"collection": name, "document_ids": [...], "file_names": [...]}}."""
        documents = scope.get("documents")
        if isinstance(documents, dict):
            return self.scope([str(documents.get("collection", ""))])
        names = scope.get("collections")
        return self.scope([str(n) for n in names] if isinstance(names, list) else None)

    def _conversation_store_call(self, what: str, call: Callable[[ConversationStore], T]) -> T:
        try:
            return call(self.parts.conversations())
        except ConversationNotFound:
            raise self._denied("no such conversation", what) from None

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

    def ready_to_ingest(self) -> None:
        """Load what indexing needs (the embedding model) before a progress clock starts."""
        self.require_editing("ingest")
        self.parts.pipeline()

    def ingest_uploads(self, uploads: Sequence[Upload], collection: str,
                       on_progress: Callable[[Progress], None] | None = None, *,
                       wait: bool = True) -> list[FileResult]:
        """Check, save and index uploaded files. Without `wait`, it returns once they are keyword-searchable and
        the background filler embeds them (see indexing_queue)."""
        self.require_editor(collection)
        self.limits.collections([collection])
        s = self.settings
        rules = UploadRules(s.files_dir, s.upload_max_mb, tuple(s.upload_types))
        results = ingest_uploads(self.parts.pipeline(), rules, uploads, collection, on_progress, wait=wait)
        if not wait:
            self.parts.vector_filler().start()
        self._record("ingest", [collection], documents=[r.file for r in results],
                     detail="; ".join(f"{r.file}: {r.state.value}" for r in results)[:1000])
        return results

    def ingest_files(self, paths: Sequence[Path], collection: str,
                     on_progress: Callable[[Progress], None] | None = None,
                     keyed: Sequence[tuple[Path, str]] | None = None, *, wait: bool = True,
                     on_vectors: VectorCallback | None = None) -> list[FileResult]:
        """Index files and folders of this machine (the CLI); `keyed` gives each file its source key (sync).
        Without `wait`, it returns once they are keyword-searchable; their vectors are left to the next process
        that runs the background filler (the app, the API) or waits (the next ingest)."""
        self.require_editor(collection)
        self.limits.collections([collection])
        pipeline = self.parts.pipeline()
        try:
            if keyed is None:
                keyed = discover_with_keys(paths)
            results = pipeline.ingest_keyed(list(keyed), collection, on_progress, wait=wait, on_vectors=on_vectors)
        except KeyboardInterrupt:
            self._record("ingest", [collection], detail="interrupted; finished files are kept")
            raise
        self._record("ingest", [collection], documents=[r.file for r in results],
                     detail="; ".join(f"{r.file}: {r.state.value}" for r in results)[:1000])
        return results

    def plan_sync(self, folder: Path, collection: str) -> SyncPlan:
        """What making `collection` match `folder` would add, change and remove."""
        self.require_editor(collection)
        self.limits.collections([collection])
        return plan_sync(folder, collection, self.parts.registry())

    def sync_remove(self, plan: SyncPlan) -> SyncReport:
        """The removal half of a folder sync: documents whose files left the folder go, with their versions (the
        added and changed files are indexed with `ingest_files(keyed=…)`)."""
        self.require_editor(plan.collection)
        report = apply_sync(SyncPlan(plan.folder, plan.collection, remove=plan.remove), self.parts.pipeline(),
                            self.parts.registry())
        for record in report.removed:
            self._forget_original(record)
        self._record("sync", [plan.collection], documents=[r.file_name for r in report.removed],
                     detail=f"{plan.folder}: {len(plan.add)} added, {len(plan.change)} changed, "
                            f"{len(report.removed)} removed")
        return report

    def reindex(self, collection: str, document_id: str) -> list[FileResult]:
        self.require_editor(collection)
        record = self.document(collection, document_id)
        pipeline = self.parts.pipeline()
        pipeline.delete(collection, document_id)
        results = pipeline.ingest([Path(record.source_path)], collection)
        self._record("reindex", [collection], documents=[record.file_name])
        return results

    def delete(self, collection: str, document_id: str) -> DocumentRecord:
        self.require_editor(collection)
        record = self.document(collection, document_id)
        self.parts.pipeline().delete(collection, document_id)
        self.parts.grid_cells().forget_document(collection, document_id)
        self._forget_original(record)
        self._record("delete", [collection], documents=[record.file_name])
        return record

    def set_effective_date(self, collection: str, document_id: str, day: str) -> DocumentRecord:
        """Set the date a version takes effect (YYYY-MM-DD; shown with its citations)."""
        self.require_editor(collection)
        record = self.document(collection, document_id)
        self.parts.registry().set_effective_date(collection, document_id, day)
        self._record("effective_date_set", [collection], documents=[record.file_name], detail=day)
        return record

    def _forget_original(self, record: DocumentRecord) -> None:
        """Delete the uploaded original of a deleted document, unless another record still uses the same file.
        Files outside the data folder (a folder the CLI ingested or synced) belong to the user and stay."""
        files = self.settings.files_dir.resolve()
        path = Path(record.source_path).resolve()
        if files not in path.parents:
            return
        if any(Path(r.source_path).resolve() == path for r in self.parts.registry().find(record.id)):
            return  # the same bytes under the same name in another collection
        path.unlink(missing_ok=True)
        try:
            path.parent.rmdir()  # the per-content folder, when nothing else is in it
        except OSError:
            pass

    # --- collections and their assistants (administrators) --------------------------------------------------
    def create_collection(self, name: str) -> None:
        """A new, empty collection (ValueError with the reason when the name is not acceptable or taken)."""
        self.require_admin(f"create collection {name[:64]!r}")
        problem = valid_collection_name(name)
        if problem:
            raise ValueError(problem)
        if name in self._known_collections():
            raise ValueError(f"{name} already exists.")
        self.parts.assistants().put(CollectionSettings(name))
        self._record("collection_created", [name])

    def save_assistant(self, assistant: CollectionSettings) -> None:
        self.require_admin(f"change the assistant of {assistant.name[:64]!r}")
        self.parts.assistants().put(assistant)
        self._record("assistant_saved", [assistant.name], detail=assistant.title[:200])

    def feedback(self) -> list[Feedback]:
        self.require_admin("read feedback")
        return self.parts.feedback().all()

    def feedback_eval_jsonl(self) -> str:
        """Answers marked wrong, as evaluation questions (JSONL)."""
        self.require_admin("export feedback")
        return self.parts.feedback().eval_questions_jsonl()

    # --- accounts (administrators) ----------------------------------------------------------------------
    def users(self) -> list[tuple[User, set[str]]]:
        """Every account with the collections it is a member of."""
        self.require_admin("list users")
        accounts = self.parts.accounts()
        return [(u, accounts.collections_of(u.username)) for u in accounts.users()]

    def user(self, username: str) -> tuple[User, set[str]] | None:
        self.require_admin("read a user")
        accounts = self.parts.accounts()
        user = accounts.get_user(username)
        return None if user is None else (user, accounts.collections_of(user.username))

    def add_user(self, username: str, password: str, role: Role | str,
                 collections: Sequence[str] = ()) -> User:
        def add(accounts: Accounts) -> User:
            user = accounts.add_user(username, password, role)
            for name in collections:
                accounts.grant(user.username, name)
            return user

        return self._account_change("user_added", f"{username} ({Role(role).value})", add)

    def remove_user(self, username: str) -> None:
        self._account_change("user_removed", username, lambda a: a.remove_user(username))

    def set_password(self, username: str, password: str) -> None:
        self._account_change("password_set", username, lambda a: a.set_password(username, password))

    def set_role(self, username: str, role: Role | str) -> None:
        self._account_change("role_set", f"{username}: {Role(role).value}", lambda a: a.set_role(username, role))

    def set_disabled(self, username: str, disabled: bool) -> None:
        self._account_change("user_disabled" if disabled else "user_enabled", username,
                             lambda a: a.set_disabled(username, disabled))

    def grant(self, username: str, collection: str) -> None:
        self._account_change("granted", f"{username} {collection}", lambda a: a.grant(username, collection))

    def revoke(self, username: str, collection: str) -> None:
        self._account_change("revoked", f"{username} {collection}", lambda a: a.revoke(username, collection))

    def set_memberships(self, username: str, collections: Sequence[str]) -> None:
        """Make the user a member of exactly these collections."""
        def change(accounts: Accounts) -> None:
            current = accounts.collections_of(username)
            for name in set(collections) - current:
                accounts.grant(username, name)
            for name in current - set(collections):
                accounts.revoke(username, name)

        self._account_change("membership_set", f"{username}: {', '.join(collections) or 'none'}", change)

    def issue_token(self, username: str, label: str, days: int | None = None) -> str:
        """A new API token, shown once (only its hash is kept)."""
        ttl = timedelta(days=days or self.settings.token_days)
        return self._account_change("token_issued", f"{username}: {label}",
                                    lambda a: a.issue_token(username, label, ttl=ttl))

    def tokens(self, username: str) -> list[TokenInfo]:
        self.require_admin("list tokens")
        accounts = self.parts.accounts()
        if accounts.get_user(username) is None:
            raise AccountError(f"no user {username.lower()!r}")
        return accounts.tokens(username)

    def revoke_token(self, username: str, token_id: int) -> None:
        self._account_change("token_revoked", f"{username}: token {token_id}",
                             lambda a: a.revoke_token(username, token_id))

    def _account_change(self, action: str, detail: str, change: Callable[[Accounts], T]) -> T:
        self.require_admin(f"{action.replace('_', ' ')} ({detail[:100]})")
        result = change(self.parts.accounts())  # an AccountError says why, and nothing was changed
        self._record(action, (), detail=detail)
        return result

    # --- audit ----------------------------------------------------------------------------------------------
    def audit_events(self, **filters: object) -> list[AuditEvent]:
        """Admins read the whole log; everyone else only their own entries on collections they can see."""
        if self.caller.is_admin:
            return self.audit.events(include_global=True, **filters)  # type: ignore[arg-type]
        filters["user"] = self.caller.username
        asked = filters.pop("collections", None)
        visible = [c for c in self.collections() if asked is None or c in asked]  # type: ignore[operator]
        return self.audit.events(collections=visible, **filters)  # type: ignore[arg-type]

    def audit_csv(self, destination: TextIO, since: datetime | None = None, user: str | None = None) -> int:
        """The audit log as CSV (administrators)."""
        self.require_admin("export the audit log")
        return self.audit.export_csv(destination, since=since, user=user, include_global=True)

    def _denied(self, message: str, what: str) -> AccessDenied:
        """An AccessDenied for the caller, written to the audit log first (who asked for what, from where)."""
        self._record("refused", (), detail=f"{message}: {what}")
        return AccessDenied(message)

    def _record(self, action: str, collections: Sequence[str], **fields: object) -> None:
        self.audit.record(AuditEvent(at="", user=self.caller.username, action=action,
                                     collections=tuple(collections), client=self.caller.client,
                                     **fields))  # type: ignore[arg-type]
