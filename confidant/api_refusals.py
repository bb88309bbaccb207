"""Refused API requests: answered with a readable reason, and each one written to the audit log.

Every 4xx the API answers — 401 (no token, or an unknown, expired or revoked one), 403 (role), 404 (a collection or
document the caller cannot see, or no such route), 400 (a limit, a bad upload), 413 (too large), 422 (parameters
that fail their schema) — becomes an audit entry with action "refused", the user when known (else "anonymous"),
detail "<status> <method> <path>: <reason>" and client "api <peer address>". The peer is the socket's: the API runs
with proxy headers off, so a client cannot name another address. Neither tokens nor query strings are logged.

The Workspace audits the refusals it makes itself (a role, a collection, a limit). Through the API its entry is held
(HeldRefusals) until the HTTP status is known, then written once in the form above with the Workspace's reason —
one entry per refused request, as the Admin page's count of refusal bursts expects.

A refused request that came with a body closes its connection: the body may not have been read (an upload is refused
before it is), and a connection kept open would have to swallow the rest of it. (Starlette's own body limit answers
413 on a connection it keeps open, reading the rest of the body: BodyCap replaces it.)
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from confidant.access import NOT_FOUND, AccessDenied
from confidant.api_upload import UploadRefused
from confidant.limits import LimitExceeded
from storage.audit import AuditEvent, AuditLog

ANONYMOUS = "anonymous"
HELD = "held_refusals"  # the request state's HeldRefusals
PATH_CAP = 300
REASON_CAP = 500


class Refused(HTTPException):
    """An HTTP refusal whose audit entry may say more than the client is told (`why`)."""

    def __init__(self, status_code: int, detail: str, *, why: str = "",
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status_code, detail, headers)
        self.why = why or detail


def printable(text: str, cap: int) -> str:
    """Text for one log line: control characters escaped, at most `cap` characters."""
    text = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
    return text if len(text) <= cap else text[: cap - 1] + "…"


def client_label(request: Request) -> str:
    return f"api {request.client.host}" if request.client else "api"


def _path(request: Request) -> str:
    raw = request.scope.get("raw_path")
    return printable(raw.decode("latin-1") if isinstance(raw, bytes) else request.url.path, PATH_CAP)


def _validation_errors(errors: Sequence[Any]) -> tuple[list[dict[str, Any]], str]:
    """The errors without the input that failed (it may be huge, or private), and one line saying what failed."""
    cleaned = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
               for e in errors]
    reason = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:] or e['loc'])}: {e['msg']}" for e in cleaned)
    return cleaned, reason or "invalid request"


class BodyCap:
    """ASGI middleware holding request bodies to `cap` bytes (but those `exempt` says read their own): 413 at the
    first read when Content-Length says more, or as soon as a chunked body passes the cap."""

    def __init__(self, app: ASGIApp, cap: int, exempt: Callable[[Scope], bool]) -> None:
        self.app, self.cap, self.exempt = app, cap, exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.exempt(scope):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        counting = not declared.isdigit()  # without Content-Length (chunked), count what arrives
        read = 0 if counting else int(declared)

        async def capped() -> Message:
            nonlocal read
            if read > self.cap:
                raise Refused(413, f"the request body is larger than {self.cap:,} bytes")
            message = await receive()
            if message["type"] == "http.request" and counting:
                read += len(message.get("body", b""))
                if read > self.cap:
                    raise Refused(413, f"the request body is larger than {self.cap:,} bytes")
            return message

        await self.app(scope, capped, send)


class HeldRefusals:
    """The audit log as one request's Workspace sees it: every entry is written at once, but a refusal, which is
    held for the API's exception handler to write with the HTTP status (or written as it is when the request
    ends without one)."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log
        self.held: list[AuditEvent] = []

    def record(self, event: AuditEvent) -> None:
        if event.action == "refused":
            self.held.append(event)
        else:
            self.log.record(event)

    def take(self) -> AuditEvent | None:
        """The refusal the Workspace made for this request, now the API's to write; others stay held."""
        return self.held.pop() if self.held else None

    def flush(self) -> None:
        while self.held:
            self.log.record(self.held.pop(0))

    def events(self, *, since: datetime | None = None, until: datetime | None = None, user: str | None = None,
               action: str | None = None, collections: Collection[str] | None = None,
               include_global: bool = False, limit: int | None = 1000) -> list[AuditEvent]:
        return self.log.events(since=since, until=until, user=user, action=action, collections=collections,
                               include_global=include_global, limit=limit)

    def export_csv(self, destination: TextIO, *, since: datetime | None = None, until: datetime | None = None,
                   user: str | None = None, action: str | None = None, collections: Collection[str] | None = None,
                   include_global: bool = False, limit: int | None = None) -> int:
        return self.log.export_csv(destination, since=since, until=until, user=user, action=action,
                                   collections=collections, include_global=include_global, limit=limit)

    def prune(self, retention_days: int, *, now: datetime | None = None) -> int:
        return self.log.prune(retention_days, now=now)

    def count(self) -> int:
        return self.log.count()

    def close(self) -> None:
        self.flush()


class FlushHeld:
    """ASGI middleware: a refusal a Workspace made but no handler wrote (the route caught it) is written when the
    request ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            held = scope.get("state", {}).get(HELD)
            if isinstance(held, HeldRefusals) and held.held:
                await run_in_threadpool(held.flush)


def hold_refusals(request: Request, log: AuditLog) -> HeldRefusals:
    """The audit log for this request's Workspace."""
    held = HeldRefusals(log)
    setattr(request.state, HELD, held)
    return held


def install_refusals(api: FastAPI, audit: AuditLog) -> None:
    """Answer refusals with JSON {"detail": …} and audit them."""
    api.add_middleware(FlushHeld)

    async def refuse(request: Request, status: int, detail: object, reason: str,
                     headers: Mapping[str, str] | None = None, *, workspace: bool = False) -> JSONResponse:
        held = getattr(request.state, HELD, None)
        made = held.take() if workspace and isinstance(held, HeldRefusals) else None  # the Workspace's own entry
        user = made.user if made else getattr(request.state, "user", None) or ANONYMOUS
        line = f"{status} {request.method} {_path(request)}: {printable(made.detail if made else reason, REASON_CAP)}"
        await run_in_threadpool(audit.record, AuditEvent(at="", user=user, action="refused", collections=(),
                                                         detail=line, client=client_label(request)))
        out = dict(headers or {})
        if request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers:
            out["Connection"] = "close"
        return JSONResponse({"detail": detail}, status_code=status, headers=out)

    @api.exception_handler(HTTPException)
    async def http_refused(request: Request, exc: HTTPException) -> JSONResponse:
        reason = exc.why if isinstance(exc, Refused) else str(exc.detail)
        return await refuse(request, exc.status_code, exc.detail, reason, exc.headers)

    @api.exception_handler(AccessDenied)
    async def denied(request: Request, exc: AccessDenied) -> JSONResponse:
        status = 404 if str(exc) == NOT_FOUND else 403
        return await refuse(request, status, str(exc), str(exc), workspace=True)

    @api.exception_handler(LimitExceeded)
    async def over_limit(request: Request, exc: LimitExceeded) -> JSONResponse:
        return await refuse(request, 400, str(exc), str(exc), workspace=True)

    @api.exception_handler(UploadRefused)
    async def upload_refused(request: Request, exc: UploadRefused) -> JSONResponse:
        return await refuse(request, exc.status, exc.reason, exc.reason)

    @api.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors, reason = _validation_errors(exc.errors())
        return await refuse(request, 422, errors, reason)
