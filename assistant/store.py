"""Chroma store: embedded or server client, model manifest, write lock, batched writes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import EmbeddingMismatchError, StoreError, StoreLockedError, map_errors

if TYPE_CHECKING:
    from .config import Settings

SENTENCES_SUFFIX = "-sentences"  # the old format's sentence collection (removed on --rebuild)
DOCS_SUFFIX = "-docs"
GENERATION_SEPARATOR = "--"
FORMAT = 2
LOCK_WAIT_SECONDS = 1.0
_PAGE = 2000
# Chunk rows read from Chroma by this process (by the keyword index's sync); tests read it.
CHUNK_ROWS_FETCHED = 0


@dataclass(frozen=True)
class StoredDocument:
    """One ingested document as the store knows it."""

    source: str
    path: str
    title: str
    language: str
    sha256: str
    chunks: int


@dataclass(frozen=True)
class Record:
    """A row to write: id, text, metadata, vector."""

    id: str
    text: str
    metadata: dict[str, Any]
    vector: Sequence[float]


@dataclass(frozen=True)
class Match:
    """A stored row returned by a query, with its cosine similarity to the query."""

    id: str
    text: str
    metadata: dict[str, Any]
    similarity: float


def source_key(path: str) -> str:
    """A short stable key for a document's absolute path, used in chunk ids."""
    return hashlib.sha1(path.encode("utf-8")).hexdigest()[:12]


def chunk_id(path: str, version: str, index: int) -> str:
    """The id of a document version's chunk (ingest.build_records writes these)."""
    return f"{source_key(path)}-{version}-c{index:05d}"


def checkpoint(name: str) -> None:
    """Crash tests: ASSISTANT_TEST_KILL_AT=name[:n] SIGKILLs this process at its n-th pass here."""
    target = os.environ.get("ASSISTANT_TEST_KILL_AT")
    if not target:
        return
    point, _, nth = target.partition(":")
    if point != name:
        return
    _passes[name] = _passes.get(name, 0) + 1
    if _passes[name] >= int(nth or 1):
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


_passes: dict[str, int] = {}


