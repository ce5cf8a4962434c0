"""Typer CLI: parse, call the Assistant facade, print. The only module that prints."""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .errors import EXIT_DECLINED, EXIT_ERROR, EXIT_OK, AssistantError
from .text import CONTROL_SEQUENCE

if TYPE_CHECKING:
    from rich.console import Console

    from .answering import Answer
    from .assistant import Assistant

app = typer.Typer(
    name="assistant",
    help="Ask cited questions about critical-mineral and battery supply-chain articles, offline.\n\n"
    "Exit codes: 0 answered/ok, 1 error, 2 usage error, 3 declined (the articles do not say).",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)

_state: dict[str, Any] = {"debug": False, "overrides": {}, "secrets": []}

# Terminal control sequences that document or model text must never smuggle to the terminal.
_CONTROL = CONTROL_SEQUENCE


# Characters that reorder what the reader sees (bidirectional embeddings, overrides, isolates).
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
# What a file name may not print raw: control characters, bidi controls, lone surrogates (bytes
# of a name that is not UTF-8), line and paragraph separators.
_NAME_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def safe(text: str) -> str:
    """Strip terminal control sequences and redact secrets from text bound for the terminal."""
    text = _BIDI.sub("", _CONTROL.sub("", _printable(str(text))))
    for secret in _state["secrets"]:
        text = text.replace(secret, "***")
    return text


def name(text: object) -> str:
    """A file name for the terminal: control, bidi and newline characters escaped, visibly."""

    def escape(match: re.Match[str]) -> str:
        ch = match.group()
        if "\ud800" <= ch <= "\udfff":  # a raw byte of a name that is not UTF-8
            return f"\\x{ord(ch) - 0xDC00:02x}" if ord(ch) >= 0xDC80 else f"\\u{ord(ch):04x}"
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch) or (
            f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"
        )

    return _NAME_UNSAFE.sub(escape, str(text))


def _printable(text: str) -> str:
    """Lone surrogates (undecodable bytes from argv or a file name) as U+FFFD, never an encode error."""
    return _SURROGATE.sub("\ufffd", text)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def err(message: str, style: str = "") -> None:
    """One line to stderr, never markup-interpreted."""
    from rich.text import Text

    _stderr().print(Text(safe(message), style=style))


def out(text: str = "", end: str = "\n") -> None:
    """Data to stdout."""
    _write(safe(text) + end)


def _write(text: str) -> None:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        _silence_stdout()
        from .errors import AssistantError as _Error

        raise _Error(f"cannot write the output: {exc.strerror or exc}") from None


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


@contextlib.contextmanager
def boundary() -> Iterator[None]:
    """The one place errors become a red line on stderr and an exit code."""
    try:
        yield
    except AssistantError as exc:
        err(f"error: {exc}", "red")
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err("interrupted", "yellow")
        raise typer.Exit(130) from None
    except typer.Exit:
        raise
    except BrokenPipeError:
        # The reader went away (`| head -1`): stop quietly.
        _silence_stdout()
        raise typer.Exit(EXIT_OK) from None
    except Exception as exc:
        if _state["debug"]:
            raise
        err(f"unexpected error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", "red")
        raise typer.Exit(EXIT_ERROR) from None


def _assistant(**overrides: Any) -> Assistant:
    from .assistant import Assistant
    from .config import load_settings

    settings = load_settings(**{**_state["overrides"], **overrides})
    _state["secrets"] = settings.secrets()
    return Assistant(settings)


def _print_json(data: Any) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    # json escapes C0 controls itself; C1, bidi controls and lone surrogates are escaped here too
    # (they can only occur inside strings), so the output is lossless and safe on a terminal.
    text = _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    for secret in _state["secrets"]:
        text = text.replace(secret, "***")
    _write(text + "\n")


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


@app.callback()
def _root(
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Store folder (env ASSISTANT_DATA_DIR).")
    ] = None,
    collection: Annotated[str | None, typer.Option(help="Chroma collection name.")] = None,
    chroma_host: Annotated[
        str | None, typer.Option(help="Use a Chroma server at this host instead of --data-dir.")
    ] = None,
    chroma_port: Annotated[int | None, typer.Option(help="Chroma server port.")] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of unexpected errors and library warnings.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=lambda v: _print_version(v), help="Print the version."
        ),
    ] = False,
) -> None:
    """Global options."""
    _state["debug"] = debug
    _setup_logging(debug)
    _state["overrides"] = {
        "data_dir": data_dir,
        "collection": collection,
        "chroma_host": chroma_host,
        "chroma_port": chroma_port,
    }


