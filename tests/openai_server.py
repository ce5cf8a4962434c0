"""A small, real HTTP server that speaks enough of the OpenAI protocol for tests.

Standard library only. It listens on ``127.0.0.1`` (a free port) in a background
thread and serves:

* ``POST /v1/chat/completions`` -- non-streaming and streaming (SSE) replies;
* ``GET  /v1/models`` and ``GET /v1/models/{id}``;
* ``POST /v1/embeddings`` -- deterministic, L2-normalised hash embeddings, for
  text or token-id input, in ``float`` or ``base64`` encoding.

Usage::

    with FakeOpenAIServer() as srv:
        srv.set_responder(lambda req: "Lithium prices fell [1].")
        client = openai.OpenAI(base_url=srv.base_url, api_key=srv.api_key)
        ...
        assert srv.count() == 1

Failure scripting (``fail_next``, ``delay_next``, ``cut_stream_next``) lets tests
exercise retries, timeouts and streams that die mid-answer.

Misbehaving servers and models, as local servers and small models really behave (attributes,
settable at any time):

* ``honour_max_tokens`` (default True): a reply longer than the request's ``max_tokens`` /
  ``max_completion_tokens`` (in words) is cut there with ``finish_reason: "length"``; False
  ignores the cap;
* ``finish_reason``: force this finish reason (e.g. ``"length"``) on every reply;
* ``reply_model``: the model the responses name (a server that serves its own model whatever
  the request asks for); ``accept_any_model`` lets any requested name through;
* ``stream_forever``: seconds between words of a streamed reply that never ends: the
  responder's reply, then words without end (it ignores ``max_tokens``); ``forever_stopped`` is
  set when the client closed the stream;
* ``context_limit`` / ``context_style``: refuse with a 400, worded as llama.cpp
  (``"llama"``: "the request exceeds the available context size (N tokens)") or
  OpenAI/vLLM (``"openai"``: "maximum context length is N tokens"), a prompt of more than
  ``context_limit`` tokens (estimated: words and punctuation).

Reply-content misbehaviour is a responder: ``echo_system_prompt`` returns the request's system
prompt (a small model echoing its instructions).

Streaming responses use HTTP/1.1 chunked transfer encoding (as the real API does),
so a cut stream -- the terminating zero-length chunk never arrives -- is detectable
by the client: the ``openai`` client raises ``openai.APIConnectionError`` (caused by
``httpx2.RemoteProtocolError``: "incomplete chunked read"). Pass
``stream_framing="close"`` to emulate a proxy that delimits the body by closing
the connection instead: then a cut stream is indistinguishable from a normal end
of body at the HTTP level and the client silently yields truncated text with no
``finish_reason``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

DEFAULT_API_KEY = "sk-test-0123456789abcdef"
DEFAULT_REPLY = "This is a fixed reply from the fake OpenAI server."
DEFAULT_EMBEDDING_DIM = 64

Responder = Callable[[dict[str, Any]], str]

_ERROR_KINDS: dict[int, tuple[str, str | None, str]] = {
    # status: (type, code, message)
    400: ("invalid_request_error", None, "Bad request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Forbidden."),
    404: ("invalid_request_error", None, "Not found."),
    408: ("timeout", None, "Request timed out."),
    409: ("invalid_request_error", None, "Conflict."),
    422: ("invalid_request_error", None, "Unprocessable entity."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached. Please try again later."),
    500: ("server_error", None, "The server had an error while processing your request."),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
    504: ("server_error", None, "Gateway timeout."),
}


def error_body(status: int, message: str | None = None, *, code: str | None = None) -> dict:
    """An OpenAI-shaped error body: ``{"error": {"message", "type", "param", "code"}}``."""
    etype, default_code, default_message = _ERROR_KINDS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None, "Error.")
    )
    return {
        "error": {
            "message": message or default_message,
            "type": etype,
            "param": None,
            "code": code if code is not None else default_code,
        }
    }


def split_reply(text: str) -> list[str]:
    """Split ``text`` into small pieces (one word each, with its leading whitespace).

    ``"".join(split_reply(t)) == t`` always holds.
    """
    pieces = re.findall(r"\s*\S+", text)
    tail = text[sum(len(p) for p in pieces) :]
    if tail:
        if pieces:
            pieces[-1] += tail
        else:
            pieces.append(tail)
    return pieces


def count_words(text: str) -> int:
    return len(text.split())


def estimate_tokens(text: str) -> int:
    """A tokenizer-free token estimate: words and punctuation marks."""
    return len(re.findall(r"\w+|[^\w\s]", text))


def echo_system_prompt(request_json: dict[str, Any]) -> str:
    """A responder that echoes the system prompt back (what small models often do)."""
    for message in request_json.get("messages") or []:
        if isinstance(message, dict) and message.get("role") == "system":
            return _message_text(message.get("content"))
    return ""


def requested_cap(request_json: dict[str, Any]) -> int | None:
    """The reply cap a request asks for (max_completion_tokens or the older max_tokens)."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = request_json.get(name)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return " ".join(parts)
    return ""


