"""OllamaChat against a real loopback HTTP server that speaks the part of Ollama's API it uses."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from confidant.model_choice import choose_chat_model
from confidant.settings import Settings
from rag.chat import ChatMessage, ModelFailed, ModelUnavailable
from rag.llamacpp_chat import LlamaCppChat
from rag.ollama_chat import OllamaChat

MODEL = "qwen2.5:1.5b-instruct"
PIECES = ["The leave ", "is 25 days ", "[1]."]
QUESTION = [ChatMessage("system", "Answer from the passages."), ChatMessage("user", "How many leave days?")]


class FakeOllama(ThreadingHTTPServer):
    """Serves /api/tags and streaming /api/chat; ``chat_mode`` picks a normal answer or a broken one."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.models = [MODEL, "llama3:latest"]
        self.chat_mode = "ok"  # ok | cut_eof | cut_chunked | error_line
        self.requests: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that stops reading a cut stream is what the tests do: no traceback in the suite's output (the
        handler thread can outlive its test, and then socketserver printed one between the progress dots)."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeOllama

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:
        if self.path != "/api/tags":
            return self._json(404, {"error": "not found"})
        self._json(200, {"models": [{"name": m, "model": m, "size": 1, "digest": "0" * 64} for m in self.server.models]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        if self.path != "/api/chat":
            return self._json(404, {"error": "not found"})
        if body["model"] not in self.server.models:
            return self._json(404, {"error": f"model '{body['model']}' not found"})
        lines = [{"model": body["model"], "message": {"role": "assistant", "content": p}, "done": False} for p in PIECES]
        final = {"model": body["model"], "message": {"role": "assistant", "content": ""}, "done": True,
                 "done_reason": "stop", "prompt_eval_count": 40, "prompt_eval_duration": 200_000_000,
                 "eval_count": 3, "eval_duration": 150_000_000}  # fmt: skip
        mode = self.server.chat_mode
        if mode == "cut_eof":  # no length, no chunking: the body ends when the connection closes
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Connection", "close")
            self.end_headers()
            for line in lines[:2]:
                self.wfile.write(json.dumps(line).encode() + b"\n")
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if mode == "error_line":
            lines = [*lines[:1], {"error": "llama runner process has terminated"}]
        for line in lines[:2] if mode == "cut_chunked" else [*lines, final]:
            self._chunk(json.dumps(line).encode() + b"\n")
        if mode == "cut_chunked":  # close without the terminating zero-length chunk
            self.close_connection = True
            return
        self._chunk(b"")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _json(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    server = FakeOllama()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_streams_the_answer_and_records_timings(fake: FakeOllama) -> None:
    chat = OllamaChat(fake.url, MODEL, timeout_s=10)
    assert chat.name == f"Ollama · {MODEL}"
    assert list(chat.stream(QUESTION, max_tokens=64, temperature=0.2)) == PIECES
    sent = fake.requests[-1]
    assert sent["model"] == MODEL and sent["stream"] is True
    assert sent["messages"] == [{"role": m.role, "content": m.content} for m in QUESTION]
    assert sent["options"] == {"num_predict": 64, "temperature": 0.2}
    assert chat.last_timings == {
        "prompt_n": 40,
        "prompt_ms": 200.0,
        "predicted_n": 3,
        "predicted_ms": 150.0,
        "predicted_per_second": 20.0,
    }


def test_server_down_is_unavailable(closed_port_url: str) -> None:
    chat = OllamaChat(closed_port_url, MODEL, timeout_s=5)
    with pytest.raises(ModelUnavailable, match="not reachable"):
        list(chat.stream(QUESTION, max_tokens=8))
    assert chat.is_available() is False


def test_missing_model_is_unavailable(fake: FakeOllama) -> None:
    chat = OllamaChat(fake.url, "mistral:7b", timeout_s=5)
    with pytest.raises(ModelUnavailable, match=r"ollama pull mistral:7b") as info:
        list(chat.stream(QUESTION, max_tokens=8))
    assert "model 'mistral:7b' not found" in str(info.value)
    assert chat.is_available() is False


@pytest.mark.parametrize("mode", ["cut_eof", "cut_chunked", "error_line"])
def test_stream_cut_midway_fails_after_the_first_pieces(fake: FakeOllama, mode: str) -> None:
    fake.chat_mode = mode
    chat = OllamaChat(fake.url, MODEL, timeout_s=5)
    received: list[str] = []
    with pytest.raises(ModelFailed):
        for piece in chat.stream(QUESTION, max_tokens=64):
            received.append(piece)
    assert received == PIECES[: 1 if mode == "error_line" else 2]
    assert chat.last_timings is None


def test_is_available(fake: FakeOllama) -> None:
    assert OllamaChat(fake.url, MODEL).is_available() is True
    assert OllamaChat(fake.url, "llama3").is_available() is True  # no tag means :latest
    assert OllamaChat(fake.url, "qwen2.5").is_available() is False


def test_auto_mode_prefers_ollama_when_it_has_the_model(fake: FakeOllama, closed_port_url: str) -> None:
    chosen = choose_chat_model(Settings(llm_mode="auto", ollama_host=fake.url, ollama_model=MODEL))
    assert isinstance(chosen, OllamaChat)
    for host, model in [(fake.url, "absent:1b"), (closed_port_url, MODEL)]:
        fallback = choose_chat_model(Settings(llm_mode="auto", ollama_host=host, ollama_model=model))
        assert isinstance(fallback, LlamaCppChat)
        assert fallback.address is None  # not started until asked
    forced = choose_chat_model(Settings(llm_mode="ollama", ollama_host=closed_port_url))
    assert isinstance(forced, OllamaChat)