def _print_version(value: bool) -> None:
    if value:
        from . import __version__

        with boundary():
            out(f"assistant {__version__}")
        raise typer.Exit(EXIT_OK)


def _setup_logging(debug: bool) -> None:
    """Our warnings as one line on stderr; libraries' (pypdf, chromadb, ...) only with --debug."""
    import logging

    class _Line(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.set_name("assistant-cli")

        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno < logging.WARNING and not debug:
                return
            if not debug and not record.name.startswith("assistant"):
                return
            try:
                where = "" if record.name.startswith("assistant") else f" ({record.name})"
                err(f"{record.levelname.lower()}{where}: {record.getMessage()}", "yellow")
            except Exception:  # noqa: BLE001 - a broken log record must not end the command
                pass

    logging.captureWarnings(True)
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if h.get_name() != "assistant-cli"] + [_Line()]
    root.setLevel(logging.DEBUG if debug else logging.WARNING)


# --- ingest ---------------------------------------------------------------------------------------
@app.command()
def ingest(
    paths: Annotated[
        list[str] | None, typer.Argument(help="Files, folders or globs (default: the corpus dir).")
    ] = None,
    rebuild: Annotated[bool, typer.Option(help="Drop the collection and re-embed everything.")] = False,
    prune: Annotated[bool, typer.Option(help="Remove documents whose files are gone.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Report what would change; write nothing.")] = False,
    explain: Annotated[
        Path | None, typer.Option(help="Show what cleaning removes from FILE, and why; store nothing.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as one JSON object.")] = False,
) -> None:
    """Clean, chunk and embed articles into the store."""
    with boundary():
        if explain is not None:
            _explain(explain, as_json)
            return
        _check_inputs_exist(paths)
        _fail_fast_if_locked(dry_run)
        if rebuild and not dry_run:
            _set_aside_damaged_store()
        assistant = _assistant()
        report = _run_ingest(assistant, paths, rebuild=rebuild, prune=prune, dry_run=dry_run, quiet=as_json)
        failed = _failed_inputs(paths or [str(assistant.settings.corpus_dir)], report)
        if as_json:
            _print_json(report.to_dict())
        else:
            verb = "would change" if dry_run else "done"
            err(
                f"{verb}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
                f"{report.removed} removed, {report.skipped} skipped; {report.chunks_embedded} chunks "
                f"embedded in {report.seconds:.1f}s"
            )
        if failed:
            err(f"error: {failed}", "red")
            raise typer.Exit(EXIT_ERROR)


def _check_inputs_exist(paths: list[str] | None) -> None:
    """A path or glob that names nothing is a usage error (exit 2), found before any work."""
    from .documents import NOT_FOUND, NOTHING_MATCHES, discover
    from .errors import UsageError

    if not paths:
        return
    if any(not p.strip() for p in paths):
        raise UsageError("an empty path was given; nothing was ingested")
    _, skipped = discover(paths)
    for where, reason in skipped:
        if reason == NOT_FOUND:
            raise UsageError(f"{name(where)}: no such file or folder; nothing was ingested")
        if reason == NOTHING_MATCHES:
            raise UsageError(f"{name(where)}: the pattern matches nothing; nothing was ingested")


def _failed_inputs(paths: list[str], report: Any) -> str:
    """Why the ingest must exit 1, or "": nothing could be stored, or a file named was skipped."""
    import os

    stored = report.added + report.updated + report.unchanged + report.removed
    if not stored:
        what = "would be stored" if report.dry_run else "was stored"
        return f"nothing {what}: every file was skipped (reasons above)" if report.skipped else (
            f"nothing {what}: no supported files found"
        )
    named = {p for p in paths if not Path(p).is_dir()} | {
        os.path.abspath(p) for p in paths if not Path(p).is_dir()
    }
    missed = [s["path"] for s in report.skipped_files if s["path"] in named]
    if missed:
        return f"{len(missed)} file(s) you named could not be stored: " + ", ".join(
            name(m) for m in missed[:3]
        ) + (" …" if len(missed) > 3 else "")
    return ""


