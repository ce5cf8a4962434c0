"""Bad input, run through the real CLI: a documented exit code, a one-line cause, no traceback,
no raw control character, and the store intact (same documents and chunk/sentence counts, a
known question still answered).

Each case runs `python -m assistant` in a subprocess with a clean environment. Cases of a group
share one copy of the seeded store (the documented "still answered" check runs once per group,
after its cases); cases that damage the store get their own copy.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, SEEDS

pytestmark = pytest.mark.integration

KNOWN_QUESTION = "How much is Geely investing in a battery plant?"
KNOWN_SOURCE = "000_dfb5375b2f5ff0dc.txt"
# Raw control characters and bidi controls that must never reach the terminal.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
@dataclass
class Ctx:
    """Where a case runs: its working folder, inputs folder and data dir."""

    tmp: Path
    data: Path
    inp: Path
    env: dict[str, str]
    state: dict[str, Any] = field(default_factory=dict)


@dataclass
class Case:
    id: str
    group: str
    args: list[Any] | Callable[[Ctx], list[Any]]
    rc: int | tuple[int, ...]
    says: str = ""
    setup: Callable[[Ctx], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    stdin: bytes | Callable[[Ctx], bytes] | None = None
    own_store: bool = False
    adds: bool = False
    xfail: str | None = None
    timeout: float = 120
    check: Callable[[Ctx, subprocess.CompletedProcess[bytes]], None] | None = None
    run: Callable[[Ctx, Case], subprocess.CompletedProcess[bytes]] | None = None


# --- helpers -------------------------------------------------------------------------------------
def good_text(i: int) -> str:
    return (
        f"Lithium Triangle report number {i}\n\n"
        f"Chile's lithium output rose by {i + 3} percent in 2023, the mining ministry said on "
        "Monday. Producers in the Atacama salt flat expanded their evaporation ponds. "
        "Analysts expect prices to stay low until the end of next year.\n"
    )


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def pdf_bytes(*, encrypt: bool = False) -> bytes:
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    if encrypt:
        writer.encrypt("secret")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def fifo(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)


def unix_socket(ctx: Ctx, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    ctx.state.setdefault("keep", []).append(sock)


def snapshot(data_dir: Path) -> dict[tuple[str, str], int]:
    """(collection, source) -> rows, read straight from Chroma's SQLite file (no client cache)."""
    db = data_dir / "chroma" / "chroma.sqlite3"
    if not db.exists() or db.stat().st_size == 0:
        return {}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "select col.name, m.string_value, count(*) from embeddings e "
            "join segments s on e.segment_id = s.id join collections col on s.collection = col.id "
            "join embedding_metadata m on m.id = e.id and m.key = 'source' "
            "group by col.name, m.string_value"
        ).fetchall()
    except sqlite3.DatabaseError:
        return {}
    finally:
        con.close()
    # The store keeps its data in generations (`articles--<gen>`, `articles--<gen>-docs`, the
    # manifest); the head collection `articles` names the live one. Count by role, not by generation.
    out: dict[tuple[str, str], int] = {}
    for c, src, n in rows:
        role = c.split("--")[0] + ("-docs" if c.endswith("-docs") else "")
        out[(role, src)] = out.get((role, src), 0) + n
    return out


def run_cli(
    ctx: Ctx,
    args: list[Any],
    *,
    stdin: bytes | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
    stdout: Any = subprocess.PIPE,
) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            [sys.executable, "-m", "assistant", *args],
            cwd=ctx.tmp,
            env={**ctx.env, **(env or {})},
            input=stdin,
            stdout=stdout,
            stderr=subprocess.PIPE,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"hung: {args} did not finish within {timeout} s")


def text_of(result: subprocess.CompletedProcess[bytes]) -> str:
    return (result.stdout or b"").decode("utf-8", "replace") + (result.stderr or b"").decode(
        "utf-8", "replace"
    )


def base_env(ctx_tmp: Path, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_"))}
    env.update(
        ANONYMIZED_TELEMETRY="False",
        ASSISTANT_DATA_DIR=str(data),
        ASSISTANT_CORPUS_DIR=str(ctx_tmp / "no-corpus"),
        PYTHONPATH=str(ROOT),
    )
    return env


# --- signal and concurrency runners ---------------------------------------------------------------
def many_articles(ctx: Ctx, n: int = 12) -> Path:
    folder = ctx.inp / "many"
    for i in range(n):
        seed = sorted(SEEDS.glob("*.txt"))[i % 5]
        write(folder / f"copy_{i:02d}.txt", seed.read_text("utf-8") + f"\n\nCopy {i}.\n")
    return folder


def interrupt_ingest(after: float, articles: int = 12) -> Callable[[Ctx, Case], subprocess.CompletedProcess[bytes]]:
    def run(ctx: Ctx, case: Case) -> subprocess.CompletedProcess[bytes]:
        folder = many_articles(ctx, articles)
        proc = subprocess.Popen(
            [sys.executable, "-m", "assistant", "ingest", str(folder)],
            cwd=ctx.tmp,
            env=ctx.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(after)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        try:
            out, errs = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("an interrupted ingest did not stop within 30 s")
        ctx.state["stop_seconds"] = time.monotonic() - sent
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, errs)

    return run


def stopped_promptly(ctx: Ctx, result: subprocess.CompletedProcess[bytes]) -> None:
    # Generous for a loaded 2-core machine: the point is "not after the whole batch", not speed.
    assert ctx.state["stop_seconds"] < 5, ctx.state["stop_seconds"]
    assert_whole_documents(ctx.data)


def assert_whole_documents(data: Path) -> None:
    """Every document with chunk rows is complete in the manifest (the write protocol's last step)."""
    snap = snapshot(data)
    chunks = {s for (c, s) in snap if c == "articles"}
    db = data / "chroma" / "chroma.sqlite3"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "select src.string_value, st.string_value from embeddings e "
            "join segments s on e.segment_id = s.id join collections col on s.collection = col.id "
            "join embedding_metadata src on src.id = e.id and src.key = 'source' "
            "join embedding_metadata st on st.id = e.id and st.key = 'status' "
            "where col.name like '%-docs'"
        ).fetchall()
    finally:
        con.close()
    complete = {src for src, status in rows if status == "complete"}
    assert chunks <= complete, f"half-written documents: {chunks - complete}"


