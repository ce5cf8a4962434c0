"""The knowledge base (issue 2): `assistant ingest`, `sources` and `search` on the seeds and on small
synthetic corpora, with the real embedding model and the real embedded Chroma store."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from assistant.chunking import split_sentences
from assistant.cli import app
from assistant.config import Settings
from assistant.documents import load_document
from assistant.embeddings import LOCAL_MODEL_ID
from assistant.errors import EmbeddingMismatchError, StoreLockedError
from assistant.store import Record, Store

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
SEED_FILES = sorted(SEEDS.glob("*.txt"))
REPORT_KEYS = {"added", "updated", "unchanged", "removed", "skipped", "chunks_embedded", "seconds"}
JUNK = [
    "spot_img",
    "No menu items",
    "15.4 C",
    "Content is protected",
    "Photo Internet reproduction",
    "free article",
    "Check out our other content",
    "Read more",
    "Leave a Reply",
    "Responses",
    "Zuckerberg",
    "part-time",
    "Click here",
    "Related News",
    "Supported by",
]

# Small synthetic articles, one sentence each: the real model embeds one chunk per document, well
# under a second.
GALLIUM = "Gallium exports from China fell sharply in March after new licence rules."
COPPER = "Zambia approved a new copper smelter near Kitwe to process ore from nearby mines."
GALLIUM_EDITED = GALLIUM + " Prices in Rotterdam doubled within a week."


# --- helpers -------------------------------------------------------------------------------------


def cli(*args: str, env: dict[str, str | None] | None = None) -> Any:
    """Run the CLI in-process; stdout and stderr are captured separately."""
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def cli_json(*args: str, env: dict[str, str | None] | None = None) -> Any:
    result = cli(*args, "--json", env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def open_store(data_dir: Path, model_id: str = LOCAL_MODEL_ID, dim: int | None = None) -> Store:
    return Store(Settings(data_dir=data_dir), model_id, dim)


def open_searcher() -> Any:
    """A fresh process's view: a new Assistant, keyword index reopened from disk."""
    from assistant import Assistant

    return Assistant().searcher


def chunks_by_path(store: Store) -> dict[str, list[tuple[str, str, dict[str, Any]]]]:
    out: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for row in store.iter_chunks():
        out.setdefault(row[2]["path"], []).append(row)
    return out


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def clean_env(data_dir: Path, **extra: str) -> dict[str, str | None]:
    """An env for CliRunner outside the function-scoped isolation: unset the shell's settings."""
    env: dict[str, str | None] = {
        name: None for name in os.environ if name.startswith(("ASSISTANT_", "OPENAI_"))
    }
    env.update({"ASSISTANT_DATA_DIR": str(data_dir), "ASSISTANT_CORPUS_DIR": str(SEEDS), **extra})
    return env


# --- the seeds, ingested once through the CLI ---------------------------------------------------


def model_vectors(data_dir: Path) -> dict[str, Any]:
    """Passage vectors the real model computed for a store, by text."""
    rows = open_store(data_dir).chunks().get(include=["documents", "embeddings"])
    return dict(zip(rows["documents"], rows["embeddings"]))


@pytest.fixture(scope="module")
def cli_seeded(
    seeded_store_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, Any]]:
    """`assistant ingest --json` with no paths: the corpus dir (seeds) into a fresh data dir.

    The real model already embedded every seed passage for the session's seeded store; the
    passages are looked up there instead of being embedded a second time (a minute on two cores).
    Everything else, the query embeddings of later searches included, is the real thing.
    """
    import numpy as np

    from assistant.embeddings import E5Embeddings

    known = model_vectors(seeded_store_template)
    real = E5Embeddings.embed_passages_array
    looked_up: list[int] = []

    def embed_passages_array(self: E5Embeddings, texts: list[str]) -> Any:
        missing = [t for t in texts if t not in known]
        fresh = dict(zip(missing, real(self, missing))) if missing else {}
        looked_up.append(len(texts) - len(missing))
        return np.asarray([known[t] if t in known else fresh[t] for t in texts], dtype=np.float32)

    data_dir = tmp_path_factory.mktemp("cli-seeded") / ".assistant"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(E5Embeddings, "embed_passages_array", embed_passages_array)
        result = cli("ingest", "--json", env=clean_env(data_dir))
    assert sum(looked_up) > 0
    yield data_dir, result


