"""Every document format end to end (issue 9): HTML, Markdown with front matter, a two-page PDF
and a Word file are ingested with the real model into real Chroma, and a question about each is
answered from that file with a quote that is verbatim the stored text at its span."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from assistant import Assistant, Settings
from assistant.cli import app
from assistant.documents import load_document
from tests.doc_files import make_docx, make_quebec_pdf

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data"

MARKDOWN = """---
title: "Indonesia's nickel boom reshapes Sulawesi"
date: 2024-05-01
tags: [nickel, indonesia]
---

# Nickel *boom* in Sulawesi

Indonesia's **nickel** output rose to *1.8 million tonnes* in 2023, according to
[the energy ministry](https://example.org/esdm), as _Chinese-backed_ smelters in the Morowali
industrial park came online.

The ban on exports of raw nickel ore, in force since 2020, stays in place.

| Region | Smelters |
|--------|---------:|
| Sulawesi | 34 |
| Maluku | 9 |
"""

DOCX_BLOCKS: list[tuple[str, object]] = [
    ("title", "Congo caps cobalt exports"),
    (
        "paragraph",
        "The Democratic Republic of Congo set a cobalt export quota of 96,600 tonnes for 2026, "
        "the mining regulator ARECOMS said in Kinshasa.",
    ),
    ("heading", "Quota by company"),
    ("table", [["Company", "Tonnes"], ["CMOC", "31,200"], ["Glencore", "18,100"]]),
    ("paragraph", "The regulator said the cap would support cobalt prices after a long slump."),
]

# (file, question, words the cited quote must hold)
QUESTIONS = [
    (
        "chile.html",
        "How many tonnes of lithium carbonate equivalent do the Atacama salt flats in Chile's "
        "tender hold?",
        "9.3 million tonnes of lithium carbonate equivalent",
    ),
    (
        "nickel.md",
        "How much nickel output did Indonesia produce in 2023?",
        "1.8 million tonnes in 2023",
    ),
    (
        "quebec.pdf",
        "How much did the Becancour lithium hydroxide refinery in Quebec cost?",
        "C$612 million",
    ),
    (
        "cobalt.docx",
        "What cobalt export quota did the Democratic Republic of Congo set for 2026?",
        "export quota of 96,600 tonnes for 2026",
    ),
]


def write_corpus(folder: Path) -> Path:
    """One good file of each kind."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA / "documents_article.html", folder / "chile.html")
    (folder / "nickel.md").write_text(MARKDOWN, "utf-8")
    make_quebec_pdf(folder / "quebec.pdf")
    make_docx(folder / "cobalt.docx", DOCX_BLOCKS)
    return folder


@pytest.fixture(scope="module")
def formats_assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Assistant, Path]]:
    """The four files ingested once by the real model into an embedded Chroma store."""
    root = tmp_path_factory.mktemp("formats")
    corpus = write_corpus(root / "corpus")
    assistant = Assistant(
        Settings(data_dir=root / ".assistant", corpus_dir=corpus, provider="extractive")
    )
    report = assistant.ingest([corpus])
    assert report.added == 4, report
    assert report.skipped == 0, report
    yield assistant, corpus


def test_each_format_is_stored_with_its_title(formats_assistant: tuple[Assistant, Path]) -> None:
    assistant, _ = formats_assistant
    titles = {Path(d.path).name: d.title for d in assistant.sources()}
    assert titles == {
        "chile.html": "Chile opens lithium tender to private miners",
        "nickel.md": "Indonesia's nickel boom reshapes Sulawesi",
        "quebec.pdf": "Quebec opens North America's first lithium hydroxide refinery",
        "cobalt.docx": "Congo caps cobalt exports",
    }


@pytest.mark.parametrize(("name", "question", "fact"), QUESTIONS, ids=[q[0] for q in QUESTIONS])
def test_question_about_each_format_cites_it_verbatim(
    formats_assistant: tuple[Assistant, Path], name: str, question: str, fact: str
) -> None:
    assistant, corpus = formats_assistant
    answer = assistant.ask(question)
    assert answer.answered, answer
    texts = {}
    for citation in answer.citations:
        path = next(Path(d.path) for d in assistant.sources() if d.source == citation.source)
        if path not in texts:
            texts[path] = load_document(path).text
        # Exact against the cleaned text the store holds: the span is where the quote is.
        assert texts[path][citation.start : citation.end] == citation.quote
    cited = [c for c in answer.citations if Path(c.source).name == name]
    assert cited, (name, answer.text, [c.source for c in answer.citations])
    assert any(fact in c.quote for c in cited), (fact, [c.quote for c in cited])
    for markup in ("**", "](", "\n", "page 1", "bat-"):
        assert all(markup not in c.quote for c in cited), markup


def test_broken_file_of_each_kind_is_skipped_and_the_rest_ingested(tmp_path: Path) -> None:
    folder = write_corpus(tmp_path / "mixed")
    (folder / "garbage.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    whole = (folder / "cobalt.docx").read_bytes()
    (folder / "truncated.docx").write_bytes(whole[: len(whole) // 2])
    (folder / "binary.md").write_bytes(b"\x00\x01\x02\x03\xff" * 100)
    (folder / "zero.html").write_bytes(b"")
    env: dict[str, str | None] = {
        name: None for name in os.environ if name.startswith(("ASSISTANT_", "OPENAI_"))
    }
    env["ASSISTANT_DATA_DIR"] = str(tmp_path / ".assistant")

    result = CliRunner().invoke(
        app, ["ingest", "--json", str(folder)], env=env, catch_exceptions=False
    )

    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["added"] == 4
    skipped = {Path(s["path"]).name: s["reason"] for s in report["skipped_files"]}
    assert set(skipped) == {"garbage.pdf", "truncated.docx", "binary.md", "zero.html"}
    assert skipped["garbage.pdf"].startswith("unreadable: not a valid PDF")
    assert skipped["truncated.docx"].startswith("unreadable: not a valid .docx file")
    assert skipped["binary.md"] == "binary file"
    assert skipped["zero.html"] == "empty file"
    assert all("\n" not in reason for reason in skipped.values())
    warnings = [line for line in result.stderr.splitlines() if line.startswith("skipped ")]
    assert len(warnings) == 4, result.stderr
    assert "Traceback" not in result.stderr and "EOF marker" not in result.stderr
    stored = {
        Path(d.path).name for d in Assistant(Settings(data_dir=tmp_path / ".assistant")).sources()
    }
    assert stored == {"chile.html", "nickel.md", "quebec.pdf", "cobalt.docx"}