def with_lock_held(args: list[str]) -> Callable[[Ctx, Case], subprocess.CompletedProcess[bytes]]:
    def run(ctx: Ctx, case: Case) -> subprocess.CompletedProcess[bytes]:
        with open(ctx.data / "write.lock", "a+") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            handle.seek(0)
            handle.truncate()
            handle.write("4242")
            handle.flush()
            try:
                return run_cli(ctx, args, timeout=case.timeout)
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    return run


def second_ingest_during_first(ctx: Ctx, case: Case) -> subprocess.CompletedProcess[bytes]:
    folder = many_articles(ctx)
    first = subprocess.Popen(
        [sys.executable, "-m", "assistant", "ingest", str(folder)],
        cwd=ctx.tmp,
        env=ctx.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        lock = ctx.data / "write.lock"
        while time.monotonic() < deadline:  # wait until the first one holds the lock
            with open(lock, "a+") as handle:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
                except BlockingIOError:
                    break
            time.sleep(0.1)
        second = run_cli(ctx, ["ingest", str(write(ctx.inp / "other.txt", good_text(1)))])
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    return second


def silent_server(ctx: Ctx) -> None:
    """A socket that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    ctx.state.setdefault("keep", []).append(server)
    accepted: list[socket.socket] = ctx.state.setdefault("keep", [])

    def loop() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            accepted.append(conn)

    threading.Thread(target=loop, daemon=True).start()
    ctx.env.update(
        ASSISTANT_CHROMA_HOST="127.0.0.1",
        ASSISTANT_CHROMA_PORT=str(server.getsockname()[1]),
        ASSISTANT_CHROMA_TIMEOUT="2",
    )


def closed_port(ctx: Ctx) -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def broken_pipe(ctx: Ctx, case: Case) -> subprocess.CompletedProcess[bytes]:
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write to stdout fails with EPIPE
    try:
        return run_cli(ctx, case.args if isinstance(case.args, list) else case.args(ctx), stdout=write_end)
    finally:
        os.close(write_end)


def to_dev_full(ctx: Ctx, case: Case) -> subprocess.CompletedProcess[bytes]:
    with open("/dev/full", "wb") as full:
        return run_cli(ctx, case.args if isinstance(case.args, list) else case.args(ctx), stdout=full)


# --- store damage ---------------------------------------------------------------------------------
def truncate_sqlite(ctx: Ctx) -> None:
    (ctx.data / "chroma" / "chroma.sqlite3").write_bytes(b"")


def garbage_sqlite(ctx: Ctx) -> None:
    (ctx.data / "chroma" / "chroma.sqlite3").write_bytes(b"this is not a database\n" * 100)


def still_damaged(ctx: Ctx, result: subprocess.CompletedProcess[bytes]) -> None:
    db = ctx.data / "chroma" / "chroma.sqlite3"
    assert db.exists() and not db.read_bytes().startswith(b"SQLite format 3"), "replaced silently"


def set_manifest(**meta: Any) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        db = ctx.data / "chroma" / "chroma.sqlite3"
        con = sqlite3.connect(db)
        try:
            (cid,) = con.execute("select id from collections where name = 'articles'").fetchone()
            for key, value in meta.items():
                con.execute(
                    "update collection_metadata set str_value = ?, int_value = NULL, "
                    "float_value = NULL where collection_id = ? and key = ?",
                    (value, cid, key),
                )
            con.commit()
        finally:
            con.close()

    return setup


def rebuilt_and_answers(ctx: Ctx, result: subprocess.CompletedProcess[bytes]) -> None:
    assert list(ctx.data.glob("chroma.damaged-*")), "the damaged store was not kept"
    answer_known_question(ctx)


def answer_known_question(ctx: Ctx, *, seeds_only: bool = False) -> None:
    # seeds_only: a store that gained documents in its cases is asked about the seeds alone
    # (other articles may legitimately change which passage answers best).
    result = run_cli(ctx, ["ask", KNOWN_QUESTION, "--json", *(["--source", "seeds/*"] if seeds_only else [])])
    assert result.returncode == 0, text_of(result)
    answer = json.loads(result.stdout)
    assert answer["answered"], answer
    assert any(c["source"].endswith(KNOWN_SOURCE) for c in answer["citations"]), answer["citations"]


def sources_escaped(needle: str) -> Callable[[Ctx, subprocess.CompletedProcess[bytes]], None]:
    def check(ctx: Ctx, result: subprocess.CompletedProcess[bytes]) -> None:
        listed = run_cli(ctx, ["sources"])
        assert listed.returncode == 0, text_of(listed)
        shown = listed.stdout.decode("utf-8")
        assert needle in shown, shown
        assert not RAW_CONTROL.search(shown), shown
        assert all(line.count("\t") == 3 for line in shown.splitlines()), "a name split a line"

    return check


def json_reports_limit(ctx: Ctx, result: subprocess.CompletedProcess[bytes]) -> None:
    report = json.loads(result.stdout)
    assert report["skipped"] == 1 and "ASSISTANT_MAX_FILE_MB" in report["skipped_files"][0]["reason"]


def stored(*sources: str) -> Callable[[Ctx, subprocess.CompletedProcess[bytes]], None]:
    def check(ctx: Ctx, result: subprocess.CompletedProcess[bytes]) -> None:
        names = {s for (c, s) in snapshot(ctx.data) if c == "articles"}
        for source in sources:
            assert any(n.endswith(source) for n in names), (source, names)

    return check


MIXED_BAD = ("empty.txt", "binary.txt", "latin1.txt", "broken.pdf", "blank.pdf", "empty.html", "pipe.txt", "dangling.md", "loop.txt")


def each_skipped(names: tuple[str, ...]) -> Callable[[Ctx, subprocess.CompletedProcess[bytes]], None]:
    def check(ctx: Ctx, result: subprocess.CompletedProcess[bytes]) -> None:
        lines = [ln for ln in result.stderr.decode("utf-8").splitlines() if ln.startswith("skipped ")]
        for n in names:
            assert sum(f"/{n}: " in ln for ln in lines) == 1, (n, lines)
        assert f"{len(names)} skipped" in result.stderr.decode("utf-8")

    return check


def mixed_folder(ctx: Ctx) -> None:
    folder = ctx.inp / "mixed"
    write(folder / "good.txt", good_text(7))
    write(folder / "empty.txt", b"")
    write(folder / "binary.txt", bytes(range(256)) * 40)
    write(folder / "latin1.txt", "Caf\xe9 in S\xe3o Paulo".encode("latin-1") * 10)
    write(folder / "broken.pdf", b"%PDF-1.4\n garbage")
    write(folder / "blank.pdf", pdf_bytes())
    write(folder / "empty.html", b"<html><body><script>var x=1;</script></body></html>")
    fifo(folder / "pipe.txt")
    (folder / "dangling.md").symlink_to(folder / "missing.md")
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    (folder / "dir.txt").mkdir()


# --- the table ------------------------------------------------------------------------------------
def _file_case(cid: str, name: str, data: bytes | str, says: str, rc: int = 1, **kw: Any) -> Case:
    return Case(
        cid,
        "files",
        lambda ctx: ["ingest", str(write(ctx.inp / name, data))],
        rc,
        says,
        **kw,
    )


CASES: list[Case] = [
    # --- files -----------------------------------------------------------------------------
    _file_case("zero-byte-txt", "empty.txt", b"", "empty"),
    _file_case("whitespace-txt", "blank.txt", b"  \n\n\t \n", "empty"),
    _file_case("binary-named-txt", "data.txt", bytes(range(256)) * 64, "binary"),
    _file_case("invalid-utf8-txt", "latin1.txt", "Caf\xe9 au lait, S\xe3o Paulo".encode("latin-1") * 20, "UTF-8"),
    _file_case("utf16-no-bom", "utf16.txt", ("Lithium prices fell. " * 40).encode("utf-16-le"), "binary|UTF"),
    _file_case("garbage-named-pdf", "junk.pdf", os.urandom(4096), r"skipped .*junk\.pdf"),
    _file_case("truncated-pdf", "cut.pdf", pdf_bytes()[:200], r"skipped .*cut\.pdf"),
    _file_case("encrypted-pdf", "locked.pdf", pdf_bytes(encrypt=True), r"skipped .*locked\.pdf"),
    _file_case("textless-pdf", "blank.pdf", pdf_bytes(), r"skipped .*blank\.pdf"),
    _file_case("empty-html", "empty.html", b"<html><head></head><body></body></html>", r"skipped .*empty\.html"),
    _file_case("script-only-html", "js.html", b"<html><body><script>alert(1)</script></body></html>", r"skipped .*js\.html"),
    _file_case("garbage-html", "bin.html", os.urandom(2048), r"skipped .*bin\.html"),
    _file_case("nul-in-md", "nul.md", b"# Title\x00\x00\x00 body\x00", "binary"),
    _file_case("unsupported-csv", "table.csv", "a,b\n1,2\n", r"unsupported file type \.csv"),
    _file_case("no-suffix", "README", "Lithium prices fell.\n", r"unsupported file type \(no suffix\)"),
    Case("dir-named-txt", "files", lambda ctx: ["ingest", str(_mkdir(ctx.inp / "x.txt"))], 1, "no supported files in folder"),
    Case("empty-folder", "files", lambda ctx: ["ingest", str(_mkdir(ctx.inp / "nothing"))], 1, "no supported files in folder"),
    Case(
        "hidden-only-folder",
        "files",
        lambda ctx: ["ingest", str(write(ctx.inp / "h" / ".secret.txt", good_text(1)).parent)],
        1,
        "no supported files in folder",
    ),
    Case("dangling-symlink", "files", lambda ctx: ["ingest", str(_link(ctx.inp / "d.txt", ctx.inp / "gone.txt"))], 1, "dangling symlink"),
    Case("symlink-loop", "files", lambda ctx: ["ingest", str(_link(ctx.inp / "l.txt", ctx.inp / "l.txt"))], 1, "symlink loop"),
    Case("fifo-explicit", "files", lambda ctx: ["ingest", str(_fifo(ctx.inp / "p.txt"))], 1, "named pipe", timeout=60),
    Case(
        "fifo-in-folder-beside-good-file",
        "files",
        lambda ctx: ["ingest", str(_fifo(write(ctx.inp / "f" / "good.txt", good_text(2)).parent / "pipe.md").parent)],
        0,
        "named pipe",
        adds=True,
        timeout=90,
        check=stored("f/good.txt"),
    ),
    Case("socket-named-txt", "files", lambda ctx: ["ingest", str(_sock(ctx, ctx.inp / "s.txt"))], 1, "socket"),
    Case("dev-null", "files", ["ingest", "/dev/null"], 1, "a device"),
    Case("missing-path", "files", ["ingest", "no/such/dir"], 2, "no such file or folder"),
    Case("missing-file-json", "files", ["ingest", "--json", "nosuch.txt"], 2, "no such file or folder"),
    Case("glob-matches-nothing", "files", ["ingest", "*.nothing"], 2, "matches nothing"),
    Case("recursive-glob-nothing", "files", ["ingest", "nowhere/**/*.txt"], 2, "matches nothing"),
    Case(
        "glob-unsupported-only",
        "files",
        lambda ctx: ["ingest", str(write(ctx.inp / "g" / "a.csv", "x").parent / "*.csv")],
        1,
        "matches no supported files",
    ),
    Case("empty-path-argument", "files", ["ingest", ""], 2, "empty path"),
    Case("missing-among-good", "files", lambda ctx: ["ingest", str(write(ctx.inp / "ok.txt", good_text(3))), "missing.txt"], 2, "missing.txt: no such file"),
    Case(
        "oversized-file",
        "files",
        lambda ctx: ["ingest", str(write(ctx.inp / "big.txt", good_text(4) * 40))],
        1,
        "ASSISTANT_MAX_FILE_MB",
        env={"ASSISTANT_MAX_FILE_MB": "0.001"},
    ),
    Case(
        "oversized-dry-run",
        "files",
        lambda ctx: ["ingest", "--dry-run", str(write(ctx.inp / "big.txt", good_text(4) * 40))],
        1,
        "too large.*ASSISTANT_MAX_FILE_MB",
        env={"ASSISTANT_MAX_FILE_MB": "0.001"},
    ),
    Case(
        "oversized-dry-run-json",
        "files",
        lambda ctx: ["ingest", "--dry-run", "--json", str(write(ctx.inp / "big.txt", good_text(4) * 40))],
        1,
        "nothing would be stored",
        env={"ASSISTANT_MAX_FILE_MB": "0.001"},
        check=json_reports_limit,
    ),
    Case(
        "named-bad-file-beside-good",
        "files",
        lambda ctx: ["ingest", str(write(ctx.inp / "fine.txt", good_text(5))), str(write(ctx.inp / "zero.txt", b""))],
        1,
        "file\\(s\\) you named could not be stored",
        adds=True,
        check=stored("fine.txt"),
    ),
    Case(
        "folder-with-one-broken-file-of-each-kind",
        "files",
        lambda ctx: (mixed_folder(ctx), ["ingest", str(ctx.inp / "mixed")])[1],
        0,
        r"done: 1 added, .* skipped",
        adds=True,
        timeout=90,
        check=lambda ctx, result: (stored("mixed/good.txt")(ctx, result), each_skipped(MIXED_BAD)(ctx, result)),
    ),
    Case("explain-fifo", "files", lambda ctx: ["ingest", "--explain", str(_fifo(ctx.inp / "e.txt"))], 1, "named pipe", timeout=60),
    Case("explain-missing", "files", ["ingest", "--explain", "nosuch.txt"], 2, "no such file"),
    Case("explain-binary", "files", lambda ctx: ["ingest", "--explain", str(write(ctx.inp / "b.txt", bytes(range(256)) * 8))], 1, "binary"),
    Case("explain-folder", "files", lambda ctx: ["ingest", "--explain", str(_mkdir(ctx.inp / "folder.txt"))], 1, "a folder"),
    Case("explain-unsupported", "files", lambda ctx: ["ingest", "--explain", str(write(ctx.inp / "x.csv", "a"))], 1, "unsupported file type"),
    Case("unchanged-seed", "files", ["ingest", str(SEEDS / "001_fea0fef66f3d3d96.txt")], 0, "1 unchanged"),
    # --- names -----------------------------------------------------------------------------
    Case(
        "newline-in-name",
        "names",
        lambda ctx: ["ingest", str(write(ctx.inp / "n" / "two\nlines.txt", good_text(10)))],
        0,
        "1 added",
        adds=True,
        check=sources_escaped("two\\nlines.txt"),
    ),
    Case(
        "rtl-override-in-name",
        "names",
        lambda ctx: ["ingest", str(write(ctx.inp / "r" / "report\u202etxt.exe.txt", good_text(11)))],
        0,
        "1 added",
        adds=True,
        check=sources_escaped("report\\u202etxt.exe.txt"),
    ),
    Case(
        "escape-sequence-in-name",
        "names",
        lambda ctx: ["ingest", str(write(ctx.inp / "e" / "red\x1b[31mname.txt", good_text(12)))],
        0,
        "1 added",
        adds=True,
        check=sources_escaped("red\\x1b[31mname.txt"),
    ),
    Case(
        "isolate-in-name",
        "names",
        lambda ctx: ["ingest", str(write(ctx.inp / "i" / "a\u2067b.txt", good_text(13)))],
        0,
        "1 added",
        adds=True,
        check=sources_escaped("a\\u2067b.txt"),
    ),
    Case(
        "non-utf8-name-explicit",
        "names",
        lambda ctx: ["ingest", os.fsencode(str(ctx.inp)) + b"/caf\xe9.txt" if _bytes_file(ctx, b"caf\xe9.txt") else b""],
        1,
        "not valid UTF-8",
    ),
    Case(
        "non-utf8-name-in-folder",
        "names",
        lambda ctx: (_bytes_file(ctx, b"u/caf\xe9.txt"), write(ctx.inp / "u" / "ok.txt", good_text(14)), ["ingest", str(ctx.inp / "u")])[2],
        0,
        r"caf\\xe9\.txt: the file name is not valid UTF-8",
        adds=True,
        check=stored("u/ok.txt"),
    ),
    Case("control-chars-in-missing-path", "names", ["ingest", "bad\x1b]0;title\x07name.txt"], 2, r"bad\\x1b\]0;title\\x07name\.txt: no such file"),
    Case("rtl-in-missing-path", "names", ["ingest", "x\u202etxt.exe"], 2, r"x\\u202etxt\.exe: no such file"),
    # --- options ---------------------------------------------------------------------------
    Case("ask-empty", "options", ["ask", ""], 2, "the question is empty"),
    Case("ask-blank", "options", ["ask", "   \t  "], 2, "the question is empty"),
    Case("ask-only-escapes", "options", ["ask", "\x1b[31m\x1b[0m"], 2, "the question is empty"),
    Case("ask-too-long", "options", ["ask", "lithium " * 600], 2, "longer than 4000"),
    Case("ask-k-zero", "options", ["ask", "x", "-k", "0"], 2, "Invalid value"),
    Case("ask-k-huge", "options", ["ask", "x", "-k", "1000"], 2, "Invalid value"),
    Case("ask-k-negative", "options", ["ask", "x", "-k", "-1"], 2, "Invalid value"),
    Case("ask-k-text", "options", ["ask", "x", "-k", "many"], 2, "Invalid value"),
    Case("ask-bad-provider", "options", ["ask", "x", "--provider", "bogus"], 2, "unknown provider"),
    Case("ask-source-matches-nothing", "options", ["ask", KNOWN_QUESTION, "--source", "nomatch*"], 2, "matches no document"),
    Case("search-source-matches-nothing", "options", ["search", "lithium", "--source", "zzz"], 2, "matches no document"),
    Case("chat-source-matches-nothing", "options", ["chat", "--source", "zzz"], 2, "matches no document", stdin=b"hello\n"),
    Case("search-empty", "options", ["search", ""], 2, "the question is empty"),
    Case("search-k-zero", "options", ["search", "x", "-k", "0"], 2, "Invalid value"),
    Case("unknown-option", "options", ["ask", "x", "--frobnicate"], 2, "No such option"),
    Case("unknown-command", "options", ["frobnicate"], 2, "No such command"),
    Case("collection-too-short", "options", ["--collection", "ab", "sources"], 2, "invalid setting collection"),
    Case("collection-bad-chars", "options", ["--collection", "bad name!", "sources"], 2, "invalid setting collection"),
    Case("collection-missing-ask", "options", ["--collection", "nosuch", "ask", KNOWN_QUESTION], 1, "no collection 'nosuch'"),
    Case("collection-missing-sources", "options", ["--collection", "nosuch", "sources"], 1, "no collection 'nosuch'"),
    Case("collection-missing-search", "options", ["--collection", "nosuch", "search", "lithium"], 1, "no collection 'nosuch'"),
    Case("chroma-port-out-of-range", "options", ["--chroma-port", "70000", "sources"], 2, "chroma_port"),
    Case("chroma-port-text", "options", ["--chroma-port", "abc", "sources"], 2, "Invalid value"),
    Case("openai-without-key", "options", ["ask", KNOWN_QUESTION, "--provider", "openai"], 1, "OPENAI_API_KEY"),
    Case("eval-missing-file", "options", ["eval", "nosuch.jsonl"], 2, "dataset file not found: nosuch.jsonl"),
    Case("eval-folder", "options", lambda ctx: ["eval", str(_mkdir(ctx.inp / "evals"))], 2, "is a folder, not a file"),
    Case("eval-device", "options", ["eval", "/dev/null"], 2, "not a regular file"),
    Case("eval-binary", "options", lambda ctx: ["eval", str(write(ctx.inp / "q.jsonl", bytes(range(256)) * 8))], 2, "not a question object"),
    Case("eval-empty", "options", lambda ctx: ["eval", str(write(ctx.inp / "q.jsonl", ""))], 2, "no questions"),
    Case(
        "eval-malformed-field",
        "options",
        lambda ctx: ["eval", str(write(ctx.inp / "q.jsonl", '{"question": "x", "gold_sources": 5}\n'))],
        2,
        "gold_sources",
    ),
    Case("eval-not-object", "options", lambda ctx: ["eval", str(write(ctx.inp / "q.jsonl", "[1, 2]\n"))], 2, "not a question object"),
    Case("eval-bad-json", "options", lambda ctx: ["eval", str(write(ctx.inp / "q.jsonl", "{nope\n"))], 2, "not a question object"),
    Case("eval-squad-wrong", "options", lambda ctx: ["eval", str(write(ctx.inp / "q.json", '{"data": 3}'))], 2, "not a SQuAD"),
    Case("version", "options", ["--version"], 0, r"assistant \d+\.\d+"),
    # Typer detects the shell from the parent processes; a test run may have none (nohup, CI).
    Case("show-completion", "options", ["--show-completion", "bash"], 0, "complete", env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}),
    Case(
        "ask-with-escape-sequences",
        "options",
        ["ask", "How much is \x1b[31mGeely\x1b[0m investing in a \x1b]0;pwned\x07battery plant?"],
        0,
        KNOWN_SOURCE,
    ),
    Case("ask-non-utf8-argv", "options", ["ask", b"How much is Geely investing in a battery plant? \xff\xfe"], 0, KNOWN_SOURCE),
    Case("ask-bidi-in-question", "options", ["ask", "How much is Geely \u202einvesting in a battery plant?"], (0, 3), ""),
    Case("search-non-utf8-argv", "options", ["search", b"Geely \xff battery", "-k", "2"], 0, "score"),
    Case("sources-broken-pipe", "options", ["sources"], 0, "", run=broken_pipe),
    Case("search-json-broken-pipe", "options", ["search", "lithium", "--json"], 0, "", run=broken_pipe),
    Case("sources-dev-full", "options", ["sources"], 1, "cannot write the output: No space left on device", run=to_dev_full),
    Case("ask-json-dev-full", "options", ["ask", KNOWN_QUESTION, "--json"], 1, "No space left on device", run=to_dev_full),
    Case("version-dev-full", "options", ["--version"], 1, "No space left on device", run=to_dev_full),
    # --- settings --------------------------------------------------------------------------
    # An empty setting means its default (.assistant in the working folder), not the working folder.
    Case("data-dir-empty", "settings", lambda ctx: ["ingest", str(write(ctx.inp / "a.txt", good_text(7)))], 0, "1 added", env={"ASSISTANT_DATA_DIR": ""}, check=lambda ctx, result: _stored_in_default_dir(ctx)),
    Case("data-dir-is-file-sources", "settings", ["sources"], 1, "ASSISTANT_DATA_DIR.*not a folder", setup=lambda ctx: _data_file(ctx)),
    Case("data-dir-is-file-ask", "settings", ["ask", KNOWN_QUESTION], 1, "ASSISTANT_DATA_DIR.*not a folder", setup=lambda ctx: _data_file(ctx)),
    Case("data-dir-is-file-ingest", "settings", ["ingest", str(SEEDS)], 1, "ASSISTANT_DATA_DIR.*not a folder", setup=lambda ctx: _data_file(ctx)),
    Case("data-dir-is-file-dry-run", "settings", ["ingest", "--dry-run", str(SEEDS)], 1, "ASSISTANT_DATA_DIR.*not a folder", setup=lambda ctx: _data_file(ctx)),
    Case("data-dir-under-file-sources", "settings", ["sources"], 1, "ASSISTANT_DATA_DIR.*under a file", setup=lambda ctx: _data_file(ctx, "sub")),
    Case("data-dir-under-file-ingest", "settings", ["ingest", str(SEEDS)], 1, "ASSISTANT_DATA_DIR.*under a file", setup=lambda ctx: _data_file(ctx, "sub")),
    Case("data-dir-dev-null-sources", "settings", ["sources"], 1, "ASSISTANT_DATA_DIR.*system folder", env={"ASSISTANT_DATA_DIR": "/dev/null"}),
    Case("data-dir-dev-null-ingest", "settings", ["ingest", str(SEEDS)], 1, "ASSISTANT_DATA_DIR.*system folder", env={"ASSISTANT_DATA_DIR": "/dev/null"}),
    Case("data-dir-proc-ingest", "settings", ["ingest", str(SEEDS)], 1, "ASSISTANT_DATA_DIR.*system folder", env={"ASSISTANT_DATA_DIR": "/proc/assistant-store"}),
    Case("data-dir-proc-sources", "settings", ["sources"], 1, "ASSISTANT_DATA_DIR.*system folder", env={"ASSISTANT_DATA_DIR": "/proc/assistant-store"}),
    Case("data-dir-option-is-file", "settings", lambda ctx: ["--data-dir", str(write(ctx.tmp / "f.bin", "x")), "sources"], 1, "not a folder"),
    Case("empty-store-ask", "settings", ["ask", KNOWN_QUESTION], 1, "nothing is indexed yet: run `assistant ingest PATH`", env={"ASSISTANT_DATA_DIR": "fresh-store"}),
    Case("empty-store-search", "settings", ["search", "lithium"], 1, "nothing is indexed yet", env={"ASSISTANT_DATA_DIR": "fresh-store"}),
    Case("empty-store-chat", "settings", ["chat"], 1, "nothing is indexed yet", env={"ASSISTANT_DATA_DIR": "fresh-store"}, stdin=b"hi\n"),
    Case("empty-store-sources", "settings", ["sources"], 0, "the store is empty", env={"ASSISTANT_DATA_DIR": "fresh-store"}),
    Case("k-zero-setting", "settings", ["sources"], 2, "invalid setting k", env={"ASSISTANT_K": "0"}),
    Case("k-text-setting", "settings", ["sources"], 2, "invalid setting k", env={"ASSISTANT_K": "lots"}),
    Case("overlap-too-big", "settings", ["sources"], 2, "chunk_overlap", env={"ASSISTANT_CHUNK_OVERLAP": "200"}),
    Case("provider-setting-bogus", "settings", ["sources"], 2, "invalid setting provider", env={"ASSISTANT_PROVIDER": "bogus"}),
    Case("embeddings-setting-bogus", "settings", ["sources"], 2, "invalid setting embeddings", env={"ASSISTANT_EMBEDDINGS": "bogus"}),
    Case("max-file-mb-negative", "settings", ["sources"], 2, "invalid setting max_file_mb", env={"ASSISTANT_MAX_FILE_MB": "-1"}),
    Case("max-file-mb-text", "settings", ["sources"], 2, "invalid setting max_file_mb", env={"ASSISTANT_MAX_FILE_MB": "big"}),
    Case("chroma-timeout-zero", "settings", ["sources"], 2, "invalid setting chroma_timeout", env={"ASSISTANT_CHROMA_TIMEOUT": "0"}),
    Case("timeout-negative", "settings", ["sources"], 2, "invalid setting timeout", env={"ASSISTANT_TIMEOUT": "-5"}),
    Case("collection-setting-invalid", "settings", ["sources"], 2, "invalid setting collection", env={"ASSISTANT_COLLECTION": "-bad-"}),
    Case("chroma-silent-server", "settings", ["sources"], 1, "did not answer within 2 s \\(ASSISTANT_CHROMA_TIMEOUT\\)", setup=silent_server, timeout=60),
    Case("chroma-silent-server-ask", "settings", ["ask", KNOWN_QUESTION], 1, "ASSISTANT_CHROMA_TIMEOUT", setup=silent_server, timeout=60),
    Case(
        "chroma-closed-port",
        "settings",
        ["sources"],
        1,
        "cannot open the store at chroma server",
        setup=lambda ctx: ctx.env.update(ASSISTANT_CHROMA_HOST="127.0.0.1", ASSISTANT_CHROMA_PORT=str(closed_port(ctx))),
    ),
    Case(
        "llm-closed-port",
        "settings",
        ["ask", KNOWN_QUESTION, "--provider", "openai"],
        1,
        "cannot reach",
        setup=lambda ctx: ctx.env.update(OPENAI_BASE_URL=f"http://127.0.0.1:{closed_port(ctx)}/v1", ASSISTANT_MAX_RETRIES="0"),
    ),
    Case(
        "dotenv-invalid-utf8",
        "settings",
        ["sources"],
        0,
        "warning: .env is not valid UTF-8",
        setup=lambda ctx: write(ctx.tmp / ".env", b"# caf\xe9\nASSISTANT_K=3\n"),
    ),
    Case(
        "dotenv-invalid-utf8-bad-value",
        "settings",
        ["sources"],
        2,
        "invalid setting k",
        setup=lambda ctx: write(ctx.tmp / ".env", b"ASSISTANT_K=\xff\xfe\n"),
    ),
    Case("prompts-dir-missing", "settings", ["ask", KNOWN_QUESTION, "--provider", "openai"], 1, "prompt file .* cannot be read", env={"ASSISTANT_PROMPTS_DIR": "/nonexistent", "OPENAI_API_KEY": "sk-xxxx-test", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "ASSISTANT_MAX_RETRIES": "0"}),
    # --- store damage ------------------------------------------------------------------------
    Case("sqlite-truncated-sources", "store", ["sources"], 1, "is damaged: chroma.sqlite3 is empty.*ingest --rebuild", setup=truncate_sqlite, own_store=True, check=still_damaged),
    Case("sqlite-truncated-ask", "store", ["ask", KNOWN_QUESTION], 1, "is damaged", setup=truncate_sqlite, own_store=True, check=still_damaged),
    Case("sqlite-truncated-ingest", "store", lambda ctx: ["ingest", str(write(ctx.inp / "a.txt", good_text(20)))], 1, "is damaged", setup=truncate_sqlite, own_store=True, check=still_damaged),
    Case("sqlite-garbage-sources", "store", ["sources"], 1, "is damaged: chroma.sqlite3 is not an SQLite database", setup=garbage_sqlite, own_store=True, check=still_damaged),
    Case("sqlite-garbage-search", "store", ["search", "lithium"], 1, "is damaged", setup=garbage_sqlite, own_store=True, check=still_damaged),
    Case(
        "sqlite-truncated-rebuild",
        "store",
        ["ingest", "--rebuild"],
        0,
        "moved aside",
        setup=lambda ctx: (truncate_sqlite(ctx), ctx.env.update(ASSISTANT_CORPUS_DIR=str(SEEDS))),
        own_store=True,
        adds=True,
        timeout=300,
        check=rebuilt_and_answers,
    ),
    Case("write-lock-is-folder", "store", lambda ctx: ["ingest", str(write(ctx.inp / "a.txt", good_text(21)))], 1, "cannot take the write lock", setup=lambda ctx: ((ctx.data / "write.lock").unlink(missing_ok=True), _mkdir(ctx.data / "write.lock")), own_store=True),
    Case("chroma-dir-is-file", "store", ["sources"], 1, "the store at .*chroma cannot be read: Not a directory", setup=lambda ctx: (shutil.rmtree(ctx.data / "chroma"), write(ctx.data / "chroma", "x")), own_store=True),
    Case("manifest-model-junk", "store", ["ask", KNOWN_QUESTION], 1, "was built with", setup=set_manifest(embedding_model="junk\x1b[31m"), own_store=True),
    Case("manifest-version-junk", "store", ["ask", KNOWN_QUESTION], 0, KNOWN_SOURCE, setup=set_manifest(version="junk"), own_store=True),
    # --- chat input --------------------------------------------------------------------------
    Case("chat-eof-at-once", "chat", ["chat"], 0, "", stdin=b""),
    Case("chat-blank-lines", "chat", ["chat"], 0, "", stdin=b"\n  \n\t\n"),
    Case("chat-unknown-command", "chat", ["chat"], 0, "unknown command /bogus", stdin=b"/bogus\n"),
    Case("chat-escape-in-command", "chat", ["chat"], 0, "unknown command /x", stdin=b"/x\x1b[2J\n"),
    Case("chat-sources-before-answer", "chat", ["chat"], 0, "no answer yet", stdin=b"/sources\n"),
    Case("chat-invalid-utf8-line", "chat", ["chat"], 0, KNOWN_SOURCE, stdin=b"\xff\xfe\xfd caf\xe9\n/sources\n" + KNOWN_QUESTION.encode() + b"\n/sources\n"),
    Case("chat-escape-line-then-good", "chat", ["chat"], 0, KNOWN_SOURCE, stdin=b"\x1b[31m\x1b]0;x\x07\n" + KNOWN_QUESTION.encode() + b"\n/sources\n"),
    Case("chat-too-long-line", "chat", ["chat"], 0, "longer than 4000", stdin=b"lithium " * 600 + b"\n"),
    Case("chat-nul-bytes", "chat", ["chat"], 0, "", stdin=b"\x00\x00\x00\n\x00abc\x00\n"),
    Case("chat-sql-line-survives", "chat", ["chat"], 0, KNOWN_SOURCE, stdin=b"'; DROP TABLE embeddings; --\n" + KNOWN_QUESTION.encode() + b"\n/sources\n"),
    Case("chat-exit", "chat", ["chat"], 0, "", stdin=b"/exit\nnever asked\n"),
    # --- signals -----------------------------------------------------------------------------
    Case("sigint-during-ingest", "signals", [], 130, "interrupted", run=interrupt_ingest(6.0, articles=60), adds=True, check=stopped_promptly, timeout=120),
    Case("sigint-at-startup", "signals", [], 130, "interrupted", run=interrupt_ingest(1.0), adds=True, check=stopped_promptly, timeout=120),
    # --- concurrency -------------------------------------------------------------------------
    Case("ingest-while-locked", "concurrency", lambda ctx: ["ingest", str(write(ctx.inp / "a.txt", good_text(30)))], 1, "being written by pid 4242", run=lambda ctx, case: with_lock_held(case.args(ctx))(ctx, case)),  # type: ignore[operator,misc]
    Case("rebuild-while-locked", "concurrency", ["ingest", "--rebuild", str(SEEDS)], 1, "being written by pid", run=lambda ctx, case: with_lock_held(["ingest", "--rebuild", str(SEEDS)])(ctx, case)),
    Case("ask-while-locked", "concurrency", [], 0, KNOWN_SOURCE, run=lambda ctx, case: with_lock_held(["ask", KNOWN_QUESTION])(ctx, case)),
    Case("sources-while-locked", "concurrency", [], 0, KNOWN_SOURCE, run=lambda ctx, case: with_lock_held(["sources"])(ctx, case)),
    Case("dry-run-while-locked", "concurrency", [], 0, "would change: 0 added", run=lambda ctx, case: with_lock_held(["ingest", "--dry-run", str(SEEDS)])(ctx, case)),
    Case("second-ingest-during-first", "concurrency", [], 1, "being written by pid", run=second_ingest_during_first, adds=True, timeout=180),
    # --- nonsense questions: the indexed articles do not answer them -------------------------
    Case("sql-injection", "nonsense", ["ask", "'; DROP TABLE embeddings; --"], 3, "declined"),
    Case("sql-select", "nonsense", ["ask", "SELECT * FROM chunks WHERE 1=1"], 3, "declined"),
    Case("format-strings", "nonsense", ["ask", "%s {0} {question} $(id)"], 3, "declined"),
    Case("shell-snippet", "nonsense", ["ask", "rm -rf / ; echo $HOME"], 3, "declined"),
    Case("punctuation-only", "nonsense", ["ask", "?!?... ;;; ---"], 3, "declined"),
    Case("emoji-only", "nonsense", ["ask", "🔋🔋🚗⚡"], 3, "declined"),
    Case("braces-only", "nonsense", ["ask", "{}{}{}[]()"], 3, "declined"),
    Case("html-script", "nonsense", ["ask", "<script>alert(1)</script>"], 3, "declined"),
    Case("path-traversal", "nonsense", ["ask", "../../../../etc/passwd"], 3, "declined"),
    Case("printf-n", "nonsense", ["ask", "%n%n%n%n%x%x"], 3, "declined"),
]


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _link(link: Path, target: Path) -> Path:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    return link


def _fifo(path: Path) -> Path:
    fifo(path)
    return path


def _sock(ctx: Ctx, path: Path) -> Path:
    unix_socket(ctx, path)
    return path


def _bytes_file(ctx: Ctx, rel: bytes) -> bool:
    target = os.path.join(os.fsencode(str(ctx.inp)), rel)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as fh:
        fh.write(good_text(99).encode())
    return True


def _stored_in_default_dir(ctx: Ctx) -> None:
    assert (ctx.tmp / ".assistant" / "chroma").is_dir()
    assert not (ctx.tmp / "chroma").exists()


def _data_file(ctx: Ctx, under: str | None = None) -> None:
    target = write(ctx.tmp / "not-a-folder", "I am a file\n")
    ctx.env["ASSISTANT_DATA_DIR"] = str(target / under) if under else str(target)


# --- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def group_stores(seeded_store_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """One copy of the seeded store per group, made when the group's first case runs."""
    root = tmp_path_factory.mktemp("groups")
    stores: dict[str, Path] = {}

    def get(group: str) -> Path:
        if group not in stores:
            stores[group] = root / group / ".assistant"
            shutil.copytree(seeded_store_template, stores[group])
        return stores[group]

    yield _Lazy(get)  # type: ignore[misc]


class _Lazy(dict):  # type: ignore[type-arg]
    def __init__(self, make: Callable[[str], Path]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, key: str) -> Path:
        value = self._make(key)
        self[key] = value
        return value


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=f"{c.group}-{c.id}", marks=[pytest.mark.xfail(reason=c.xfail, strict=False)] if c.xfail else []) for c in CASES],
)
def test_bad_input(case: Case, group_stores: dict[str, Path], seeded_store_template: Path, tmp_path: Path) -> None:
    if case.own_store:
        data = tmp_path / "own.assistant"
        shutil.copytree(seeded_store_template, data)
    else:
        data = group_stores[case.group]
    ctx = Ctx(tmp=tmp_path, data=data, inp=tmp_path / "inputs", env=base_env(tmp_path, data))
    ctx.inp.mkdir()
    ctx.env.update(case.env)
    before = snapshot(data)
    try:
        if case.setup is not None:
            case.setup(ctx)
        if case.run is not None:
            result = case.run(ctx, case)
        else:
            args = case.args(ctx) if callable(case.args) else case.args
            stdin = case.stdin(ctx) if callable(case.stdin) else case.stdin
            result = run_cli(ctx, args, stdin=stdin, timeout=case.timeout)
        output = text_of(result)
        expected = case.rc if isinstance(case.rc, tuple) else (case.rc,)
        assert result.returncode in expected, output
        assert "Traceback" not in output, output
        assert "unexpected error" not in output, output
        raw = RAW_CONTROL.search(output)
        assert raw is None, f"raw control character {raw.group()!r} in: {output!r}"
        if case.says:
            assert re.search(case.says, output, re.IGNORECASE), output
        if result.returncode in (1, 2) and case.run is None:
            errors = [line for line in output.splitlines() if line.startswith("error:")]
            assert len(errors) <= 1, errors
        after = snapshot(data)
        if case.own_store and before and not after:
            pass  # the case damaged its own copy on purpose; `check` says what must hold
        elif case.adds:
            for key, n in before.items():
                if case.own_store and "rebuild" in case.id:
                    continue
                assert after.get(key) == n, f"{key}: {n} rows before, {after.get(key)} after"
        else:
            assert after == before, "the store changed"
        if case.check is not None:
            case.check(ctx, result)
    finally:
        for sock in ctx.state.get("keep", []):
            sock.close()