class Store:
    """A head collection naming the live generation, whose chunk and manifest collections hold
    the data.

    The head (named like the configured collection) carries the format, the model manifest,
    the live generation and a change token rewritten after every write, so a reader knows with
    one call whether its keyword index is current. The manifest (`<generation>-docs`) has one
    row per document with its version and status: a document counts as stored only once its
    row says "complete", which is written after all its rows. `--rebuild` builds a new
    generation aside and swaps the head to it at the end, so a killed rebuild loses nothing.
    """

    def __init__(
        self,
        settings: Settings,
        model_id: str,
        dimension: int | Callable[[], int] | None = None,
    ) -> None:
        self.settings = settings
        self.model_id = model_id
        self._dimension = dimension
        self._client: Any = None
        self._collections: dict[str, Any] = {}
        self._live: str | None = None  # generation the cached handles belong to
        self._target: str | None = None  # generation being written
        self._swap_from: str | None = None  # set while a rebuild builds aside: the old head
        self._old_format = False
        self._pin = threading.local()  # a thread's head, read once inside `reading()`

    @property
    def dimension(self) -> int | None:
        """Vector length of the model (resolved only when a write needs it)."""
        if callable(self._dimension):
            self._dimension = int(self._dimension())
        return self._dimension

    # --- connection ----------------------------------------------------------------------------
    @property
    def is_server(self) -> bool:
        """True when a Chroma server is configured instead of the embedded store."""
        return self.settings.chroma_host is not None

    @property
    def location(self) -> str:
        """Where the data lives, for messages."""
        if self.is_server:
            return f"chroma server {self.settings.chroma_host}:{self.settings.chroma_port}"
        return str(self.settings.data_dir)

    @property
    def client(self) -> Any:
        """The Chroma client, created on first use."""
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _make_client(self) -> Any:
        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
        chromadb = _import_chromadb()
        from chromadb.config import Settings as ChromaSettings

        # _env_file=None: our settings come from our Settings; Chroma must not re-read ./.env.
        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False, _env_file=None)
        try:
            if self.is_server:
                return self._make_http_client(chroma_settings)
            check_data_dir(self.settings, write=False)
            check_not_damaged(self.settings)
            path = self.settings.data_dir / "chroma"
            path.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        except StoreError:
            raise
        except Exception as exc:
            if self.settings.chroma_host is None and _read_only(self.settings.data_dir / "chroma"):
                raise StoreError(
                    f"the store at {self.location} is read-only (a read-only file system or no "
                    "write permission), and Chroma must write to open it: make it writable, or "
                    "copy the data dir to a writable folder and point ASSISTANT_DATA_DIR there"
                ) from exc
            raise StoreError(
                f"cannot open the store at {self.location}: {_first_line(exc)}"
            ) from exc

    def _make_http_client(self, chroma_settings: Any) -> Any:
        """A server client whose requests give up after ASSISTANT_CHROMA_TIMEOUT seconds.

        chromadb's HTTP session waits forever and already talks to the server while it is built,
        so the server is probed first with the timeout, and the session then gets it too.
        """
        import chromadb
        import httpx

        timeout = httpx.Timeout(self.settings.chroma_timeout)
        url = f"http://{self.settings.chroma_host}:{self.settings.chroma_port}/api/v2/heartbeat"
        try:
            httpx.get(url, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise StoreError(
                f"the {self.location} did not answer within {self.settings.chroma_timeout:g} s "
                "(ASSISTANT_CHROMA_TIMEOUT): check that a Chroma server runs there"
            ) from exc
        except httpx.HTTPError:
            pass  # unreachable or refused: chromadb's own error below says so
        client = chromadb.HttpClient(
            host=str(self.settings.chroma_host),
            port=self.settings.chroma_port,
            settings=chroma_settings,
        )
        session = getattr(getattr(client, "_server", None), "_session", None)
        if session is not None:
            session.timeout = timeout
        return client


    def _no_local_store(self) -> bool:
        if self._client is None and not self.is_server:
            check_data_dir(self.settings, write=False)  # a file or a device is not "no store"
        return (
            self._client is None
            and not self.is_server
            and not (self.settings.data_dir / "chroma").exists()
        )

    def _collection_names(self) -> set[str]:
        if self._client is None and not self.is_server:
            check_data_dir(self.settings, write=False)
        if self._no_local_store():
            return set()  # nothing stored yet: reading must not create an empty store
        with map_errors("Chroma"):
            return {getattr(c, "name", c) for c in self.client.list_collections()}

    def _get(self, name: str) -> Any | None:
        """A collection by name, or None (without listing every collection)."""
        if self._no_local_store():
            return None
        with map_errors("Chroma"):
            try:
                return self.client.get_collection(name, embedding_function=None)
            except Exception as exc:  # noqa: BLE001 - chroma raises NotFoundError / ValueError
                if "does not exist" in str(exc) or type(exc).__name__ == "NotFoundError":
                    return None
                raise

    def exists(self) -> bool:
        """Whether the store holds a collection of this name."""
        return self._get(self.settings.collection) is not None

    # --- the head --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """One read of several calls (a question's search): the head is read once, by the first
        call that needs it, instead of by every call (each a Chroma round trip); a generation
        swapped in meanwhile is seen by the next `reading` or call outside one. Per thread."""
        if getattr(self._pin, "on", False):
            yield
            return
        self._pin.on, self._pin.meta = True, None
        try:
            yield
        finally:
            self._pin.on, self._pin.meta = False, None

    def _head_meta(self) -> dict[str, Any] | None:
        """The head's metadata, fresh (once per `reading`); None when there is no store; checks
        format and model."""
        pinned = getattr(self._pin, "on", False) and self._target is None
        if pinned and self._pin.meta is not None:
            return dict(self._pin.meta)
        meta = self._read_head()
        if pinned and meta is not None:
            self._pin.meta = dict(meta)
        return meta

    def _read_head(self) -> dict[str, Any] | None:
        head = self._get(self.settings.collection)
        if head is None:
            return None
        meta = dict(head.metadata or {})
        if meta.get("format") != FORMAT:
            self._old_format = True
            if self._target is None:  # a rebuild may replace it; everything else stops here
                raise StoreError(
                    f"the store '{self.settings.collection}' in {self.location} was written by an "
                    "older version of assistant; run `assistant ingest --rebuild` to rebuild it"
                )
            return None
        self._check_manifest(meta)
        live = str(meta.get("live", ""))
        if live != self._live:
            self._collections.clear()  # another process swapped generations: handles are stale
            self._live = live
        return meta

    def live(self) -> str | None:
        """The generation readers use, or None for an empty store."""
        meta = self._head_meta()
        return None if meta is None else str(meta["live"])

    def change_key(self) -> str | None:
        """Changes whenever anything is written: `<generation>:<token>` (None: no store)."""
        meta = self._head_meta()
        if meta is None:
            return None
        return f"{meta['live']}:{meta.get('change', '')}"

    def version(self) -> int:
        """A counter bumped on every write (-1 without a store)."""
        meta = self._head_meta()
        return -1 if meta is None else _as_int(meta.get("version", 0))

    def _check_manifest(self, meta: dict[str, Any]) -> None:
        if not self.model_id or self._swap_from is not None:
            return
        built_with = meta.get("embedding_model")
        built_dim = meta.get("embedding_dim")
        dim = self._dimension if isinstance(self._dimension, int) else None
        if (built_with and built_with != self.model_id) or (built_dim and dim and built_dim != dim):
            raise EmbeddingMismatchError(
                f"collection '{self.settings.collection}' in {self.location} was built with "
                f"{built_with} (dim {built_dim}), but the configured model is {self.model_id}"
                f"{f' (dim {dim})' if dim else ''}. "
                "Run `assistant ingest --rebuild` to re-embed with the new model, "
                "or switch ASSISTANT_EMBEDDINGS back."
            )

    def _model_meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"embedding_model": self.model_id}
        if self.dimension:
            meta["embedding_dim"] = self.dimension
        return meta

    def _write_head(self, live: str, version: int) -> str:
        token = uuid.uuid4().hex[:16]
        meta = {"format": FORMAT, "live": live, "change": token, "version": version, **self._model_meta()}
        with map_errors("Chroma"):
            head = self._get(self.settings.collection)
            if head is None:
                self.client.get_or_create_collection(
                    self.settings.collection, metadata=meta, embedding_function=None
                )
            else:
                head.modify(metadata=meta)
        self._live = live
        return f"{live}:{token}"

    # --- generations ---------------------------------------------------------------------------
    def _name(self, generation: str, suffix: str = "") -> str:
        return f"{self.settings.collection}{GENERATION_SEPARATOR}{generation}{suffix}"

    def _collection(self, suffix: str, *, create: bool = False) -> Any | None:
        generation = self._target if create or self._target else None
        if generation is None:
            generation = self.live()
            if generation is None:
                return None
        name = self._name(generation, suffix)
        if name not in self._collections:
            collection = self._get(name)
            if collection is None:
                if not create:
                    return None
                with map_errors("Chroma"):
                    if suffix == DOCS_SUFFIX:
                        collection = self.client.get_or_create_collection(
                            name, metadata={"format": FORMAT}, embedding_function=None
                        )
                    else:
                        collection = self.client.get_or_create_collection(
                            name,
                            metadata={"format": FORMAT},
                            configuration={"hnsw": {"space": "cosine"}},
                            embedding_function=None,
                        )
            self._collections[name] = collection
        return self._collections[name]

    def chunks(self, *, create: bool = False) -> Any:
        """The chunk collection of the live generation (of the one being written, when writing)."""
        return self._collection("", create=create)

    def manifest(self, *, create: bool = False) -> Any:
        """The per-document manifest collection."""
        return self._collection(DOCS_SUFFIX, create=create)

    def keyword_folder(self, generation: str) -> Path:
        """Where this machine keeps the keyword index of a generation."""
        if self.is_server:
            where = f"server:{self.settings.chroma_host}:{self.settings.chroma_port}"
        else:
            where = f"local:{os.path.abspath(self.settings.data_dir)}"
        key = hashlib.sha1(f"{where}/{self.settings.collection}".encode()).hexdigest()[:10]
        label = re.sub(r"[^A-Za-z0-9._-]", "_", self.settings.collection)[:40]
        return self.settings.resolved_cache_dir() / "keyword" / f"{label}-{key}" / generation

    # --- a write session -----------------------------------------------------------------------
    def begin_write(self, *, rebuild: bool = False) -> None:
        """Choose the generation to write: the live one, or (rebuild, first store) a new one."""
        self._target = None
        # A rebuild may switch models: the model check is off until the head names the new one.
        self._swap_from = "" if rebuild else None
        try:
            meta = self._head_meta()
        except StoreError:
            if not (rebuild and self._old_format):
                raise
            meta = None
        if meta is not None and not rebuild:
            self._target = str(meta["live"])
            return
        # A first store is built like a rebuild: the head appears when the first write is done,
        # so an ingest that stores nothing leaves nothing behind.
        self._target = time.strftime("%Y%m%d%H%M%S") + uuid.uuid4().hex[:4]
        self._swap_from = str(meta["live"]) if meta is not None else ""
        self._collect_garbage()

    def finish_write(self, changed: bool) -> str | None:
        """End the session: swap a rebuilt generation in (or drop it), publish a new change key."""
        target, old = self._target, self._swap_from
        self._target, self._swap_from = None, None
        if target is None:
            return None
        if old is not None:
            if not changed:
                self._drop_generation(target)  # nothing could be stored: keep the old store
                return self.change_key()
            if self._old_format:
                with map_errors("Chroma"):
                    for name in (self.settings.collection, self.settings.collection + SENTENCES_SUFFIX):
                        if name in self._collection_names():
                            self.client.delete_collection(name)
                self._old_format = False
            version = self._current_version() + 1
            checkpoint("rebuild-swap")
            key = self._write_head(target, version)
            if old:
                self._drop_generation(old)
            return key
        if not changed:
            return self.change_key()
        return self._write_head(target, self._current_version() + 1)

    def writing_generation(self) -> str | None:
        """The generation the current write session writes (None outside one)."""
        return self._target

    def abort_write(self) -> None:
        """Forget the session's target after a failure (an aside generation is left for GC)."""
        self._target, self._swap_from = None, None

    def _current_version(self) -> int:
        head = self._get(self.settings.collection)
        meta = dict(head.metadata or {}) if head is not None else {}
        return _as_int(meta.get("version", 0)) if meta.get("format") == FORMAT else 0

    def _drop_generation(self, generation: str) -> None:
        names = self._collection_names()
        for suffix in ("", DOCS_SUFFIX):
            name = self._name(generation, suffix)
            self._collections.pop(name, None)
            if name in names:
                with map_errors("Chroma"):
                    self.client.delete_collection(name)
        shutil.rmtree(self.keyword_folder(generation), ignore_errors=True)

    def _collect_garbage(self) -> None:
        """Drop generations neither live nor being written (left by a killed --rebuild)."""
        keep = {self._target, self._swap_from, self._live}
        prefix = self.settings.collection + GENERATION_SEPARATOR
        for name in self._collection_names():
            if not name.startswith(prefix):
                continue
            generation = name[len(prefix) :]
            for suffix in (DOCS_SUFFIX,):
                if generation.endswith(suffix):
                    generation = generation[: -len(suffix)]
            if generation not in keep:
                self._drop_generation(generation)

    # --- the manifest ----------------------------------------------------------------------------
    def manifest_rows(self, paths: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
        """Every document's manifest row (complete or not), by path; or only those of `paths`
        (absolute paths as stored), read by id: an ingest of one file into a store of 10,000
        documents reads one row, not 10,000."""
        collection = self.manifest()
        out: dict[str, dict[str, Any]] = {}
        if collection is None:
            return out
        if paths is not None:
            wanted = {str(p) for p in paths}
            ids = list(dict.fromkeys(source_key(p) for p in wanted))
            for i in range(0, len(ids), _PAGE):
                with map_errors("Chroma"):
                    page = collection.get(ids=ids[i : i + _PAGE], include=["metadatas"])
                for meta in page["metadatas"]:
                    if meta and str(meta.get("path")) in wanted:
                        out[str(meta["path"])] = dict(meta)
            return out
        offset = 0
        while True:
            with map_errors("Chroma"):
                page = collection.get(include=["metadatas"], limit=_PAGE, offset=offset)
            if not page["ids"]:
                return out
            for meta in page["metadatas"]:
                if meta and "path" in meta:
                    out[str(meta["path"])] = dict(meta)
            offset += len(page["ids"])

    def mark(self, entries: Sequence[dict[str, Any]], status: str) -> None:
        """Write documents' manifest rows with a status (pending, complete)."""
        size = self._batch_size()
        for i in range(0, len(entries), size):
            batch = entries[i : i + size]
            with map_errors("Chroma"):
                self.manifest(create=True).upsert(
                    ids=[source_key(str(m["path"])) for m in batch],
                    metadatas=[{**m, "status": status} for m in batch],
                    embeddings=[[1.0]] * len(batch),
                    documents=[""] * len(batch),
                )

    def unmark(self, path: str) -> None:
        """Remove a document's manifest row."""
        collection = self.manifest()
        if collection is not None:
            with map_errors("Chroma"):
                collection.delete(ids=[source_key(path)])

    def count(self) -> int:
        """Number of stored chunks."""
        collection = self.chunks()
        if collection is None:
            return 0
        with map_errors("Chroma"):
            return int(collection.count())

    def documents(self) -> list[StoredDocument]:
        """Every completely stored document, from the manifest, sorted by source."""
        return sorted(
            (
                StoredDocument(
                    source=str(d.get("source", "")),
                    path=path,
                    title=str(d.get("title", "")),
                    language=str(d.get("language", "")),
                    sha256=str(d.get("sha256", "")),
                    chunks=int(d.get("chunks", 0)),
                )
                for path, d in self.manifest_rows().items()
                if d.get("status") == "complete"
            ),
            key=lambda d: d.source,
        )

    def iter_chunks(
        self, *, include_text: bool = True
    ) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """All chunk rows as (id, text, metadata), paged (tools and tests; questions never scan)."""
        collection = self.chunks()
        if collection is None:
            return
        include = ["metadatas", "documents"] if include_text else ["metadatas"]
        offset = 0
        while True:
            with map_errors("Chroma"):
                page = collection.get(include=include, limit=_PAGE, offset=offset)
            ids = page["ids"]
            if not ids:
                return
            texts = page.get("documents") or [""] * len(ids)
            for row_id, text, meta in zip(ids, texts, page["metadatas"]):
                yield row_id, text or "", dict(meta or {})
            offset += len(ids)

    def rows_for(self, paths: Sequence[str]) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """The chunk rows of some documents (what a keyword index sync fetches)."""
        global CHUNK_ROWS_FETCHED
        collection = self.chunks()
        if collection is None or not paths:
            return
        where: dict[str, Any] = {"path": paths[0]} if len(paths) == 1 else {"path": {"$in": list(paths)}}
        offset = 0
        while True:
            with map_errors("Chroma"):
                page = collection.get(
                    where=where, include=["metadatas", "documents"], limit=_PAGE, offset=offset
                )
            if not page["ids"]:
                return
            CHUNK_ROWS_FETCHED += len(page["ids"])
            for row_id, text, meta in zip(page["ids"], page["documents"], page["metadatas"]):
                yield row_id, text or "", dict(meta or {})
            offset += len(page["ids"])

    # --- writes ----------------------------------------------------------------------------------
    def add_rows(self, chunks: list[Record]) -> None:
        """Write a document's chunk rows (ids carry its version: upserts are safe)."""
        self._add(self.chunks(create=True), chunks)
        checkpoint("chunks-written")

    def delete_other_versions(self, path: str, version: str | None) -> None:
        """Delete a document's rows of every version but `version` (None: all of them)."""
        collection = self.chunks(create=True)
        ids = [
            row_id
            for row_id, meta in self._rows_of(collection, path)
            if version is None or meta.get("version") != version
        ]
        self._delete(collection, ids)

    def replace_document(self, path: str, chunks: list[Record]) -> None:
        """Write a document's new rows, then delete its other rows (tools and tests; ingest runs
        the same steps with the keyword index and manifest in between)."""
        self.add_rows(chunks)
        keep = {r.id for r in chunks}
        collection = self.chunks(create=True)
        self._delete(collection, [i for i, _ in self._rows_of(collection, path) if i not in keep])

    def delete_document(self, path: str) -> None:
        """Remove every row of a document."""
        collection = self.chunks()
        if collection is not None:
            self._delete(collection, [row_id for row_id, _ in self._rows_of(collection, path)])

    def _rows_of(self, collection: Any, path: str) -> list[tuple[str, dict[str, Any]]]:
        with map_errors("Chroma"):
            res = collection.get(where={"path": path}, include=["metadatas"])
        return [(row_id, dict(meta or {})) for row_id, meta in zip(res["ids"], res["metadatas"])]

    def _batch_size(self) -> int:
        try:
            return max(1, min(int(self.client.get_max_batch_size()), 5000))
        except Exception:  # noqa: BLE001 - older servers do not report it
            return 1000

    def _add(self, collection: Any, records: list[Record]) -> None:
        size = self._batch_size()
        for i in range(0, len(records), size):
            batch = records[i : i + size]
            with map_errors("Chroma"):
                collection.upsert(
                    ids=[r.id for r in batch],
                    documents=[r.text for r in batch],
                    metadatas=[r.metadata for r in batch],
                    embeddings=[list(map(float, r.vector)) for r in batch],
                )

    def _delete(self, collection: Any, ids: list[str]) -> None:
        size = self._batch_size()
        for i in range(0, len(ids), size):
            with map_errors("Chroma"):
                collection.delete(ids=ids[i : i + size])

    # --- reads -----------------------------------------------------------------------------------
    def query(
        self, vector: Sequence[float], n: int, where: dict[str, Any] | None = None
    ) -> list[Match]:
        """Nearest chunks by cosine similarity."""
        res = self._nearest(vector, n, where, ["documents", "metadatas", "distances"])
        if res is None:
            return []
        return [
            Match(row_id, text or "", dict(meta or {}), 1.0 - float(dist))
            for row_id, text, meta, dist in zip(
                res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0]
            )
        ]

    def query_ids(
        self, vector: Sequence[float], n: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """Nearest chunk ids with their cosine similarity, no rows (`query` without the texts and
        metadata: fetching those for a few hundred candidates costs more than the search)."""
        res = self._nearest(vector, n, where, ["distances"])
        if res is None:
            return []
        return [(row_id, 1.0 - float(dist)) for row_id, dist in zip(res["ids"][0], res["distances"][0])]

    def _nearest(
        self, vector: Sequence[float], n: int, where: dict[str, Any] | None, include: list[str]
    ) -> Any:
        collection = self.chunks()
        if collection is None or n <= 0:
            return None
        with map_errors("Chroma"):
            return collection.query(
                query_embeddings=[list(map(float, vector))],
                n_results=n,
                where=where or None,
                include=include,
            )

    def rows_by_id(self, ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """Some chunks' (text, metadata) by id; ids not stored are absent."""
        if not ids:
            return {}
        collection = self.chunks()
        if collection is None:
            return {}
        with map_errors("Chroma"):
            res = collection.get(ids=list(ids), include=["documents", "metadatas"])
        return {
            row_id: (text or "", dict(meta or {}))
            for row_id, text, meta in zip(res["ids"], res["documents"], res["metadatas"])
        }

    def matches_for(self, ids: Sequence[str], vector: Sequence[float]) -> list[Match]:
        """Some chunks by id, with their cosine similarity to `vector`, best first."""
        import numpy as np

        collection = self.chunks()
        if collection is None or not ids:
            return []
        with map_errors("Chroma"):
            res = collection.get(ids=list(ids), include=["documents", "metadatas", "embeddings"])
        if not len(res["ids"]):
            return []
        sims = np.asarray(res["embeddings"], dtype=np.float32) @ np.asarray(vector, dtype=np.float32)
        out = [
            Match(row_id, text or "", dict(meta or {}), float(sim))
            for row_id, text, meta, sim in zip(res["ids"], res["documents"], res["metadatas"], sims)
        ]
        return sorted(out, key=lambda m: -m.similarity)

    def vectors_for(self, ids: Sequence[str]) -> dict[str, Any]:
        """Stored vectors of some chunks, by id."""
        import numpy as np

        collection = self.chunks()
        if collection is None or not ids:
            return {}
        with map_errors("Chroma"):
            res = collection.get(ids=list(ids), include=["embeddings"])
        return {
            row_id: np.asarray(vec, dtype=np.float32) for row_id, vec in zip(res["ids"], res["embeddings"])
        }

    # --- locking ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def write_lock(self) -> Iterator[None]:
        """One writer at a time on the embedded store; a second one fails fast instead of hanging."""
        if self.is_server:  # the server serialises writes itself
            yield
            return
        check_data_dir(self.settings, write=True)
        lock_path = Path(self.settings.data_dir) / "write.lock"
        try:
            handle = open(lock_path, "a+")  # noqa: SIM115 - held for the block's duration
        except OSError as exc:
            raise StoreError(
                f"cannot take the write lock {lock_path}: {exc.strerror or exc}; "
                "it must be a file the assistant can write (remove whatever is there)"
            ) from None
        try:
            _acquire(handle, lock_path)
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield
        finally:
            _release(handle)
            handle.close()


def _acquire(handle: Any, lock_path: Path) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX: no cross-process lock
        return
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise StoreLockedError(
                    f"the store in {lock_path.parent} is being written by pid {holder}; "
                    "wait for that ingest to finish, or use a Chroma server for concurrent writers"
                ) from None
            time.sleep(0.05)


def _release(handle: Any) -> None:
    try:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    except (ImportError, OSError):  # pragma: no cover
        pass


def _read_only(path: Path) -> bool:
    """Whether a folder cannot be written: a read-only mount or no write permission."""
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return True
    except OSError:
        return False
    return not os.access(path, os.W_OK)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def check_data_dir(settings: Settings, *, write: bool) -> None:
    """Fail with a one-line StoreError unless data_dir can hold the store (created when writing).

    A folder that does not exist yet is fine for reading (the store is empty); a regular file,
    a device, a path under a file or an unwritable place is named, never taken for an empty store.
    """
    folder = Path(settings.data_dir)
    where = f"ASSISTANT_DATA_DIR (--data-dir) is {folder}"
    parts = Path(os.path.abspath(folder)).parts
    if len(parts) > 1 and parts[1] in ("proc", "sys", "dev"):
        raise StoreError(f"{where}, a system folder that cannot hold a store: choose a folder of yours")
    try:
        info = folder.stat()
    except FileNotFoundError:
        info = None
    except NotADirectoryError:
        raise StoreError(f"{where}, which is under a file, not a folder: choose a folder") from None
    except OSError as exc:
        raise StoreError(f"{where}, which cannot be used: {exc.strerror or exc}") from None
    if info is not None:
        import stat

        if not stat.S_ISDIR(info.st_mode):
            raise StoreError(f"{where}, which is not a folder: choose a folder") from None
        needed = os.R_OK | os.X_OK | (os.W_OK if write else 0)
        if not os.access(folder, needed):
            raise StoreError(
                f"{where}, which is not {'writable' if write else 'readable'}: "
                "check its permissions or choose another folder"
            )
        return
    if not write:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{where}, which cannot be created: {exc.strerror or exc}") from None


_SQLITE_MAGIC = b"SQLite format 3\x00"


def check_not_damaged(settings: Settings) -> None:
    """Refuse a chroma.sqlite3 that is empty or not SQLite: Chroma would silently start afresh."""
    db = Path(settings.data_dir) / "chroma" / "chroma.sqlite3"
    try:
        with open(db, "rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except FileNotFoundError:
        return
    except IsADirectoryError:
        head = b"(a folder)"
    except OSError as exc:
        raise StoreError(f"the store at {db.parent} cannot be read: {exc.strerror or exc}") from None
    if head == _SQLITE_MAGIC:
        return
    what = "is empty (0 bytes)" if not head else "is not an SQLite database"
    raise StoreError(
        f"the store at {db.parent} is damaged: chroma.sqlite3 {what}. "
        "Run `assistant ingest --rebuild` to set it aside and build a new one"
    )


def set_aside_damaged(settings: Settings) -> Path | None:
    """For --rebuild: move a damaged store folder aside (kept, never deleted); return where."""
    try:
        check_not_damaged(settings)
        return None
    except StoreError:
        pass
    folder = Path(settings.data_dir) / "chroma"
    target = folder.with_name(f"chroma.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        folder.rename(target)
    except OSError as exc:
        raise StoreError(f"cannot move the damaged store {folder} aside: {exc.strerror or exc}") from None
    return target


def _as_int(value: Any) -> int:
    """A manifest counter; junk (a hand-edited or foreign collection) counts as 0."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _import_chromadb() -> Any:
    """Import chromadb, which reads ./.env strictly as UTF-8 at import: a bad byte there would
    end the command, so it is then imported from a folder without one (our own .env reading
    replaces the bad bytes and says so)."""
    try:
        import chromadb
    except UnicodeDecodeError:
        import tempfile

        here = os.getcwd()
        os.chdir(tempfile.gettempdir())
        try:
            import chromadb
        finally:
            os.chdir(here)
    return chromadb
