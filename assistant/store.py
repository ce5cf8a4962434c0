"""Chroma store: embedded or server client, model manifest, write lock, batched writes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import EmbeddingMismatchError, StoreError, StoreLockedError, map_errors

if TYPE_CHECKING:
    from .config import Settings

SENTENCES_SUFFIX = "-sentences"
LOCK_WAIT_SECONDS = 1.0
_PAGE = 2000


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


class Store:
    """The two Chroma collections (chunks and their sentences) plus their manifest."""

    def __init__(self, settings: Settings, model_id: str, dimension: int | None = None) -> None:
        self.settings = settings
        self.model_id = model_id
        self.dimension = dimension
        self._client: Any = None
        self._chunks: Any = None
        self._sentences: Any = None
        # After a reset the new collection starts from the old version, so a reader that cached
        # a keyword index at version N never mistakes the rebuilt collection's N for its own.
        self._version_floor = 0

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

    def _collection_names(self) -> set[str]:
        if self._client is None and not self.is_server:
            check_data_dir(self.settings, write=False)
        if (
            self._client is None
            and not self.is_server
            and not (self.settings.data_dir / "chroma").exists()
        ):
            return set()  # nothing stored yet: reading must not create an empty store
        with map_errors("Chroma"):
            return {getattr(c, "name", c) for c in self.client.list_collections()}

    def exists(self) -> bool:
        """Whether the chunk collection exists."""
        return self.settings.collection in self._collection_names()

    def chunks(self, *, create: bool = False) -> Any:
        """The chunk collection; checks it was built by the configured model."""
        if self._chunks is None:
            self._chunks = self._open(self.settings.collection, create=create)
        return self._chunks

    def sentences(self, *, create: bool = False) -> Any:
        """The sentence collection (vectors for extractive answers)."""
        if self._sentences is None:
            self._sentences = self._open(self.settings.collection + SENTENCES_SUFFIX, create=create)
        return self._sentences

    def _open(self, name: str, *, create: bool) -> Any:
        with map_errors("Chroma"):
            if name not in self._collection_names():
                if not create:
                    return None
                metadata = {"embedding_model": self.model_id, "version": self._version_floor}
                if self.dimension:
                    metadata["embedding_dim"] = self.dimension
                return self.client.get_or_create_collection(
                    name,
                    metadata=metadata,
                    configuration={"hnsw": {"space": "cosine"}},
                    embedding_function=None,
                )
            collection = self.client.get_collection(name, embedding_function=None)
        self._check_manifest(collection)
        return collection

    def _check_manifest(self, collection: Any) -> None:
        meta = collection.metadata or {}
        built_with = meta.get("embedding_model")
        built_dim = meta.get("embedding_dim")
        if (
            built_with
            and built_with != self.model_id
            or (built_dim and self.dimension and built_dim != self.dimension)
        ):
            raise EmbeddingMismatchError(
                f"collection '{collection.name}' in {self.location} was built with {built_with} "
                f"(dim {built_dim}), but the configured model is {self.model_id}"
                f"{f' (dim {self.dimension})' if self.dimension else ''}. "
                "Run `assistant ingest --rebuild` to re-embed with the new model, "
                "or switch ASSISTANT_EMBEDDINGS back."
            )

    # --- manifest --------------------------------------------------------------------------------
    def version(self) -> int:
        """A counter bumped on every write, so keyword indexes know when to rebuild."""
        collection = self.chunks()
        if collection is None:
            return -1
        with map_errors("Chroma"):
            fresh = self.client.get_collection(collection.name, embedding_function=None)
        if fresh.id != collection.id:
            # Another process rebuilt the collection: the cached handles point at a deleted one.
            self._check_manifest(fresh)
            self._chunks, self._sentences = fresh, None
        return _as_int((fresh.metadata or {}).get("version", 0))

    def bump_version(self) -> int:
        """Mark the collection as changed."""
        collection = self.chunks(create=True)
        with map_errors("Chroma"):
            fresh = self.client.get_collection(collection.name, embedding_function=None)
            meta = dict(fresh.metadata or {})
            meta["version"] = _as_int(meta.get("version", 0)) + 1
            meta["embedding_model"] = self.model_id
            if self.dimension:
                meta["embedding_dim"] = self.dimension
            fresh.modify(metadata=meta)
        self._chunks = fresh
        return int(meta["version"])

    def count(self) -> int:
        """Number of stored chunks."""
        collection = self.chunks()
        if collection is None:
            return 0
        with map_errors("Chroma"):
            return int(collection.count())

    def documents(self) -> list[StoredDocument]:
        """Every stored document, from its chunks' metadata, sorted by source."""
        docs: dict[str, dict[str, Any]] = {}
        for _id, _text, meta in self.iter_chunks(include_text=False):
            entry = docs.setdefault(meta["path"], {**meta, "chunks": 0})
            entry["chunks"] += 1
        return sorted(
            (
                StoredDocument(
                    source=d["source"],
                    path=d["path"],
                    title=d.get("title", ""),
                    language=d.get("language", ""),
                    sha256=d.get("sha256", ""),
                    chunks=d["chunks"],
                )
                for d in docs.values()
            ),
            key=lambda d: d.source,
        )

    def iter_chunks(
        self, *, include_text: bool = True
    ) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """All chunks as (id, text, metadata), paged."""
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

    # --- writes ----------------------------------------------------------------------------------
    def replace_document(self, path: str, chunks: list[Record], sentences: list[Record]) -> None:
        """Write a document's new rows, then delete its old ones: no orphans, and no loss on failure."""
        chunk_col = self.chunks(create=True)
        sent_col = self.sentences(create=True)
        old_chunks = self._ids_for(chunk_col, path)
        old_sentences = self._ids_for(sent_col, path)
        self._add(chunk_col, chunks)
        self._add(sent_col, sentences)
        self._delete(chunk_col, sorted(set(old_chunks) - {r.id for r in chunks}))
        self._delete(sent_col, sorted(set(old_sentences) - {r.id for r in sentences}))

    def delete_document(self, path: str) -> None:
        """Remove every row of a document."""
        for collection in (self.chunks(), self.sentences()):
            if collection is not None:
                self._delete(collection, self._ids_for(collection, path))

    def reset(self) -> None:
        """Drop both collections (for --rebuild)."""
        names = self._collection_names()
        if self.settings.collection in names:
            with map_errors("Chroma"):
                old = self.client.get_collection(self.settings.collection, embedding_function=None)
            self._version_floor = max(
                self._version_floor, _as_int((old.metadata or {}).get("version", 0))
            )
        for name in (self.settings.collection, self.settings.collection + SENTENCES_SUFFIX):
            if name in names:
                with map_errors("Chroma"):
                    self.client.delete_collection(name)
        self._chunks = self._sentences = None

    def _ids_for(self, collection: Any, path: str) -> list[str]:
        with map_errors("Chroma"):
            return list(collection.get(where={"path": path}, include=[])["ids"])

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
        return self._query(self.chunks(), vector, n, where)

    def _query(
        self, collection: Any, vector: Sequence[float], n: int, where: dict[str, Any] | None
    ) -> list[Match]:
        if collection is None or n <= 0:
            return []
        with map_errors("Chroma"):
            res = collection.query(
                query_embeddings=[list(map(float, vector))],
                n_results=n,
                where=where or None,
                include=["documents", "metadatas", "distances"],
            )
        return [
            Match(row_id, text or "", dict(meta or {}), 1.0 - float(dist))
            for row_id, text, meta, dist in zip(
                res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0]
            )
        ]

    def sentence_rows(self, paths: Sequence[str]) -> tuple[list[str], list[dict[str, Any]], Any]:
        """Sentences of the given documents: (texts, metadatas, vectors array)."""
        import numpy as np

        collection = self.sentences()
        if collection is None or not paths:
            return [], [], np.zeros((0, 0), dtype=np.float32)
        where: dict[str, Any] = (
            {"path": paths[0]} if len(paths) == 1 else {"path": {"$in": list(paths)}}
        )
        with map_errors("Chroma"):
            res = collection.get(where=where, include=["documents", "metadatas", "embeddings"])
        vectors = (
            np.asarray(res["embeddings"], dtype=np.float32)
            if len(res["ids"])
            else np.zeros((0, 0), dtype=np.float32)
        )
        return list(res["documents"]), [dict(m) for m in res["metadatas"]], vectors

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


def _is_timeout(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if "Timeout" in type(seen).__name__ or isinstance(seen, TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


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