GROUPS = sorted({c.group for c in CASES if not c.own_store})


@pytest.mark.parametrize("group", GROUPS)
def test_group_store_still_answers(group: str, group_stores: dict[str, Path], seeded_store_template: Path, tmp_path: Path) -> None:
    """After a group's bad inputs, its store holds every seed document whole and still answers."""
    data = group_stores[group]
    template = snapshot(seeded_store_template)
    after = snapshot(data)
    for key, n in template.items():
        assert after.get(key) == n, f"{key}: {n} rows in the template, {after.get(key)} after"
    assert_whole_documents(data)
    ctx = Ctx(tmp=tmp_path, data=data, inp=tmp_path, env=base_env(tmp_path, data))
    answer_known_question(ctx, seeds_only=after.keys() != template.keys())


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 100
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.fixture
def read_only_store(seeded_store_template: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the seeded store behind a read-only bind mount (root with mount rights only:
    permission bits do not stop root, a read-only mount does)."""
    source = tmp_path / "rw.assistant"
    shutil.copytree(seeded_store_template, source)
    target = tmp_path / "ro.assistant"
    target.mkdir()
    mounted = subprocess.run(
        ["mount", "--bind", "-o", "ro", str(source), str(target)], capture_output=True, check=False
    ) if shutil.which("mount") and os.geteuid() == 0 else None
    if mounted is None or mounted.returncode != 0:
        # Not root: drop write permission instead (it binds every user but root).
        if os.geteuid() == 0:
            pytest.skip("a read-only store needs a read-only mount here (root ignores permissions) and mount is not permitted")
        shutil.rmtree(target)
        for p in sorted(source.rglob("*"), reverse=True):
            p.chmod(p.stat().st_mode & ~0o222)
        source.chmod(source.stat().st_mode & ~0o222)
        yield source
        for p in [source, *source.rglob("*")]:
            p.chmod(p.stat().st_mode | 0o200)
        return
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=False)


@pytest.mark.parametrize(
    ("args", "rc"),
    [(["sources"], 1), (["ask", KNOWN_QUESTION], 1), (["ingest", str(SEEDS)], 1)],
    ids=["sources", "ask", "ingest"],
)
def test_a_read_only_store_is_named_and_left_as_it_was(read_only_store: Path, tmp_path: Path, args: list[str], rc: int) -> None:
    ctx = Ctx(tmp=tmp_path, data=read_only_store, inp=tmp_path, env=base_env(tmp_path, read_only_store))
    before = snapshot(read_only_store)
    result = run_cli(ctx, args)
    output = text_of(result)
    assert result.returncode == rc, output
    assert "Traceback" not in output and "unexpected error" not in output, output
    assert re.search(r"read-only|not writable", output), output
    assert len([line for line in output.splitlines() if line.startswith("error:")]) == 1, output
    assert snapshot(read_only_store) == before
