"""Options in one place: Settings are the defaults. A component's own default (kept where a tool or test builds it
alone) must say the same as the setting that configures it in the app, so the two can never quietly disagree."""

from __future__ import annotations

import inspect
from dataclasses import MISSING, fields
from datetime import timedelta
from typing import Any

import pytest

from confidant.services import answer_options, retriever_options
from confidant.settings import Settings
from ingest.reading import ReadLimits
from ingest.splitter import TokenSplitter
from ingest.worker import WorkerLimits
from rag.answering import AnswerOptions
from rag.retriever import RetrieverOptions
from storage.accounts import SqlAccounts
from storage.vector_store import DEFAULT_EF_SEARCH, DEFAULT_MAX_NEIGHBORS

DEFAULTS = Settings.model_fields


def default(setting: str) -> Any:
    return DEFAULTS[setting].default


def parameter(function: Any, name: str) -> Any:
    return inspect.signature(function).parameters[name].default


PAIRS = {
    "chunk_size": lambda: parameter(TokenSplitter.__init__, "chunk_size"),
    "chunk_overlap": lambda: parameter(TokenSplitter.__init__, "chunk_overlap"),
    "parse_timeout_s": lambda: WorkerLimits().timeout_s,
    "parse_timeout_s_per_mb": lambda: WorkerLimits().timeout_s_per_mb,
    "parse_memory_mb": lambda: WorkerLimits().memory_mb,
    "max_pages": lambda: ReadLimits().max_pages,
    "page_timeout_s": lambda: ReadLimits().page_timeout_s,
    "ocr": lambda: ReadLimits().ocr,
    "ocr_languages": lambda: ReadLimits().ocr_languages,
    "ocr_pictures": lambda: ReadLimits().ocr_pictures,
    "parse_text_processes": lambda: ReadLimits().text_processes,
    "search_hnsw_ef": lambda: DEFAULT_EF_SEARCH,
    "index_hnsw_max_neighbors": lambda: DEFAULT_MAX_NEIGHBORS,
    "login_max_failures": lambda: parameter(SqlAccounts.__init__, "max_failures"),
    "login_lockout_minutes": lambda: parameter(SqlAccounts.__init__, "lockout_window") / timedelta(minutes=1),
}


@pytest.mark.parametrize("setting", sorted(PAIRS))
def test_a_component_default_is_the_setting_default(setting: str) -> None:
    assert PAIRS[setting]() == default(setting), setting


@pytest.mark.parametrize("options", [AnswerOptions, RetrieverOptions])
def test_answer_and_search_options_have_no_defaults_of_their_own(options: type) -> None:
    for f in fields(options):
        assert f.default is MISSING and f.default_factory is MISSING, f.name


def test_the_wiring_builds_every_option_from_settings() -> None:
    s = Settings(answer_k=7, llm_max_tokens=99, search_candidates=11, search_mode="keyword")
    assert (answer_options(s).k, answer_options(s).max_tokens) == (7, 99)
    assert (retriever_options(s).candidates, retriever_options(s).mode) == (11, "keyword")
