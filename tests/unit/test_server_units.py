"""Pure parts of the service: the bind rule, error statuses, OpenAI messages to history."""

from __future__ import annotations

import pytest

from assistant.errors import (
    AssistantError,
    ConfigError,
    EmbeddingMismatchError,
    ProviderError,
    StoreError,
    StoreLockedError,
    UsageError,
)
from assistant.server import _split_messages, check_bind, is_loopback, status_for


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_binding_beyond_loopback_needs_a_key() -> None:
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", "a-key")
    with pytest.raises(UsageError, match="ASSISTANT_API_KEY") as caught:
        check_bind("0.0.0.0", None)
    assert caught.value.exit_code == 2
    with pytest.raises(UsageError):
        check_bind("192.168.1.20", "")


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (UsageError("x"), 400),
        (StoreLockedError("x"), 409),
        (ProviderError("x"), 502),
        (StoreError("x"), 503),
        (EmbeddingMismatchError("x"), 503),
        (ConfigError("x"), 500),
        (AssistantError("x"), 500),
    ],
)
def test_error_statuses(error: AssistantError, status: int) -> None:
    assert status_for(error) == status


def test_messages_become_a_question_and_answered_turns() -> None:
    question, history = _split_messages(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Unrelated?"},
            {"role": "assistant", "content": "The indexed articles do not answer this question."},
            {"role": "user", "content": [{"type": "text", "text": "What is Jadar?"}]},
            {"role": "assistant", "content": "A lithium deposit in Serbia. [1]"},
            {"role": "user", "content": "Who opposes it?"},
        ]
    )
    assert question == "Who opposes it?"
    assert history == [("What is Jadar?", "A lithium deposit in Serbia. [1]")]


@pytest.mark.parametrize(
    "messages",
    [[], [{"role": "assistant", "content": "hi"}], [{"role": "system", "content": "x"}]],
)
def test_the_last_message_must_be_the_users(messages: list[dict[str, str]]) -> None:
    with pytest.raises(UsageError, match="last message"):
        _split_messages(messages)