@pytest.fixture()
def seeded_copy(
    cli_seeded: tuple[Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A private, writable copy of the CLI-seeded store; ASSISTANT_DATA_DIR points at it."""
    target = tmp_path / "copy.assistant"
    shutil.copytree(cli_seeded[0], target)
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(target))
    return target


def test_cli_ingest_stores_the_five_seeds_and_prints_one_json_report(
    cli_seeded: tuple[Path, Any],
) -> None:
    data_dir, result = cli_seeded
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # the whole of stdout is one JSON object
    assert isinstance(report, dict)
    assert REPORT_KEYS <= set(report)
    assert (
        report["added"],
        report["updated"],
        report["unchanged"],
        report["removed"],
        report["skipped"],
    ) == (
        5,
        0,
        0,
        0,
        0,
    )
    store = open_store(data_dir)
    assert report["chunks_embedded"] == store.count() > 5
    assert {Path(d.path) for d in store.documents()} == {p.resolve() for p in SEED_FILES}
    assert isinstance(report["seconds"], float) and report["seconds"] > 0


def test_sources_json_lists_five_documents_with_000_in_arabic(
    cli_seeded: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(cli_seeded[0]))
    docs = cli_json("sources")
    assert len(docs) == 5
    languages = {Path(d["source"]).name[:3]: d["language"] for d in docs}
    assert languages == {"000": "ar", "001": "en", "002": "en", "003": "en", "004": "en"}
    assert all(d["chunks"] >= 1 and d["title"] for d in docs)


def test_reingest_of_unchanged_seeds_embeds_nothing(seeded_copy: Path) -> None:
    store = open_store(seeded_copy)
    count, version = store.count(), store.version()
    report = cli_json("ingest")
    assert report["chunks_embedded"] == 0
    assert report["sentences_embedded"] == 0
    assert (report["unchanged"], report["added"], report["updated"]) == (5, 0, 0)
    store = open_store(seeded_copy)
    assert store.count() == count
    assert store.version() == version  # nothing written: keyword indexes need not rebuild


def test_no_stored_chunk_contains_page_junk(cli_seeded: tuple[Path, Any]) -> None:
    rows = list(open_store(cli_seeded[0]).iter_chunks())
    assert rows
    found = [(junk, row[2]["source"]) for row in rows for junk in JUNK if junk in row[1]]
    assert found == []


def test_every_article_sentence_is_stored_in_a_chunk_of_its_own_source(
    cli_seeded: tuple[Path, Any],
) -> None:
    store = open_store(cli_seeded[0])
    by_path = chunks_by_path(store)
    for seed in SEED_FILES:
        doc = load_document(seed)
        chunks = by_path[str(doc.path)]
        texts = [text for _, text, _ in chunks]
        spans = [(m["start"], m["end"]) for _, _, m in chunks]
        for s in split_sentences(doc.text):
            sentence = doc.text[s.start : s.end]
            if any(sentence in t for t in texts):
                continue
            # Only a sentence longer than a whole chunk may be cut, and then every character of
            # it must still be in some chunk.
            assert len(sentence) > 300, f"{seed.name}: sentence in no chunk: {sentence!r}"
            covered = {i for a, b in spans for i in range(a, b)}
            assert set(range(s.start, s.end)) <= covered, f"{seed.name}: part of {sentence!r} lost"


def test_chunk_offsets_slice_the_cleaned_text_exactly(cli_seeded: tuple[Path, Any]) -> None:
    by_path = chunks_by_path(open_store(cli_seeded[0]))
    for seed in SEED_FILES:
        doc = load_document(seed)
        rows = sorted(by_path[str(doc.path)], key=lambda r: r[2]["chunk_index"])
        assert [r[2]["chunk_index"] for r in rows] == list(range(len(rows)))
        for _cid, text, meta in rows:
            assert doc.text[meta["start"] : meta["end"]] == text
            assert meta["sha256"] == hashlib.sha256(seed.read_bytes()).hexdigest()
            assert meta["language"] == doc.language
            assert meta["title"] == doc.title


def test_ingest_embeds_only_the_chunks_as_the_tutorial_peer_does(cli_seeded: tuple[Path, Any]) -> None:
    data_dir, result = cli_seeded
    report = json.loads(result.stdout)
    store = open_store(data_dir)
    assert report["sentences_embedded"] == 0
    assert report["chunks_embedded"] == store.count()
    # No sentence rows: the answerer embeds the retrieved chunks' sentences at question time.
    names = {c.name for c in store.client.list_collections()}
    assert not any(name.endswith("-sentences") for name in names), names


def test_search_json_rows_carry_rank_score_source_chunk_id_offsets_and_text(
    cli_seeded: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(cli_seeded[0]))
    rows = cli_json("search", "Which minerals will Japan and Canada mine?", "-k", "3")
    assert [r["rank"] for r in rows] == [1, 2, 3]
    stored = {cid: (text, meta) for cid, text, meta in open_store(cli_seeded[0]).iter_chunks()}
    for r in rows:
        assert {"rank", "score", "source", "chunk_id", "start", "end", "text"} <= set(r)
        text, meta = stored[r["chunk_id"]]
        assert r["text"] == text
        assert (r["start"], r["end"], r["source"]) == (meta["start"], meta["end"], meta["source"])
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert "003" in rows[0]["source"]


def test_search_source_glob_returns_only_chunks_of_that_document(
    cli_seeded: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(cli_seeded[0]))
    rows = cli_json("search", "battery supply chains", "--source", "*003*", "-k", "10")
    assert rows
    assert {Path(r["source"]).name[:3] for r in rows} == {"003"}


def test_search_language_ar_returns_only_arabic_chunks(
    cli_seeded: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(cli_seeded[0]))
    rows = cli_json("search", "electric vehicle batteries", "--language", "ar", "-k", "10")
    assert rows
    assert {r["language"] for r in rows} == {"ar"}
    assert {Path(r["source"]).name[:3] for r in rows} == {"000"}


# --- edits, deletions, rebuilds and dry runs on small synthetic documents ---------------------


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    write(folder, "gallium.txt", GALLIUM)
    write(folder, "copper.txt", COPPER)
    return folder


def test_edited_file_is_updated_and_its_old_rows_are_gone(corpus: Path) -> None:
    first = cli_json("ingest", str(corpus))
    assert first["added"] == 2
    store = open_store(Path(os.environ["ASSISTANT_DATA_DIR"]))
    path = str(corpus / "gallium.txt")
    old_ids = {r[0] for r in chunks_by_path(store)[path]}
    version = store.version()

    edited = write(corpus, "gallium.txt", GALLIUM_EDITED)
    report = cli_json("ingest", str(corpus))
    assert (report["updated"], report["unchanged"], report["added"]) == (1, 1, 0)

    store = open_store(Path(os.environ["ASSISTANT_DATA_DIR"]))
    doc = load_document(edited)
    rows = chunks_by_path(store)[path]
    assert report["chunks_embedded"] == len(rows)
    assert not old_ids & {r[0] for r in rows}
    assert all(meta["sha256"] == doc.sha256 for _, _, meta in rows)
    assert "Rotterdam" in " ".join(text for _, text, _ in rows)
    assert [h.chunk_id for h in open_searcher().search("Rotterdam", 5, mode="keyword")] == [
        r[0] for r in rows if "Rotterdam" in r[1]
    ]
    assert store.version() > version
    assert len(chunks_by_path(store)[str(corpus / "copper.txt")]) >= 1


def test_deleted_file_stays_without_prune_and_is_removed_with_prune(corpus: Path) -> None:
    cli_json("ingest", str(corpus))
    gone = corpus / "copper.txt"
    gone.unlink()

    kept = cli_json("ingest", str(corpus))
    assert kept["removed"] == 0
    store = open_store(Path(os.environ["ASSISTANT_DATA_DIR"]))
    assert str(gone) in chunks_by_path(store)

    pruned = cli_json("ingest", "--prune", str(corpus))
    assert (pruned["removed"], pruned["unchanged"], pruned["chunks_embedded"]) == (1, 1, 0)
    store = open_store(Path(os.environ["ASSISTANT_DATA_DIR"]))
    assert set(chunks_by_path(store)) == {str(corpus / "gallium.txt")}
    assert open_searcher().search("copper smelter Kitwe", 5, mode="keyword") == []
    assert [Path(d.path).name for d in store.documents()] == ["gallium.txt"]


def test_rebuild_reembeds_every_document(corpus: Path) -> None:
    first = cli_json("ingest", str(corpus))
    store = open_store(Path(os.environ["ASSISTANT_DATA_DIR"]))
    count = store.count()
    report = cli_json("ingest", "--rebuild", str(corpus))
    assert report["chunks_embedded"] == first["chunks_embedded"] == count
    assert report["unchanged"] == 0
    assert report["added"] + report["updated"] == 2
    assert open_store(Path(os.environ["ASSISTANT_DATA_DIR"])).count() == count


def test_dry_run_on_a_fresh_store_reports_but_creates_nothing(corpus: Path) -> None:
    data_dir = Path(os.environ["ASSISTANT_DATA_DIR"])
    report = cli_json("ingest", "--dry-run", str(corpus))
    assert report["dry_run"] is True
    assert report["added"] == 2
    assert report["chunks_embedded"] >= 2  # what would be embedded
    assert not data_dir.exists()  # no store, no lock file
    assert open_store(data_dir).count() == 0
    assert not data_dir.exists()  # reading an empty store creates nothing either
    assert cli("sources").exit_code == 0
    assert not data_dir.exists()


def test_dry_run_on_an_existing_store_writes_nothing(corpus: Path) -> None:
    cli_json("ingest", str(corpus))
    data_dir = Path(os.environ["ASSISTANT_DATA_DIR"])
    store = open_store(data_dir)
    before = {cid: meta["sha256"] for cid, _, meta in store.iter_chunks()}
    version = store.version()

    write(corpus, "gallium.txt", GALLIUM_EDITED)
    (corpus / "copper.txt").unlink()
    write(corpus, "nickel.txt", "Indonesia cut nickel ore quotas. Smelters asked for more.")
    report = cli_json("ingest", "--dry-run", "--prune", str(corpus))
    assert (report["added"], report["updated"], report["removed"]) == (1, 1, 1)
    rebuild = cli_json("ingest", "--dry-run", "--rebuild", str(corpus))
    assert rebuild["chunks_embedded"] >= 2

    store = open_store(data_dir)
    assert {cid: meta["sha256"] for cid, _, meta in store.iter_chunks()} == before
    assert store.version() == version


def test_symlinked_corpus_folder_is_recognised_as_unchanged(corpus: Path, tmp_path: Path) -> None:
    link = tmp_path / "linked"
    link.symlink_to(corpus, target_is_directory=True)
    cli_json("ingest", str(link))
    again = cli_json("ingest", str(link))
    assert (again["unchanged"], again["chunks_embedded"]) == (2, 0)
    write(corpus, "gallium.txt", GALLIUM_EDITED)
    edited = cli_json("ingest", str(link))
    assert edited["updated"] == 1
    store = open_store(Path(os.environ["ASSISTANT_DATA_DIR"]))
    assert len(store.documents()) == 2  # no second copy of the edited document
    rows = chunks_by_path(store)[str(link / "gallium.txt")]
    assert {meta["sha256"] for _, _, meta in rows} == {load_document(corpus / "gallium.txt").sha256}


# --- another embedding model ---------------------------------------------------------------------


def test_store_built_by_another_model_raises_mismatch_naming_rebuild(seeded_copy: Path) -> None:
    with pytest.raises(EmbeddingMismatchError) as info:
        open_store(seeded_copy, "other/model", 1536).count()
    message = str(info.value)
    assert "assistant ingest --rebuild" in message
    assert LOCAL_MODEL_ID in message and "other/model" in message
    with pytest.raises(EmbeddingMismatchError):
        open_store(seeded_copy, LOCAL_MODEL_ID, 1536).count()  # same name, other dimension


def test_cli_with_another_embedding_model_exits_1_with_one_line_and_keeps_the_data(
    seeded_copy: Path, openai_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = open_store(seeded_copy).count()
    monkeypatch.setenv("ASSISTANT_EMBEDDINGS", "openai")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", openai_server.api_key)
    for args in (["ingest"], ["search", "lithium"], ["sources"]):
        result = cli(*args)
        assert result.exit_code == 1, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (args, result.stderr)
        assert "--rebuild" in lines[0]
        assert "Traceback" not in result.output
    assert open_store(seeded_copy).count() == count


def test_rebuild_switches_the_store_to_the_new_model(
    seeded_copy: Path, openai_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = open_store(seeded_copy).count()
    monkeypatch.setenv("ASSISTANT_EMBEDDINGS", "openai")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", openai_server.api_key)
    report = cli_json("ingest", "--rebuild")
    assert report["added"] == 5
    assert report["chunks_embedded"] == count
    assert len(cli_json("sources")) == 5
    with pytest.raises(EmbeddingMismatchError):
        open_store(seeded_copy).count()  # now the local model is the other one


def test_failed_rebuild_keeps_the_old_data(
    seeded_copy: Path, openai_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = open_store(seeded_copy).count()
    monkeypatch.setenv("ASSISTANT_EMBEDDINGS", "openai")
    monkeypatch.setenv("ASSISTANT_MAX_RETRIES", "0")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", openai_server.api_key)
    openai_server.fail_next(401, n=100)
    result = cli("ingest", "--rebuild")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert open_store(seeded_copy).count() == count


def test_rebuild_with_nothing_to_embed_keeps_the_store(seeded_copy: Path, tmp_path: Path) -> None:
    count = open_store(seeded_copy).count()
    result = cli("ingest", "--rebuild", "--json", str(tmp_path / "typo.txt"))
    assert result.exit_code == 2, result.output
    assert "typo.txt: no such file or folder" in result.stderr
    assert open_store(seeded_copy).count() == count
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    result = cli("ingest", "--rebuild", "--json", str(empty))
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["skipped"] == 1
    assert open_store(seeded_copy).count() == count


# --- files that cannot be ingested -----------------------------------------------------------


def test_bad_files_are_skipped_with_one_line_warnings_and_good_files_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    earlier = write(tmp_path / "earlier", "copper.txt", COPPER)
    cli_json("ingest", str(earlier))

    folder = tmp_path / "mixed"
    good = write(folder, "gallium.txt", GALLIUM)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02PNG\x00" * 50)
    (folder / "latin1.txt").write_bytes(
        "Caf\xe9 owners in Kitwe said copper prices rose.".encode("latin-1")
    )
    unreadable = write(folder, "locked.txt", "Cobalt output rose in Katanga. Exports followed.")
    unsupported = write(tmp_path, "table.csv", "mineral,price\ncobalt,30000\n")
    if os.geteuid() == 0:  # root reads anything: make the read fail the way chmod 000 would
        real_read_bytes = Path.read_bytes

        def read_bytes(self: Path) -> bytes:
            if self.name == "locked.txt":
                raise PermissionError(13, "Permission denied", str(self))
            return real_read_bytes(self)

        monkeypatch.setattr(Path, "read_bytes", read_bytes)
    else:
        unreadable.chmod(0)

    result = cli("ingest", "--json", str(folder), str(unsupported))
    assert result.exit_code == 1, result.output  # table.csv was named and could not be stored
    report = json.loads(result.stdout)
    assert report["skipped"] == 5
    assert report["added"] == 1
    skipped = {Path(s["path"]).name: s["reason"] for s in report["skipped_files"]}
    assert set(skipped) == {
        "empty.txt",
        "binary.txt",
        "latin1.txt",
        "locked.txt",
        "table.csv",
    }
    assert "UTF-8" in skipped["latin1.txt"]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("skipped ")]
    assert len(warnings) == 5, result.stderr
    for name in skipped:
        assert sum(name in w for w in warnings) == 1, (name, warnings)

    store = open_store(Path(os.environ["ASSISTANT_DATA_DIR"]))
    assert {Path(d.path).name for d in store.documents()} == {"copper.txt", "gallium.txt"}
    assert str(good) in chunks_by_path(store)


def test_ingest_of_a_missing_path_or_empty_glob_exits_2_and_loses_nothing(tmp_path: Path) -> None:
    cli_json("ingest", str(write(tmp_path / "c", "copper.txt", COPPER)))
    result = cli("ingest", str(tmp_path / "missing.txt"))
    assert result.exit_code == 2, result.output
    assert "missing.txt: no such file or folder" in result.stderr
    result = cli("ingest", str(tmp_path / "nothing-*.md"))
    assert result.exit_code == 2, result.output
    assert "matches nothing" in result.stderr
    assert len(open_store(Path(os.environ["ASSISTANT_DATA_DIR"])).documents()) == 1


# --- one writer at a time --------------------------------------------------------------------------

HOLD_LOCK = """
import sys, time
from pathlib import Path
from assistant.config import Settings
from assistant.store import Store
store = Store(Settings(data_dir=Path(sys.argv[1])), "any/model")
with store.write_lock():
    print("locked", flush=True)
    time.sleep(60)
"""


@pytest.fixture()
def lock_holder(seeded_copy: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the write lock of the seeded copy."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(seeded_copy)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_second_writer_fails_fast_while_another_process_writes(
    seeded_copy: Path, lock_holder: subprocess.Popen[str], tmp_path: Path
) -> None:
    count = open_store(seeded_copy).count()
    doc = write(tmp_path / "new", "gallium.txt", GALLIUM)
    cli("sources")  # load the model and Chroma first: time the lock, not the imports
    started = time.monotonic()
    result = cli("ingest", str(doc))
    elapsed = time.monotonic() - started
    assert result.exit_code == 1
    assert elapsed < 2.5
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "being written by pid" in lines[0], result.stderr
    assert str(lock_holder.pid) in lines[0]
    assert open_store(seeded_copy).count() == count


def test_second_assistant_ingest_process_exits_nonzero_with_a_clear_message(
    seeded_copy: Path, lock_holder: subprocess.Popen[str]
) -> None:
    exe = Path(sys.executable).with_name("assistant")
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(seeded_copy)}
    started = time.monotonic()
    proc = subprocess.run(
        [str(exe), "ingest"], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr
    assert "being written by pid" in proc.stderr and "Traceback" not in proc.stderr
    assert elapsed < 15  # interpreter start-up and imports included
    with pytest.raises(StoreLockedError):
        with open_store(seeded_copy).write_lock():
            pass


# --- batched writes --------------------------------------------------------------------------------


class SpyCollection:
    """Delegates to a real collection, recording the size of every write."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.upserts: list[int] = []
        self.deletes: list[int] = []

    def upsert(self, **kw: Any) -> Any:
        self.upserts.append(len(kw["ids"]))
        return self.real.upsert(**kw)

    def delete(self, ids: list[str]) -> Any:
        self.deletes.append(len(ids))
        return self.real.delete(ids=ids)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def fake_records(n: int, path: str = "/fake/doc.txt") -> list[Record]:
    return [
        Record(
            f"r{i:03d}",
            f"text {i}",
            {"path": path, "source": "doc.txt", "i": i},
            [float(i + 1), 1.0, 0.5],
        )
        for i in range(n)
    ]


def test_add_splits_writes_under_chromas_max_batch_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(tmp_path / "batch", "fake/model", 3)
    monkeypatch.setattr(store.client, "get_max_batch_size", lambda: 7)
    store.begin_write()
    spy = SpyCollection(store.chunks(create=True))
    store._add(spy, fake_records(20))
    assert spy.upserts == [7, 7, 6]
    assert store.count() == 20
    got = spy.real.get(ids=["r000", "r019"], include=["documents"])
    assert sorted(got["documents"]) == ["text 0", "text 19"]

    store._delete(spy, [f"r{i:03d}" for i in range(20)])
    assert spy.deletes == [7, 7, 6]
    assert store.count() == 0


def test_replace_document_with_more_rows_than_a_batch_lands_them_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(tmp_path / "batch", "fake/model", 3)
    monkeypatch.setattr(store.client, "get_max_batch_size", lambda: 7)
    store.begin_write()
    store.replace_document("/fake/doc.txt", fake_records(20))
    assert store.count() == 20
    newer = [
        Record(f"n{i}", f"new {i}", {"path": "/fake/doc.txt", "source": "doc.txt"}, [1.0, 0.0, 0.0])
        for i in range(9)
    ]
    store.replace_document("/fake/doc.txt", newer)
    assert sorted(r[0] for r in store.iter_chunks()) == sorted(r.id for r in newer)


def test_batch_size_falls_back_when_the_client_cannot_report_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(tmp_path / "batch", "fake/model", 3)

    def broken() -> int:
        raise RuntimeError("old server")

    monkeypatch.setattr(store.client, "get_max_batch_size", broken)
    assert store._batch_size() == 1000
    monkeypatch.setattr(store.client, "get_max_batch_size", lambda: 10**6)
    assert store._batch_size() == 5000
