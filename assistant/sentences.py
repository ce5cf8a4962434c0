"""Sentences of retrieved chunks and their vectors, embedded on first use and cached on disk.

Ingest embeds chunks only (what the LangChain-tutorial peer embeds). The extractive answerer needs
sentence vectors, but only for the few chunks a question retrieves: they are embedded then, once,
and kept in a small SQLite cache keyed by model and sentence text, shared by every process on the
machine (SQLite serialises writers itself, unlike Chroma's embedded store). A cache that cannot be
written (read-only folder, full disk) only costs time: the vectors are then kept in memory.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .retrieval import Hit

log = logging.getLogger(__name__)
_MEMORY_LIMIT = 50_000  # vectors kept in memory per process


@dataclass(frozen=True)
class Sentence:
    """One sentence of a retrieved chunk; start/end are offsets in the document's text."""

    text: str
    start: int
    end: int
    hit: int  # rank of the chunk it was found in (0-based)
    index: int  # position of the sentence within that chunk
    path: str
    language: str


def split_hits(hits: Sequence[Hit]) -> list[Sentence]:
    """The sentences of each hit's chunk, each sentence once (overlapping chunks share some).

    A sentence in two chunks belongs to the better-ranked one.
    """
    from .chunking import split_sentences

    seen: set[tuple[str, int]] = set()
    out: list[Sentence] = []
    for rank, hit in enumerate(hits):
        for i, span in enumerate(split_sentences(hit.text)):
            start, end = hit.start + span.start, hit.start + span.end
            if (hit.path, start) in seen:
                continue
            seen.add((hit.path, start))
            out.append(
                Sentence(
                    text=hit.text[span.start : span.end],
                    start=start,
                    end=end,
                    hit=rank,
                    index=i,
                    path=hit.path,
                    language=hit.language,
                )
            )
    return out


class SentenceVectors:
    """Passage vectors of sentences, from memory, the disk cache, or the model (in one batch)."""

    def __init__(self, embeddings: Any, cache_file: Path | None) -> None:
        self.embeddings = embeddings
        self.model_id = str(getattr(embeddings, "model_id", "model"))
        self.cache_file = cache_file
        self._memory: dict[bytes, Any] = {}
        self._db: sqlite3.Connection | None = None
        self._db_failed = cache_file is None
        self._lock = threading.Lock()
        self.embedded = 0  # sentences this process had to embed (for tests and benchmarks)

    def vectors(self, texts: Sequence[str], *, query: bool = False) -> Any:
        """A float32 (n, dim) array of unit vectors, in the order of `texts`.

        `query`: embedded as queries (single words, for `alignment`), cached apart from passages.
        """
        import numpy as np

        embed = self.embeddings.embed_queries_array if query else self.embeddings.embed_passages_array

        def compute(todo: list[str]) -> list[Any]:
            self.embedded += len(todo)
            return list(np.asarray(embed(todo), dtype=np.float32))

        found = self._cached(
            texts,
            "\0query" if query else "",
            compute,
            lambda blob: np.frombuffer(blob, dtype=np.float32),
            lambda v: np.asarray(v, dtype=np.float32).tobytes(),
        )
        if not texts or found is None:
            return np.zeros((0, 0), dtype=np.float32)
        return np.vstack(found).astype(np.float32, copy=False)

    def words(self, words: Sequence[str]) -> Any:
        """Query vectors of single words (see `alignment`)."""
        return self.vectors(words, query=True)

    def latent(self, texts: Sequence[str]) -> list[Any]:
        """Sparse latent-terms codes of texts (`embeddings.latent_terms`), cached like vectors.

        An empty list when the local model has no sparse head.
        """
        import numpy as np

        from .embeddings import latent_terms

        def decode(blob: bytes) -> tuple[Any, Any]:
            n = len(blob) // 8
            return np.frombuffer(blob[: 4 * n], np.int32), np.frombuffer(blob[4 * n :], np.float32)

        def encode(code: tuple[Any, Any]) -> bytes:
            return np.asarray(code[0], np.int32).tobytes() + np.asarray(code[1], np.float32).tobytes()

        return self._cached(texts, "\0latent", latent_terms, decode, encode) or []

    def _cached(
        self,
        texts: Sequence[str],
        kind: str,
        compute: Callable[[list[str]], Sequence[Any] | None],
        decode: Callable[[bytes], Any],
        encode: Callable[[Any], bytes],
    ) -> list[Any] | None:
        """Values of texts in their order, from memory, the disk cache, or `compute` (one call for
        all the missing ones; None from it: no values at all)."""
        keys = [self._key(t, kind) for t in texts]
        with self._lock:
            found: dict[bytes, Any] = {k: self._memory[k] for k in keys if k in self._memory}
            missing = [k for k in dict.fromkeys(keys) if k not in found]
            if missing:
                found.update((k, decode(blob)) for k, blob in self._read(missing).items())
            todo = [k for k in dict.fromkeys(keys) if k not in found]
        if todo:
            by_key = dict(zip(keys, texts))
            fresh = compute([by_key[k] for k in todo])
            if fresh is None:
                return None
            with self._lock:
                found.update(zip(todo, fresh))
                self._write([(k, encode(v)) for k, v in zip(todo, fresh)])
        with self._lock:
            if len(self._memory) > _MEMORY_LIMIT:
                self._memory.clear()
            self._memory.update(found)
        return [found[k] for k in keys]

    def _key(self, text: str, kind: str = "") -> bytes:
        return hashlib.sha1(f"{self.model_id}{kind}\0{text}".encode("utf-8", "surrogatepass")).digest()

    def close(self) -> None:
        """Close the disk cache (its file can then be copied whole); it reopens on next use."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # --- the disk cache ----------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection | None:
        if self._db is not None or self._db_failed:
            return self._db
        assert self.cache_file is not None
        try:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(self.cache_file), timeout=2.0, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB)")
            db.commit()
            self._db = db
        except (OSError, sqlite3.Error) as exc:
            log.debug("sentence cache %s unavailable: %s", self.cache_file, exc)
            self._db_failed = True
        return self._db

    def _read(self, keys: list[bytes]) -> dict[bytes, bytes]:
        """Cached rows by key, as stored."""

        db = self._connect()
        if db is None:
            return {}
        out: dict[bytes, Any] = {}
        try:
            for i in range(0, len(keys), 500):
                part = keys[i : i + 500]
                rows = db.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})",
                    part,
                ).fetchall()
                for key, blob in rows:
                    out[bytes(key)] = bytes(blob)
        except sqlite3.Error as exc:
            log.debug("sentence cache read failed: %s", exc)
        return out

    def _write(self, rows: list[tuple[bytes, bytes]]) -> None:
        db = self._connect()
        if db is None or not rows:
            return
        try:
            db.executemany(
                "INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)",
                rows,
            )
            db.commit()
        except sqlite3.Error as exc:  # read-only or full: the vectors stay in memory
            log.debug("sentence cache write failed: %s", exc)
            try:
                db.rollback()
            except sqlite3.Error:
                pass


def cache_file_for(cache_dir: Path, model_id: str) -> Path:
    """The cache file of one embedding model inside the cache folder."""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in model_id)
    return Path(cache_dir) / f"sentences-{safe}.sqlite3"
