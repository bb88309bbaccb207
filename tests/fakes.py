"""Honest fakes: deterministic, and they behave like the real parts they stand in for."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from rag.chat import ChatMessage, ModelFailed, ModelUnavailable
from rag.citations import content_words
from rag.prompting import DECLINE_TEXT

_PASSAGE = re.compile(r"\[(\d+)\] \(file: [^\n]*\)\n<<<\n(.*?)\n>>>", re.DOTALL)
_QUESTION = re.compile(r"^Question: (.*)$", re.MULTILINE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


class ExtractiveChat:
    """A chat model that answers with the passage sentence sharing most content words with the question.

    It cites that passage as [n], declines with the standard sentence when no sentence shares at least
    `min_overlap` of the question's content words, and with no question (a summary prompt) it restates the
    first sentence with at least three content words. Tokens are streamed word by word, like a real model.
    """

    def __init__(self, min_overlap: float = 0.34, name: str = "fake extractive model", invent: str = "",
                 cite_offset: int = 0) -> None:
        self.min_overlap = min_overlap
        self.cite_offset = cite_offset  # >0 imitates a small model that misnumbers its citations
        self.invent = invent  # a sentence appended to every answer, as small models sometimes do
        self._name = name
        self.calls: list[Sequence[ChatMessage]] = []

    @property
    def name(self) -> str:
        return self._name

    def stream(self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float = 0.0) -> Iterator[str]:
        self.calls.append(messages)
        prompt = messages[-1].content
        passages = [(int(n), body) for n, body in _PASSAGE.findall(prompt)]
        match = _QUESTION.search(prompt)
        reply = self._reply(match.group(1) if match else "", passages)
        words = reply.split(" ")
        for i, word in enumerate(words[:max_tokens]):
            yield word if i == 0 else " " + word

    def _reply(self, question: str, passages: list[tuple[int, str]]) -> str:
        if not passages:
            return DECLINE_TEXT
        if not question:  # a summary: restate the first sentence that makes a claim
            for n, body in passages:
                for sentence in _SENTENCE.split(body.strip()):
                    if len(content_words(sentence)) >= 3:
                        return f"{sentence.strip().rstrip('.')}. [{n}]"
            return DECLINE_TEXT
        asked = content_words(question)
        best: tuple[float, int, str] = (0.0, 0, "")
        for n, body in passages:
            for sentence in _SENTENCE.split(body.strip()):
                overlap = len(asked & content_words(sentence)) / max(1, len(asked))
                if overlap > best[0]:
                    best = (overlap, n, sentence.strip())
        if best[0] < self.min_overlap:
            return DECLINE_TEXT
        answer = f"{best[2].rstrip('.')}. [{best[1] + self.cite_offset}]"
        return f"{answer} {self.invent}" if self.invent else answer


class ScriptedModel:
    """Replies with a fixed text (to test how answers are checked), or fails like a real server can."""

    def __init__(self, reply: str, *, unavailable: str = "", fail_after: int = -1) -> None:
        self.reply, self.unavailable, self.fail_after = reply, unavailable, fail_after
        self.calls: list[Sequence[ChatMessage]] = []

    @property
    def name(self) -> str:
        return "scripted model"

    def stream(self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float = 0.0) -> Iterator[str]:
        self.calls.append(list(messages))
        if self.unavailable:
            raise ModelUnavailable(self.unavailable)
        for i, word in enumerate(self.reply.split(" ")):
            if i == self.fail_after:
                raise ModelFailed("connection reset")
            yield word + " "
