"""Unit tests of the CLI: terminal-safe output, argument checks that need no store."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant import cli
from assistant.cli import app, safe

ESC, BEL = "\x1b", "\x07"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\x1b[31mred\x1b[0m text", "red text"),  # SGR colours
        ("a\x1b[2J\x1b[Hb", "ab"),  # clear screen, cursor home
        ("\x1b]0;evil title\x07after", "after"),  # OSC title, BEL-terminated
        ("\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\", "link"),  # OSC 8 hyperlink, ST
        ("copy\x1b]52;c;ZXZpbA==\x07me", "copyme"),  # OSC 52 clipboard write
        ("x\x1bP1$r0m\x1b\\y", "xy"),  # DCS ... ST
        ("x\x9b31my", "xy"),  # 8-bit CSI
        ("bell\x07 and back\x08space", "bell and backspace"),
        ("carriage\rreturn", "carriagereturn"),  # \r could overwrite a line already printed
        ("lone escape \x1b", "lone escape "),
    ],
)
def test_safe_strips_terminal_control_sequences(raw: str, clean: str) -> None:
    out = safe(raw)
    assert out == clean
    assert ESC not in out and BEL not in out and "\x9b" not in out


def test_safe_keeps_newlines_tabs_and_arabic() -> None:
    text = "line one\n\tالليثيوم والنيكل [1]\n"
    assert safe(text) == text


def test_safe_redacts_configured_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(cli._state, "secrets", ["sk-secret-123456"])
    assert safe("key sk-secret-123456 rejected") == "key *** rejected"


# --- argument checks that must not touch the store ---------------------------------------------
@pytest.fixture()
def tiny_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A corpus dir that a first-run ingest would pick up (it would say so on stderr)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(
        "Lithium Mine Opens\n\nA lithium mine opened in Nevada in 2024.\n"
    )
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(corpus))
    return corpus


def invoke(*args: str):  # noqa: ANN201 - click's Result
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize(
    "args",
    [
        ["ask", ""],
        ["ask", "   "],
        ["ask", "Which minerals?", "-k", "0"],
        ["ask", "Which minerals?", "--provider", "x"],
        ["chat", "--provider", "x"],
        ["search", "lithium", "-k", "0"],
    ],
)
def test_bad_arguments_exit_2_before_any_ingest(tiny_corpus: Path, args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "ingesting" not in result.output
    assert "Traceback" not in result.output


def test_openai_provider_with_nothing_configured_exits_1_naming_the_key(tiny_corpus: Path) -> None:
    result = invoke(
        "ask", "Which minerals will Japan and Canada mine first?", "--provider", "openai"
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "OPENAI_API_KEY" in lines[0]
    assert "ingesting" not in result.output


def test_chat_with_openai_and_nothing_configured_exits_1_before_reading_input(
    tiny_corpus: Path,
) -> None:
    result = CliRunner().invoke(app, ["chat", "--provider", "openai"], input="question\n")
    assert result.exit_code == 1
    assert "OPENAI_API_KEY" in result.stderr
    assert "ingesting" not in result.output