def prompt_word_count(request_json: dict[str, Any]) -> int:
    """Rough prompt token count: whitespace words over all message contents."""
    total = 0
    for message in request_json.get("messages") or []:
        if isinstance(message, dict):
            total += count_words(_message_text(message.get("content")))
    return total


def fake_embedding(key: str, dim: int = DEFAULT_EMBEDDING_DIM) -> list[float]:
    """Deterministic unit vector (values representable exactly as float32) for ``key``."""
    values: list[float] = []
    block = 0
    while len(values) < dim:
        digest = hashlib.sha256(f"{block}:{key}".encode()).digest()
        for (word,) in struct.iter_unpack("<I", digest):
            values.append(word / 2**31 - 1.0)
        block += 1
    values = values[:dim]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    values = [v / norm for v in values]
    # Round to float32 so "float" and "base64" encodings give identical numbers.
    return list(struct.unpack(f"<{dim}f", struct.pack(f"<{dim}f", *values)))


def embedding_key(item: Any) -> str:
    """The string hashed for one embeddings input: the text, or repr() of a token-id list."""
    if isinstance(item, str):
        return item
    return repr([int(t) for t in item])


class _Failure:
    __slots__ = ("status", "remaining", "body", "retry_after")

    def __init__(self, status: int, n: int, body: dict | None, retry_after: float | None):
        self.status = status
        self.remaining = n
        self.body = body
        self.retry_after = retry_after


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeOpenAIServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self.server.fake._dispatch(self)

    def do_POST(self) -> None:  # noqa: N802
        self.server.fake._dispatch(self)

    def do_DELETE(self) -> None:  # noqa: N802
        self.server.fake._dispatch(self)


class _ClientGone(Exception):
    pass


