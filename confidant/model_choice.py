"""Pick the ChatModel that Settings ask for. Nothing is loaded here: the embedded server starts on first use."""

from __future__ import annotations

import importlib.util
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
import ollama

from confidant.settings import Settings
from rag.chat import ChatModel
from rag.llamacpp_chat import LlamaCppChat
from rag.model_files import MODELS, PackagedModel, SplitModel, resolve_model_path
from rag.ollama_chat import OllamaChat

DEFAULT = "default"  # the model the settings choose (CONFIDANT_LLM_MODE and friends)


@dataclass(frozen=True)
class AnswerModel:
    """A model that can answer: `id` is "default", "packaged:<name>", "file:<name>.gguf" or "ollama:<name>"."""

    id: str
    label: str
    source: str  # where it comes from, as a person reads it
    ready: bool  # installed and loadable without a download
    note: str = ""  # why it is not ready
    tokens_per_s: float | None = None  # measured on this machine, over the answers it wrote
    first_token_s: float | None = None  # from the question to the answer's first word, on average
    answers: int = 0  # how many answers the measure is over


def answer_models(settings: Settings, default_name: str) -> list[AnswerModel]:
    """Every answer model this machine has: the configured default, the packaged models (installed or not), GGUF
    files in the models folder, and the models the local Ollama serves (if it runs). Nothing is loaded."""
    found = [AnswerModel(DEFAULT, f"{default_name} (default)", "as configured", True)]
    assembled = set()
    for name, spec in MODELS.items():
        assembled.add(f"{name}.gguf")
        if default_name.endswith(f" · {name}"):
            continue  # the default itself
        ready, note = _packaged_ready(spec, settings.models_dir / f"{name}.gguf")
        found.append(AnswerModel(f"packaged:{name}", name, "packaged with Confidant", ready, note))
    folder = settings.models_dir
    if folder.is_dir():
        for path in sorted(folder.glob("*.gguf")):
            if path.name not in assembled and path.is_file():
                found.append(AnswerModel(f"file:{path.name}", path.stem, f"models folder ({folder})", True))
    if settings.llm_mode != "embedded":  # asked for the embedded model only: Ollama is not even probed
        found += [AnswerModel(f"ollama:{name}", name, f"Ollama at {settings.ollama_host}", True)
                  for name in _ollama_models(settings.ollama_host)]
    return found


def _packaged_ready(spec: SplitModel | PackagedModel, assembled: Path) -> tuple[bool, str]:
    if isinstance(spec, PackagedModel):
        installed = importlib.util.find_spec(spec.module) is not None
        return installed, "" if installed else f"install with: {spec.install_command()}"
    if assembled.is_file() and assembled.stat().st_size == spec.size:
        return True, ""
    missing = [i for i in range(1, spec.count + 1) if importlib.util.find_spec(f"{spec.module}{i}") is None]
    if missing:
        return False, f"{len(missing)} of {spec.count} packages missing: pip install {spec.package}1..{spec.count}"
    return True, "assembled from its packages on first use"


def _ollama_models(host: str) -> list[str]:
    """The models a local Ollama serves; none when it is not running (one quick try on loopback)."""
    try:
        listed = ollama.Client(host, timeout=httpx.Timeout(1.0), trust_env=False).list()
    except (ollama.ResponseError, ConnectionError, httpx.HTTPError, ValueError, OSError):
        return []
    return sorted(m.model for m in listed.models if m.model)


def chat_model_for(settings: Settings, model_id: str) -> ChatModel:
    """The ChatModel of one `answer_models` id (other than "default"); nothing starts until it is used."""
    kind, _, name = model_id.partition(":")
    match kind:
        case "packaged" if name in MODELS:
            return LlamaCppChat(partial(resolve_model_path, name, settings.models_dir), label=name,
                                threads=settings.llm_threads, context=settings.llm_context,
                                timeout_s=settings.llm_timeout_s)
        case "file" if name and "/" not in name and not name.startswith("."):
            path = settings.models_dir / name
            return LlamaCppChat(path, label=path.stem, threads=settings.llm_threads, context=settings.llm_context,
                                timeout_s=settings.llm_timeout_s)
        case "ollama" if name:
            return OllamaChat(settings.ollama_host, name, timeout_s=settings.llm_timeout_s)
    raise ValueError(f"unknown answer model {model_id!r}")


def choose_chat_model(settings: Settings) -> ChatModel:
    """'ollama' → OllamaChat; 'embedded' → LlamaCppChat; 'auto' → Ollama when it is reachable and has the
    model, else embedded. Missing embedded weights surface as ModelUnavailable from ``stream()``, with the reason."""
    match settings.llm_mode:
        case "ollama":
            return ollama_chat(settings)
        case "embedded":
            return embedded_chat(settings)
        case "auto":
            candidate = ollama_chat(settings)
            if candidate.is_available():
                return candidate
            candidate.close()
            return embedded_chat(settings)


def ollama_chat(settings: Settings) -> OllamaChat:
    return OllamaChat(settings.ollama_host, settings.ollama_model, timeout_s=settings.llm_timeout_s)


def embedded_chat(settings: Settings) -> LlamaCppChat:
    override = settings.embedded_model_path
    return LlamaCppChat(
        partial(resolve_model_path, settings.embedded_model, settings.models_dir, override),
        label=override.stem if override is not None else settings.embedded_model,
        threads=settings.llm_threads,
        context=settings.llm_context,
        timeout_s=settings.llm_timeout_s,
    )


class AnswerModelPool:
    """The answer models this process uses, by id: the configured default, and up to `keep` others that people
    chose (the least recently used one is stopped when another is needed). The list of what is available is read
    again at most every `list_every_s` seconds (it probes the local Ollama)."""

    def __init__(self, settings: Settings, default: Callable[[], ChatModel], keep: int = 2,
                 list_every_s: float = 30.0) -> None:
        self.settings = settings
        self._default = default
        self._keep = keep
        self._list_every_s = list_every_s
        self._loaded: OrderedDict[str, ChatModel] = OrderedDict()
        self._listed: tuple[float, list[AnswerModel]] | None = None
        self._lock = threading.Lock()

    def get(self, model_id: str) -> ChatModel:
        if model_id == DEFAULT:
            return self._default()
        with self._lock:
            model = self._loaded.pop(model_id, None) or chat_model_for(self.settings, model_id)
            self._loaded[model_id] = model
            while len(self._loaded) > self._keep:
                _, stopped = self._loaded.popitem(last=False)
                _close(stopped)
            return model

    def available(self) -> list[AnswerModel]:
        with self._lock:
            if self._listed is None or time.monotonic() - self._listed[0] > self._list_every_s:
                self._listed = (time.monotonic(), answer_models(self.settings, self._default().name))
            return list(self._listed[1])

    def close(self) -> None:
        with self._lock:
            for model in self._loaded.values():
                _close(model)
            self._loaded.clear()


def _close(model: ChatModel) -> None:
    close = getattr(model, "close", None)
    if callable(close):
        close()
