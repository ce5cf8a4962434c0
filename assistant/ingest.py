"""Ingestion: files -> clean documents -> chunks -> vectors -> store and keyword index."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DocumentError
from .store import checkpoint

if TYPE_CHECKING:
    from .config import Settings
    from .documents import Document
    from .store import Store

ProgressFn = Callable[..., None]
# Texts embedded per call during ingest: enough to keep the engine's threads busy.
EMBED_BATCH_TEXTS = 128
# The keyword index commits at most this often during an ingest (a commit costs tens of ms).
KEYWORD_COMMIT_SECONDS = 5.0


@dataclass
class IngestReport:
    """What an ingest did; `--json` prints it."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0
    chunks_embedded: int = 0
    # Always 0: sentences are embedded at question time now (kept for report readers).
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


def build_records(doc: Document, settings: Settings) -> list[dict[str, Any]]:
    """Chunk a document: rows without vectors yet.

    Only chunks are embedded at ingest (what the LangChain-tutorial peer embeds too); the
    extractive answerer embeds the sentences of the chunks a question retrieves, once, and
    caches them (assistant.sentences).
    """
    from .chunking import chunk_text
    from .store import chunk_id

    base = {
        "source": doc.source,
        "path": str(doc.path),
        "title": doc.title,
        "language": doc.language,
        "sha256": doc.sha256,
        "version": doc.sha256[:12],
    }
    # The document hash is part of every id: a changed file gets new ids, so its new rows can be
    # written before the old ones are deleted and a failure in between loses nothing.
    version = doc.sha256[:12]
    return [
        {
            "id": chunk_id(str(doc.path), version, c.index),
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
    """Bring the store in step with the given files; returns what changed.

    Per document: manifest row "pending" -> chunk rows -> keyword index -> delete
    the rows of other versions -> manifest row "complete". A document counts as stored only once
    complete, so a run killed anywhere leaves it to be redone by the next run.
    """
    from .documents import discover

    started = time.perf_counter()
    notify = progress or (lambda *a, **k: None)
    report = IngestReport(dry_run=dry_run)

    files, skipped = discover(paths, max_bytes=settings.max_file_bytes())
    for where, reason in skipped:
        report.skipped_files.append({"path": str(where), "reason": reason})
        notify("skip", path=str(where), reason=reason)

    if dry_run:
        # A dry run writes nothing, so it neither takes the lock nor creates the data dir.
        manifest = {} if rebuild else store.manifest_rows(_rows_needed(files, prune))
        _Run(report, settings, store, embeddings, None, manifest, rebuild, True, notify).files(files, prune)
    else:
        from . import keyword

        # Ctrl-C is held back while a document's rows are written and acted on at the next safe point.
        with store.write_lock(), DeferredInterrupt() as interrupts:
            # --rebuild (and a first ingest) builds a new generation aside; the head switches to
            # it at the end: a model that cannot embed, or a kill, leaves the old store as it was.
            store.begin_write(rebuild=rebuild)
            try:
                target = store.writing_generation()
                index = keyword.open_for(store, target)
                with index.writing():
                    if not rebuild:
                        keyword.sync(index, store)  # repairs what a killed run left behind
                    manifest = store.manifest_rows(None if rebuild else _rows_needed(files, prune))
                    run = _Run(report, settings, store, embeddings, index, manifest, rebuild, False, notify)
                    run.interrupts = interrupts
                    run.files(files, prune)
                    index.commit()
                    checkpoint("keyword-committed")
                    key = store.finish_write(run.changed)
                    if store.live() == target:
                        # In server mode another machine may have written meanwhile: leave the
                        # index unsynced, so the next question compares manifests (cheap).
                        index.commit(change=None if store.is_server else key)
                    else:
                        index.clear(None)  # an aside generation that stored nothing was dropped
            except BaseException:
                store.abort_write()
                raise

    report.skipped = len(report.skipped_files)
    report.seconds = round(time.perf_counter() - started, 3)
    report.embed_seconds = round(report.embed_seconds, 3)
    return report


def _rows_needed(files: Sequence[Path], prune: bool) -> list[str] | None:
    """The manifest rows an ingest reads: those of its files, or every row to prune."""
    return None if prune else [os.path.abspath(f) for f in files]


class _Run:
    """One ingest pass over files: batching for the embedder and the per-document write protocol."""

    def __init__(
        self,
        report: IngestReport,
        settings: Settings,
        store: Store,
        embeddings: Any,
        index: Any,
        manifest: dict[str, dict[str, Any]],
        rebuild: bool,
        dry_run: bool,
        notify: ProgressFn,
    ) -> None:
        self.report, self.settings, self.store, self.embeddings = report, settings, store, embeddings
        self.index, self.manifest, self.rebuild, self.dry_run = index, manifest, rebuild, dry_run
        self.notify = notify
        self.interrupts: DeferredInterrupt | None = None
        self.changed = False
        self.committed = time.monotonic()
        # Documents wait in a batch until it holds enough texts to keep both cores of the
        # embedding engine busy (one document at a time left them half idle), then the batch is
        # embedded in one call and each document written whole.
        self.batch: list[tuple[Any, str, str, list[dict[str, Any]]]] = []
        self.batch_texts = 0

    def files(self, files: Sequence[Path], prune: bool) -> None:
        from .documents import load_document

        report, notify = self.report, self.notify
        notify("start", total=len(files))
        for file in files:
            # The same absolute (not symlink-resolved) path that load_document stores as `path`,
            # so an unchanged file is recognised and an edited one replaces its own rows.
            abs_path = os.path.abspath(file)
            chunk_rows: list[dict[str, Any]] = []
            try:
                doc = load_document(file, source=display_source(file))
                previous = self.manifest.get(abs_path)
                complete = previous is not None and previous.get("status") == "complete"
                unchanged = complete and previous is not None and previous["sha256"] == doc.sha256
                if not unchanged or self.rebuild:
                    chunk_rows = build_records(doc, self.settings)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # noqa: BLE001 - one file never takes the others down
                reason = str(exc) if isinstance(exc, DocumentError) else skip_reason(exc)
                report.skipped_files.append({"path": str(file), "reason": reason})
                notify("skip", path=str(file), reason=reason)
                notify("advance", path=str(file), chunks=0)
                continue
            if previous is not None and unchanged and not self.rebuild:
                report.unchanged += 1
                report.documents.append(
                    {"source": doc.source, "status": "unchanged", "chunks": previous.get("chunks", 0)}
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
            self.batch.append((doc, abs_path, status, chunk_rows))
            self.batch_texts += len(chunk_rows)
            if self.batch_texts >= EMBED_BATCH_TEXTS:
                self.flush()
        self.flush()
        if prune:
            self.prune()

    def flush(self) -> None:
        from .store import Record

        if not self.batch:
            return
        report = self.report
        texts = [r["text"] for _, _, _, rows in self.batch for r in rows]
        t0 = time.perf_counter()
        vectors = None if self.dry_run else embed_interruptibly(self.embeddings, texts)
        report.embed_seconds += time.perf_counter() - t0
        offset = 0
        ready: list[tuple[Any, str, list[Any]]] = []
        for doc, abs_path, status, chunk_rows in self.batch:
            n = len(chunk_rows)
            if vectors is not None:
                chunks = [
                    Record(r["id"], r["text"], r["metadata"], vectors[offset + i])
                    for i, r in enumerate(chunk_rows)
                ]
                ready.append((doc, abs_path, chunks))
                report.tokens_embedded += sum(r["metadata"]["tokens"] for r in chunk_rows)
            offset += n
            report.chunks_embedded += n
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
        if ready:
            with self._writing():  # a batch's documents are written whole
                self.write(ready)
        for doc, _, _, chunk_rows in self.batch:
            self.notify("advance", path=doc.source, chunks=len(chunk_rows))
        self.batch, self.batch_texts = [], 0
        if self.index is not None and time.monotonic() - self.committed > KEYWORD_COMMIT_SECONDS:
            # Durable now (a kill before this loses only what the next sync refetches); the
            # store's change key is published at the end.
            self.index.commit()
            self.committed = time.monotonic()
            checkpoint("batch-committed")

    def write(self, docs: list[tuple[Any, str, list[Any]]]) -> None:
        """The write protocol (see `ingest`) for a batch of documents, one Chroma call per step."""
        store = self.store
        entries = [
            {
                "path": path,
                "source": doc.source,
                "title": doc.title,
                "language": doc.language,
                "sha256": doc.sha256,
                "version": doc.sha256[:12],
                "chunks": len(chunks),
            }
            for doc, path, chunks in docs
        ]
        store.mark(entries, "pending")
        checkpoint("pending")
        store.add_rows([r for _, _, chunks in docs for r in chunks])
        checkpoint("rows-written")
        for (doc, path, chunks), entry in zip(docs, entries):
            self.index.replace(
                path, entry["version"], doc.language, doc.source, [(r.id, r.text, r.metadata) for r in chunks]
            )
            checkpoint("keyword-written")
        for entry in entries:
            if entry["path"] in self.manifest:  # a new document has no other rows (a pending one may)
                store.delete_other_versions(entry["path"], entry["version"])
                checkpoint("old-rows-deleted")
        store.mark(entries, "complete")
        for entry in entries:
            self.manifest[entry["path"]] = {**entry, "status": "complete"}
        checkpoint("complete")
        self.changed = True

    def prune(self) -> None:
        """Remove documents whose files are gone (pending ones too: an interrupted prune)."""
        report = self.report
        for path, entry in list(self.manifest.items()):
            if Path(path).exists():
                continue
            report.removed += 1
            report.documents.append(
                {"source": entry.get("source", ""), "status": "removed", "chunks": entry.get("chunks", 0)}
            )
            if self.dry_run:
                continue
            with self._writing():
                self.store.mark([entry], "pending")
                self.store.delete_other_versions(path, None)
                checkpoint("prune-rows-deleted")
                self.index.remove(path)
                self.store.unmark(path)
                del self.manifest[path]
                self.changed = True

    def _writing(self) -> Any:
        return self.interrupts.writing() if self.interrupts is not None else contextlib.nullcontext()


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
