"""Settings: ASSISTANT_* environment, .env, validation turned into UsageError, provider logic."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings, load_settings
from assistant.errors import EXIT_USAGE, UsageError


@pytest.fixture()
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder, so no stray .env is read."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_without_environment(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSISTANT_DATA_DIR")
    monkeypatch.delenv("ASSISTANT_CORPUS_DIR")
    s = load_settings()
    assert s.data_dir == Path(".assistant")
    assert s.corpus_dir == Path("seeds")
    assert (s.embeddings, s.provider, s.k, s.chroma_host) == ("local", "auto", 5, None)
    assert s.openai_api_key is None


def test_settings_read_assistant_prefixed_environment(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_K", "7")
    monkeypatch.setenv("ASSISTANT_CHUNK_TOKENS", "300")
    monkeypatch.setenv("ASSISTANT_CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("ASSISTANT_CHROMA_PORT", "8123")
    s = load_settings()
    assert (s.k, s.chunk_tokens, s.chroma_host, s.chroma_port) == (7, 300, "127.0.0.1", 8123)
    assert s.data_dir == in_tmp / ".assistant"  # from the autouse fixture's ASSISTANT_DATA_DIR


def test_unprefixed_names_are_ignored(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K", "9")
    monkeypatch.setenv("CHUNK_TOKENS", "999")
    s = load_settings()
    assert (s.k, s.chunk_tokens) == (5, 220)


def test_vendor_variables_keep_their_own_names(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-abcdef")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    s = load_settings()
    assert s.openai_api_key is not None
    assert s.openai_api_key.get_secret_value() == "sk-test-abcdef"
    assert s.openai_base_url == "http://127.0.0.1:9/v1"


def test_dotenv_file_in_working_directory_is_read(in_tmp: Path) -> None:
    (in_tmp / ".env").write_text(
        "ASSISTANT_K=9\nASSISTANT_COLLECTION=from_dotenv\nOPENAI_API_KEY=sk-dotenv-1234\n",
        encoding="utf-8",
    )
    s = load_settings()
    assert s.k == 9
    assert s.collection == "from_dotenv"
    assert s.openai_api_key is not None and s.openai_api_key.get_secret_value() == "sk-dotenv-1234"


def test_environment_beats_dotenv_and_overrides_beat_both(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (in_tmp / ".env").write_text("ASSISTANT_K=9\nASSISTANT_TEMPERATURE=0.5\n", encoding="utf-8")
    monkeypatch.setenv("ASSISTANT_K", "3")
    s = load_settings()
    assert (s.k, s.temperature) == (3, 0.5)
    assert load_settings(k=11).k == 11


def test_none_overrides_fall_back_to_environment(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_COLLECTION", "envcoll")
    s = load_settings(collection=None, data_dir=None)
    assert s.collection == "envcoll"
    assert s.data_dir == in_tmp / ".assistant"


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [
        ("ASSISTANT_K", "0", "k"),
        ("ASSISTANT_K", "many", "k"),
        ("ASSISTANT_EMBEDDINGS", "bogus", "embeddings"),
        ("ASSISTANT_PROVIDER", "claude", "provider"),
        ("ASSISTANT_CHROMA_PORT", "70000", "chroma_port"),
        ("ASSISTANT_COLLECTION", "ab", "collection"),
        ("ASSISTANT_TEMPERATURE", "3", "temperature"),
        ("ASSISTANT_DECLINE_BIAS", "9", "decline_bias"),
    ],
)
def test_invalid_environment_value_raises_usage_error_naming_the_setting(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, field: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(UsageError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(f"invalid setting {field}:")
    assert "\n" not in message
    assert "pydantic" not in message.lower() and "errors.pydantic.dev" not in message
    assert info.value.exit_code == EXIT_USAGE


def test_overlap_of_half_the_chunk_size_is_a_usage_error(in_tmp: Path) -> None:
    with pytest.raises(UsageError, match="chunk_overlap must be less than half of chunk_tokens"):
        load_settings(chunk_tokens=100, chunk_overlap=50)
    assert load_settings(chunk_tokens=100, chunk_overlap=49).chunk_overlap == 49


def test_invalid_override_is_a_usage_error(in_tmp: Path) -> None:
    with pytest.raises(UsageError, match="invalid setting k"):
        load_settings(k=101)


def test_invalid_setting_makes_the_cli_exit_2_with_one_line(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from assistant.cli import app

    monkeypatch.setenv("ASSISTANT_K", "0")
    result = CliRunner().invoke(app, ["sources"])
    assert result.exit_code == EXIT_USAGE
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "invalid setting k" in lines[0]
    assert "Traceback" not in result.output


def test_blank_values_count_as_unset(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "  ")
    monkeypatch.setenv("OPENAI_BASE_URL", "")
    monkeypatch.setenv("ASSISTANT_CHROMA_HOST", " ")
    s = load_settings()
    assert s.openai_api_key is None and s.openai_base_url is None and s.chroma_host is None
    assert s.resolved_provider() == "extractive"


@pytest.mark.parametrize(
    ("env", "provider", "expected"),
    [
        ({}, "auto", "extractive"),
        ({"OPENAI_API_KEY": "sk-test-abcdef"}, "auto", "openai"),
        ({"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}, "auto", "openai"),
        ({"OPENAI_API_KEY": "sk-test-abcdef"}, "extractive", "extractive"),
        ({}, "openai", "openai"),
    ],
)
def test_resolved_provider(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], provider: str, expected: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ASSISTANT_PROVIDER", provider)
    assert load_settings().resolved_provider() == expected


def test_secrets_lists_the_api_key_only(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().secrets() == []
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    s = load_settings()
    assert s.secrets() == ["sk-test-0123456789"]
    assert "sk-test-0123456789" not in repr(s)  # SecretStr hides it


def test_secrets_ignores_keys_too_short_to_redact_safely(in_tmp: Path) -> None:
    # Redacting "abc" everywhere would mangle ordinary output.
    assert Settings(openai_api_key="abc").secrets() == []
    assert Settings(openai_api_key="abcd").secrets() == ["abcd"]
