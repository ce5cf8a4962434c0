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

if TYPE_CHECKING:
    from rich.console import Console

    from .answering import Answer
    from .assistant import Assistant

app = typer.Typer(
    name="assistant",
    help="Ask cited questions about critical-mineral and battery supply-chain articles, offline.\n\n"
    "Exit codes: 0 answered/ok, 1 error, 2 usage error, 3 declined (the articles do not say).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)

_state: dict[str, Any] = {"debug": False, "overrides": {}, "secrets": []}

# Terminal control sequences that document or model text must never smuggle to the terminal:
# CSI (colours, cursor moves), OSC (titles, hyperlinks, clipboard), other ESC sequences, C0/C1.
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def safe(text: str) -> str:
    """Strip terminal control sequences and redact secrets from text bound for the terminal."""
    text = _CONTROL.sub("", str(text))
    for secret in _state["secrets"]:
        text = text.replace(secret, "***")
    return text


def _stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def err(message: str, style: str = "") -> None:
    """One line to stderr, never markup-interpreted."""
    from rich.text import Text

    _stderr().print(Text(safe(message), style=style))


def out(text: str = "", end: str = "\n") -> None:
    """Data to stdout."""
    sys.stdout.write(safe(text) + end)
    sys.stdout.flush()


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
    out(json.dumps(data, ensure_ascii=False, indent=2, default=str))


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
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of unexpected errors.")] = False,
) -> None:
    """Global options."""
    _state["debug"] = debug
    _state["overrides"] = {
        "data_dir": data_dir,
        "collection": collection,
        "chroma_host": chroma_host,
        "chroma_port": chroma_port,
    }


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
        _fail_fast_if_locked(dry_run)
        assistant = _assistant()
        report = _run_ingest(assistant, paths, rebuild=rebuild, prune=prune, dry_run=dry_run, quiet=as_json)
        if as_json:
            _print_json(report.to_dict())
        else:
            verb = "would change" if dry_run else "done"
            err(
                f"{verb}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
                f"{report.removed} removed, {report.skipped} skipped; {report.chunks_embedded} chunks "
                f"embedded in {report.seconds:.1f}s"
            )


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

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("docs · {task.fields[chunks]} chunks"),
        TimeRemainingColumn(),
        console=_stderr(),
        transient=True,
        disable=quiet,
    )
    task: dict[str, Any] = {}

    def notify(event: str, **info: Any) -> None:
        if event == "start":
            task["id"] = progress.add_task("ingesting", total=info["total"], chunks=0)
            task["chunks"] = 0
        elif event == "advance" and "id" in task:
            task["chunks"] += info.get("chunks", 0)
            progress.update(task["id"], advance=1, chunks=task["chunks"], description=safe(Path(info["path"]).name))
        elif event == "skip":
            progress.console.print(f"skipped {safe(info['path'])}: {safe(info['reason'])}", style="yellow", markup=False)

    with progress:
        return assistant.ingest(paths or None, progress=notify, **kw)


def _explain(path: Path, as_json: bool) -> None:
    from .documents import load_document

    doc = load_document(path)
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
    out(f"{doc.source}: title {doc.title!r}, language {doc.language}, {len(doc.text)} characters kept")
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
        docs = _assistant().sources()
        if as_json:
            _print_json(
                [{"source": d.source, "title": d.title, "language": d.language, "chunks": d.chunks} for d in docs]
            )
            return
        if not docs:
            err("the store is empty: run `assistant ingest`")
            return
        for d in docs:
            out(f"{d.source}\t{d.language}\t{d.chunks} chunks\t{d.title}")


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
        assistant = _assistant()
        _auto_ingest(assistant)
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
                f"#{r['rank']}  score {r['score']:.3f}  {r['source']}  {r['chunk_id']}  [{r['start']}:{r['end']}]"
            )
            out("    " + " ".join(str(r["text"]).split()))


def _auto_ingest(assistant: Assistant) -> None:
    """First run: ingest the corpus dir when the store is empty."""
    if assistant.store.count() == 0 and Path(assistant.settings.corpus_dir).is_dir():
        err(f"the store is empty; ingesting {assistant.settings.corpus_dir}/ first")
        _run_ingest(assistant, None)


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
        if not question.strip():
            from .errors import UsageError

            raise UsageError("the question is empty")
        assistant = _assistant()
        assistant.answerer(provider, model)  # fail fast on a missing key, before any first-run ingest
        _auto_ingest(assistant)
        answer = None
        streamed = False
        try:
            for item in assistant.stream(
                question, k=k, provider=provider, model=model, source=source
            ):
                if isinstance(item, str):
                    if not as_json:
                        out(item, end="")
                        streamed = True
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
            _print_sources(answer, show_context)
        raise typer.Exit(EXIT_OK if answer.answered else EXIT_DECLINED)


def _print_sources(answer: Answer, show_context: bool = False) -> None:
    if show_context:
        err("context:", "bold")
        for i, h in enumerate(answer.context, 1):
            err(f"[{i}] {h.source} {h.chunk_id} [{h.start}:{h.end}] score {h.score:.3f}")
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
        err(f"[{c.n}] {c.title} — {c.source}  chunk {c.chunk_id}  chars {c.start}–{c.end}")
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
            line = line.strip()
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
                    err(f"unknown command {cmd}; /help lists them", "yellow")
                continue
            _chat_turn(session, line)


def _chat_turn(session: Any, line: str) -> None:
    streamed = False
    try:
        for item in session.stream(line):
            if isinstance(item, str):
                out(item, end="")
                streamed = True
            elif streamed:
                out()
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


def _pipe_reader() -> Any:
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
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