def _set_aside_damaged_store() -> None:
    from .config import load_settings
    from .store import set_aside_damaged

    settings = load_settings(**_state["overrides"])
    if settings.chroma_host is None:
        moved = set_aside_damaged(settings)
        if moved is not None:
            err(f"the damaged store was moved aside to {name(moved)}; building a new one", "yellow")


def _fail_fast_if_locked(dry_run: bool) -> None:
    """Check the embedded store's write lock before loading the model (a second writer exits in < 2 s)."""
    from .config import load_settings
    from .store import Store

    settings = load_settings(**_state["overrides"])
    if dry_run or settings.chroma_host is not None:
        return
    with Store(settings, "").write_lock():
        pass


def _run_ingest(assistant: Assistant, paths: Any, *, quiet: bool = False, **kw: Any) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    console = _stderr()
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("docs · {task.fields[chunks]} chunks"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=quiet or not console.is_terminal,
    )
    task: dict[str, Any] = {}

    def notify(event: str, **info: Any) -> None:
        if event == "start":
            task["id"] = progress.add_task("ingesting", total=info["total"], chunks=0)
            task["chunks"] = 0
        elif event == "advance" and "id" in task:
            task["chunks"] += info.get("chunks", 0)
            progress.update(task["id"], advance=1, chunks=task["chunks"], description=name(Path(info["path"]).name))
        elif event == "skip":
            progress.console.print(
                f"skipped {name(info['path'])}: {safe(info['reason'])}", style="yellow", markup=False
            )

    with progress:
        return assistant.ingest(paths or None, progress=notify, **kw)


