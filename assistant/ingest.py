"""Ingestion: files -> clean documents -> chunks and sentences -> vectors -> store."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DocumentError

if TYPE_CHECKING:
    from .config import Settings
    from .documents import Document
    from .store import Store

ProgressFn = Callable[..., None]
# Texts embedded per call during ingest: enough to keep the engine's threads busy.
EMBED_BATCH_TEXTS = 128


@dataclass
class IngestReport:
    """What an ingest did; `--json` prints it."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0
    chunks_embedded: int = 0
    sentences_embedded: int = 0
    tokens_embedded: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    dry_run: bool = False
    skipped_files: list[dict[str, str]] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return asdict(self)


def display_source(path: Path) -> str:
    """How a file is named in citations: relative to the working directory when inside it.

    Symlinks are not resolved: a file reached through a linked corpus folder keeps the name the
    user knows it by (the same rule as `documents.discover`).
    """
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path(os.path.abspath(Path.cwd()))).as_posix()
    except ValueError:
        return absolute.as_posix()


def build_records(
    doc: Document, settings: Settings
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Chunk a document and split it into sentences; rows without vectors yet."""
    from .chunking import chunk_text, split_sentences
    from .store import source_key

    key = source_key(str(doc.path))
    base = {
        "source": doc.source,
        "path": str(doc.path),
        "title": doc.title,
        "language": doc.language,
        "sha256": doc.sha256,
    }
    # The document hash is part of every id: a changed file gets new ids, so its new rows can be
    # written before the old ones are deleted and a failure in between loses nothing.
    version = doc.sha256[:12]
    chunks = [
        {
            "id": f"{key}-{version}-c{c.index:05d}",
            "text": c.text,
            "metadata": {
                **base,
                "chunk_index": c.index,
                "start": c.start,
                "end": c.end,
                "tokens": c.tokens,
            },
        }
        for c in chunk_text(doc.text, settings.chunk_tokens, settings.chunk_overlap)
    ]
    sentences = [
        {
            "id": f"{key}-{version}-s{i:05d}",
            "text": doc.text[s.start : s.end],
            "metadata": {**base, "sentence_index": i, "start": s.start, "end": s.end},
        }
        for i, s in enumerate(split_sentences(doc.text))
    ]
    return chunks, sentences


def ingest(
    paths: Sequence[str | Path],
    *,
    settings: Settings,
    store: Store,
    embeddings: Any,
    rebuild: bool = False,
    prune: bool = False,
    dry_run: bool = False,
    progress: ProgressFn | None = None,
) -> IngestReport:
    """Bring the store in step with the given files; returns what changed."""
    from .documents import discover, load_document
    from .store import Record

    started = time.perf_counter()
    notify = progress or (lambda *a, **k: None)
    report = IngestReport(dry_run=dry_run)

    files, skipped = discover(paths, max_bytes=settings.max_file_bytes())
    for where, reason in skipped:
        report.skipped_files.append({"path": str(where), "reason": reason})
        notify("skip", path=str(where), reason=reason)

    # A dry run writes nothing, so it neither takes the lock nor creates the data dir.
    # Ctrl-C is held back while a document's rows are written and acted on at the next safe point.
    lock = contextlib.nullcontext() if dry_run else store.write_lock()
    with lock, DeferredInterrupt() as interrupts:
        # --rebuild drops the old collections only once the first document has been embedded:
        # a model that cannot embed at all (bad key, server down) then leaves the store as it was.
        # (A failure after that first document still leaves a partial store: re-run --rebuild.)
        pending_reset = rebuild and not dry_run
        known = {} if rebuild else {d.path: d for d in store.documents()}
        notify("start", total=len(files))
        changed = False
        # Documents wait in a batch until it holds enough texts to keep both cores of the
        # embedding engine busy (one document at a time left them half idle), then the batch is
        # embedded in one call and each document written whole.
        batch: list[tuple[Any, str, str, list[dict[str, Any]], list[dict[str, Any]]]] = []
        batch_texts = 0

        def flush() -> None:
            nonlocal batch, batch_texts, pending_reset, changed
            if not batch:
                return
            texts = [r["text"] for _, _, _, cr, sr in batch for r in (*cr, *sr)]
            t0 = time.perf_counter()
            vectors = None if dry_run else embed_interruptibly(embeddings, texts)
            report.embed_seconds += time.perf_counter() - t0
            offset = 0
            for doc, abs_path, status, chunk_rows, sentence_rows in batch:
                n, m = len(chunk_rows), len(sentence_rows)
                if vectors is not None:
                    with interrupts.writing():  # a document is written whole
                        if pending_reset:
                            store.reset()
                            pending_reset = False
                        store.replace_document(
                            abs_path,
                            [
                                Record(r["id"], r["text"], r["metadata"], vectors[offset + i])
                                for i, r in enumerate(chunk_rows)
                            ],
                            [
                                Record(r["id"], r["text"], r["metadata"], vectors[offset + n + i])
                                for i, r in enumerate(sentence_rows)
                            ],
                        )
                        changed = True
                    report.tokens_embedded += sum(r["metadata"]["tokens"] for r in chunk_rows)
                offset += n + m
                report.chunks_embedded += n
                report.sentences_embedded += m
                setattr(report, status, getattr(report, status) + 1)
                report.documents.append(
                    {
                        "source": doc.source,
                        "status": status,
                        "chunks": n,
                        "language": doc.language,
                        "title": doc.title,
                    }
                )
                notify("advance", path=doc.source, chunks=n)
            batch, batch_texts = [], 0

        for file in files:
            # The same absolute (not symlink-resolved) path that load_document stores as `path`,
            # so an unchanged file is recognised and an edited one replaces its own rows.
            abs_path = os.path.abspath(file)
            try:
                doc = load_document(file, source=display_source(file))
                previous = known.get(abs_path)
                if previous is None or previous.sha256 != doc.sha256 or rebuild:
                    chunk_rows, sentence_rows = build_records(doc, settings)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # noqa: BLE001 - one file never takes the others down
                reason = str(exc) if isinstance(exc, DocumentError) else skip_reason(exc)
                report.skipped_files.append({"path": str(file), "reason": reason})
                notify("skip", path=str(file), reason=reason)
                notify("advance", path=str(file), chunks=0)
                continue
            if previous is not None and previous.sha256 == doc.sha256 and not rebuild:
                report.unchanged += 1
                report.documents.append(
                    {"source": doc.source, "status": "unchanged", "chunks": previous.chunks}
                )
                notify("advance", path=doc.source, chunks=0)
                continue
            if not chunk_rows:
                reason = "no text to index after cleaning"
                report.skipped_files.append({"path": str(file), "reason": reason})
                notify("skip", path=str(file), reason=reason)
                notify("advance", path=doc.source, chunks=0)
                continue
            status = "updated" if previous is not None else "added"
            batch.append((doc, abs_path, status, chunk_rows, sentence_rows))
            batch_texts += len(chunk_rows) + len(sentence_rows)
            if batch_texts >= EMBED_BATCH_TEXTS:
                flush()
        flush()

        if prune:
            for gone in (d for path, d in known.items() if not Path(path).exists()):
                report.removed += 1
                report.documents.append(
                    {"source": gone.source, "status": "removed", "chunks": gone.chunks}
                )
                if not dry_run:
                    with interrupts.writing():
                        store.delete_document(gone.path)
                        changed = True
        # pending_reset still set: nothing could be embedded (no file found, every file skipped),
        # so the old collections stay: a mistyped path must not wipe the store.
        if changed:
            with interrupts.writing():
                store.bump_version()

    report.skipped = len(report.skipped_files)
    report.seconds = round(time.perf_counter() - started, 3)
    report.embed_seconds = round(report.embed_seconds, 3)
    return report


def skip_reason(exc: BaseException) -> str:
    """One line saying why a file was skipped, for an error that is not a DocumentError."""
    text = " ".join(str(exc).split())
    text = text if len(text) <= 160 else text[:159] + "…"
    return f"could not be read ({type(exc).__name__}{': ' + text if text else ''})"


def embed_interruptibly(embeddings: Any, texts: list[str]) -> Any:
    """Embed in a worker thread, so Ctrl-C interrupts at once instead of after the engine's call.

    The engine runs in C and the main thread only handles a signal between Python instructions;
    waiting in short joins keeps it responsive. Nothing is written while embedding, so the
    abandoned worker (a daemon thread) leaves nothing behind.
    """
    import threading

    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["vectors"] = embeddings.embed_passages_array(texts)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            result["error"] = exc

    worker = threading.Thread(target=work, name="embed", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.1)
    if "error" in result:
        raise result["error"]
    return result["vectors"]


class DeferredInterrupt:
    """Ctrl-C interrupts at once, except inside `writing()`: there it waits for the block's end.

    So a document's rows are written whole or not at all. A second Ctrl-C inside a write
    interrupts at once. Only the main thread can install signal handlers; elsewhere (a server
    thread, a notebook worker) this does nothing and SIGINT keeps its default behaviour.
    """

    def __init__(self) -> None:
        self.pending = False
        self._writing = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> DeferredInterrupt:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            try:
                self._previous = signal.signal(signal.SIGINT, self._handle)
                self._installed = True
            except (ValueError, OSError):  # pragma: no cover - not in the main interpreter
                self._installed = False
        return self

    def __exit__(self, *exc_info: object) -> None:
        import signal

        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False

    def _handle(self, signum: int, frame: Any) -> None:
        if self._writing and not self.pending:
            self.pending = True
            return
        raise KeyboardInterrupt

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold Ctrl-C back until the block ends, then act on it."""
        self._writing = True
        try:
            yield
        finally:
            self._writing = False
        if self.pending:
            raise KeyboardInterrupt
