"""The openai provider end to end: the real pipeline on the seeded store, a real HTTP server
speaking the OpenAI protocol (tests/openai_server.py), the Python API, the LCEL chain and the CLI."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from assistant import Assistant
from assistant.answering import DECLINE_TOKEN, Answer, decline_message
from assistant.chunking import count_tokens
from assistant.cli import app
from tests.conftest import use_llm_server

pytestmark = pytest.mark.integration

QUESTION = "Which minerals will Japan and Canada start mining first?"
ARABIC_QUESTION = "ما اسم منجم الليثيوم الجديد الذي تمت الموافقة عليه في الولايات المتحدة؟"
UNRELATED = "How can I earn money working part-time online from home?"
WRONG_KEY = "sk-wrong-key-9876543210zyxw"
SOURCE = re.compile(r'<source n="(\d+)"[^>]*>\n(.*?)\n</source>', re.DOTALL)


# --- helpers -------------------------------------------------------------------------------------
def sources_of(request: dict[str, Any]) -> dict[int, str]:
    """The numbered source texts in a chat request's last user message."""
    return {int(n): text for n, text in SOURCE.findall(request["messages"][-1]["content"])}


def longest_sentence(text: str) -> str:
    sentences = [s.strip() for s in re.split(r"(?<=[.!?؟])\s+|\n+", text) if s.strip()]
    return max(sentences, key=len)


def quoting_responder(request: dict[str, Any]) -> str:
    """A model that answers by quoting the longest sentence of source [1]."""
    if is_condense(request):
        return "Which minerals will Japan and Canada start mining first?"
    sources = sources_of(request)
    return f"{longest_sentence(sources[1])} [1]"


def is_condense(request: dict[str, Any]) -> bool:
    return "Rewrite the follow-up question" in request["messages"][0]["content"]


def chat_requests(server: Any) -> list[dict[str, Any]]:
    return [r["json"] for r in server.requests if r["path"] == "/v1/chat/completions"]


def assert_no_traceback(result: Any) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )


def ask_cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["ask", *args])


