"""Follow-up questions ("and for the Plus plan?", "And what about the agency agreement?") made standalone.

Search and the model both need the whole question. The model rewrites the follow-up with the earlier question in a
short call of its own (tens of tokens); the answer is then asked as that standalone question, so the model never
sees a bare "And what about …?" nor the earlier question (given both, a small model answered the earlier one). When
the rewrite fails or looks wrong, the search gets the two questions side by side, as before, and the model the
follow-up itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.chat import ChatMessage, ChatModel, ModelFailed, ModelUnavailable

_FOLLOW_UP = re.compile(r"\b(?:it|its|they|them|their|this|that|these|those|he|she|there|same|also|else|more)\b",
                        re.IGNORECASE)
REWRITE_RULES = ("Rewrite the follow-up question as one complete question that can be understood without the earlier "
                 "one: keep what the follow-up asks and take from the earlier question only what the follow-up leaves "
                 "out (the subject, the document, the plan). Reply with the rewritten question only, nothing else.")
REWRITE_TOKENS = 80
_QUOTES = "\"'“”‘’`"


def is_follow_up(question: str, history: Sequence[str]) -> bool:
    """A short question, one pointing back ("it", "that", "also"), or one opening with "and …" / "what about …"."""
    if not history:
        return False
    return (len(question.split()) <= 6 or bool(_FOLLOW_UP.search(question))
            or question.lower().lstrip().startswith(("and ", "what about", "how about")))


def retrieval_query(question: str, history: Sequence[str]) -> str:
    """Without a rewrite: a follow-up searched together with the previous question."""
    return f"{history[-1]} {question}" if is_follow_up(question, history) else question


def standalone_question(model: ChatModel, question: str, history: Sequence[str]) -> str | None:
    """The model's standalone version of a follow-up, or None when it gave nothing usable (no model, an error, an
    empty or rambling reply, one that is not a question)."""
    user = f"Earlier question: {' '.join(history[-1].split())}\nFollow-up question: {' '.join(question.split())}"
    try:
        reply = "".join(model.stream([ChatMessage("system", REWRITE_RULES), ChatMessage("user", user)],
                                     max_tokens=REWRITE_TOKENS))
    except (ModelUnavailable, ModelFailed):
        return None
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    if not lines:
        return None
    text = re.sub(r"^(?:rewritten|standalone|complete)?\s*question\s*:\s*", "", lines[0], flags=re.IGNORECASE)
    text = text.strip(_QUOTES + " ")
    if not text.endswith("?") or len(text) > 2 * len(question) + len(history[-1]) or len(text.split()) < 3:
        return None
    return text