def _explain(path: Path, as_json: bool) -> None:
    from .documents import file_problem, load_document, unsupported
    from .errors import DocumentError, UsageError

    problem = file_problem(path)
    if problem is not None:
        if not path.exists() and not path.is_symlink():
            raise UsageError(f"{name(path)}: no such file")
        raise DocumentError(f"{name(path)}: {unsupported(path) if problem == 'unsupported' else problem}")
    try:
        doc = load_document(path)
    except DocumentError as exc:
        raise DocumentError(f"{name(path)}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the same rule as ingest: one line, not a traceback
        from .ingest import skip_reason

        raise DocumentError(f"{name(path)}: {skip_reason(exc)}") from None
    if as_json:
        _print_json(
            {
                "source": doc.source,
                "title": doc.title,
                "language": doc.language,
                "removed": [{"rule": r.rule, "reason": r.reason, "text": r.text} for r in doc.removed],
                "kept_chars": len(doc.text),
            }
        )
        return
    out(f"{name(doc.source)}: title {doc.title!r}, language {doc.language}, {len(doc.text)} characters kept")
    if not doc.removed:
        out("nothing removed")
    for r in doc.removed:
        snippet = " ".join(r.text.split())
        snippet = snippet if len(snippet) <= 100 else snippet[:99] + "…"
        out(f"- [{r.rule}] {r.reason}\n    removed: {snippet!r}")


# --- sources and search ---------------------------------------------------------------------------
@app.command()
def sources(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List the documents in the store."""
    with boundary():
        assistant = _assistant()
        _check_collection(assistant.store)
        docs = assistant.sources()
        if as_json:
            _print_json(
                [{"source": d.source, "title": d.title, "language": d.language, "chunks": d.chunks} for d in docs]
            )
            return
        if not docs:
            err("the store is empty: run `assistant ingest`")
            return
        for d in docs:
            out(f"{name(d.source)}\t{d.language}\t{d.chunks} chunks\t{d.title}")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="How many chunks.")] = 5,
    source: Annotated[str | None, typer.Option(help="Only sources matching this glob.")] = None,
    language: Annotated[str | None, typer.Option(help="Only documents in this language (en, ar).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """Show the chunks retrieval ranks highest for a query."""
    with boundary():
        query = _arg_text(query)
        assistant = _assistant()
        _auto_ingest(assistant)
        _check_source_filter(assistant, source)
        hits = assistant.search(query, k, source=source, language=language)
        rows = [
            {
                "rank": i + 1,
                "score": round(h.score, 4),
                "similarity": round(h.similarity, 4),
                "keyword": round(h.keyword, 4),
                "source": h.source,
                "title": h.title,
                "language": h.language,
                "chunk_id": h.chunk_id,
                "start": h.start,
                "end": h.end,
                "text": h.text,
            }
            for i, h in enumerate(hits)
        ]
        if as_json:
            _print_json(rows)
            return
        if not rows:
            err("no matching chunks")
        for r in rows:
            out(
                f"#{r['rank']}  score {r['score']:.3f}  {name(r['source'])}  {r['chunk_id']}  [{r['start']}:{r['end']}]"
            )
            out("    " + " ".join(str(r["text"]).split()))


def _auto_ingest(assistant: Assistant) -> None:
    """First run: ingest the corpus dir when the store is empty; else say that nothing is indexed."""
    from .errors import StoreError

    store = assistant.store
    if store.count() > 0:
        return
    _check_collection(store)
    corpus = Path(assistant.settings.corpus_dir)
    if corpus.is_dir():
        err(f"the store is empty; ingesting {name(corpus)}/ first")
        _run_ingest(assistant, None)
        if store.count() > 0:
            return
    raise StoreError("nothing is indexed yet: run `assistant ingest PATH`")


def _check_collection(store: Any) -> None:
    """A collection name that is not in a store holding others is a mistake, not an empty store."""
    from .errors import StoreError

    if store.exists():
        return
    others = sorted(n for n in store._collection_names() if not n.endswith("-sentences"))
    if others:
        raise StoreError(
            f"there is no collection {store.settings.collection!r} in {name(store.location)} (it has "
            f"{', '.join(repr(o) for o in others[:5])}): check --collection / ASSISTANT_COLLECTION, "
            "or run `assistant ingest PATH` to create it"
        )


def _check_source_filter(assistant: Assistant, source: str | None) -> None:
    """A --source glob that matches no document is an error, not a decline."""
    import fnmatch

    from .errors import UsageError

    if not source:
        return
    for d in assistant.sources():
        if fnmatch.fnmatch(d.source, source) or fnmatch.fnmatch(d.path, source) or source in d.source:
            return
    raise UsageError(f"--source {name(source)!r} matches no document in the store: `assistant sources` lists them")


def _arg_text(text: str) -> str:
    """A command-line argument whose bytes are not UTF-8 (lone surrogates), made valid: U+FFFD."""
    return _printable(text)


# --- ask ------------------------------------------------------------------------------------------
@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in English or Arabic.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    k: Annotated[int | None, typer.Option("-k", min=1, max=100, help="Chunks to retrieve.")] = None,
    provider: Annotated[
        str | None, typer.Option(help="auto, openai or extractive (env ASSISTANT_PROVIDER).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Chat model for the openai provider.")] = None,
    source: Annotated[str | None, typer.Option(help="Only sources matching this glob.")] = None,
    show_context: Annotated[bool, typer.Option(help="Print the retrieved chunks to stderr.")] = False,
) -> None:
    """Answer one question with citations; exit 3 when the articles do not say."""
    with boundary():
        if provider is not None and provider not in ("auto", "openai", "extractive"):
            from .errors import UsageError

            raise UsageError(f"unknown provider {provider!r}: use auto, openai or extractive")
        question = _arg_text(question)
        if not question.strip():
            from .errors import UsageError

            raise UsageError("the question is empty")
        assistant = _assistant()
        assistant.answerer(provider, model)  # fail fast on a missing key, before any first-run ingest
        _auto_ingest(assistant)
        _check_source_filter(assistant, source)
        answer = None
        streamed = False
        shown = ""
        try:
            for item in assistant.stream(
                question, k=k, provider=provider, model=model, source=source
            ):
                if isinstance(item, str):
                    if not as_json:
                        out(item, end="")
                        streamed = True
                        shown += item
                else:
                    answer = item
        except (AssistantError, KeyboardInterrupt):
            if streamed:
                out()  # end the partial answer's line before the error
            raise
        assert answer is not None
        if as_json:
            _print_json(answer.to_dict())
            _print_notes(answer)
        else:
            if streamed:
                out()
                _print_correction(shown, answer)
            _print_sources(answer, show_context)
        raise typer.Exit(EXIT_OK if answer.answered else EXIT_DECLINED)


def _print_correction(shown: str, answer: Answer) -> None:
    """The answer again when the stream showed other text: a model's thinking, opened by its
    chat template, reads as answer text until the closing tag arrives."""
    if answer.answered and shown.strip() != answer.text.strip():
        err("(the text above was the model's thinking; its answer:)", "yellow")
        out(answer.text)


def _print_sources(answer: Answer, show_context: bool = False) -> None:
    if show_context:
        err("context:", "bold")
        for i, h in enumerate(answer.context, 1):
            err(f"[{i}] {name(h.source)} {h.chunk_id} [{h.start}:{h.end}] score {h.score:.3f}")
            err("    " + " ".join(h.text.split()))
    if answer.dropped_markers:
        err(f"dropped citation markers that point at no source: {answer.dropped_markers}", "yellow")
    _print_notes(answer)
    if not answer.answered:
        if answer.decline_reason:
            err(f"(declined: {answer.decline_reason})", "dim")
        return
    if answer.citations:
        err("sources:", "bold")
    for c in answer.citations:
        err(f"[{c.n}] {c.title} — {name(c.source)}  chunk {c.chunk_id}  chars {c.start}–{c.end}")
        err(f"    “{' '.join(c.quote.split())}”", "dim")
    err(f"({answer.provider}: {answer.model}, {answer.timings_ms.get('total', 0):.0f} ms)", "dim")


def _print_notes(answer: Answer) -> None:
    """Why the answer may be incomplete, or is not the model's own."""
    if answer.truncated:
        why = "ASSISTANT_TIMEOUT" if answer.finish_reason == "timeout" else "ASSISTANT_ANSWER_TOKENS"
        err(f"(the model's answer was cut off at {why}; it may be incomplete)", "yellow")
    if answer.fallback:
        err(f"(extractive answer: the model's reply was not used: {answer.fallback_reason})", "yellow")


# --- chat -----------------------------------------------------------------------------------------
CHAT_HELP = """commands:
  /sources   the sources of the last answer
  /reset     forget the conversation
  /help      this help
  /exit      leave (or Ctrl-D); Ctrl-C cancels the current answer"""


@app.command()
def chat(
    k: Annotated[int | None, typer.Option("-k", min=1, max=100, help="Chunks to retrieve.")] = None,
    provider: Annotated[str | None, typer.Option(help="auto, openai or extractive.")] = None,
    model: Annotated[str | None, typer.Option(help="Chat model for the openai provider.")] = None,
    source: Annotated[str | None, typer.Option(help="Only sources matching this glob.")] = None,
) -> None:
    """Talk with the articles; follow-up questions keep the conversation's topic."""
    with boundary():
        assistant = _assistant()
        assistant.answerer(provider, model)  # fail fast on a bad provider or missing key
        _auto_ingest(assistant)
        _check_source_filter(assistant, source)
        session = assistant.chat(k=k, provider=provider, model=model, source=source)
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
        read = _prompt_reader(assistant) if interactive else _pipe_reader()
        if interactive:
            err("Ask about the articles. /help for commands, Ctrl-D to leave.", "dim")
        while True:
            try:
                line = read()
            except EOFError:
                break
            except KeyboardInterrupt:
                continue
            line = _arg_text(line).strip()
            if not line:
                continue
            if line.startswith("/"):
                cmd = line.split()[0].lower()
                if cmd in ("/exit", "/quit"):
                    break
                if cmd == "/help":
                    err(CHAT_HELP)
                elif cmd == "/reset":
                    session.reset()
                    err("conversation reset", "dim")
                elif cmd == "/sources":
                    if session.last is None:
                        err("no answer yet")
                    else:
                        _print_sources(session.last)
                else:
                    err(f"unknown command {name(cmd)}; /help lists them", "yellow")
                continue
            _chat_turn(session, line)


def _chat_turn(session: Any, line: str) -> None:
    streamed = False
    shown = ""
    try:
        for item in session.stream(line):
            if isinstance(item, str):
                out(item, end="")
                streamed = True
                shown += item
            elif streamed:
                out()
                _print_correction(shown, item)
        last = session.last
        if last is not None:
            _print_notes(last)
        if last is not None and last.answered:
            n = len({c.n for c in last.citations})  # sources, not quotes
            err(f"({n} source{'s' if n != 1 else ''}: /sources to show)", "dim")
        elif last is not None:
            err(f"(declined: {last.decline_reason or 'the articles do not say'})", "dim")
    except KeyboardInterrupt:
        if streamed:
            out()
        err("(cancelled)", "yellow")
    except AssistantError as exc:
        if streamed:
            out()
        err(f"error: {exc}", "red")
    except (BrokenPipeError, typer.Exit):
        raise
    except Exception as exc:  # noqa: BLE001 - a chat session survives any line
        if _state["debug"]:
            raise
        if streamed:
            out()
        err(f"error: this question failed ({type(exc).__name__}: {exc}); ask another", "red")


def _pipe_reader() -> Any:
    with contextlib.suppress(AttributeError, ValueError):
        sys.stdin.reconfigure(errors="replace")  # type: ignore[union-attr]

    def read() -> str:
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line

    return read


def _prompt_reader(assistant: Assistant) -> Any:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    try:
        assistant.settings.data_dir.mkdir(parents=True, exist_ok=True)
        history: Any = FileHistory(str(assistant.settings.data_dir / "chat_history"))
    except OSError:
        history = InMemoryHistory()
    session: Any = PromptSession(history=history)

    def read() -> str:
        return str(session.prompt("› "))

    return read


# --- serve ----------------------------------------------------------------------------------------
@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on; anything but loopback needs ASSISTANT_API_KEY.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
) -> None:
    """Serve the JSON API, an OpenAI-compatible /v1/chat/completions and a web page at /."""
    with boundary():
        from . import server

        assistant = _assistant()
        key = assistant.settings.api_key
        server.check_bind(host, key.get_secret_value() if key else None)
        _check_port(host, port)
        _auto_ingest(assistant)
        err("warming up: model, store and keyword index", "dim")
        server.warm(assistant)
        app_ = server.create_app(assistant)
        import uvicorn

        where = f"[{host}]" if ":" in host else host
        err(f"serving on http://{where}:{port}/  (API docs at /docs; Ctrl-C stops)")
        uvicorn.run(app_, host=host, port=port, log_level="warning", access_log=False)


def _check_port(host: str, port: int) -> None:
    """A clear one-line error when the port is taken, instead of uvicorn's log lines."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise AssistantError(f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port") from None


# --- eval -----------------------------------------------------------------------------------------
@app.command("eval")
def eval_(
    dataset: Annotated[Path, typer.Argument(help="Our JSONL, or a SQuAD/XQuAD JSON file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N questions.")] = None,
    provider: Annotated[str | None, typer.Option(help="auto, openai or extractive.")] = None,
    k: Annotated[int | None, typer.Option("-k", min=1, max=100, help="Chunks to retrieve.")] = None,
    questions: Annotated[
        Path | None, typer.Option(help="Cross-lingual: take the questions from this XQuAD file.")
    ] = None,
    corpus: Annotated[
        Path | None, typer.Option(help="Cross-lingual: take the paragraphs from this XQuAD file.")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every failed question.")] = False,
) -> None:
    """Measure retrieval, answers, citations, declines and latency on a labelled set."""
    with boundary():
        from . import evaluation

        report = evaluation.run_eval(
            dataset,
            settings_overrides={**_state["overrides"]},
            limit=limit,
            provider=provider,
            k=k,
            questions=questions,
            corpus=corpus,
            progress=None if as_json else (lambda msg: err(msg, "dim")),
        )
        if as_json:
            _print_json(report)
            return
        from rich.console import Console

        Console(highlight=False).print(evaluation.render_table(report))
        if verbose:
            for failure in report.get("failures", []):
                out(safe(json.dumps(failure, ensure_ascii=False)))


def main() -> None:
    """Console-script entry point."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="replace")  # type: ignore[union-attr]
    try:
        app()
    except BrokenPipeError:  # raised outside a command's boundary (help, completion)
        _silence_stdout()
    except KeyboardInterrupt:  # Ctrl-C before a command's boundary was entered
        err("interrupted", "yellow")
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
