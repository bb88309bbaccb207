"""LlamaCppChat with the real xllamacpp server and SmolLM2-135M: plumbing only, its answers are nonsense.

Assert on shape (pieces arrive, timings recorded, errors typed), never on what the model says.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rag.chat import ChatMessage, ModelFailed, ModelUnavailable
from rag.llamacpp_chat import LlamaCppChat
from rag.model_files import resolve_model_path

QUESTION = [
    ChatMessage("system", "Answer from the passages and cite them like [1]."),
    ChatMessage("user", "[1] Staff get 25 days of leave.\n\nQuestion: how many days of leave?"),
]


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return resolve_model_path("smollm2-135m", tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def chat(smollm2: Path) -> Iterator[LlamaCppChat]:
    with LlamaCppChat(smollm2, label="smollm2-135m", threads=1, context=1024, timeout_s=60) as model:
        yield model


def _listening_ips(port: int) -> set[str]:
    """Local addresses of the sockets in LISTEN state on ``port``, from /proc/net/tcp and tcp6."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:
                raw = bytes.fromhex(address)
                found.add(".".join(str(b) for b in raw[::-1]) if len(raw) == 4 else raw.hex())
    return found


def test_streams_text_and_records_timings(chat: LlamaCppChat) -> None:
    assert chat.name == "embedded llama.cpp · smollm2-135m"
    pieces = list(chat.stream(QUESTION, max_tokens=16))
    assert pieces and all(isinstance(p, str) and p for p in pieces)
    assert "".join(pieces).strip()
    timings = chat.last_timings
    assert timings is not None
    assert timings["prompt_n"] > 0 and 0 < timings["predicted_n"] <= 16
    assert timings["predicted_per_second"] > 0


def test_requests_without_the_key_are_refused(chat: LlamaCppChat) -> None:
    address = chat.start()
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    with httpx.Client(trust_env=False, timeout=30) as raw:
        assert raw.post(f"{address}/v1/chat/completions", json=body).status_code == 401
        wrong = {"Authorization": "Bearer not-the-key"}
        assert raw.post(f"{address}/v1/chat/completions", json=body, headers=wrong).status_code == 401
        assert raw.get(f"{address}/v1/models").status_code == 401


def test_listens_on_loopback_only(chat: LlamaCppChat) -> None:
    address = chat.start()
    assert address.startswith("http://127.0.0.1:")
    assert _listening_ips(int(address.rsplit(":", 1)[1])) == {"127.0.0.1"}


def test_stopping_early_leaves_the_server_usable(chat: LlamaCppChat) -> None:
    answer = chat.stream(QUESTION, max_tokens=64)
    assert next(answer)
    answer.close()
    assert list(chat.stream(QUESTION, max_tokens=4))


def test_close_midway_fails_the_answer_and_a_later_answer_restarts(smollm2: Path) -> None:
    model = LlamaCppChat(smollm2, threads=1, context=1024, timeout_s=60)
    assert model.name == "embedded llama.cpp · SmolLM2-135M-Instruct.Q4_1" and model.address is None
    answer = model.stream(QUESTION, max_tokens=64)
    assert next(answer)
    first_address = model.address
    model.close()
    assert model.address is None
    with pytest.raises(ModelFailed):
        list(answer)
    del answer  # the last reference to the old server: it stops
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{first_address}/health", timeout=5)
    try:
        assert list(model.stream(QUESTION, max_tokens=4))
        assert model.address is not None
    finally:
        model.close()


def test_missing_or_broken_weights_are_unavailable(tmp_path: Path) -> None:
    def missing() -> Path:
        raise ModelUnavailable("Model 'x' is not installed. Install it with: pip install x")

    with pytest.raises(ModelUnavailable, match="pip install x"):
        list(LlamaCppChat(missing, label="x").stream(QUESTION, max_tokens=4))
    with pytest.raises(ModelUnavailable, match="does not exist"):
        list(LlamaCppChat(tmp_path / "absent.gguf").stream(QUESTION, max_tokens=4))
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ModelUnavailable, match="could not load"):
        list(LlamaCppChat(broken, threads=1).stream(QUESTION, max_tokens=4))
