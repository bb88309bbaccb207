"""REST API for intranet tools: the same access rules and audit log as the app, behind per-user bearer tokens.

    confidant users token alice --label "wiki bot"     # prints a token once
    confidant api                                      # http://127.0.0.1:8502/docs for the OpenAPI page
    curl -H "Authorization: Bearer cfd_…" 'http://127.0.0.1:8502/api/search?q=dental+deductible'

Every route but /api/health needs a token (or, when `sso_header` is set, a request from a trusted proxy naming an
existing user); every route works through a Workspace bound to the token's user, so
a collection the user is not a member of answers exactly like one that does not exist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from confidant.access import NOT_FOUND, AccessDenied, Caller, Workspace
from confidant.services import Services
from confidant.sso import sso_username
from ingest.uploads import Upload
from storage.accounts import TokenRefused, User
from storage.records import DocumentRecord

if TYPE_CHECKING:
    import uvicorn

_bearer = HTTPBearer(auto_error=False, description="A token from `confidant users token NAME`.")


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=4000)
    collections: list[str] | None = Field(default=None, description="Collections to search; default all of yours.")
    document_ids: list[str] | None = Field(default=None, description="Narrow the search to these documents.")
    history: list[str] = Field(default=[], max_length=20, description="Earlier questions of this conversation.")


def document_json(d: DocumentRecord) -> dict[str, Any]:
    return {"id": d.id, "collection": d.collection, "file": d.file_name, "state": d.state.value,
            "reason": d.reason, "pages": d.pages, "chunks": d.chunks, "bytes": d.bytes,
            "created_at": d.created_at, "updated_at": d.updated_at}


def current_workspace(request: Request,
                      credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Workspace:
    """The caller's Workspace, from their bearer token."""
    services: Services = request.app.state.services
    remote = request.client.host if request.client else None
    if credentials is None:
        user = _sso_user(services, request, remote)
    else:
        try:
            user = services.accounts.user_for_token(credentials.credentials)
        except TokenRefused as refused:
            raise HTTPException(401, refused.reason, headers={"WWW-Authenticate": "Bearer"}) from None
    client = f"api {remote}" if remote else "api"
    caller = Caller.for_user(user, services.accounts.collections_of(user.username), client)
    return Workspace(services, caller, services.audit)


def _sso_user(services: Services, request: Request, remote: str | None) -> User:
    name = sso_username(request.headers, remote, services.settings)
    user = services.accounts.get_user(name) if name else None
    if user is None or user.disabled:
        raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    return user


Space = Annotated[Workspace, Depends(current_workspace)]


def create_api(services: Services) -> FastAPI:
    settings = services.settings
    api = FastAPI(title="Confidant API", version="1", description=__doc__, docs_url="/docs", redoc_url=None)
    api.state.services = services
    max_bytes = int(settings.upload_max_mb * 2**20)

    @api.exception_handler(AccessDenied)
    async def denied(_: Request, exc: AccessDenied) -> JSONResponse:
        status = 404 if str(exc) == NOT_FOUND else 403
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @api.get("/api/health")
    def health() -> dict[str, str]:
        """Liveness only: says nothing about documents or users."""
        return {"status": "ok"}

    @api.get("/api/search")
    def search(space: Space, q: Annotated[str, Query(min_length=1, max_length=4000)],
               k: Annotated[int, Query(ge=1, le=50)] = 5,
               collection: Annotated[list[str] | None, Query()] = None) -> list[dict[str, Any]]:
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
    def documents(space: Space, collection: str | None = None) -> list[dict[str, Any]]:
        return [document_json(d) for d in space.documents(collection)]

    @api.post("/api/documents")
    async def upload(space: Space, request: Request, files: Annotated[list[UploadFile], File()],
                     collection: Annotated[str, Form()] = settings.default_collection) -> list[dict[str, object]]:
        """Add files to a collection (editors and admins). Each file ends in a clear state with a reason."""
        declared = int(request.headers.get("content-length") or 0)
        if declared > max_bytes * max(1, len(files)) + 2**20:
            raise HTTPException(413, f"more than the {settings.upload_max_mb:,.0f} MB upload limit")
        space.require_editor(collection)  # before reading any bytes
        uploads = []
        for f in files:
            data = await f.read(max_bytes + 1)  # a file over the limit is refused by size, never read whole
            uploads.append(Upload(f.filename or "upload", data, f.size))
        return [r.as_json() for r in space.ingest_uploads(uploads, collection)]

    @api.delete("/api/documents/{collection}/{document_id}")
    def delete(space: Space, collection: str, document_id: str) -> dict[str, Any]:
        return {"deleted": document_json(space.delete(collection, document_id))}

    @api.get("/api/documents/{collection}/{document_id}/file")
    def download(space: Space, collection: str, document_id: str) -> FileResponse:
        record = space.document(collection, document_id)
        return FileResponse(space.original_file(collection, document_id), filename=record.file_name)

    return api


def api_server(services: Services, host: str, port: int, log_level: str = "info") -> uvicorn.Server:
    """The API as a uvicorn server. Proxy headers stay off: the SSO check must see the real peer address, and
    uvicorn would otherwise replace it with the X-Forwarded-For value any loopback client chooses to send."""
    import uvicorn

    return uvicorn.Server(uvicorn.Config(create_api(services), host=host, port=port, log_level=log_level,
                                         server_header=False, proxy_headers=False))


def run_api(services: Services, host: str, port: int) -> None:
    server = api_server(services, host, port)
    server.run()
    if not server.started:  # e.g. the port is taken; uvicorn has logged why
        raise SystemExit(3)
