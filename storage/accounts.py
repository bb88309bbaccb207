"""User accounts for the shared (intranet) mode: argon2 passwords, login lockout, collection membership, API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from storage.sqlite import open_database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL,
    created_at TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS login_failures (username TEXT NOT NULL, at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS login_failures_name ON login_failures(username, at);
CREATE TABLE IF NOT EXISTS memberships (username TEXT NOT NULL, collection TEXT NOT NULL,
    PRIMARY KEY (username, collection));
CREATE INDEX IF NOT EXISTS memberships_collection ON memberships(collection);
CREATE TABLE IF NOT EXISTS tokens (id INTEGER PRIMARY KEY AUTOINCREMENT, digest TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL, username TEXT NOT NULL, label TEXT NOT NULL, created_at TEXT NOT NULL,
    expires_at TEXT, revoked INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS tokens_user ON tokens(username);
"""

MIN_PASSWORD = 10
TOKEN_PREFIX = "cfd_"  # noqa: S105 - a public marker, not a secret
_NAME = re.compile(r"[a-z0-9._@-]{1,64}")
_WRONG = "wrong username or password"


class Role(StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    READER = "reader"


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    created_at: str
    disabled: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def can_edit(self) -> bool:
        return self.role in (Role.ADMIN, Role.EDITOR)


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about a token: never the secret, only its first characters."""

    id: int
    prefix: str
    label: str
    created_at: str
    expires_at: str | None
    revoked: bool


class AccountError(Exception):
    """Bad input: unknown user, duplicate name, weak password, invalid name or role."""


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # fit to show the person asking


class LoginRefused(_Refused):
    """Wrong username or password (never which of the two), account locked until HH:MM UTC, or disabled."""


class TokenRefused(_Refused):
    """Unknown, expired or revoked token, or its account disabled."""


def _utc(now: datetime | None) -> datetime:
    now = now or datetime.now(UTC)
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _name(username: str) -> str:
    return username.strip().lower()


def _valid_name(username: str) -> str:
    name = _name(username)
    if not _NAME.fullmatch(name):
        raise AccountError(f"invalid username {username!r}: use 1-64 characters of letters, digits and . _ @ -")
    return name


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise AccountError(f"unknown role {role!r}: use one of {', '.join(Role)}") from None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Accounts(Protocol):
    """Users, their passwords, roles, collection memberships and API tokens."""

    def add_user(self, username: str, password: str, role: Role | str) -> User: ...
    def users(self) -> list[User]: ...
    def get_user(self, username: str) -> User | None: ...
    def remove_user(self, username: str) -> None: ...
    def set_password(self, username: str, password: str) -> None: ...
    def set_role(self, username: str, role: Role | str) -> None: ...
    def set_disabled(self, username: str, disabled: bool) -> None: ...
    def verify_login(self, username: str, password: str, *, now: datetime | None = None) -> User: ...
    def grant(self, username: str, collection: str) -> None: ...
    def revoke(self, username: str, collection: str) -> None: ...
    def collections_of(self, username: str) -> set[str]: ...
    def members(self, collection: str) -> list[str]: ...
    def issue_token(self, username: str, label: str, *, ttl: timedelta | None = ...,
                    now: datetime | None = None) -> str: ...
    def user_for_token(self, token: str, *, now: datetime | None = None) -> User: ...
    def tokens(self, username: str) -> list[TokenInfo]: ...
    def revoke_token(self, username: str, token_id: int) -> None: ...
    def close(self) -> None: ...


class SqliteAccounts:
    """Accounts in a SQLite file; one lock around the shared connection, argon2 hashing outside it."""

    def __init__(self, path: Path, *, hasher: PasswordHasher | None = None, max_failures: int = 5,
                 lockout_window: timedelta = timedelta(minutes=15)) -> None:
        self._hasher = hasher or PasswordHasher()
        self._max_failures = max_failures
        self._window = lockout_window
        # Unknown names are checked against this, so they cost as much time as a real account.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        self._conn = open_database(path, _SCHEMA)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.Lock()

    @contextmanager
    def _tx(self, atomic: bool = False) -> Iterator[sqlite3.Cursor]:
        """The shared cursor under the lock; `atomic` wraps it in BEGIN ... COMMIT (ROLLBACK on any error)."""
        with self._lock, self._conn:  # the connection's context commits or rolls back an open transaction
            cur = self._conn.cursor()
            try:
                if atomic:
                    cur.execute("BEGIN IMMEDIATE")
                yield cur
            finally:
                cur.close()

    @staticmethod
    def _user(row: sqlite3.Row) -> User:
        return User(row["username"], Role(row["role"]), row["created_at"], bool(row["disabled"]))

    @staticmethod
    def _require(cur: sqlite3.Cursor, name: str) -> None:
        if cur.execute("SELECT 1 FROM users WHERE username = ?", (name,)).fetchone() is None:
            raise AccountError(f"unknown user {name!r}")

    def add_user(self, username: str, password: str, role: Role | str) -> User:
        name, level = _valid_name(username), _role(role)
        hashed = self._hash(password)
        user = User(name, level, _iso(_utc(None)))
        with self._tx() as cur:
            try:
                cur.execute("INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
                            (name, hashed, level.value, user.created_at))
            except sqlite3.IntegrityError:
                raise AccountError(f"user {name!r} already exists") from None
        return user

    def users(self) -> list[User]:
        with self._tx() as cur:
            rows = cur.execute("SELECT * FROM users ORDER BY username").fetchall()
        return [self._user(r) for r in rows]

    def get_user(self, username: str) -> User | None:
        with self._tx() as cur:
            row = cur.execute("SELECT * FROM users WHERE username = ?", (_name(username),)).fetchone()
        return self._user(row) if row else None

    def remove_user(self, username: str) -> None:
        """Remove the user with their memberships, tokens and failed-login record."""
        name = _name(username)
        with self._tx(atomic=True) as cur:
            self._require(cur, name)
            for table in ("memberships", "tokens", "login_failures", "users"):
                cur.execute(f"DELETE FROM {table} WHERE username = ?", (name,))

    def set_password(self, username: str, password: str) -> None:
        """Replace the password and clear any lockout (an admin reset unlocks the account)."""
        name = _name(username)
        hashed = self._hash(password)
        with self._tx(atomic=True) as cur:
            self._require(cur, name)
            cur.execute("UPDATE users SET password_hash = ? WHERE username = ?", (hashed, name))
            cur.execute("DELETE FROM login_failures WHERE username = ?", (name,))

    def set_role(self, username: str, role: Role | str) -> None:
        self._update(username, "role", _role(role).value)

    def set_disabled(self, username: str, disabled: bool) -> None:
        """A disabled account can neither log in nor use its tokens; its rows are kept."""
        self._update(username, "disabled", int(disabled))

    def _update(self, username: str, column: str, value: str | int) -> None:
        name = _name(username)
        with self._tx() as cur:
            cur.execute(f"UPDATE users SET {column} = ? WHERE username = ?", (value, name))
            if cur.rowcount == 0:
                raise AccountError(f"unknown user {name!r}")

    def verify_login(self, username: str, password: str, *, now: datetime | None = None) -> User:
        """The user if the password matches; LoginRefused otherwise, without saying which of the two was wrong."""
        at, name = _utc(now), _name(username)
        key = name[:64]  # failures are counted per name, known or not; long junk names share a bounded key
        with self._tx() as cur:
            until = self._locked_until(cur, key, at)
            row = cur.execute("SELECT * FROM users WHERE username = ?", (name,)).fetchone()
        if until is not None:
            shown = (until + timedelta(seconds=59)).strftime("%H:%M")  # rounded up: never shows a time still locked
            raise LoginRefused(f"too many failed attempts; account locked until {shown} UTC")
        stored: str = row["password_hash"] if row else self._dummy_hash
        if not self._matches(stored, password) or row is None:
            with self._tx(atomic=True) as cur:
                cur.execute("DELETE FROM login_failures WHERE at <= ?", (_iso(at - 2 * self._window),))
                cur.execute("INSERT INTO login_failures (username, at) VALUES (?, ?)", (key, _iso(at)))
            raise LoginRefused(_WRONG)
        user = self._user(row)
        if user.disabled:
            raise LoginRefused("account disabled")
        rehashed = self._hasher.hash(password) if self._hasher.check_needs_rehash(stored) else None
        with self._tx() as cur:
            cur.execute("DELETE FROM login_failures WHERE username = ?", (name,))
            if rehashed:
                cur.execute("UPDATE users SET password_hash = ? WHERE username = ? AND password_hash = ?",
                            (rehashed, name, stored))
        return user

    def _locked_until(self, cur: sqlite3.Cursor, name: str, at: datetime) -> datetime | None:
        """Locked if the last `max_failures` failures fell within one window, until a window after the last."""
        rows = cur.execute("SELECT at FROM login_failures WHERE username = ? ORDER BY at DESC LIMIT ?",
                           (name, self._max_failures)).fetchall()
        if len(rows) < self._max_failures:
            return None
        last, first = datetime.fromisoformat(rows[0][0]), datetime.fromisoformat(rows[-1][0])
        return last + self._window if last - first < self._window and at < last + self._window else None

    def _hash(self, password: str) -> str:
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"password too short: use at least {MIN_PASSWORD} characters")
        return self._hasher.hash(password)

    def _matches(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def grant(self, username: str, collection: str) -> None:
        name = _name(username)
        with self._tx() as cur:
            self._require(cur, name)
            cur.execute("INSERT OR IGNORE INTO memberships (username, collection) VALUES (?, ?)", (name, collection))

    def revoke(self, username: str, collection: str) -> None:
        with self._tx() as cur:
            cur.execute("DELETE FROM memberships WHERE username = ? AND collection = ?", (_name(username), collection))

    def collections_of(self, username: str) -> set[str]:
        with self._tx() as cur:
            rows = cur.execute("SELECT collection FROM memberships WHERE username = ?", (_name(username),)).fetchall()
        return {r[0] for r in rows}

    def members(self, collection: str) -> list[str]:
        with self._tx() as cur:
            rows = cur.execute("SELECT username FROM memberships WHERE collection = ? ORDER BY username",
                               (collection,)).fetchall()
        return [r[0] for r in rows]

    def issue_token(self, username: str, label: str, *, ttl: timedelta | None = timedelta(days=90),
                    now: datetime | None = None) -> str:
        """A new bearer token, shown only this once; the store keeps its sha256 digest."""
        if ttl is not None and ttl <= timedelta(0):
            raise AccountError("token lifetime must be positive (or None for no expiry)")
        name, at = _name(username), _utc(now)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires = _iso(at + ttl) if ttl is not None else None
        with self._tx() as cur:
            self._require(cur, name)
            cur.execute("INSERT INTO tokens (digest, prefix, username, label, created_at, expires_at) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (_digest(token), token[: len(TOKEN_PREFIX) + 4], name, label.strip(), _iso(at), expires))
        return token

    def user_for_token(self, token: str, *, now: datetime | None = None) -> User:
        """The token's user; TokenRefused if the token is unknown, expired, revoked, or its user cannot log in."""
        with self._tx() as cur:
            row = cur.execute(
                "SELECT t.expires_at, t.revoked, u.username, u.role, u.created_at, u.disabled "
                "FROM tokens t JOIN users u ON u.username = t.username WHERE t.digest = ?",
                (_digest(token),),
            ).fetchone()
        if row is None:
            raise TokenRefused("invalid token")
        if row["revoked"]:
            raise TokenRefused("token revoked")
        if row["expires_at"] is not None and _utc(now) >= datetime.fromisoformat(row["expires_at"]):
            raise TokenRefused("token expired")
        user = self._user(row)
        if user.disabled:
            raise TokenRefused("account disabled")
        return user

    def tokens(self, username: str) -> list[TokenInfo]:
        with self._tx() as cur:
            rows = cur.execute("SELECT id, prefix, label, created_at, expires_at, revoked FROM tokens "
                               "WHERE username = ? ORDER BY id", (_name(username),)).fetchall()
        return [TokenInfo(r["id"], r["prefix"], r["label"], r["created_at"], r["expires_at"], bool(r["revoked"]))
                for r in rows]

    def revoke_token(self, username: str, token_id: int) -> None:
        with self._tx() as cur:
            cur.execute("UPDATE tokens SET revoked = 1 WHERE id = ? AND username = ?", (token_id, _name(username)))
            if cur.rowcount == 0:
                raise AccountError(f"no token {token_id} for user {_name(username)!r}")

    def close(self) -> None:
        self._conn.close()
