"""Unit tests for the bad-input guards: discovery of non-regular files, the size limit, names
printed safely, data-dir and damaged-store checks, deferred Ctrl-C, prompts lookup."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from assistant.cli import _print_json, name, safe
from assistant.config import Settings, load_settings
from assistant.documents import discover, file_problem
from assistant.errors import StoreError, UsageError
from assistant.ingest import DeferredInterrupt, embed_interruptibly
from assistant.prompts import default_prompts_dir
from assistant.store import check_data_dir, check_not_damaged, set_aside_damaged
from assistant.text import strip_control


def test_discover_skips_fifo_socket_loop_and_dangling_link_without_opening(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Lithium prices fell.", "utf-8")
    os.mkfifo(tmp_path / "pipe.txt")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock.md"))
    (tmp_path / "loop.txt").symlink_to(tmp_path / "loop.txt")
    (tmp_path / "dangling.html").symlink_to(tmp_path / "gone.html")
    (tmp_path / "dir.txt").mkdir()
    try:
        started = time.monotonic()
        files, skipped = discover([tmp_path])
        assert time.monotonic() - started < 5  # a FIFO never blocks discovery
    finally:
        sock.close()
    assert [f.name for f in files] == ["good.txt"]
    reasons = {Path(p).name: r for p, r in skipped}
    assert reasons == {
        "pipe.txt": "not a regular file: a named pipe (FIFO)",
        "sock.md": "not a regular file: a socket",
        "loop.txt": "symlink loop",
        "dangling.html": "dangling symlink (its target does not exist)",
    }


def test_explicit_special_files_are_named(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "p.txt")
    files, skipped = discover([tmp_path / "p.txt", "/dev/null", tmp_path / "x.csv"])
    assert files == []
    assert [r for _, r in skipped][:2] == ["not a regular file: a named pipe (FIFO)", "not a regular file: a device"]
    assert skipped[2][1] == "not found"


def test_size_limit_names_the_setting(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * 5000)
    files, skipped = discover([tmp_path], max_bytes=1000)
    assert files == []
    assert "ASSISTANT_MAX_FILE_MB" in skipped[0][1] and "too large" in skipped[0][1]
    assert file_problem(big, max_bytes=10_000) is None


def test_undecodable_file_name_is_skipped_not_fatal(tmp_path: Path) -> None:
    raw = os.path.join(os.fsencode(str(tmp_path)), b"caf\xe9.txt")
    with open(raw, "wb") as fh:
        fh.write(b"Lithium prices fell.")
    files, skipped = discover([tmp_path])
    assert files == [] and "not valid UTF-8" in skipped[0][1]


def test_names_escape_controls_bidi_newlines_and_raw_bytes() -> None:
    assert name("a\nb\x1b[31m\u202ec\u2067.txt") == "a\\nb\\x1b[31m\\u202ec\\u2067.txt"
    assert name("caf\udce9.txt") == "caf\\xe9.txt"
    assert name("ordinary ملف.txt") == "ordinary ملف.txt"


def test_safe_strips_controls_bidi_and_surrogates() -> None:
    assert safe("x\x1b[2Jy\u202ez\udce9") == "xyz\ufffd"


def test_json_output_escapes_bidi_and_surrogates(capsys: pytest.CaptureFixture[str]) -> None:
    _print_json({"source": "a\u202eb\udce9\x1b"})
    printed = capsys.readouterr().out
    assert "\\u202e" in printed and "\\udce9" in printed and "\\u001b" in printed
    assert "\u202e" not in printed


def test_question_control_sequences_are_removed() -> None:
    assert strip_control("How \x1b[31mmuch\x1b[0m is \x1b]0;t\x07it?") == "How much is it?"


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p: (p / "f").write_text("x") and p / "f", "not a folder"),
        (lambda p: (p / "f").write_text("x") and p / "f" / "sub", "under a file"),
        (lambda p: Path("/dev/null"), "system folder"),
        (lambda p: Path("/proc/assistant"), "system folder"),
    ],
)
def test_bad_data_dir_is_named_for_reads_and_writes(tmp_path: Path, make, says: str) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=make(tmp_path))
    for write in (False, True):
        with pytest.raises(StoreError, match=f"ASSISTANT_DATA_DIR.*{says}"):
            check_data_dir(settings, write=write)


def test_missing_data_dir_is_fine_to_read_and_created_to_write(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "new")
    check_data_dir(settings, write=False)
    assert not (tmp_path / "new").exists()
    check_data_dir(settings, write=True)
    assert (tmp_path / "new").is_dir()


@pytest.mark.parametrize(("content", "says"), [(b"", "is empty"), (b"garbage" * 10, "not an SQLite")])
def test_damaged_sqlite_is_reported_and_set_aside_only_on_request(tmp_path: Path, content: bytes, says: str) -> None:
    db = tmp_path / "chroma" / "chroma.sqlite3"
    db.parent.mkdir()
    db.write_bytes(content)
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(StoreError, match=f"damaged.*{says}.*--rebuild"):
        check_not_damaged(settings)
    assert db.read_bytes() == content
    moved = set_aside_damaged(settings)
    assert moved is not None and (moved / "chroma.sqlite3").read_bytes() == content
    assert not db.exists()
    check_not_damaged(settings)


def test_new_settings_and_collection_names_are_validated() -> None:
    assert Settings().max_file_bytes() == 20_000_000
    assert Settings().chroma_timeout == 30
    for bad in ("ab", "bad name", "-x-", "a..b", "10.0.0.1"):
        with pytest.raises(UsageError, match="invalid setting collection"):
            load_settings(collection=bad)
    with pytest.raises(UsageError, match="max_file_mb"):
        load_settings(max_file_mb=0)


def test_dotenv_with_a_bad_byte_is_read_with_replacement(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_bytes(b"# caf\xe9\nASSISTANT_K=7\n")
    assert load_settings().k == 7


def test_deferred_interrupt_waits_for_the_write_then_raises() -> None:
    done = []
    with DeferredInterrupt() as interrupts:
        with pytest.raises(KeyboardInterrupt):
            with interrupts.writing():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)
                done.append("written")
    assert done == ["written"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_embedding_in_a_worker_lets_ctrl_c_through_at_once() -> None:
    release = threading.Event()

    class Slow:
        def embed_passages_array(self, texts: list[str]) -> list[list[float]]:
            release.wait(10)
            return [[0.0]]

    threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    started = time.monotonic()
    with DeferredInterrupt(), pytest.raises(KeyboardInterrupt):
        embed_interruptibly(Slow(), ["x"])
    assert time.monotonic() - started < 3
    release.set()


def test_prompts_are_found_in_the_repo_or_the_package() -> None:
    folder = default_prompts_dir()
    assert (folder / "system.txt").is_file()
