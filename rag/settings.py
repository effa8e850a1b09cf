"""The one Settings object: every knob citeqa has, read from CITEQA_* environment variables.

Built once by `load_settings()` at an entry point (the CLI, `rag.ask`'s default engine, the
test fixtures) and passed down; nothing else reads the environment. Every default runs
offline: embedded Chroma under the project's data folder, the bundled MiniLM embedder,
extractive answers. One setting switches each backend: `CITEQA_CHROMA_URL` means a Chroma
server, `CITEQA_LLM_BASE_URL` (or OpenAI's own `OPENAI_BASE_URL`/`OPENAI_API_KEY`) means
generated answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.store import collection_name_problem

PROJECT_DIR = Path(__file__).resolve().parent.parent
BUNDLED_CORPUS = PROJECT_DIR / "data" / "corpus" / "national-informatization-strategy-2006-2020.txt"


class Settings(BaseSettings):
    """citeqa's configuration; each field is the env var CITEQA_<FIELD NAME>."""

    # populate_by_name: keyword overrides use field names (llm_base_url=...) despite the aliases.
    model_config = SettingsConfigDict(
        env_prefix="CITEQA_", extra="forbid", frozen=True, populate_by_name=True
    )

    corpus: list[Path] = Field(
        default_factory=lambda: [BUNDLED_CORPUS],
        description="Documents indexed on first use (JSON list of paths); the bundled Strategy.",
    )
    data_dir: Path = Field(
        default=PROJECT_DIR / "data" / "index",
        description="Folder for the embedded Chroma database and the keyword index.",
    )
    chroma_url: str | None = Field(
        default=None,
        description="URL of a Chroma server (`chroma run`), e.g. http://127.0.0.1:8000. "
        "Unset: embedded Chroma in data_dir.",
    )
    collection: str = Field(
        default="citeqa",
        description="Chroma collection name, 3-53 letters, digits, '.', '_' or '-' (four "
        "collections: NAME, NAME_sentences, NAME_documents, NAME_texts).",
    )
    chroma_timeout_s: float = Field(
        default=10.0, gt=0,
        description="Longest wait for one Chroma server request before a clear error.",
    )
    refresh_s: float = Field(
        default=2.0, ge=0,
        description="How often (seconds) a running engine checks the store for documents "
        "other processes added or deleted; 0: before every question.",
    )
    # "sentences" is the default: one pass over the text (each distinct sentence once) gives
    # the answerer separately embedded sentence vectors, and retrieval ranks chunks by their
    # best sentence, so a chunk vector made by averaging costs nothing in quality. Measured
    # with each model refitted on tune (holdout, k = 5): citation precision separate 0.698 /
    # late 0.640, key-fact recall 0.477 / 0.459, refusal on unanswerable 0.727 / 0.682; ingest
    # cost in bench/ingest.py.
    sentence_vectors: Literal["sentences", "late", "separate"] = Field(
        default="sentences",
        description="How vectors are made at ingest: sentences (each distinct sentence embedded "
        "once, a chunk's vector the mean of its sentences'), late (sentences pooled from the "
        "chunk's own pass) or separate (chunks and sentences each embedded). Changing it "
        "needs `citeqa ingest --rebuild`.",
    )
    chunk_tokens: int = Field(
        default=160, ge=32, le=512,
        description="Largest chunk, in cl100k tokens (MiniLM reads 256 word pieces at most).",
    )
    chunk_overlap_tokens: int = Field(
        default=32, ge=0, le=256,
        description="Tokens of trailing sentences repeated at the start of the next chunk.",
    )
    top_k: int = Field(default=5, ge=1, le=50, description="Passages retrieved per question.")
    retrieval_mode: Literal["hybrid", "dense", "keyword"] = Field(
        default="hybrid", description="hybrid (BM25 + dense, fused), dense or keyword."
    )
    answer_mode: Literal["auto", "extractive", "generative"] = Field(
        default="auto",
        description="auto: generative when an LLM endpoint is configured, else extractive.",
    )
    llm_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("CITEQA_LLM_BASE_URL", "OPENAI_BASE_URL"),
        description="OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, llama.cpp server). "
        "Also read from OPENAI_BASE_URL.",
    )
    llm_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("CITEQA_LLM_API_KEY", "OPENAI_API_KEY"),
        description="API key for the endpoint; also read from OPENAI_API_KEY. "
        "A key alone means api.openai.com.",
    )
    llm_model: str = Field(default="gpt-4o-mini", description="Model name sent to the endpoint.")
    llm_context_window: int = Field(
        default=8192, ge=1024, description="The model's context window in tokens."
    )
    llm_max_answer_tokens: int = Field(default=512, ge=16, description="Answer length cap.")
    llm_timeout_s: float = Field(
        default=30.0, gt=0, description="Per-request timeout, within the answer's deadline."
    )
    # 12 s: a reader waits about that long for a sentence before giving up on a page; after
    # it the offline answer (~20 ms) is shown with a notice.
    llm_deadline_s: float = Field(
        default=12.0,
        gt=0,
        description="Deadline for everything the model does for one answer (translation, "
        "follow-up rewrite, the answer); the offline answer is shown after.",
    )
    llm_first_token_s: float = Field(
        default=8.0, gt=0, description="A streamed answer must start within this many seconds."
    )
    llm_max_retries: int = Field(default=1, ge=0, le=5, description="Retries per request.")
    ui_host: str = Field(default="127.0.0.1", description="Address the Gradio page binds.")
    ui_port: int = Field(default=7860, ge=0, le=65535, description="Port of the Gradio page.")
    auth: SecretStr | None = Field(
        default=None, description="Optional page login as user:password."
    )
    ui_concurrency: int = Field(
        default=4, ge=1, le=64, description="Answers generated at once on the page."
    )
    # 50 MB: a long policy PDF is a few MB; past this an upload is more likely a mistake than a
    # document, and embedding it would hold the page's ingest queue for many minutes.
    upload_max_mb: float = Field(
        default=50.0, gt=0, le=2048, description="Largest file the page accepts for upload, in MB."
    )
    upload_types: list[str] = Field(
        default_factory=lambda: [".txt", ".md", ".html", ".pdf", ".docx"],
        description="File types the page accepts for upload (JSON list of suffixes).",
    )

    @field_validator("collection")
    @classmethod
    def _chroma_accepts(cls, name: str) -> str:
        """Checked here, so a name Chroma would refuse is a settings error, not a traceback."""
        problem = collection_name_problem(name)
        if problem is not None:
            raise ValueError(problem)
        return name

    @property
    def llm_configured(self) -> bool:
        """True when generated answers are possible (a base URL or an API key is set)."""
        return bool(self.llm_base_url or self.llm_api_key)


def load_settings(**overrides: object) -> Settings:
    """Read the environment (CITEQA_*) once; keyword overrides win (CLI flags, tests)."""
    return Settings(**overrides)  # type: ignore[arg-type]
