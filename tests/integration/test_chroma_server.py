"""Chroma server mode: ASSISTANT_CHROMA_HOST/PORT point every command at a real `chroma run`."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant import Assistant
from assistant.cli import app

pytestmark = pytest.mark.integration

# One sentence each: the real model embeds a chunk and a sentence per document.
GALLIUM = "Gallium exports from China fell sharply in March after new licence rules."
COPPER = "Zambia approved a new copper smelter near Kitwe to process ore from nearby mines."
# A word no other document has, so only keyword evidence can find it.
NEW_DOC = "The Quorvantis refinery in Finland began producing battery-grade cobalt sulphate."


@pytest.fixture()
def server_env(chroma_server: tuple[str, int], monkeypatch: pytest.MonkeyPatch) -> str:
    """Settings that use the session's Chroma server, with a collection of this test's own."""
    host, port = chroma_server
    collection = f"t{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("ASSISTANT_CHROMA_HOST", host)
    monkeypatch.setenv("ASSISTANT_CHROMA_PORT", str(port))
    monkeypatch.setenv("ASSISTANT_COLLECTION", collection)
    return collection


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "gallium.txt").write_text(GALLIUM, encoding="utf-8")
    (folder / "copper.txt").write_text(COPPER, encoding="utf-8")
    return folder


def test_ingest_into_the_server_is_searchable_and_listed(
    server_env: str, corpus: Path, tmp_path: Path
) -> None:
    first = Assistant()
    assert first.store.is_server
    report = first.ingest([corpus])
    assert (report.added, report.skipped) == (2, 0)

    hits = first.search("Why did gallium exports from China fall?", k=2)
    assert Path(hits[0].path).name == "gallium.txt"
    assert Path(first.search("copper smelter in Zambia", k=1)[0].path).name == "copper.txt"

    result = CliRunner().invoke(app, ["sources", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert sorted(Path(d["source"]).name for d in json.loads(result.stdout)) == [
        "copper.txt",
        "gallium.txt",
    ]
    # Server mode keeps nothing on local disk: no lock file, no embedded store.
    assert not (tmp_path / ".assistant").exists()


def test_cli_search_against_the_server_returns_json_rows(server_env: str, corpus: Path) -> None:
    Assistant().ingest([corpus])
    result = CliRunner().invoke(
        app, ["search", "copper smelter", "--json", "-k", "1"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [Path(r["source"]).name for r in rows] == ["copper.txt"]


def test_document_added_by_a_second_assistant_reaches_the_first_ones_keyword_index(
    server_env: str, corpus: Path, tmp_path: Path
) -> None:
    first = Assistant()
    first.ingest([corpus])
    assert first.retriever.search("Quorvantis", mode="keyword") == []
    version = first.store.version()

    new = tmp_path / "other" / "cobalt.txt"
    new.parent.mkdir()
    new.write_text(NEW_DOC, encoding="utf-8")
    second = Assistant()  # its own settings, store and Chroma client
    assert second.ingest([new]).added == 1

    assert first.store.version() > version
    hits = first.retriever.search("Quorvantis", mode="keyword")
    assert [Path(h.path).name for h in hits] == ["cobalt.txt"]
    assert {Path(d.path).name for d in first.sources()} == {
        "gallium.txt",
        "copper.txt",
        "cobalt.txt",
    }


def test_rebuild_by_a_second_assistant_leaves_the_first_one_working(
    server_env: str, corpus: Path, tmp_path: Path
) -> None:
    first = Assistant()
    first.ingest([corpus])
    assert first.retriever.search("gallium", mode="keyword")
    version = first.store.version()

    (corpus / "cobalt.txt").write_text(NEW_DOC, encoding="utf-8")
    rebuilt = Assistant().ingest([corpus], rebuild=True)
    assert rebuilt.added == 3

    # The first assistant still holds handles to the dropped collections; it must notice.
    assert first.store.version() > version
    hits = first.retriever.search("Quorvantis", mode="keyword")
    assert [Path(h.path).name for h in hits] == ["cobalt.txt"]
    dense = first.search("cobalt sulphate refinery in Finland", k=1)
    assert Path(dense[0].path).name == "cobalt.txt"
