"""The answer model picker (issue #21): which models this machine has, each person's own choice with the speed
measured here, and the administrator's default and allowed models. The chosen model answers for real (a GGUF
file dropped into the models folder: the packaged SmolLM2-135M, small enough for the test suite)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from confidant.access import AccessDenied
from confidant.model_choice import DEFAULT, answer_models
from confidant.settings import Settings
from rag.embedders import Embedder
from rag.model_files import resolve_model_path
from tests.test_access import World, build_world

TINY = "file:tiny-helper.gguf"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[World]:
    w = build_world(tmp_path_factory.mktemp("models"), embedder, llm_threads=1)
    models = w.services.settings.models_dir
    models.mkdir(parents=True, exist_ok=True)
    shutil.copy(resolve_model_path("smollm2-135m", models), models / "tiny-helper.gguf")
    yield w
    w.services.close()


def test_the_machines_models_are_listed_without_loading_any(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", ollama_host="http://127.0.0.1:9")  # no Ollama runs there
    settings.models_dir.mkdir(parents=True)
    (settings.models_dir / "notes.txt").write_text("not a model")
    shutil.copy(resolve_model_path("smollm2-135m", settings.models_dir), settings.models_dir / "my-model.gguf")
    found = {m.id: m for m in answer_models(settings, "the default")}
    assert found[DEFAULT].label == "the default (default)" and found[DEFAULT].ready
    assert found["packaged:qwen2.5-coder-1.5b"].ready  # installed by scripts/install, assembled on first use
    assert found["packaged:smollm2-135m"].ready
    assert not found["packaged:qwen2.5-coder-0.5b"].ready
    assert "6 of 6 packages missing" in found["packaged:qwen2.5-coder-0.5b"].note
    assert found["file:my-model.gguf"].ready and found["file:my-model.gguf"].label == "my-model"
    assert not [i for i in found if i.startswith("ollama:") or i.endswith("notes.txt")]
    # the default is not listed twice
    again = {m.id for m in answer_models(settings, "embedded llama.cpp · qwen2.5-coder-1.5b")}
    assert "packaged:qwen2.5-coder-1.5b" not in again and "packaged:smollm2-135m" in again


def test_a_person_chooses_a_model_it_answers_and_its_speed_is_measured(world: World) -> None:
    alice, bob = world.workspace("alice"), world.workspace("bob")
    assert alice.answer_model() == DEFAULT
    alice.choose_answer_model(TINY)
    assert world.workspace("alice").answer_model() == TINY and bob.answer_model() == DEFAULT  # hers alone
    assert world.workspace("alice").model_name() == "embedded llama.cpp · tiny-helper"
    answer = world.workspace("alice").ask("What is the dental deductible?", ["hr"])
    assert answer.model == "embedded llama.cpp · tiny-helper" and answer.raw_text
    [tiny] = [m for m in world.workspace("bob").answer_models() if m.id == TINY]
    assert tiny.answers == 1 and tiny.tokens_per_s and tiny.tokens_per_s > 0 and tiny.first_token_s
    [chosen] = world.workspace("root").audit_events(user="alice", action="model_chosen", limit=1)
    assert chosen.model == TINY


def test_the_administrator_sets_the_default_and_restricts_the_choice(world: World) -> None:
    root = world.workspace("root")
    world.workspace("bob").choose_answer_model(TINY)
    root.set_model_policy("packaged:smollm2-135m", ["packaged:smollm2-135m", "packaged:qwen2.5-coder-1.5b"])
    try:
        assert root.model_policy() == ("packaged:smollm2-135m",
                                       ["packaged:smollm2-135m", "packaged:qwen2.5-coder-1.5b"])
        bob = world.workspace("bob")
        assert TINY not in [m.id for m in bob.answer_models()]
        assert bob.answer_model() == "packaged:smollm2-135m"  # his choice is no longer offered: the default
        refused = len(root.audit_events(user="bob", action="refused", limit=None))
        with pytest.raises(AccessDenied, match="not offered"):
            bob.choose_answer_model(TINY)
        assert len(root.audit_events(user="bob", action="refused", limit=None)) == refused + 1
        with pytest.raises(ValueError, match="must be one of"):
            root.set_model_policy(TINY, ["packaged:smollm2-135m"])
        with pytest.raises(ValueError, match="no such answer model"):
            root.set_model_policy("ollama:gpt-9", [])
    finally:
        root.set_model_policy(DEFAULT, [])
    assert world.workspace("bob").answer_model() == TINY  # offered again: his choice stands
