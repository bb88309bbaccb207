"""Who may do what: the caller of an action, their role and the collections they may see (the policy).

The Workspace (confidant/workspace.py) applies it to every use case: it passes the caller's visible collections to
every stage of retrieval and listing, checks roles before changes, and audits every refusal. Collections the caller
may not see and collections that do not exist get the same answer (NOT_FOUND), so names cannot be probed. Admins
see every collection; in local single-user mode the caller is the local admin.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.accounts import Role, User

NOT_FOUND = "no such collection or document"


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
