"""Errors the assistant raises, and the translation of vendor errors into them.

Every error the user can cause or fix is an ``AssistantError``; its message says what to do next
and its ``exit_code`` is what the CLI exits with. The tree::

    AssistantError                 exit 1
    ├── UsageError                 exit 2   bad option values, unknown provider, empty question
    ├── ConfigError                exit 1   missing key or base URL, bad settings
    ├── DocumentError              exit 1   a file that cannot be loaded (ingest skips it)
    ├── StoreError                 exit 1   Chroma unreachable or broken
    │   ├── StoreLockedError       exit 1   another process is writing to the embedded store
    │   └── EmbeddingMismatchError exit 1   the collection was built with another model
    └── ProviderError              exit 1   the LLM or embedding service failed (401, 429, 5xx, ...)

Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_DECLINED = 3


class AssistantError(Exception):
    """Base class: a problem the user can act on; the message says how."""

    exit_code = EXIT_ERROR


class UsageError(AssistantError):
    """The command was called wrongly."""

    exit_code = EXIT_USAGE


class ConfigError(AssistantError):
    """Settings are missing or inconsistent."""


class DocumentError(AssistantError):
    """A document could not be loaded; ingest skips it with a warning."""


class StoreError(AssistantError):
    """The vector store failed or could not be reached."""


class StoreLockedError(StoreError):
    """Another process holds the write lock of the embedded store."""


class EmbeddingMismatchError(StoreError):
    """The collection was built with a different embedding model or dimension."""


class ProviderError(AssistantError):
    """The LLM or remote embedding service failed."""


@contextlib.contextmanager
def map_errors(what: str) -> Iterator[None]:
    """Translate openai/httpx/chromadb errors raised inside the block into AssistantErrors.

    ``what`` names the operation for the message, e.g. ``"the chat model"``.
    """
    try:
        yield
    except AssistantError:
        raise
    except Exception as exc:  # noqa: BLE001 - classified below, re-raised if unknown
        mapped = translate(exc, what)
        if mapped is None:
            raise
        raise mapped from exc


def translate(exc: BaseException, what: str) -> AssistantError | None:
    """Return the AssistantError for a vendor exception, or None if it is not one we know."""
    module = type(exc).__module__ or ""
    name = type(exc).__name__
    openai = sys.modules.get("openai")
    # langchain-openai re-raises openai's errors as subclasses defined in its own modules.
    if module.startswith("openai") or (openai is not None and isinstance(exc, openai.OpenAIError)):
        return _translate_openai(exc, what)
    if module.startswith("httpx") or module.startswith("httpcore"):
        return ProviderError(f"{what}: network error ({name}): {_short(exc)}")
    if module.startswith("chromadb"):
        return StoreError(f"Chroma failed ({name}): {_short(exc)}")
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return ProviderError(f"{what}: {name}: {_short(exc)}")
    return None


def _translate_openai(exc: BaseException, what: str) -> AssistantError:
    import openai  # only reached when an openai error exists, so the module is loaded

    status = getattr(exc, "status_code", None)
    if isinstance(exc, openai.AuthenticationError):
        return ProviderError(
            f"{what} rejected the API key (401). Check OPENAI_API_KEY, or unset it to use the "
            "offline extractive answerer."
        )
    if isinstance(exc, openai.NotFoundError):
        return ProviderError(
            f"{what} says the model or endpoint was not found (404): {_short(exc)}. "
            "Check --model / ASSISTANT_MODEL and OPENAI_BASE_URL."
        )
    if isinstance(exc, openai.RateLimitError):
        return ProviderError(
            f"{what} is rate-limiting us (429) and retries did not get through; wait and try again."
        )
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError(f"{what} timed out; raise ASSISTANT_TIMEOUT or try again.")
    if isinstance(exc, openai.APIConnectionError):
        request = getattr(exc, "request", None)
        url = safe_url(str(request.url)) if request is not None else ""
        where = f" at {url}" if url else ""
        return ProviderError(
            f"cannot reach {what}{where} ({_short(exc).rstrip('.')}); check OPENAI_BASE_URL and "
            "that the server runs"
        )
    if status is not None and status >= 500:
        return ProviderError(f"{what} failed on the server side ({status}); try again later.")
    if status is not None:
        return ProviderError(f"{what} refused the request ({status}): {_short(exc)}")
    return ProviderError(f"{what} failed: {type(exc).__name__}: {_short(exc)}")


def safe_url(url: str) -> str:
    """A URL without user info, query or fragment (where a key could hide)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}" if parts.scheme else ""


def _short(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
