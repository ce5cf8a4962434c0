"""The HTTP service behind `assistant serve`: JSON endpoints, an OpenAI-compatible chat endpoint and a
web page, all over one warm Assistant.

One process holds the embedding model, the store and the keyword index open, opened before the
service reports healthy (the facade is not safe on concurrent *first* use). Every call into it
runs in a worker thread behind a gate: questions side by side (after the warm-up, concurrent
questions give the answers a sequential run gives: tests/integration/test_serve.py), an ingest
alone; a streamed answer holds the gate for each step of the facade's generator and gives it back
between pieces, so a waiting ingest gets in and the event loop never waits on the model.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import ipaddress
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import __version__
from .answering import DECLINE_MESSAGES, Answer
from .chain import normalize_history
from .errors import (
    EXIT_ERROR,
    EXIT_USAGE,
    AssistantError,
    ProviderError,
    StoreError,
    StoreLockedError,
    UsageError,
)

if TYPE_CHECKING:
    from .assistant import Assistant

log = logging.getLogger("assistant.server")
T = TypeVar("T")

# Model ids /v1/models lists, and the provider each one asks for (None: the server's default).
MODELS: dict[str, str | None] = {"assistant": None, "assistant-extractive": "extractive"}
# Reachable without the API key: the health probe, and static files that carry no data.
PUBLIC_PATHS = frozenset({"/health", "/", "/app.js", "/style.css", "/docs", "/openapi.json"})
DOCS_ASSETS = "/docs-assets"  # Swagger UI's files, served from the swagger-ui-bundle package
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WEB_FILES = {"/": ("index.html", "text/html"), "/app.js": ("app.js", "text/javascript"),
             "/style.css": ("style.css", "text/css")}  # fmt: skip
PAGE_HEADERS = {
    # Defence in depth: even text that reached the DOM as markup could not run a script.
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


# --- the bind rule --------------------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    host = host.strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, api_key: str | None) -> None:
    """Refuse to listen beyond loopback without an API key (UsageError, exit 2)."""
    if not is_loopback(host) and not api_key:
        raise UsageError(
            f"binding to {host} exposes the service to the network: set ASSISTANT_API_KEY "
            "(clients send it as a bearer token), or bind to 127.0.0.1"
        )


# --- errors as JSON -------------------------------------------------------------------------------
def status_for(exc: AssistantError) -> int:
    """The HTTP status of an AssistantError."""
    if isinstance(exc, UsageError):
        return 400
    if isinstance(exc, StoreLockedError):
        return 409
    if isinstance(exc, ProviderError):
        return 502
    if isinstance(exc, StoreError):
        return 503
    return 500


def error_body(message: str, kind: str, exit_code: int) -> dict[str, Any]:
    """`{"error": {"message", "type", "exit_code"}}`: the CLI's message and exit code, as JSON."""
    return {"error": {"message": message, "type": kind, "exit_code": exit_code}}


