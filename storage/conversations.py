"""Conversations kept on the server, per user: the chat page's history, in the records database (storage/sql.py),
so a conversation survives a reload and follows its user to every app node.

A turn is saved the moment it is asked (state `asking`, with what the model has written so far as it streams),
then `answered` with the checked answer as JSON, or `interrupted` when the asking stopped before the end (the page
was left or reloaded, the model failed). Every call names the owner: one user never reads another's conversations.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Engine, delete, func, or_, select, update

from storage.sql import conversation_turns, conversations, reading, writing

TurnState = Literal["asking", "answered", "interrupted", "withheld"]  # withheld: shown without its answer
TITLE_CHARS = 80

C = conversations.c
T = conversation_turns.c


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def title_from(question: str) -> str:
    """A conversation's first title: its first question on one line, cut at a word near TITLE_CHARS."""
    words = " ".join(question.split())
    if len(words) <= TITLE_CHARS:
        return words or "New conversation"
    return words[:TITLE_CHARS].rsplit(" ", 1)[0] + "…"


@dataclass(frozen=True)
class ConversationTurn:
    id: str
    question: str
    state: TurnState
    answer: dict[str, Any] | None  # Answer.as_json() once answered
    partial: str  # what the model had written when the asking stopped
    scope: str
    rating: str
    created_at: str


@dataclass(frozen=True)
class Conversation:
    id: str
    owner: str
    title: str
    scope: dict[str, Any]  # {"collections": [...]} or {"collection": …, "document_id": …, "file_name": …}
    created_at: str
    updated_at: str
    turns: list[ConversationTurn] = field(default_factory=list)


class ConversationNotFound(LookupError):
    pass


class ConversationStore:
    """The `conversations` and `conversation_turns` tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, owner: str, title: str, scope: dict[str, Any]) -> Conversation:
        at = now()
        conversation = Conversation(uuid.uuid4().hex, owner, title_from(title), scope, at, at)
        with writing(self.engine) as conn:
            conn.execute(conversations.insert().values(
                id=conversation.id, owner=owner, title=conversation.title, scope=json.dumps(scope),
                created_at=at, updated_at=at))
        return conversation

    def list(self, owner: str, search: str = "", limit: int = 200) -> list[Conversation]:
        """The owner's conversations, newest activity first, without their turns; `search` matches the title or
        any question asked in it (case-insensitive)."""
        query = (select(C.id, C.owner, C.title, C.scope, C.created_at, C.updated_at)
                 .where(C.owner == owner).order_by(C.updated_at.desc()).limit(limit))
        words = search.strip().lower()
        if words:
            pattern = "%" + words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            asked = select(T.conversation_id).where(func.lower(T.question).like(pattern, escape="\\"))
            query = query.where(or_(func.lower(C.title).like(pattern, escape="\\"), C.id.in_(asked)))
        with reading(self.engine) as conn:
            rows = conn.execute(query).all()
        return [Conversation(r[0], r[1], r[2], json.loads(r[3] or "{}"), r[4], r[5]) for r in rows]

    def get(self, owner: str, conversation_id: str) -> Conversation:
        with reading(self.engine) as conn:
            row = conn.execute(select(C.id, C.owner, C.title, C.scope, C.created_at, C.updated_at)
                               .where(C.id == conversation_id, C.owner == owner)).first()
            if row is None:
                raise ConversationNotFound(conversation_id)
            turns = conn.execute(select(T.id, T.question, T.state, T.answer, T.partial, T.scope, T.rating,
                                        T.created_at)
                                 .where(T.conversation_id == conversation_id).order_by(T.position)).all()
        return Conversation(row[0], row[1], row[2], json.loads(row[3] or "{}"), row[4], row[5], [
            ConversationTurn(t[0], t[1], t[2], json.loads(t[3]) if t[3] else None, t[4], t[5], t[6], t[7])
            for t in turns])

    def rename(self, owner: str, conversation_id: str, title: str) -> None:
        self._update(owner, conversation_id, title=title_from(title))

    def delete(self, owner: str, conversation_id: str) -> None:
        with writing(self.engine) as conn:
            self._owned(conn, owner, conversation_id)
            conn.execute(delete(conversation_turns).where(T.conversation_id == conversation_id))
            conn.execute(delete(conversations).where(C.id == conversation_id))

    def start_turn(self, owner: str, conversation_id: str, question: str, scope: str) -> str:
        """Save a question the moment it is asked; returns the turn's id."""
        turn_id = uuid.uuid4().hex
        at = now()
        with writing(self.engine) as conn:
            self._owned(conn, owner, conversation_id)
            position = conn.execute(select(func.coalesce(func.max(T.position), -1) + 1)
                                    .where(T.conversation_id == conversation_id)).scalar_one()
            conn.execute(conversation_turns.insert().values(
                id=turn_id, conversation_id=conversation_id, position=position, question=question,
                state="asking", scope=scope, created_at=at))
            conn.execute(update(conversations).where(C.id == conversation_id).values(updated_at=at))
        return turn_id

    def write_partial(self, owner: str, conversation_id: str, turn_id: str, partial: str) -> None:
        """What the model has written so far (kept if the asking stops before the answer is checked)."""
        self._update_turn(owner, conversation_id, turn_id, partial=partial)

    def finish_turn(self, owner: str, conversation_id: str, turn_id: str, answer: dict[str, Any]) -> None:
        self._update_turn(owner, conversation_id, turn_id, state="answered", answer=json.dumps(answer), partial="")

    def interrupt_turn(self, owner: str, conversation_id: str, turn_id: str, partial: str | None = None) -> None:
        values: dict[str, Any] = {"state": "interrupted"}
        if partial is not None:
            values["partial"] = partial
        self._update_turn(owner, conversation_id, turn_id, only_if_asking=True, **values)

    def rate_turn(self, owner: str, conversation_id: str, turn_id: str, rating: str) -> None:
        self._update_turn(owner, conversation_id, turn_id, rating=rating)

    def _owned(self, conn: Any, owner: str, conversation_id: str) -> None:
        found = conn.execute(select(C.id).where(C.id == conversation_id, C.owner == owner)).first()
        if found is None:
            raise ConversationNotFound(conversation_id)

    def _update(self, owner: str, conversation_id: str, **values: Any) -> None:
        with writing(self.engine) as conn:
            self._owned(conn, owner, conversation_id)
            conn.execute(update(conversations).where(C.id == conversation_id).values(**values))

    def _update_turn(self, owner: str, conversation_id: str, turn_id: str, only_if_asking: bool = False,
                     **values: Any) -> None:
        with writing(self.engine) as conn:
            self._owned(conn, owner, conversation_id)
            where = [T.id == turn_id, T.conversation_id == conversation_id]
            if only_if_asking:
                where.append(T.state == "asking")
            conn.execute(update(conversation_turns).where(*where).values(**values))
