"""REST API for intranet tools: the same access rules and audit log as the app, behind per-user bearer tokens.

    confidant users token alice --label "wiki bot"     # prints a token once
    confidant api                                      # http://127.0.0.1:8502/openapi.json describes the routes
    curl -H "Authorization: Bearer cfd_…" 'http://127.0.0.1:8502/api/search?q=dental+deductible'
    curl -H "Authorization: Bearer cfd_…" -F files=@policy.pdf 'http://127.0.0.1:8502/api/documents?collection=hr'

Every route but /api/health needs a token (or, when `sso_header` is set, a request from a trusted proxy naming an
existing user); every route works through a Workspace bound to the token's user, so
a collection the user is not a member of answers exactly like one that does not exist.

Requests are held to the settings' limits: a question or search at most `max_question_chars`, at most
`max_history_items` earlier questions of `max_history_chars` each, k at most `max_k`, collection names as the app
accepts them, documents by their hex id. A request outside them is answered 422 (its schema) or 400 (a limit the
Workspace checks); a JSON body over its size is 413 before it is read. Uploads are refused before they are read
(confidant/api_upload.py). Every refusal is audited (confidant/api_refusals.py). The interactive page at /docs is
off unless `api_docs` is set, and then loads nothing from any other host (confidant/api_docs.py).
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.responses import FileResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from confidant.access import Caller
from confidant.api_docs import add_docs
from confidant.api_refusals import BodyCap, Refused, hold_refusals, install_refusals
from confidant.api_upload import FILE_FIELD, UploadLimits, UploadRefused, read_uploads
from confidant.limits import ClientLimits
from confidant.settings import Settings
from confidant.sso import sso_username
from confidant.workspace import Gate, Workspace
from storage.accounts import TokenRefused
from storage.collections import valid_collection_name
from storage.records import DocumentRecord

if TYPE_CHECKING:
    import uvicorn

_bearer = HTTPBearer(auto_error=False, description="A token from `confidant users token NAME`.")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_TOKEN_WHY = {"invalid token": "unknown token"}


def collection_name(name: str) -> str:
    why = valid_collection_name(name)
    if why is not None:
        raise ValueError(f"invalid collection name: {why}")
    return name


CollectionName = Annotated[str, AfterValidator(collection_name)]
DocumentId = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{1,64}$")]
GridRunId = Annotated[str, StringConstraints(pattern=r"^g[0-9]{1,12}-[0-9]{1,12}$")]


def client_limits(settings: Settings) -> ClientLimits:
    return ClientLimits(max_question_chars=settings.max_question_chars, max_history_items=settings.max_history_items,
                        max_history_chars=settings.max_history_chars, max_k=settings.max_k)


def json_body_cap(limits: ClientLimits) -> int:
    """The largest JSON body a route reads: 1 MiB, plus room for the longest question and history allowed (JSON may
    spell a character in up to 6 bytes)."""
    return 2**20 + 6 * (limits.max_question_chars + limits.max_history_items * limits.max_history_chars)


def document_json(d: DocumentRecord) -> dict[str, Any]:
    return {"id": d.id, "collection": d.collection, "file": d.file_name, "state": d.state.value,
            "reason": d.reason, "pages": d.pages, "chunks": d.chunks, "embedded": d.embedded, "bytes": d.bytes,
            "created_at": d.created_at, "updated_at": d.updated_at}


def current_workspace(request: Request,
                      credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Workspace:
    """The caller's Workspace, from their bearer token (or a trusted proxy's single-sign-on header)."""
    gate: Gate = request.app.state.gate
    remote = request.client.host if request.client else None
    client = f"api {remote}" if remote else "api"
    if credentials is None:
        caller = _sso_caller(gate, request, remote, client)
    else:
        try:
            caller = gate.caller_for_token(credentials.credentials, client)
        except TokenRefused as refused:
            why = f"token refused: {_TOKEN_WHY.get(refused.reason, refused.reason)}"
            raise Refused(401, refused.reason, why=why, headers=_CHALLENGE) from None
    request.state.user = caller.username  # for the audit entry, should the request be refused later
    return gate.workspace(caller, hold_refusals(request, gate.audit_log()))


def _sso_caller(gate: Gate, request: Request, remote: str | None, client: str) -> Caller:
    settings = gate.settings
    name = sso_username(request.headers, remote, settings)
    caller = gate.caller(name, client) if name else None
    if caller is None:
        if name:
            known = gate.user_for_sso(name) is not None
            why = f"SSO user {name[:80]!r} " + ("disabled" if known else "unknown")
        elif settings.sso_header and settings.sso_header in request.headers:
            why = "no bearer token (an SSO header from an untrusted address was ignored)"
        else:
            why = "no bearer token"
        raise Refused(401, "a bearer token is required", why=why, headers=_CHALLENGE)
    return caller


Space = Annotated[Workspace, Depends(current_workspace)]

_UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": [FILE_FIELD],
    "properties": {FILE_FIELD: {"type": "array", "items": {"type": "string", "format": "binary"}},
                   "collection": {"type": "string", "description": "Only if not in the query; before the files."}},
}}}}}


def create_api(gate: Gate) -> FastAPI:
    settings = gate.settings
    limits = client_limits(settings)
    upload_limits = UploadLimits(settings.upload_max_mb)
    api = FastAPI(title="Confidant API", version="1", description=__doc__, docs_url=None, redoc_url=None,
                  swagger_ui_oauth2_redirect_url=None)
    api.add_middleware(BodyCap, cap=json_body_cap(limits), exempt=_is_upload)  # uploads hold their own limits
    api.state.gate = gate
    install_refusals(api, gate.audit_log())
    if settings.api_docs:
        add_docs(api)

    Question = Annotated[str, StringConstraints(min_length=1, max_length=limits.max_question_chars)]
    Earlier = Annotated[str, StringConstraints(max_length=limits.max_history_chars)]

    class AskRequest(BaseModel):
        question: Question
        collections: list[CollectionName] | None = Field(
            default=None, max_length=limits.max_collections, description="Collections to search; default all yours.")
        document_ids: list[DocumentId] | None = Field(
            default=None, max_length=limits.max_documents, description="Narrow the search to these documents.")
        history: list[Earlier] = Field(
            default=[], max_length=limits.max_history_items, description="Earlier questions of this conversation.")

    class GridRequest(BaseModel):
        collection: CollectionName
        questions: list[Question] = Field(min_length=1, max_length=limits.max_grid_questions,
                                          description="The grid's columns, one question each.")
        document_ids: list[DocumentId] | None = Field(
            default=None, max_length=limits.max_documents, description="The rows; default every current document.")
        redo: bool = Field(default=False, description="Answer again the cells kept from an earlier run.")

    @api.get("/api/health")
    def health() -> dict[str, str]:
        """Liveness only: says nothing about documents or users."""
        return {"status": "ok"}

    @api.get("/api/search")
    def search(space: Space, q: Annotated[Question, Query()],
               k: Annotated[int, Query(ge=1, le=limits.max_k)] = min(settings.search_k, limits.max_k),
               collection: Annotated[list[CollectionName] | None, Query(max_length=limits.max_collections)] = None,
               ) -> list[dict[str, Any]]:
        """The best-matching passages in your collections (or the ones named)."""
        hits = space.search(q, k, collection)
        return [{"n": n, "score": round(h.score, 4), "collection": h.chunk.collection,
                 "document_id": h.chunk.document_id, "file": h.chunk.file_name, "page": h.chunk.page,
                 "start": h.chunk.start, "end": h.chunk.end, "text": h.chunk.text}
                for n, h in enumerate(hits, start=1)]

    @api.post("/api/ask")
    def ask(space: Space, body: AskRequest) -> dict[str, object]:
        """A cited answer from your documents, or a plain statement that they do not answer it."""
        return space.answer_json(space.ask(body.question, body.collections, body.document_ids, body.history))

    @api.get("/api/documents")
    def documents(space: Space, collection: CollectionName | None = None) -> list[dict[str, Any]]:
        return [document_json(d) for d in space.documents(collection)]

    @api.get("/api/indexing")
    def indexing(space: Space) -> dict[str, Any]:
        """Documents of the caller's collections still searched by keywords only, and about how long until their
        vectors are in; `pictures`: how many still have their pictures to be read, and about how long that takes
        (`picture_seconds_left`, null until this server has read some)."""
        queue = space.indexing_queue()
        return {"documents": queue.documents, "chunks": queue.chunks, "seconds_left": queue.seconds_left,
                "pictures": queue.pictures, "picture_seconds_left": queue.picture_seconds_left,
                "message": queue.describe()}

    @api.post("/api/grids", status_code=202)
    def start_grid(space: Space, body: GridRequest) -> dict[str, object]:
        """Start a review grid in the background: each document asked each question alone, a cited short answer
        per cell. Poll `GET /api/grids/{id}` for its cells as they are answered."""
        return space.start_grid(body.collection, body.questions, body.document_ids, redo=body.redo).as_json()

    @api.get("/api/grids/{run_id}")
    def grid_run(space: Space, run_id: GridRunId) -> dict[str, object]:
        """A grid you started: its state (queued, running, done, cancelled, failed), progress and cells so far."""
        return space.grid_run(run_id).as_json()

    @api.delete("/api/grids/{run_id}")
    def cancel_grid(space: Space, run_id: GridRunId) -> dict[str, object]:
        """Stop a grid you started, at its next cell; the cells answered so far are kept."""
        return space.cancel_grid(run_id).as_json()

    @api.post("/api/documents", openapi_extra=_UPLOAD_BODY)
    async def upload(space: Space, request: Request,
                     collection: Annotated[CollectionName | None, Query()] = None,
                     wait: Annotated[bool, Query()] = True) -> list[dict[str, object]]:
        """Add files (multipart field `files`) to the collection named by `?collection=` (editors and admins).

        The token, the role and Content-Length are checked before the body is read, and reading stops at the
        upload limit. Each file ends in a clear state with a reason. With `?wait=false` the call returns once the
        files are keyword-searchable; their vectors follow in the background (`GET /api/indexing` says what is
        left)."""
        target = collection
        if target is not None:
            space.require_editor(target)
        upload_limits.check_declared(request.headers)

        def before_files(fields: Mapping[str, str]) -> None:  # the form field, when the query did not name one
            nonlocal target
            named = fields.get("collection")
            if target is None:
                target = settings.default_collection if named is None else collection_or_400(named)
                space.require_editor(target)
            elif named is not None and named != target:
                raise UploadRefused(400, "the collection is named twice, differently (query and form field)")

        _, files = await read_uploads(request.stream(), request.headers.get("content-type", ""), upload_limits,
                                      before_files)
        assert target is not None  # before_files has run
        results = await run_in_threadpool(lambda: space.ingest_uploads(files, target, wait=wait))
        return [r.as_json() for r in results]

    @api.delete("/api/documents/{collection}/{document_id}")
    def delete(space: Space, collection: Annotated[CollectionName, Path()],
               document_id: Annotated[DocumentId, Path()]) -> dict[str, Any]:
        return {"deleted": document_json(space.delete(collection, document_id))}

    @api.get("/api/documents/{collection}/{document_id}/file")
    def download(space: Space, collection: Annotated[CollectionName, Path()],
                 document_id: Annotated[DocumentId, Path()]) -> FileResponse:
        record = space.document(collection, document_id)
        return FileResponse(space.original_file(collection, document_id), filename=record.file_name)

    return api


def _is_upload(scope: Scope) -> bool:
    return bool(scope["method"] == "POST" and scope["path"] == "/api/documents")


def collection_or_400(name: str) -> str:
    try:
        return collection_name(name)
    except ValueError as exc:
        raise UploadRefused(400, str(exc)) from None


def api_server(gate: Gate, host: str, port: int, log_level: str = "info") -> "uvicorn.Server":
    """The API as a uvicorn server. Proxy headers stay off: the SSO check must see the real peer address, and
    uvicorn would otherwise replace it with the X-Forwarded-For value any loopback client chooses to send."""
    import uvicorn

    gate.start_background_indexing()
    return uvicorn.Server(uvicorn.Config(create_api(gate), host=host, port=port, log_level=log_level,
                                         server_header=False, proxy_headers=False))


def run_api(gate: Gate, host: str, port: int) -> None:
    server = api_server(gate, host, port)
    server.run()
    if not server.started:  # e.g. the port is taken; uvicorn has logged why
        raise SystemExit(3)
