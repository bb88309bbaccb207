"""OllamaChat: a model served by a user-run Ollama server, through the ``ollama`` client package."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Self

import httpx
import ollama

from rag.chat import ChatMessage, ModelFailed, ModelUnavailable


class OllamaChat:
    """ChatModel that streams from Ollama's ``/api/chat``."""

    def __init__(
        self,
        host: str,
        model: str,
        *,
        timeout_s: float = 300.0,
        connect_timeout_s: float = 5.0,
        probe_timeout_s: float = 3.0,
    ) -> None:
        """``timeout_s`` bounds each wait for data while answering (first token included);
        ``probe_timeout_s`` bounds ``is_available()``."""
        self._host = host
        self._model = model
        # trust_env=False: a private assistant never sends prompts through proxy variables.
        self._client = ollama.Client(host, timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s), trust_env=False)
        self._probe = ollama.Client(host, timeout=httpx.Timeout(probe_timeout_s), trust_env=False)
        self.last_timings: dict[str, float] | None = None
        """Timings of the last finished answer, in llama.cpp's keys (prompt_n, prompt_ms, predicted_n,
        predicted_ms, predicted_per_second), or None."""

    @property
    def name(self) -> str:
        return f"Ollama · {self._model}"

    def is_available(self) -> bool:
        """True when the server answers and has the model."""
        try:
            listed = self._probe.list()
        except (ollama.ResponseError, ConnectionError, httpx.HTTPError, ValueError):
            return False
        wanted = _with_tag(self._model)
        return any(_with_tag(m.model or "") == wanted for m in listed.models)

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float = 0.0
    ) -> Generator[str, None, None]:
        """Yield answer pieces. ModelUnavailable before the first piece, ModelFailed after it."""
        self.last_timings = None
        started = finished = False
        try:
            parts = self._client.chat(
                model=self._model,
                messages=[{"role": m.role, "content": m.content} for m in messages],
                stream=True,
                options={"num_predict": max_tokens, "temperature": temperature},
            )
            for part in parts:
                if part.message.content:
                    started = True
                    yield part.message.content
                if part.done:
                    finished = True
                    self.last_timings = _timings(part)
        except ollama.ResponseError as exc:
            if not started and exc.status_code == 404:
                raise ModelUnavailable(
                    f"Ollama at {self._host} has no model {self._model!r} ({exc.error}); run `ollama pull {self._model}`."
                ) from exc
            raise self._error(started, f"Ollama answered with an error: {exc.error}") from exc
        except (ConnectionError, httpx.ConnectError) as exc:
            raise self._error(started, f"Ollama is not reachable at {self._host}; is `ollama serve` running?") from exc
        except httpx.TimeoutException as exc:
            raise self._error(started, f"Ollama at {self._host} stopped sending data ({type(exc).__name__})") from exc
        except (httpx.HTTPError, ValueError) as exc:  # ValueError: a cut or malformed NDJSON line
            raise self._error(started, f"the answer from Ollama broke off ({exc or type(exc).__name__})") from exc
        if not finished:
            raise self._error(started, "Ollama ended the answer without finishing it")

    def _error(self, started: bool, reason: str) -> ModelUnavailable | ModelFailed:
        return ModelFailed(f"{self.name}: {reason}") if started else ModelUnavailable(f"{self.name}: {reason}")

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]
        self._probe.close()  # type: ignore[no-untyped-call]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _with_tag(model: str) -> str:
    return model if ":" in model.rsplit("/", 1)[-1] else f"{model}:latest"


def _timings(part: ollama.ChatResponse) -> dict[str, float]:
    timings: dict[str, float] = {}
    if part.prompt_eval_count is not None:
        timings["prompt_n"] = part.prompt_eval_count
    if part.prompt_eval_duration:
        timings["prompt_ms"] = part.prompt_eval_duration / 1e6
    if part.eval_count is not None:
        timings["predicted_n"] = part.eval_count
    if part.eval_duration:
        timings["predicted_ms"] = part.eval_duration / 1e6
        if part.eval_count:
            timings["predicted_per_second"] = part.eval_count / (part.eval_duration / 1e9)
    return timings