class FakeOpenAIServer:
    """A real HTTP server on 127.0.0.1 speaking a subset of the OpenAI API.

    Args:
        api_key: the key expected in ``Authorization: Bearer <key>``; ``None``
            disables the check.
        models: chat model ids accepted by ``/v1/chat/completions`` (others get
            404 ``model_not_found``).
        embedding_models: model ids accepted by ``/v1/embeddings``; ``None``
            (default) accepts any model name.
        embedding_dim: default embedding size (a request's ``dimensions`` wins).
        stream_framing: ``"chunked"`` (default, like the real API) or ``"close"``
            (no framing; the body ends when the connection closes).
    """

    def __init__(
        self,
        *,
        api_key: str | None = DEFAULT_API_KEY,
        models: Iterable[str] = ("gpt-test",),
        embedding_models: Iterable[str] | None = None,
        embedding_dim: int = DEFAULT_EMBEDDING_DIM,
        stream_framing: str = "chunked",
        port: int = 0,
    ) -> None:
        if stream_framing not in ("chunked", "close"):
            raise ValueError("stream_framing must be 'chunked' or 'close'")
        self.api_key = api_key
        self.models = tuple(models)
        self.embedding_models = None if embedding_models is None else tuple(embedding_models)
        self.embedding_dim = embedding_dim
        self.stream_framing = stream_framing
        self._port = port
        self.honour_max_tokens = True
        self.finish_reason: str | None = None
        self.reply_model: str | None = None
        self.accept_any_model = False
        self.stream_forever: float | None = None
        self.forever_stopped = threading.Event()
        self.context_limit: int | None = None
        self.context_style = "llama"

        self._lock = threading.Lock()
        self._requests: list[dict[str, Any]] = []
        self._responder: Responder = lambda _request: DEFAULT_REPLY
        self._failures: list[_Failure] = []
        self._delays: list[list[float]] = []  # [seconds, remaining]
        self._cuts: list[list[int]] = []  # [after_chunks, remaining]
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeOpenAIServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _HTTPServer(("127.0.0.1", self._port), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeOpenAIServer:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()  # wakes handlers sleeping in delay_next
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeOpenAIServer is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Root URL, without ``/v1``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The URL to give to an OpenAI client (``http://127.0.0.1:PORT/v1``)."""
        return f"{self.url}/v1"

    # ------------------------------------------------------------------ inspection
    @property
    def requests(self) -> list[dict[str, Any]]:
        """A snapshot of every request received so far, oldest first.

        Each is ``{"path", "method", "headers" (lower-case keys), "json"}``; ``json``
        is ``None`` when the body was empty or not JSON.
        """
        with self._lock:
            return list(self._requests)

    def count(self, path: str = "/v1/chat/completions") -> int:
        with self._lock:
            return sum(1 for r in self._requests if r["path"] == path)

    def reset(self) -> None:
        """Forget recorded requests and pending scripted failures; restore the default reply."""
        with self._lock:
            self._requests.clear()
            self._failures.clear()
            self._delays.clear()
            self._cuts.clear()
            self._responder = lambda _request: DEFAULT_REPLY

    # ------------------------------------------------------------------ scripting
    def set_responder(self, fn: Responder | None) -> None:
        """``fn(request_json) -> str`` gives the assistant's reply; ``None`` restores the default.

        If ``fn`` raises, the request gets a 500 server_error.
        """
        with self._lock:
            self._responder = fn if fn is not None else (lambda _request: DEFAULT_REPLY)

    def fail_next(
        self,
        status: int,
        n: int = 1,
        *,
        body: dict | None = None,
        retry_after: float | None = None,
    ) -> None:
        """The next ``n`` chat/embeddings requests (that pass the key check) get ``status``.

        ``body`` replaces the default OpenAI-style error JSON; ``retry_after`` adds a
        ``retry-after`` header (seconds, may be fractional).
        """
        if n > 0:
            with self._lock:
                self._failures.append(_Failure(status, n, body, retry_after))

    def delay_next(self, seconds: float, n: int = 1) -> None:
        """The next ``n`` requests (any endpoint) sleep ``seconds`` before answering."""
        if n > 0:
            with self._lock:
                self._delays.append([seconds, n])

    def cut_stream_next(self, after_chunks: int = 2, n: int = 1) -> None:
        """The next ``n`` streaming chat responses send ``after_chunks`` SSE events, then
        close the connection without the end of the body and without ``data: [DONE]``.

        The first event is the role chunk (``delta.role == "assistant"``, empty content),
        so ``after_chunks=2`` delivers exactly one piece of text.
        """
        if n > 0:
            with self._lock:
                self._cuts.append([after_chunks, n])

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _take(queue: list[Any]) -> Any:
        """Pop one use from the head of a scripting queue (caller holds the lock)."""
        if not queue:
            return None
        head = queue[0]
        if isinstance(head, _Failure):
            head.remaining -= 1
            if head.remaining <= 0:
                queue.pop(0)
            return head
        head[1] -= 1
        if head[1] <= 0:
            queue.pop(0)
        return head[0]

    def _dispatch(self, h: _Handler) -> None:
        h.close_connection = True
        try:
            self._handle(h)
        except _ClientGone:
            pass
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            pass

    def _handle(self, h: _Handler) -> None:
        path = urlsplit(h.path).path.rstrip("/") or "/"
        length = int(h.headers.get("content-length") or 0)
        raw = h.rfile.read(length) if length > 0 else b""
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        headers = {k.lower(): v for k, v in h.headers.items()}
        with self._lock:
            self._requests.append(
                {"path": path, "method": h.command, "headers": headers, "json": payload}
            )
            delay = self._take(self._delays)
        if delay:
            self._stopping.wait(delay)
            if self._stopping.is_set():
                return

        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            # Never echo the presented key (the real API echoes a masked form).
            self._send_json(h, 401, error_body(401, "Incorrect API key provided."))
            return

        if path == "/v1/chat/completions" and h.command == "POST":
            self._chat(h, payload)
        elif path == "/v1/embeddings" and h.command == "POST":
            self._embeddings(h, payload)
        elif path == "/v1/models" and h.command == "GET":
            self._send_json(
                h, 200, {"object": "list", "data": [self._model_obj(m) for m in self._all_models()]}
            )
        elif path.startswith("/v1/models/") and h.command == "GET":
            model = path[len("/v1/models/") :]
            if model in self._all_models():
                self._send_json(h, 200, self._model_obj(model))
            else:
                self._send_json(h, 404, self._model_not_found(model))
        else:
            self._send_json(
                h, 404, error_body(404, f"Invalid URL ({h.command} {path})", code="unknown_url")
            )

    def _all_models(self) -> tuple[str, ...]:
        return self.models + (self.embedding_models or ())

    @staticmethod
    def _model_obj(model: str) -> dict[str, Any]:
        return {"id": model, "object": "model", "created": 1700000000, "owned_by": "fake"}

    @staticmethod
    def _model_not_found(model: Any) -> dict:
        return error_body(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
        )

    def _scripted_failure(self, h: _Handler) -> bool:
        with self._lock:
            failure = self._take(self._failures)
        if failure is None:
            return False
        extra = {}
        if failure.retry_after is not None:
            extra["retry-after"] = f"{failure.retry_after:g}"
        body = failure.body if failure.body is not None else error_body(failure.status)
        self._send_json(h, failure.status, body, extra)
        return True

    # ----------------------------------------------------------------- chat
    def _chat(self, h: _Handler, req: Any) -> None:
        if self._scripted_failure(h):
            return
        if not isinstance(req, dict) or not isinstance(req.get("messages"), list):
            self._send_json(h, 400, error_body(400, "'messages' is a required property."))
            return
        model = req.get("model")
        if model not in self.models and not self.accept_any_model:
            self._send_json(h, 404, self._model_not_found(model))
            return
        if self.context_limit is not None:
            n_prompt = sum(
                estimate_tokens(_message_text(m.get("content")))
                for m in req["messages"]
                if isinstance(m, dict)
            )
            cap = requested_cap(req) or 0
            if self.context_style == "llama" and n_prompt >= self.context_limit:
                message = (
                    f"the request exceeds the available context size ({self.context_limit} "
                    "tokens), try increasing it"
                )
                self._send_json(h, 400, error_body(400, message, code="exceed_context_size_error"))
                return
            if self.context_style == "openai" and n_prompt + cap > self.context_limit:
                message = (
                    f"This model's maximum context length is {self.context_limit} tokens. However, "
                    f"you requested {n_prompt + cap} tokens ({n_prompt} in the messages, {cap} in "
                    "the completion). Please reduce the length of the messages or completion."
                )
                self._send_json(h, 400, error_body(400, message, code="context_length_exceeded"))
                return
        with self._lock:
            responder = self._responder
        try:
            reply = str(responder(req))
        except Exception as exc:  # noqa: BLE001 - report any responder failure as a 500
            self._send_json(h, 500, error_body(500, f"responder failed: {exc!r}"))
            return

        finish = "stop"
        cap = requested_cap(req)
        if self.honour_max_tokens and cap is not None and count_words(reply) > cap:
            reply = "".join(split_reply(reply)[:cap])
            finish = "length"
        if self.finish_reason is not None:
            finish = self.finish_reason
        model = self.reply_model or model
        prompt_tokens = prompt_word_count(req)
        completion_tokens = count_words(reply)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())

        if not req.get("stream"):
            self._send_json(
                h,
                200,
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "system_fingerprint": "fp_fake",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply, "refusal": None},
                            "logprobs": None,
                            "finish_reason": finish,
                        }
                    ],
                    "usage": usage,
                },
            )
            return

        include_usage = bool((req.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: dict, finish_reason: str | None) -> dict:
            obj: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [
                    {
                        "index": 0,
                        "delta": delta,
                        "logprobs": None,
                        "finish_reason": finish_reason,
                    }
                ],
            }
            if include_usage:
                obj["usage"] = None
            return obj

        events: list[dict] = [chunk({"role": "assistant", "content": ""}, None)]
        events += [chunk({"content": piece}, None) for piece in split_reply(reply)]
        events.append(chunk({}, finish))
        if include_usage:
            events.append(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "system_fingerprint": "fp_fake",
                    "choices": [],
                    "usage": usage,
                }
            )

        with self._lock:
            cut_after = self._take(self._cuts)

        chunked = self.stream_framing == "chunked"
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream; charset=utf-8")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Connection", "close")
        if chunked:
            h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()

        def write(data: bytes) -> None:
            if self._stopping.is_set():
                raise _ClientGone
            if chunked:
                data = b"%x\r\n%s\r\n" % (len(data), data)
            h.wfile.write(data)
            h.wfile.flush()

        if self.stream_forever is not None:
            content = [
                e for e in events if e.get("choices") and not e["choices"][0]["finish_reason"]
            ]
            self._stream_forever(write, chunk, content, self.stream_forever)
            return
        for i, event in enumerate(events):
            if cut_after is not None and i >= cut_after:
                # Abrupt end: no terminating chunk, no [DONE]; the connection closes.
                return
            write(b"data: " + json.dumps(event).encode() + b"\n\n")
        if cut_after is not None:
            return
        write(b"data: [DONE]\n\n")
        if chunked:
            h.wfile.write(b"0\r\n\r\n")
            h.wfile.flush()

    def _stream_forever(
        self,
        write: Callable[[bytes], None],
        chunk: Callable[..., dict],
        head: list[dict],
        every: float,
    ) -> None:
        """The reply's events, then words, one every `every` seconds, until the client closes."""
        self.forever_stopped.clear()
        try:
            for event in head:
                write(b"data: " + json.dumps(event).encode() + b"\n\n")
            i = 0
            while not self._stopping.is_set():
                word = ("lithium", "nickel", "cobalt", "graphite")[i % 4]
                write(
                    b"data: " + json.dumps(chunk({"content": f" {word}"}, None)).encode() + b"\n\n"
                )
                i += 1
                if every:
                    self._stopping.wait(every)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, _ClientGone):
            pass
        finally:
            self.forever_stopped.set()

    # ----------------------------------------------------------------- embeddings
    def _embeddings(self, h: _Handler, req: Any) -> None:
        if self._scripted_failure(h):
            return
        if not isinstance(req, dict) or "input" not in req:
            self._send_json(h, 400, error_body(400, "'input' is a required property."))
            return
        model = req.get("model")
        if not isinstance(model, str) or (
            self.embedding_models is not None and model not in self.embedding_models
        ):
            self._send_json(h, 404, self._model_not_found(model))
            return

        raw_input = req["input"]
        items: list[Any]
        if isinstance(raw_input, str):
            items = [raw_input]
        elif (
            isinstance(raw_input, list) and raw_input and all(isinstance(t, int) for t in raw_input)
        ):
            items = [raw_input]  # a single token-id list
        elif (
            isinstance(raw_input, list)
            and raw_input
            and all(
                isinstance(x, str) or (isinstance(x, list) and all(isinstance(t, int) for t in x))
                for x in raw_input
            )
        ):
            items = raw_input
        else:
            self._send_json(h, 400, error_body(400, "'input' is invalid."))
            return

        dim = req.get("dimensions") or self.embedding_dim
        if not isinstance(dim, int) or dim <= 0:
            self._send_json(h, 400, error_body(400, "'dimensions' is invalid."))
            return
        as_base64 = req.get("encoding_format") == "base64"
        data = []
        tokens = 0
        for index, item in enumerate(items):
            vector = fake_embedding(embedding_key(item), dim)
            tokens += count_words(item) if isinstance(item, str) else len(item)
            encoded: Any = (
                base64.b64encode(struct.pack(f"<{dim}f", *vector)).decode("ascii")
                if as_base64
                else vector
            )
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        self._send_json(
            h,
            200,
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    # ----------------------------------------------------------------- output
    def _send_json(
        self, h: _Handler, status: int, obj: Any, extra_headers: dict[str, str] | None = None
    ) -> None:
        if self._stopping.is_set():
            raise _ClientGone
        body = json.dumps(obj).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.send_header("Connection", "close")
        h.send_header("x-request-id", f"req_{uuid.uuid4().hex[:16]}")
        for name, value in (extra_headers or {}).items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(body)
        h.wfile.flush()


def main(argv: list[str] | None = None) -> None:
    """Run the server as its own process: `python tests/openai_server.py --reply "... [1]"`.

    Prints its base URL on the first line of stdout (port 0 = a free port), then serves
    until it is terminated.
    """
    import argparse
    import signal
    import sys

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--reply", default=DEFAULT_REPLY, help="the text every chat reply says")
    parser.add_argument("--model", action="append", help="accepted chat model (repeatable)")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the key it expects")
    parser.add_argument(
        "--embedding-dim", type=int, default=DEFAULT_EMBEDDING_DIM, help="length of the embeddings"
    )
    args = parser.parse_args(argv)
    server = FakeOpenAIServer(
        api_key=args.api_key,
        models=args.model or ("gpt-test",),
        port=args.port,
        embedding_dim=args.embedding_dim,
    )
    server.set_responder(lambda _request: args.reply)
    server.start()
    print(server.base_url, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    server.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
