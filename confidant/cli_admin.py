"""Shared-mode administration: `confidant users …`, `confidant audit`, `confidant api`.

These run as the operating-system user who owns the data folder, so they need no login of their own.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from confidant.cli_common import err, open_workspace, out
from confidant.settings import Settings
from confidant.workspace import Workspace
from storage.accounts import AccountError, Role

users_app = typer.Typer(help="Accounts for shared mode: add, list, remove, passwd, role, grant, revoke, disable, "
                             "enable, token, tokens, token-revoke.",
                        no_args_is_help=True)
UserArg = Annotated[str, typer.Argument(help="User name (letters, digits, . _ @ -).")]


def _password(given: str | None, confirm: bool = True) -> str:
    """The password from --password-stdin style input or an interactive prompt (never a command-line argument)."""
    if given is not None:
        return given
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password (at least 10 characters): ")
    if confirm and getpass.getpass("Again: ") != first:
        err.print("[red]The passwords differ.[/]")
        raise typer.Exit(1)
    return first


def _fail(exc: Exception) -> typer.Exit:
    err.print(f"[red]{exc}[/]")
    return typer.Exit(1)


@users_app.command("add")
def users_add(username: UserArg,
              role: Annotated[Role, typer.Option(help="admin: everything; editor: add/delete documents in "
                                                      "their collections; reader: ask and search.")] = Role.READER,
              collection: Annotated[list[str] | None, typer.Option("--collection", "-c",
                                                                   help="Collections the user may use.")] = None,
              ) -> None:
    """Add a user. The password is asked for (or read from stdin when piped)."""
    password = _password(None)
    _change(lambda ws: ws.add_user(username, password, role, collection or []))
    out.print(f"Added {username.lower()} ({role.value})" + (f", member of {', '.join(collection)}" if collection else ""))


@users_app.command("list")
def users_list() -> None:
    """Users, their roles and collections."""
    with open_workspace() as ws:
        users = ws.users()
    table = Table("user", "role", "collections", "created", "disabled")
    for user, memberships in users:
        names = "all" if user.is_admin else ", ".join(sorted(memberships))
        table.add_row(user.username, user.role.value, names or "—", user.created_at[:16], "yes" if user.disabled else "")
    out.print(table)


@users_app.command("remove")
def users_remove(username: UserArg) -> None:
    """Remove a user with their memberships and tokens."""
    _change(lambda ws: ws.remove_user(username), f"Removed {username}")


@users_app.command("passwd")
def users_passwd(username: UserArg) -> None:
    """Set a new password (also lifts a lockout)."""
    password = _password(None)
    _change(lambda ws: ws.set_password(username, password), f"New password set for {username}")


@users_app.command("role")
def users_role(username: UserArg, role: Annotated[Role, typer.Argument()]) -> None:
    """Change a user's role."""
    _change(lambda ws: ws.set_role(username, role), f"{username} is now {role.value}")


@users_app.command("grant")
def users_grant(username: UserArg, collection: Annotated[str, typer.Argument()]) -> None:
    """Let a user use a collection."""
    _change(lambda ws: ws.grant(username, collection), f"{username} may use {collection}")


@users_app.command("revoke")
def users_revoke(username: UserArg, collection: Annotated[str, typer.Argument()]) -> None:
    """Take a collection away from a user."""
    _change(lambda ws: ws.revoke(username, collection), f"{username} may no longer use {collection}")


@users_app.command("token")
def users_token(username: UserArg,
                label: Annotated[str, typer.Option(help="What the token is for.")] = "api",
                days: Annotated[int | None, typer.Option(min=1, help="Lifetime in days (default: token_days).")] = None,
                ) -> None:
    """Issue an API bearer token. It is shown once; only its hash is kept."""
    with open_workspace() as ws:
        try:
            token = ws.issue_token(username, label, days)
        except AccountError as exc:
            raise _fail(exc) from None
    err.print(f"Token for {username} ({label}); store it now, it is not shown again:")
    out.print(token)


