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
    # Server mode keeps no store on local disk (no lock file, no embedded Chroma): only this
    # machine's keyword index, in the cache folder.
    data_dir = tmp_path / ".assistant"
    assert not (data_dir / "chroma").exists() and not (data_dir / "write.lock").exists()
    assert list((data_dir / "cache" / "keyword").glob("*/*/state.json"))


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


FETCHED_BY_A_NEW_PROCESS = """
import sys
from assistant import Assistant, Settings
from assistant import store
assistant = Assistant(Settings(cache_dir=sys.argv[1]))
hits = assistant.searcher.search(sys.argv[2], 5, mode="keyword")
print(store.CHUNK_ROWS_FETCHED, ",".join(sorted(h.path.rsplit("/", 1)[-1] for h in hits)))
"""


def fetched_by_a_new_process(cache: Path, query: str) -> tuple[int, str]:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", FETCHED_BY_A_NEW_PROCESS, str(cache), query],
        capture_output=True, text=True, timeout=300, check=True,
    )
    count, _, names = proc.stdout.strip().partition(" ")
    return int(count), names


def test_two_machines_keep_their_own_keyword_index_and_sync_only_what_changed(
    server_env: str, corpus: Path, tmp_path: Path
) -> None:
    from assistant import Settings, store

    cache_a, cache_b = tmp_path / "cache-a", tmp_path / "cache-b"
    a = Assistant(Settings(cache_dir=cache_a))
    a.ingest([corpus])
    # A wrote its keyword index while ingesting: its questions fetch no chunk rows.
    before = store.CHUNK_ROWS_FETCHED
    assert [Path(h.path).name for h in a.searcher.search("gallium", mode="keyword")] == ["gallium.txt"]
    assert store.CHUNK_ROWS_FETCHED == before

    # A new machine pulls once...
    count, names = fetched_by_a_new_process(cache_b, "gallium")
    assert (count, names) == (2, "gallium.txt")
    # ...and its next process start fetches nothing when nothing changed.
    assert fetched_by_a_new_process(cache_b, "gallium") == (0, "gallium.txt")

    # A document ingested by A is found by B's next question; B fetches only its rows.
    new = tmp_path / "other" / "cobalt.txt"
    new.parent.mkdir()
    new.write_text(NEW_DOC, encoding="utf-8")
    assert a.ingest([new]).added == 1
    assert fetched_by_a_new_process(cache_b, "Quorvantis") == (1, "cobalt.txt")
    assert fetched_by_a_new_process(cache_b, "Quorvantis") == (0, "cobalt.txt")
    assert sorted(p.name for p in cache_a.glob("keyword/*")) != []
