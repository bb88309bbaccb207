"""Limits on what a client sends (a question, its history, collection names, k), checked once in the Workspace so
the app, the CLI and the API refuse the same things with the same readable reason."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from storage.collections import valid_collection_name


class LimitExceeded(ValueError):
    """A client sent more than Confidant accepts; the message says what and how much is allowed."""


@dataclass(frozen=True)
class ClientLimits:
    max_question_chars: int
    max_history_items: int
    max_history_chars: int
    max_k: int
    max_collections: int = 100
    max_documents: int = 1000
    max_grid_questions: int = 30  # columns of one review grid
    max_grid_runs: int = 3  # grids one person may have waiting or running at once (they take turns at the model)
    on_refusal: Callable[[str], None] | None = None  # the Workspace audits every refusal

    def _refuse(self, reason: str) -> LimitExceeded:
        if self.on_refusal is not None:
            self.on_refusal(reason)
        return LimitExceeded(reason)

    def question(self, text: str, what: str = "question") -> str:
        if not text.strip():
            raise self._refuse(f"the {what} is empty")
        if len(text) > self.max_question_chars:
            raise self._refuse(f"the {what} has {len(text):,} characters; at most {self.max_question_chars:,} "
                                "are accepted")
        return text

    def history(self, items: Sequence[str]) -> list[str]:
        if len(items) > self.max_history_items:
            raise self._refuse(f"the conversation history has {len(items)} items; at most "
                                f"{self.max_history_items} are accepted")
        for item in items:
            if len(item) > self.max_history_chars:
                raise self._refuse(f"a history item has {len(item):,} characters; at most "
                                    f"{self.max_history_chars:,} are accepted")
        return list(items)

    def k(self, k: int) -> int:
        if not 1 <= k <= self.max_k:
            raise self._refuse(f"k must be between 1 and {self.max_k}, not {k}")
        return k

    def collections(self, names: Sequence[str]) -> list[str]:
        if len(names) > self.max_collections:
            raise self._refuse(f"{len(names)} collections named; at most {self.max_collections} are accepted")
        for name in names:
            why = valid_collection_name(name)
            if why is not None:
                raise self._refuse(f"invalid collection name {name[:80]!r}: {why}")
        return list(names)

    def grid_questions(self, questions: Sequence[str]) -> list[str]:
        if not questions:
            raise self._refuse("the grid has no questions")
        if len(questions) > self.max_grid_questions:
            raise self._refuse(f"the grid has {len(questions)} questions; at most {self.max_grid_questions} are "
                                "accepted")
        return [self.question(q, "grid question") for q in questions]

    def grid_runs(self, unfinished: int) -> None:
        if unfinished >= self.max_grid_runs:
            raise self._refuse(f"{unfinished} of your grids are still waiting or running; at most "
                               f"{self.max_grid_runs} at once (cancel one, or wait for one to finish)")

    def documents(self, ids: Sequence[str]) -> list[str]:
        if len(ids) > self.max_documents:
            raise self._refuse(f"{len(ids)} documents named; at most {self.max_documents} are accepted")
        for doc_id in ids:
            if not 1 <= len(doc_id) <= 64 or not all(c in "0123456789abcdef" for c in doc_id.lower()):
                raise self._refuse(f"invalid document id {doc_id[:80]!r}: use its hex id (8 to 64 characters)")
        return list(ids)