@users_app.command("tokens")
def users_tokens(username: UserArg,
                 as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False) -> None:
    """A user's API tokens: id, first characters, label, dates and whether revoked (never the secret)."""
    with open_workspace() as ws:
        try:
            found = ws.tokens(username)
        except AccountError as exc:
            raise _fail(exc) from None
    if as_json:
        import json

        out.print_json(json.dumps([{"id": t.id, "prefix": t.prefix, "label": t.label, "created_at": t.created_at,
                                    "expires_at": t.expires_at, "revoked": t.revoked} for t in found]))
        return
    table = Table("id", "starts with", "label", "created", "expires", "state")
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for t in found:
        state = "revoked" if t.revoked else "expired" if t.expires_at and t.expires_at <= now else "active"
        table.add_row(str(t.id), t.prefix + "…", t.label, t.created_at[:16], (t.expires_at or "never")[:16], state)
    out.print(table)


@users_app.command("token-revoke")
def users_token_revoke(username: UserArg,
                       token_id: Annotated[int, typer.Argument(help="The token's id (`confidant users tokens NAME`).")],
                       ) -> None:
    """Revoke one API token at once; the user's other tokens keep working."""
    _change(lambda ws: ws.revoke_token(username, token_id), f"Token {token_id} of {username} is revoked")


@users_app.command("disable")
def users_disable(username: UserArg) -> None:
    """Lock an account out: its signed-in app sessions end at their next click and its API tokens stop working."""
    _change(lambda ws: ws.set_disabled(username, True), f"{username} is disabled")


@users_app.command("enable")
def users_enable(username: UserArg) -> None:
    """Let a disabled account sign in again (its unrevoked, unexpired tokens work again)."""
    _change(lambda ws: ws.set_disabled(username, False), f"{username} is enabled")


def _change(action: Callable[[Workspace], object], message: str = "") -> None:
    with open_workspace() as ws:
        try:
            action(ws)  # checked and audited by the Workspace
        except AccountError as exc:
            raise _fail(exc) from None
    if message:
        out.print(message)


def audit_command(
    days: Annotated[int, typer.Option(min=1, help="How many days back (at least 1).")] = 7,
    user: Annotated[str | None, typer.Option(help="Only this user.")] = None,
    csv: Annotated[bool, typer.Option("--csv", help="Write CSV to stdout (for a spreadsheet).")] = False,
) -> None:
    """Who asked what, and who changed which documents."""
    since = datetime.now(UTC) - timedelta(days=days)
    with open_workspace() as ws:
        if csv:
            ws.audit_csv(sys.stdout, since=since, user=user)
            return
        events = ws.audit_events(since=since, user=user, limit=200)
    table = Table("when (UTC)", "user", "client", "action", "collections", "question / detail", "documents")
    for e in events:
        table.add_row(e.at[:19].replace("T", " "), e.user, e.client, e.action, ", ".join(e.collections),
                      e.question or e.detail, ", ".join(e.documents)[:80])
    out.print(table)


def api_command(
    host: Annotated[str | None, typer.Option(help="Address (default api_host, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default api_port, 8502).")] = None,
) -> None:
    """Serve the REST API (bearer tokens from `confidant users token`); its schema at /openapi.json, and the
    interactive page at /docs when CONFIDANT_API_DOCS=true."""
    from confidant.api import run_api
    from confidant.offline import enforce_offline

    enforce_offline()
    settings = Settings()
    address = f"http://{host or settings.api_host}:{port or settings.api_port}"
    docs = f"; interactive page at {address}/docs" if settings.api_docs else ""
    err.print(f"Confidant API on {address}  (schema at /openapi.json{docs}; data folder: {settings.data_dir}; "
              f"put it behind a TLS proxy when shared)")
    from confidant.services import build_services

    services = build_services(settings)
    if services.data_folder_warning:
        err.print(f"[yellow]Warning:[/] {services.data_folder_warning}", soft_wrap=True)
    run_api(services.gate(), host or settings.api_host, port or settings.api_port)
