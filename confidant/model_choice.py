"""Pick the ChatModel that Settings ask for. Nothing is loaded here: the embedded server starts on first use."""

from __future__ import annotations

from functools import partial

from confidant.settings import Settings
from rag.chat import ChatModel
from rag.llamacpp_chat import LlamaCppChat
from rag.model_files import resolve_model_path
from rag.ollama_chat import OllamaChat


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
