"""`assistant ask` / `search` in the terminal with the offline extractive answerer (no key)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from assistant.answering import decline_message
from assistant.cli import app

pytestmark = pytest.mark.integration

QUESTION = "Which minerals will Japan and Canada start mining first?"
UNRELATED = "How can I earn money working part-time online from home?"
EXE = Path(sys.executable).with_name("assistant")


def run(*args: str, input: str | None = None) -> Any:  # noqa: A002 - click's name
    return CliRunner().invoke(app, list(args), input=input)


def assert_clean(result: Any) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )


def test_ask_answers_with_cited_sources_in_a_real_terminal_process(seeded_data_dir: Path) -> None:
    proc = subprocess.run(
        [str(EXE), "ask", QUESTION],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    answer = proc.stdout.lower()
    assert "nickel" in answer and "lithium" in answer and "[1]" in answer
    assert "sources:" in proc.stderr
    assert "seeds/003_00a1cc68e7f4e4af.txt" in proc.stderr
    assert "extractive" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_ask_json_prints_one_object_with_the_documented_fields(
    seeded_data_dir: Path, seeds_dir: Path
) -> None:
    result = run("ask", QUESTION, "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)  # exactly one JSON document on stdout
    assert {
        "question",
        "answer",
        "answered",
        "citations",
        "provider",
        "model",
        "timings_ms",
        "usage",
    } <= set(data)
    assert data["question"] == QUESTION and data["answered"] is True
    assert data["provider"] == "extractive"
    assert data["citations"]
    for c in data["citations"]:
        assert {"n", "source", "title", "chunk_id", "start", "end", "quote"} <= set(c)
        assert c["quote"] and c["end"] - c["start"] == len(c["quote"])
        assert f"[{c['n']}]" in data["answer"]
    assert any(c["source"] == "seeds/003_00a1cc68e7f4e4af.txt" for c in data["citations"])
    assert {"retrieve", "generate", "total"} <= set(data["timings_ms"])
    assert isinstance(data["usage"], dict)
    for c in data["citations"]:
        # The quote is verbatim in the article file it names.
        text = (seeds_dir / Path(c["source"]).name).read_text(encoding="utf-8")
        assert c["quote"] in text


def test_unanswerable_question_exits_3_with_the_decline_message(seeded_data_dir: Path) -> None:
    result = run("ask", UNRELATED)
    assert result.exit_code == 3
    assert result.stdout.strip() == decline_message("en")
    assert "sources:" not in result.stderr
    as_json = json.loads(run("ask", UNRELATED, "--json").stdout)
    assert as_json["answered"] is False and as_json["citations"] == []


@pytest.mark.parametrize(
    "args",
    [["ask", ""], ["ask", QUESTION, "-k", "0"], ["ask", QUESTION, "--provider", "x"]],
    ids=["empty-question", "k-zero", "bad-provider"],
)
def test_usage_errors_exit_2(seeded_data_dir: Path, args: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert_clean(result)


def write_corpus(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


COBALT = (
    "Finland Opens Cobalt Refinery\n\n"
    "The Kokkola cobalt refinery in Finland doubled its output of battery-grade cobalt sulphate in 2023. "
    "The refinery supplies cathode makers in Europe. Its owner plans a further expansion to serve electric "
    "vehicle battery plants.\n\nOfficials said the refinery would process cobalt hydroxide imported from Africa.\n"
)
CHILE = (
    "Chile Lithium Deal\n\n"
    "Chile signed a lithium partnership between Codelco and SQM to develop the Salar de Atacama brine "
    "deposits until 2060. The state will hold a majority stake in the joint venture.\n"
)


def test_first_ask_on_an_empty_store_ingests_the_corpus_then_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = write_corpus(tmp_path / "corpus", {"cobalt.txt": COBALT, "chile.txt": CHILE})
    data_dir = tmp_path / "fresh.assistant"
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(corpus))
    result = run("ask", "Who holds the majority stake in the Chilean lithium joint venture?")
    assert result.exit_code == 0, result.output
    assert "the store is empty; ingesting" in result.stderr
    assert "majority stake" in result.stdout
    assert "chile.txt" in result.stderr
    again = run("ask", "Where is the cobalt refinery that doubled its output?")
    assert again.exit_code == 0
    assert "ingesting" not in again.stderr  # only the first run ingests
    assert "Kokkola" in again.stdout


ANSI_DOC = (
    "Finland Opens Cobalt Refinery\n\n"
    "The \x1b[31mKokkola cobalt refinery\x1b[0m in Finland doubled its output of battery-grade cobalt "
    "sulphate in 2023.\x1b]0;hacked title\x07 The refinery supplies cathode makers in Europe."
    "\x1b]52;c;ZXZpbCBjbGlwYm9hcmQ=\x07 Its owner plans a further expansion to serve electric vehicle "
    "battery plants.\x1b[2J\x1b[H\n\nOfficials said the refinery would \x9b31mprocess\x07 cobalt hydroxide "
    "imported from Africa.\n"
)


def test_control_sequences_in_documents_never_reach_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Control characters in the text, and in the file name shown as the source.
    corpus = write_corpus(tmp_path / "corpus", {"evil\x1b]0;x\x07name.txt": ANSI_DOC})
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "ansi.assistant"))
    ingest = run("ingest", str(corpus))
    assert ingest.exit_code == 0, ingest.output
    outputs = [
        ingest,
        run("search", "cobalt refinery output"),
        run("search", "cobalt refinery output", "--json"),
        run("sources"),
        run(
            "ask",
            "Where is the cobalt refinery that doubled its output of cobalt sulphate?",
            "--json",
        ),
        run("ask", "Where is the cobalt refinery?", "--show-context"),
    ]
    for result in outputs:
        assert result.exit_code == 0, result.output
        for ch in ("\x1b", "\x07", "\x9b"):
            assert ch not in result.output, (result.output, ch)
    assert "Kokkola" in outputs[1].stdout  # the text itself is kept
    assert "evil" in outputs[3].stdout  # the file name, shown without its control characters