class _HTTPError(Exception):
    """An error of the HTTP layer itself (unknown model, bad messages), with its status."""

    def __init__(self, status: int, message: str, kind: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status, self.kind, self.exit_code = status, kind, exit_code


# --- request bodies -------------------------------------------------------------------------------
class AskRequest(BaseModel):
    """POST /ask."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(description="The question, in English or Arabic.")
    k: int | None = Field(None, ge=1, le=100, description="Chunks to retrieve.")
    provider: str | None = Field(None, description="auto, openai or extractive.")
    model: str | None = Field(None, description="Chat model for the openai provider.")
    source: str | None = Field(None, description="Only sources matching this glob.")
    history: list[Any] | None = Field(
        None, description="Earlier turns: [question, answer] pairs or {role, content} messages."
    )
    stream: bool = Field(False, description="Stream text pieces, then the answer, as SSE.")


class SearchRequest(BaseModel):
    """POST /search."""

    model_config = ConfigDict(extra="forbid")
    query: str
    k: int = Field(5, ge=1, le=100)
    source: str | None = None
    language: str | None = None


class IngestRequest(BaseModel):
    """POST /ingest: files, folders or globs on the server's disk (default: its corpus dir)."""

    model_config = ConfigDict(extra="forbid")
    paths: list[str] = Field(default_factory=list)
    rebuild: bool = False
    prune: bool = False
    dry_run: bool = False


class ChatCompletionRequest(BaseModel):
    """POST /v1/chat/completions (OpenAI's shape; sampling options are accepted and ignored)."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[dict[str, Any]]
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    k: int | None = Field(None, ge=1, le=100, description="Extension: chunks to retrieve.")
    source: str | None = Field(None, description="Extension: only sources matching this glob.")


# --- access to the facade: questions side by side, a write alone ----------------------------------
class Gate:
    """Runs facade calls in worker threads: questions (shared) side by side, an ingest or the
    warm-up (exclusive) alone, with no question in flight. A waiting write goes before new
    questions, so a stream of questions cannot starve it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        """Hold the gate alongside other questions."""
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the gate alone."""
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` in a worker thread, holding the gate shared."""
        return await run_in_threadpool(self._locked, self.shared, fn, args, kwargs)

    async def call_alone(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` in a worker thread, holding the gate alone."""
        return await run_in_threadpool(self._locked, self.exclusive, fn, args, kwargs)

    def _locked(
        self, hold: Callable[[], Any], fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> T:
        with hold():
            return fn(*args, **kwargs)

    async def steps(self, items: Iterator[T]) -> AsyncGenerator[T, None]:
        """The items of a blocking generator, each `next()` in a worker thread (gate shared)."""
        try:
            while True:
                done, item = await run_in_threadpool(self._step, items)
                if done:
                    return
                yield item
        finally:
            # Closing runs the generator's cleanup: off the event loop, under the gate.
            asyncio.get_running_loop().run_in_executor(None, self._close, items)

    def _step(self, items: Iterator[T]) -> tuple[bool, Any]:
        with self.shared():
            try:
                return False, next(items)
            except StopIteration:
                return True, None

    def _close(self, items: Iterator[T]) -> None:
        close = getattr(items, "close", None)
        if close is not None:
            with self.shared():
                close()


# --- the app ----------------------------------------------------------------------------------------
def warm(assistant: Assistant) -> None:
    """Open the model, the store, the keyword index and both answerers (the facade is not safe on
    concurrent first use, so this runs before the service reports healthy)."""
    assistant.answerer()  # a missing key or bad provider fails here, not on the first question
    if assistant.store.count() > 0:
        # Each large language's vectors in memory: a question that the unfiltered query brings
        # back short in a language is searched there rather than by a filtered Chroma query.
        assistant.warm()
        assistant.ask("warm up", provider="extractive")


def create_app(
    assistant: Assistant,
    *,
    api_key: str | None = None,
    max_request_bytes: int | None = None,
    max_question_chars: int | None = None,
    warm_up: bool = True,
) -> FastAPI:
    """The FastAPI app serving `assistant`. Limits default to the assistant's settings.

    With `api_key`, every endpoint but /health and the static page and docs wants
    `Authorization: Bearer <api_key>`; without it, requests must name a loopback Host (so a web
    page elsewhere cannot reach the service through DNS rebinding).
    """
    settings = assistant.settings
    if api_key is None and settings.api_key is not None:
        api_key = settings.api_key.get_secret_value() or None
    max_bytes = max_request_bytes or settings.max_request_bytes
    max_chars = max_question_chars or settings.max_question_chars
    secrets = [s for s in [*settings.secrets(), api_key or ""] if len(s) >= 4]
    gate = Gate()
    ingesting = threading.Lock()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if warm_up:
            await gate.call_alone(warm, assistant)
        yield

    app = FastAPI(
        title="assistant",
        version=__version__,
        description="Cited answers from supply-chain news: JSON endpoints, an OpenAI-compatible "
        "chat endpoint and a web page at /.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    _add_docs(app)
    app.add_middleware(_Guard, api_key=api_key, max_bytes=max_bytes)

    def redact(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "***")
        return text

    def error_payload(exc: BaseException) -> tuple[int, dict[str, Any]]:
        if isinstance(exc, AssistantError):
            body = error_body(redact(str(exc)), type(exc).__name__, exc.exit_code)
            return status_for(exc), body
        if isinstance(exc, _HTTPError):
            return exc.status, error_body(str(exc), exc.kind, exc.exit_code)
        message = f"unexpected error ({type(exc).__name__}); the server log has the details"
        return 500, error_body(message, "InternalError", EXIT_ERROR)

    def error_response(exc: BaseException) -> JSONResponse:
        status, body = error_payload(exc)
        return JSONResponse(body, status)

    async def on_error(_: Request, exc: Exception) -> JSONResponse:
        return error_response(exc)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        message = f"invalid request: {where}: {first.get('msg', 'malformed')}"
        if first.get("type") == "json_invalid":
            message = "invalid request: the body is not valid JSON"
        return JSONResponse(error_body(message, "UsageError", EXIT_USAGE), 400)

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        kind = "NotFound" if exc.status_code == 404 else "HTTPError"
        return JSONResponse(
            error_body(str(exc.detail), kind, EXIT_USAGE), exc.status_code, headers=exc.headers
        )

    app.add_exception_handler(AssistantError, on_error)
    app.add_exception_handler(_HTTPError, on_error)
    app.add_exception_handler(Exception, on_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)

    def check_question(question: str) -> str:
        if len(question.strip()) > max_chars:
            raise UsageError(f"the question is longer than {max_chars} characters")
        return question

    async def first_and_rest(items: Iterator[Any]) -> tuple[Any, AsyncGenerator[Any, None]]:
        """Run a stream to its first item before answering, so early errors get a real status."""
        steps = gate.steps(items)
        try:
            first = await steps.__anext__()
        except StopAsyncIteration:
            first = None
        except BaseException:
            await steps.aclose()
            raise
        return first, steps

    # --- health, web page -------------------------------------------------------------------------
    @app.get("/health", tags=["service"])
    async def health() -> dict[str, Any]:
        """Up and warm (the service only listens once the model, store and index are open)."""
        return {
            "status": "ok",
            "version": __version__,
            "provider": settings.resolved_provider(),
            "auth": api_key is not None,
        }

    web = {route: (_web_file(name), media) for route, (name, media) in WEB_FILES.items()}

    def page(route: str) -> Callable[[], Any]:
        async def serve_file() -> Response:
            content, media = web[route]
            return Response(content, media_type=media, headers=PAGE_HEADERS)

        return serve_file

    for route in WEB_FILES:
        app.add_api_route(route, page(route), methods=["GET"], include_in_schema=False)

    # --- JSON endpoints ---------------------------------------------------------------------------
    @app.post("/ask", tags=["assistant"])
    async def ask(body: AskRequest) -> Any:
        """The `ask --json` object; with "stream": true, SSE events `delta` ({"text"}) then `answer`."""
        items = assistant.stream(
            check_question(body.question),
            k=body.k,
            provider=body.provider,
            model=body.model,
            source=body.source,
            history=normalize_history(body.history or []),
        )
        if not body.stream:
            answer = await gate.call(_last_answer, items)
            return answer.to_dict()
        first, rest = await first_and_rest(items)

        async def events() -> AsyncIterator[str]:
            item = first
            try:
                while True:
                    if isinstance(item, Answer):
                        yield _sse(item.to_dict(), "answer")
                    elif isinstance(item, str):
                        yield _sse({"text": item}, "delta")
                    try:
                        item = await rest.__anext__()
                    except StopAsyncIteration:
                        return
            except Exception as exc:  # headers are gone: the error is an event
                _log_unexpected(exc)
                yield _sse(error_payload(exc)[1], "error")
            finally:
                await rest.aclose()

        return StreamingResponse(events(), media_type="text/event-stream", headers=_SSE_HEADERS)

    @app.post("/search", tags=["assistant"])
    async def search(body: SearchRequest) -> dict[str, Any]:
        """Ranked chunks for a query, with scores and character spans."""
        query = check_question(body.query)
        hits = await gate.call(
            assistant.search, query, body.k, source=body.source, language=body.language
        )
        return {"hits": [{"rank": i, **_plain(h, "metadata")} for i, h in enumerate(hits, 1)]}

    @app.get("/sources", tags=["assistant"])
    async def sources() -> dict[str, Any]:
        """Documents in the store."""
        docs = await gate.call(assistant.sources)
        return {"sources": [_plain(d, "path", "sha256") for d in docs]}

    @app.post("/ingest", tags=["assistant"])
    async def ingest(body: IngestRequest) -> dict[str, Any]:
        """Ingest files, folders or globs on the server's disk; 409 while another writer holds the
        store's lock. Questions wait while an ingest runs."""
        if not ingesting.acquire(blocking=False):
            raise StoreLockedError(
                "an ingest is already running in this service; wait for it to finish"
            )
        try:
            if not body.dry_run:  # fail fast on another process's lock, before queueing
                await run_in_threadpool(_probe_write_lock, assistant)
            report = await gate.call_alone(
                _ingest_and_rewarm,
                assistant,
                body.paths or None,
                rebuild=body.rebuild,
                prune=body.prune,
                dry_run=body.dry_run,
            )
        finally:
            ingesting.release()
        return dict(report.to_dict())

    # --- OpenAI-compatible ------------------------------------------------------------------------
    @app.get("/v1/models", tags=["openai"])
    async def models() -> dict[str, Any]:
        """The assistant as OpenAI "models": `assistant` (the server's provider) and
        `assistant-extractive` (offline, quoting the articles)."""
        created = int(time.time())
        return {
            "object": "list",
            "data": [
                {"id": m, "object": "model", "created": created, "owned_by": "assistant"}
                for m in MODELS
            ],
        }

    @app.post("/v1/chat/completions", tags=["openai"])
    async def chat_completions(body: ChatCompletionRequest) -> Any:
        """OpenAI chat completions. The text carries [n] markers; `citations` (and `answer`, the
        full `ask --json` object) ride along in the response, or in the stream's chunk with the
        finish_reason. Earlier turns in `messages` are condensed as in `assistant chat`."""
        if body.model not in MODELS:
            raise _HTTPError(
                404,
                f"the model {body.model!r} does not exist: use one of {', '.join(MODELS)}",
                "model_not_found",
            )
        question, history = _split_messages(body.messages)
        items = assistant.stream(
            check_question(question),
            k=body.k,
            provider=MODELS[body.model],
            source=body.source,
            history=history,
        )
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        if not body.stream:
            answer = await gate.call(_last_answer, items)
            return {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": body.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer.text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": _usage(answer),
                **_extras(answer),
            }
        first, rest = await first_and_rest(items)
        include_usage = bool((body.stream_options or {}).get("include_usage"))

        def chunk(delta: dict[str, Any], finish: str | None, **extra: Any) -> str:
            data = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": body.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
            return _sse(data)

        async def events() -> AsyncIterator[str]:
            item, role_sent = first, False
            try:
                while True:
                    if isinstance(item, str):
                        delta = (
                            {"content": item}
                            if role_sent
                            else {"role": "assistant", "content": item}
                        )
                        role_sent = True
                        yield chunk(delta, None)
                    elif isinstance(item, Answer):
                        yield chunk(
                            {} if role_sent else {"role": "assistant"}, "stop", **_extras(item)
                        )
                        if include_usage:
                            yield _sse(
                                {
                                    "id": completion_id,
                                    "object": "chat.completion.chunk",
                                    "created": created,
                                    "model": body.model,
                                    "choices": [],
                                    "usage": _usage(item),
                                }
                            )
                    try:
                        item = await rest.__anext__()
                    except StopAsyncIteration:
                        break
            except Exception as exc:  # headers are gone: the OpenAI way is a chunk with "error"
                _log_unexpected(exc)
                yield _sse(error_payload(exc)[1])
            finally:
                await rest.aclose()
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers=_SSE_HEADERS)

    return app


# --- helpers ----------------------------------------------------------------------------------------
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _sse(data: dict[str, Any], event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


def _log_unexpected(exc: BaseException) -> None:
    if not isinstance(exc, (AssistantError, _HTTPError)):
        log.error("unexpected error while streaming", exc_info=exc)


def _last_answer(items: Iterator[Any]) -> Answer:
    answer = None
    for item in items:
        if isinstance(item, Answer):
            answer = item
    if answer is None:  # pragma: no cover - the facade always ends with an Answer
        raise ProviderError("no answer was produced")
    return answer


def _plain(obj: Any, *leave_out: str) -> dict[str, Any]:
    """A dataclass as JSON-ready data, every field but `leave_out` (new fields appear as they come)."""
    return {
        f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.name not in leave_out
    }


def _ingest_and_rewarm(assistant: Assistant, paths: Any, **options: Any) -> Any:
    """Ingest, then rebuild the keyword index now rather than on the next question."""
    report = assistant.ingest(paths, **options)
    if not report.dry_run and assistant.store.count() > 0:
        assistant.warm()
    return report


def _probe_write_lock(assistant: Assistant) -> None:
    with assistant.store.write_lock():
        pass


def _usage(answer: Answer) -> dict[str, int]:
    prompt = int(answer.usage.get("prompt_tokens", 0))
    completion = int(answer.usage.get("completion_tokens", 0))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _extras(answer: Answer) -> dict[str, Any]:
    data = answer.to_dict()
    return {"citations": data.get("citations", []), "answer": data}


def _text_of(content: Any) -> str:
    """A message's text: a string, or the text parts of a content list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def _split_messages(messages: list[dict[str, Any]]) -> tuple[str, list[tuple[str, str]]]:
    """The last user message is the question; earlier answered turns are the history (declined
    turns are left out, as `assistant chat` leaves them out of its session)."""
    turns = [
        {"role": m.get("role"), "content": _text_of(m.get("content"))}
        for m in messages
        if isinstance(m, dict)
    ]
    if not turns or turns[-1]["role"] != "user":
        raise UsageError('the last message must be the user\'s question (role "user")')
    declines = set(DECLINE_MESSAGES.values())
    history = [pair for pair in normalize_history(turns[:-1]) if pair[1].strip() not in declines]
    return str(turns[-1]["content"]), history


def _add_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the files the swagger-ui-bundle package ships, so the docs work
    offline (FastAPI's default loads them from a CDN); the CDN only when that package is absent."""
    from fastapi.openapi.docs import get_swagger_ui_html

    urls: dict[str, Any] = {"swagger_favicon_url": "data:,"}
    try:
        from starlette.staticfiles import StaticFiles
        from swagger_ui_bundle import swagger_ui_path

        app.mount(DOCS_ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
        urls["swagger_js_url"] = f"{DOCS_ASSETS}/swagger-ui-bundle.js"
        urls["swagger_css_url"] = f"{DOCS_ASSETS}/swagger-ui.css"
    except ImportError:  # pragma: no cover - a core dependency; the CDN is the fallback
        pass

    async def docs() -> Response:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="assistant API", **urls)

    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)


def _web_file(name: str) -> bytes:
    return (resources.files("assistant") / "web" / name).read_bytes()


# --- the guard: API key, Host, body size --------------------------------------------------------------
class _Guard:
    """ASGI middleware: the bearer token (or a loopback Host when there is no key), then the body
    limit (the whole body is read up to the limit before the app sees it)."""

    def __init__(self, app: ASGIApp, *, api_key: str | None, max_bytes: int) -> None:
        self.app = app
        self.api_key = api_key.encode() if api_key else None
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v for k, v in scope.get("headers", [])}
        refusal = self._refusal(scope["path"], headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        declared = headers.get("content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large()(scope, receive, send)
            return
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_bytes:
                await self._too_large()(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _refusal(self, path: str, headers: dict[str, bytes]) -> JSONResponse | None:
        if self.api_key is None:
            host = headers.get("host", b"").decode("latin-1")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if host and not is_loopback(name):
                message = (
                    f"this service answers only requests addressed to a loopback host, not {host!r}; "
                    "set ASSISTANT_API_KEY to serve other names"
                )
                return JSONResponse(error_body(message, "UsageError", EXIT_USAGE), 400)
            return None
        if path in PUBLIC_PATHS or path.startswith(f"{DOCS_ASSETS}/"):
            return None
        given = headers.get("authorization", b"")
        scheme, _, token = given.partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.api_key):
            return None
        message = (
            "missing or wrong API key: send the header `Authorization: Bearer <ASSISTANT_API_KEY>`"
        )
        return JSONResponse(
            error_body(message, "AuthenticationError", EXIT_ERROR),
            401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    def _too_large(self) -> JSONResponse:
        message = f"the request body is larger than {self.max_bytes} bytes"
        return JSONResponse(error_body(message, "RequestTooLarge", EXIT_USAGE), 413)
