"""The ChatModel seam: anything that turns chat messages into streamed text."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


class ModelUnavailable(RuntimeError):
    """No model can answer right now (server down, model missing, weights not installed). The message says why."""


class ModelFailed(RuntimeError):
    """The model started answering but the answer broke off (stream cut, server error mid-answer)."""


class ChatModel(Protocol):
    """A local language model."""

    @property
    def name(self) -> str:
        """Human-readable: which runtime and which model, e.g. 'embedded llama.cpp · qwen2.5-coder-1.5b'."""
        ...

    def stream(self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float = 0.0) -> Iterator[str]:
        """Yield the answer text piece by piece. Raises ModelUnavailable before the first piece, ModelFailed after."""
        ...
