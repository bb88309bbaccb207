"""A conversation as Markdown, with its citations, for download."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from rag.answering import Answer


@dataclass
class Turn:
    """One question and its answer on the chat page."""

    question: str
    answer: Answer
    scope: str  # which collections or document were asked
    id: str = field(default_factory=lambda: uuid.uuid4().hex)  # what a rating and the answer's widgets are keyed by


def chat_markdown(turns: list[Turn], title: str = "Confidant conversation") -> str:
    lines = [f"# {title}", ""]
    for turn in turns:
        a = turn.answer
        lines += [f"## Q: {turn.question}", "", f"*Asked: {turn.scope} · model: {a.model}*", ""]
        lines += [a.text or "(no answer)", ""]
        if a.declined:
            lines += [f"> Not answered from the documents. {a.message}".rstrip(), ""]
        elif a.message:
            lines += [f"> {a.message}", ""]
        for sentence in a.unsupported:
            lines.append(f"- ⚠ left out, not supported by the documents: {sentence}")
        if a.unsupported:
            lines.append("")
        if a.citations:
            lines.append("Sources:")
            for c in a.citations:
                quote = " ".join(c.chunk.text.split())
                lines.append(f"- [{c.n}] {c.chunk.file_name}, page {c.chunk.page}: “{quote}”")
            lines.append("")
    return "\n".join(lines)
