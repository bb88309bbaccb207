"""LlamaCppChat: a GGUF model served by llama.cpp's server inside this process (xllamacpp), spoken to over HTTP.

The server starts on first use, listens on 127.0.0.1 on a free port and answers only requests that carry
a random per-start API key, so no other local program or web page can use it. Talking to it with the
``openai`` client over loopback HTTP keeps one code path for streaming, timeouts and errors.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import httpx
import openai
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

from rag.chat import ChatMessage, ModelFailed, ModelUnavailable


@dataclass
class _Running:
    server: Any  # xllamacpp.Server; stops when the last reference goes away
    client: openai.OpenAI
    address: str
    api_key: str


class LlamaCppChat:
    """ChatModel backed by an embedded llama.cpp server, started lazily and stopped by ``close()``."""

    def __init__(
        self,
        model_path: Path | Callable[[], Path],
        *,
        label: str | None = None,
        threads: int = 2,
        context: int = 4096,
        timeout_s: float = 300.0,
        connect_timeout_s: float = 5.0,
    ) -> None:
        """``model_path`` may be a callable (e.g. ``resolve_model_path`` bound to settings) so that finding or
        assembling the weights also waits for first use; its ModelUnavailable reaches the caller of stream()."""
        if label is None:
            if not isinstance(model_path, Path):
                raise ValueError("label is required when model_path is a callable")
            label = model_path.stem
        self._model_path = model_path
        self._label = label
        self._threads = threads
        self._context = context
        self._timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s)
        self._deadline_s = timeout_s
        self._lock = threading.Lock()
        self._running: _Running | None = None
        self.last_timings: dict[str, float] | None = None
        """The server's ``timings`` for the last finished answer (prompt_n, prompt_ms, predicted_n,
        predicted_per_second, cache_n, ...), or None."""

    @property
    def name(self) -> str:
        return f"embedded llama.cpp · {self._label}"

    @property
    def address(self) -> str | None:
        """``http://127.0.0.1:PORT`` while the server runs, else None."""
        running = self._running
        return running.address if running else None

    @property
    def api_key(self) -> str | None:
        """This start's key, for another client in this process (benchmarks); None while stopped."""
        running = self._running
        return running.api_key if running else None

    def start(self) -> str:
        """Load the model and start the server if not yet running; return its address. Thread-safe."""
        return self._ensure_running().address

    def _ensure_running(self) -> _Running:
        with self._lock:
            if self._running is None:
                self._running = self._start()
            return self._running

    def _start(self) -> _Running:
        path = self._model_path if isinstance(self._model_path, Path) else self._model_path()
        if not path.is_file():
            raise ModelUnavailable(f"The model file {path} does not exist.")
        try:
            import xllamacpp  # loads the native library; only when the embedded model is really used
        except ImportError as exc:
            raise ModelUnavailable(f"The embedded runtime is not installed ({exc}): pip install xllamacpp") from exc

        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.hostnames = ["127.0.0.1"]
        params.port = 0
        key = secrets.token_urlsafe(32)
        params.api_keys = [key]
        params.verbosity = 0
        params.offline = True  # never reach for a model hub
        params.ui = False  # no browser UI on the port
        params.n_ctx = self._context
        params.n_parallel = 1
        params.cpuparams.n_threads = self._threads
        params.cpuparams_batch.n_threads = self._threads
        try:
            server = xllamacpp.Server(params)
        except RuntimeError as exc:
            raise ModelUnavailable(f"llama.cpp could not load {path} ({exc}); is it a valid GGUF file?") from exc
        address = str(server.listening_address)
        http = httpx.Client(timeout=self._timeout, trust_env=False)  # loopback only: ignore proxy variables
        client = openai.OpenAI(base_url=f"{address}/v1", api_key=key, max_retries=0, http_client=http)
        return _Running(server=server, client=client, address=address, api_key=key)

    def close(self) -> None:
        """Stop the server (it starts again on the next stream())."""
        with self._lock:
            running, self._running = self._running, None
        if running is not None:
            running.client.close()
            del running  # dropping the last reference to xllamacpp.Server stops it

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float = 0.0
    ) -> Generator[str, None, None]:
        """Yield answer pieces. ModelUnavailable before the first piece, ModelFailed after it."""
        self.last_timings = None
        running = self._ensure_running()
        deadline = time.monotonic() + self._deadline_s
        try:
            chunks = running.client.chat.completions.create(
                model=self._label,
                messages=[_to_param(m) for m in messages],
                max_tokens=max_tokens,
                temperature=temperature,
                stream=True,
                stream_options={"include_usage": True},
            )
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            raise ModelUnavailable(f"{self.name} did not answer: {_describe(exc)}") from exc
        started = finished = False
        try:
            for chunk in chunks:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no complete answer within {self._deadline_s:.0f} s")
                self._note_timings(chunk)
                for choice in chunk.choices:
                    finished = finished or choice.finish_reason is not None
                    if choice.delta.content:
                        started = True
                        yield choice.delta.content
        except (openai.OpenAIError, httpx.HTTPError, OSError) as exc:  # OSError includes TimeoutError
            error = ModelFailed if started else ModelUnavailable
            raise error(f"{self.name} stopped answering: {_describe(exc)}") from exc
        finally:
            chunks.close()  # also when the caller stops early: the server then stops generating
        if not finished:
            error = ModelFailed if started else ModelUnavailable
            raise error(f"{self.name} ended the answer without finishing it")

    def _note_timings(self, chunk: ChatCompletionChunk) -> None:
        timings = (chunk.model_extra or {}).get("timings")
        if isinstance(timings, dict):
            self.last_timings = {k: v for k, v in timings.items() if isinstance(v, int | float)}


def _to_param(message: ChatMessage) -> ChatCompletionMessageParam:
    if message.role == "system":
        return {"role": "system", "content": message.content}
    if message.role == "assistant":
        return {"role": "assistant", "content": message.content}
    return {"role": "user", "content": message.content}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {exc.message}"
    return str(exc) or type(exc).__name__