@pytest.fixture()
def llm_env(openai_server: Any, seeded_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Settings pointing at the fake server; the seeded store; small retries and timeout."""
    use_llm_server(monkeypatch, openai_server, retries=2, timeout=3)
    openai_server.set_responder(quoting_responder)
    return openai_server


# --- answers -------------------------------------------------------------------------------------
def test_cited_answer_quotes_the_cited_chunk_verbatim(llm_env: Any) -> None:
    answer = Assistant().ask(QUESTION)
    assert answer.answered is True
    assert answer.provider == "openai" and answer.model == "gpt-test"
    assert answer.citations
    for c in answer.citations:
        chunk = answer.context[c.n - 1]
        assert c.chunk_id == chunk.chunk_id
        assert c.quote and c.quote in chunk.text
        assert chunk.text[c.start - chunk.start : c.end - chunk.start] == c.quote
    assert "[1]" in answer.text
    assert set(answer.timings_ms) >= {"retrieve", "generate", "total"}

    requests = chat_requests(llm_env)
    assert len(requests) == 1
    messages = requests[0]["messages"]
    assert messages[0]["role"] == "system"
    assert "never follow them" in messages[0]["content"]
    user = messages[-1]["content"]
    assert "untrusted" in user and '<source n="1"' in user
    assert QUESTION in user
    assert requests[0]["model"] == "gpt-test"


def test_markers_pointing_at_no_source_are_dropped_and_reported(llm_env: Any) -> None:
    llm_env.set_responder(
        lambda req: f"{longest_sentence(sources_of(req)[1])} [1][9] Also this [12]."
    )
    answer = Assistant().ask(QUESTION)
    assert answer.answered
    assert "[9]" not in answer.text and "[12]" not in answer.text and "[1]" in answer.text
    assert answer.dropped_markers == [9, 12]
    assert [c.n for c in answer.citations] == [1]

    result = ask_cli(QUESTION)
    assert result.exit_code == 0
    assert "[9]" not in result.stdout
    assert "dropped citation markers" in result.stderr and "9" in result.stderr


def test_model_decline_prints_the_fixed_message_and_exits_3(llm_env: Any) -> None:
    llm_env.set_responder(lambda req: DECLINE_TOKEN)
    answer = Assistant().ask(QUESTION)
    assert answer.answered is False
    assert answer.text == decline_message("en")
    assert answer.citations == []

    result = ask_cli(QUESTION)
    assert result.exit_code == 3
    assert DECLINE_TOKEN not in result.stdout
    assert result.stdout.strip() == decline_message("en")
    assert_no_traceback(result)


def test_unrelated_question_is_declined_without_calling_the_model(llm_env: Any) -> None:
    result = ask_cli(UNRELATED)
    assert result.exit_code == 3
    assert result.stdout.strip() == decline_message("en")
    assert llm_env.count() == 0


def test_arabic_question_gets_an_arabic_prompt_and_answer(llm_env: Any) -> None:
    def reply_citing_rhyolite_ridge(request: dict[str, Any]) -> str:
        # Cites the source that says it, wherever retrieval ranked it, as a model would.
        prompt = request["messages"][-1]["content"]
        n = re.search(r'<source n="(\d+)"[^>]*>[^<]*Rhyolite Ridge', prompt).group(1)
        return f"وافقت الولايات المتحدة على منجم ليثيوم جديد في رايولايت ريدج [{n}]."

    llm_env.set_responder(reply_citing_rhyolite_ridge)
    answer = Assistant().ask(ARABIC_QUESTION)
    assert answer.answered
    assert answer.text == "وافقت الولايات المتحدة على منجم ليثيوم جديد في رايولايت ريدج [1]."
    assert [c.n for c in answer.citations] == [1]  # renumbered in the order of the answer
    assert any("Rhyolite Ridge" in h.text for h in answer.context)
    request = chat_requests(llm_env)[0]
    assert "(Arabic)" in request["messages"][0]["content"]
    assert "Answer in Arabic" in request["messages"][-1]["content"]


def test_prompt_never_exceeds_a_small_context_window_with_long_history(
    llm_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = 1200
    monkeypatch.setenv("ASSISTANT_CONTEXT_WINDOW", str(window))
    monkeypatch.setenv("ASSISTANT_ANSWER_TOKENS", "200")
    assistant = Assistant()
    history = [
        (
            f"Question {i} about nickel, lithium and cobalt supply chains? " * 3,
            "A long answer [1]. " * 150,
        )
        for i in range(5)
    ]
    answer = assistant.ask("What will they mine first?", history=history)
    assert answer.answered
    requests = chat_requests(llm_env)
    assert len(requests) == 2 and is_condense(requests[0])
    for request in requests:
        tokens = sum(count_tokens(m["content"]) for m in request["messages"])
        assert tokens <= window, tokens
    answer_request = requests[1]
    tokens = sum(count_tokens(m["content"]) for m in answer_request["messages"])
    assert tokens + 200 <= window


# --- the Python API ------------------------------------------------------------------------------
def test_stream_yields_text_pieces_then_the_answer(
    llm_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_PROVIDER", "auto")  # auto: a key or base URL means openai
    items = list(Assistant().stream(QUESTION))
    *pieces, final = items
    assert isinstance(final, Answer)
    assert len(pieces) > 1 and all(isinstance(p, str) for p in pieces)
    assert "".join(pieces) == final.text
    assert final.answered and final.citations
    assert final.provider == "openai" and llm_env.count() == 1
    assert final.usage.get("completion_tokens", 0) > 0


def test_chat_session_keeps_history_and_condenses_follow_ups_through_the_model(
    llm_env: Any,
) -> None:
    session = Assistant().chat()
    first = session.ask("Which minerals will Japan and Canada mine under their partnership?")
    assert first.answered
    assert len(session.history) == 1
    assert llm_env.count() == 1

    second = session.ask("And which companies will make batteries there?")
    requests = chat_requests(llm_env)
    assert len(requests) == 3
    condense = requests[1]
    assert is_condense(condense)
    prompt = condense["messages"][0]["content"]
    assert "Which minerals will Japan and Canada mine under their partnership?" in prompt
    assert "And which companies will make batteries there?" in prompt
    assert second.standalone_question == QUESTION
    # The answer request carries the earlier turn as chat history.
    roles = [m["role"] for m in requests[2]["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert len(session.history) == 2

    session.reset()
    session.ask(QUESTION)
    assert not is_condense(chat_requests(llm_env)[-1]) and llm_env.count() == 4


def test_chain_invoke_stream_batch_and_ainvoke(llm_env: Any) -> None:
    chain = Assistant().chain
    result = chain.invoke({"question": QUESTION, "chat_history": []})
    assert result["answer"] and "[1]" in result["answer"]
    assert result["answered"] is True and result["citations"]
    docs = result["context"]
    from langchain_core.documents import Document

    assert docs and all(isinstance(d, Document) for d in docs)
    assert result["citations"][0]["quote"] in docs[0].page_content

    pieces = [
        c["answer"]
        for c in chain.stream({"question": QUESTION, "chat_history": []})
        if "answer" in c
    ]
    assert len(pieces) > 1 and "".join(pieces) == result["answer"]

    batch = chain.batch(
        [{"question": QUESTION, "chat_history": []}, {"question": UNRELATED, "chat_history": []}]
    )
    assert [b["answered"] for b in batch] == [True, False]

    result2 = asyncio.run(chain.ainvoke({"question": QUESTION, "chat_history": []}))
    assert result2["answer"] == result["answer"]


# --- failures through the CLI --------------------------------------------------------------------
def test_missing_key_and_base_url_exit_1_with_one_line_naming_the_key(
    seeded_data_dir: Path,
) -> None:
    result = ask_cli(QUESTION, "--provider", "openai")
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "OPENAI_API_KEY" in lines[0]
    assert_no_traceback(result)


def test_wrong_key_exits_1_mentions_401_and_never_prints_the_key(
    llm_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", WRONG_KEY)
    monkeypatch.setenv("ASSISTANT_PROVIDER", "auto")
    result = ask_cli(QUESTION, "--provider", "openai")
    assert result.exit_code == 1
    assert "401" in result.stderr and "OPENAI_API_KEY" in result.stderr
    assert result.stdout == ""
    for key in (WRONG_KEY, llm_env.api_key, WRONG_KEY[3:]):
        assert key not in result.output
    assert_no_traceback(result)
    assert llm_env.count() == 1  # a rejected key is not retried
    sent = llm_env.requests[0]["headers"]["authorization"]
    assert sent == f"Bearer {WRONG_KEY}"  # the key we check for is the one that was used


def test_unknown_model_exits_1_naming_the_model(llm_env: Any) -> None:
    result = ask_cli(QUESTION, "--model", "gpt-nope")
    assert result.exit_code == 1
    assert "model" in result.stderr and "gpt-nope" in result.stderr
    assert_no_traceback(result)


def test_rate_limit_once_is_retried_and_answers(llm_env: Any) -> None:
    llm_env.fail_next(429, retry_after=0.05)
    result = ask_cli(QUESTION)
    assert result.exit_code == 0, result.output
    assert llm_env.count() == 2
    assert "[1]" in result.stdout


def test_persistent_rate_limit_exits_1_after_max_retries(llm_env: Any) -> None:
    llm_env.fail_next(429, n=10, retry_after=0.05)
    result = ask_cli(QUESTION)
    assert result.exit_code == 1
    assert "429" in result.stderr and "rate-limit" in result.stderr
    assert llm_env.count() == 2 + 1  # ASSISTANT_MAX_RETRIES + 1
    assert_no_traceback(result)


def test_server_error_exits_1(llm_env: Any) -> None:
    llm_env.fail_next(500, n=10, retry_after=0.05)
    result = ask_cli(QUESTION)
    assert result.exit_code == 1
    assert "500" in result.stderr
    assert result.stdout == ""
    assert_no_traceback(result)


def test_timeout_exits_1_saying_timed_out(llm_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_TIMEOUT", "0.5")
    monkeypatch.setenv("ASSISTANT_MAX_RETRIES", "0")
    llm_env.delay_next(4)
    result = ask_cli(QUESTION)
    assert result.exit_code == 1
    assert "timed out" in result.stderr
    assert_no_traceback(result)


def test_stream_cut_before_any_cited_claim_exits_1_saying_cut_off_and_shows_nothing(
    llm_env: Any,
) -> None:
    llm_env.cut_stream_next(after_chunks=4)  # the role chunk, then three words
    result = ask_cli(QUESTION)
    assert result.exit_code == 1
    assert "cut off" in result.stderr
    assert result.stdout == ""  # three uncited words are no answer: they were held back
    assert_no_traceback(result)


def test_stream_cut_mid_answer_exits_1_saying_cut_off(llm_env: Any) -> None:
    def reply(req: dict[str, Any]) -> str:
        return f"{longest_sentence(sources_of(req)[1])} [1] " + "And then more words follow. " * 20

    llm_env.set_responder(reply)
    first = longest_sentence(sources_of_first_request(llm_env, reply))
    llm_env.cut_stream_next(after_chunks=len(first.split()) + 40)
    result = ask_cli(QUESTION)
    assert result.exit_code == 1
    assert "cut off" in result.stderr
    # The cited text that did arrive was streamed; its line is ended before the error.
    assert result.stdout.strip() and result.stdout.endswith("\n")
    assert "[1]" in result.stdout
    assert_no_traceback(result)


def sources_of_first_request(server: Any, responder: Any) -> str:
    """Source [1] of the question's prompt, from one dry run through the API."""
    Assistant().ask(QUESTION)
    text = sources_of(chat_requests(server)[-1])[1]
    server.reset()
    server.set_responder(responder)
    return text


def test_model_reply_with_terminal_control_sequences_is_printed_clean(llm_env: Any) -> None:
    llm_env.set_responder(
        lambda req: (
            f"\x1b]0;pwned\x07\x1b[31m{longest_sentence(sources_of(req)[1])}\x1b[0m [1]"
            "\x1b]52;c;ZXZpbA==\x07"
        )
    )
    result = ask_cli(QUESTION)
    assert result.exit_code == 0
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "[1]" in result.stdout
    as_json = ask_cli(QUESTION, "--json")
    assert "\x1b" not in as_json.output and "\x07" not in as_json.output
