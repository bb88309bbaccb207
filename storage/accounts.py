"""User accounts for the shared (intranet) mode: argon2 passwords, login lockout, collection membership, API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, RowMapping, exists, select
from sqlalchemy.exc import IntegrityError

from storage.sql import login_failures, memberships, open_records, reading, tokens, users, writing

U, F, M, T = users.c, login_failures.c, memberships.c, tokens.c

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


class SqlAccounts:
    """Accounts in the records database (storage/sql.py); argon2 hashing outside any transaction."""

    def __init__(self, engine: Engine, *, hasher: PasswordHasher | None = None, max_failures: int = 5,
                 lockout_window: timedelta = timedelta(minutes=15), owns_engine: bool = False) -> None:
        self.engine = engine
        self._owns_engine = owns_engine
        self._hasher = hasher or PasswordHasher()
        self._max_failures = max_failures
        self._window = lockout_window
        # Unknown names are checked against this, so they cost as much time as a real account.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    @staticmethod
    def _user(row: RowMapping) -> User:
        return User(row["username"], Role(row["role"]), row["created_at"], bool(row["disabled"]))

    @staticmethod
    def _require(conn: Connection, name: str) -> None:
        if not conn.execute(select(exists().where(U.username == name))).scalar():
            raise AccountError(f"unknown user {name!r}")

    def add_user(self, username: str, password: str, role: Role | str) -> User:
        name, level = _valid_name(username), _role(role)
        hashed = self._hash(password)
        user = User(name, level, _iso(_utc(None)))
        try:
            with writing(self.engine) as conn:
                conn.execute(users.insert().values(username=name, password_hash=hashed, role=level.value,
                                                   created_at=user.created_at))
        except IntegrityError:
            raise AccountError(f"user {name!r} already exists") from None
        return user

    def users(self) -> list[User]:
        with reading(self.engine) as conn:
            rows = conn.execute(select(users).order_by(U.username)).mappings().all()
        return [self._user(r) for r in rows]

    def get_user(self, username: str) -> User | None:
        with reading(self.engine) as conn:
            row = conn.execute(select(users).where(U.username == _name(username))).mappings().first()
        return self._user(row) if row else None

    def remove_user(self, username: str) -> None:
        """Remove the user with their memberships, tokens and failed-login record."""
        name = _name(username)
        with writing(self.engine) as conn:
            self._require(conn, name)
            for table in (memberships, tokens, login_failures, users):
                conn.execute(table.delete().where(table.c.username == name))

    def set_password(self, username: str, password: str) -> None:
        """Replace the password and clear any lockout (an admin reset unlocks the account)."""
        name = _name(username)
        hashed = self._hash(password)
        with writing(self.engine) as conn:
            self._require(conn, name)
            conn.execute(users.update().where(U.username == name).values(password_hash=hashed))
            conn.execute(login_failures.delete().where(F.username == name))

    def set_role(self, username: str, role: Role | str) -> None:
        self._update(username, role=_role(role).value)

    def set_disabled(self, username: str, disabled: bool) -> None:
        """A disabled account can neither log in nor use its tokens; its rows are kept."""
        self._update(username, disabled=int(disabled))

    def _update(self, username: str, **values: str | int) -> None:
        name = _name(username)
        with writing(self.engine) as conn:
            if conn.execute(users.update().where(U.username == name).values(**values)).rowcount == 0:
                raise AccountError(f"unknown user {name!r}")

    def verify_login(self, username: str, password: str, *, now: datetime | None = None) -> User:
        """The user if the password matches; LoginRefused otherwise, without saying which of the two was wrong."""
        at, name = _utc(now), _name(username)
        key = name[:64]  # failures are counted per name, known or not; long junk names share a bounded key
        with reading(self.engine) as conn:
            until = self._locked_until(conn, key, at)
            row = conn.execute(select(users).where(U.username == name)).mappings().first()
        if until is not None:
            shown = (until + timedelta(seconds=59)).strftime("%H:%M")  # rounded up: never shows a time still locked
            raise LoginRefused(f"too many failed attempts; account locked until {shown} UTC")
        stored: str = row["password_hash"] if row else self._dummy_hash
        if not self._matches(stored, password) or row is None:
            with writing(self.engine) as conn:
                conn.execute(login_failures.delete().where(F.at <= _iso(at - 2 * self._window)))
                conn.execute(login_failures.insert().values(username=key, at=_iso(at)))
            raise LoginRefused(_WRONG)
        user = self._user(row)
        if user.disabled:
            raise LoginRefused("account disabled")
        rehashed = self._hasher.hash(password) if self._hasher.check_needs_rehash(stored) else None
        with writing(self.engine) as conn:
            conn.execute(login_failures.delete().where(F.username == name))
            if rehashed:
                conn.execute(users.update().where(U.username == name, U.password_hash == stored).values(
                    password_hash=rehashed))
        return user

    def _locked_until(self, conn: Connection, name: str, at: datetime) -> datetime | None:
        """Locked if the last `max_failures` failures fell within one window, until a window after the last."""
        rows = conn.execute(select(F.at).where(F.username == name).order_by(F.at.desc())
                            .limit(self._max_failures)).scalars().all()
        if len(rows) < self._max_failures:
            return None
        last, first = datetime.fromisoformat(rows[0]), datetime.fromisoformat(rows[-1])
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
        with writing(self.engine) as conn:
            self._require(conn, name)
            if not conn.execute(select(exists().where(M.username == name, M.collection == collection))).scalar():
                conn.execute(memberships.insert().values(username=name, collection=collection))

    def revoke(self, username: str, collection: str) -> None:
        with writing(self.engine) as conn:
            conn.execute(memberships.delete().where(M.username == _name(username), M.collection == collection))

    def collections_of(self, username: str) -> set[str]:
        with reading(self.engine) as conn:
            return set(conn.execute(select(M.collection).where(M.username == _name(username))).scalars())

    def members(self, collection: str) -> list[str]:
        with reading(self.engine) as conn:
            return list(conn.execute(select(M.username).where(M.collection == collection)
                                     .order_by(M.username)).scalars())

    def issue_token(self, username: str, label: str, *, ttl: timedelta | None = timedelta(days=90),
                    now: datetime | None = None) -> str:
        """A new bearer token, shown only this once; the store keeps its sha256 digest."""
        if ttl is not None and ttl <= timedelta(0):
            raise AccountError("token lifetime must be positive (or None for no expiry)")
        name, at = _name(username), _utc(now)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires = _iso(at + ttl) if ttl is not None else None
        with writing(self.engine) as conn:
            self._require(conn, name)
            conn.execute(tokens.insert().values(digest=_digest(token), prefix=token[: len(TOKEN_PREFIX) + 4],
                                                username=name, label=label.strip(), created_at=_iso(at),
                                                expires_at=expires))
        return token

    def user_for_token(self, token: str, *, now: datetime | None = None) -> User:
        """The token's user; TokenRefused if the token is unknown, expired, revoked, or its user cannot log in."""
        with reading(self.engine) as conn:
            row = conn.execute(
                select(T.expires_at, T.revoked, U.username, U.role, U.created_at, U.disabled)
                .join_from(tokens, users, U.username == T.username).where(T.digest == _digest(token))
            ).mappings().first()
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
        with reading(self.engine) as conn:
            rows = conn.execute(select(T.id, T.prefix, T.label, T.created_at, T.expires_at, T.revoked)
                                .where(T.username == _name(username)).order_by(T.id)).mappings().all()
        return [TokenInfo(r["id"], r["prefix"], r["label"], r["created_at"], r["expires_at"], bool(r["revoked"]))
                for r in rows]

    def revoke_token(self, username: str, token_id: int) -> None:
        name = _name(username)
        with writing(self.engine) as conn:
            changed = conn.execute(tokens.update().where(T.id == token_id, T.username == name).values(revoked=1))
            if changed.rowcount == 0:
                raise AccountError(f"no token {token_id} for user {name!r}")

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()


def SqliteAccounts(path: Path, *, hasher: PasswordHasher | None = None, max_failures: int = 5,  # noqa: N802
                   lockout_window: timedelta = timedelta(minutes=15)) -> SqlAccounts:
    """Accounts in a records database of their own (a SQLite file): tests and tools."""
    return SqlAccounts(open_records(path), hasher=hasher, max_failures=max_failures, lockout_window=lockout_window,
                       owns_engine=True)
