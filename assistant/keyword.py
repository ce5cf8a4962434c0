"""The keyword index: BM25 over chunk tokens, on disk (tantivy), one index per language.

Written by ingest in step with Chroma and opened read-only by questions; never rebuilt from the
collection on a question. Chroma is the source of truth: the index records which version of
which document it holds and the store's change key it was last in step with, and `sync` brings
it up to date by fetching only the chunk rows of documents that differ (the path a reader takes
after another process or machine wrote, or after a crash).

Tokens come from our own analyser (assistant.text.tokenize) and are indexed with tantivy's
whitespace tokenizer; queries are built term by term (user text is never parsed as query
syntax). Statistics (document frequencies, average length) are per language, so a minority
language's words are not made rare by the other languages' documents.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .text import tokenize

log = logging.getLogger("assistant")

# The state's format; an index of another (or built by another tokenizer: 3 keeps the combining
# marks inside words, `text.unicode_words`) is rebuilt from the store on first use.
FORMAT = 3
K1 = 1.2  # BM25 constants (tantivy's, and ours when rescoring)
B = 0.75
_HEAP = 15_000_000  # tantivy's minimum writer heap
_STATE = "state.json"
_LOCK_WAIT_SECONDS = 2.0
# A language with fewer chunks than this (often a misdetected paragraph) has no statistics of
# its own worth the name: its chunks are scored with those of all languages together.
MIN_LANGUAGE_CHUNKS = 50


@dataclass(frozen=True)
class KeywordHit:
    """A chunk the keyword index ranked: normalised score in [0, 1] plus its stored row."""

    id: str
    score: float
    text: str
    metadata: dict[str, Any]


def _schema() -> Any:
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("path", stored=False, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("tokens", stored=False, tokenizer_name="whitespace", index_option="freq")
    sb.add_bytes_field("row", stored=True, indexed=False)
    return sb.build()


def _lang_dir(language: str) -> str:
    safe = re.sub(r"[^a-z0-9-]", "", language.lower())[:20]
    return f"lang-{safe or '_'}"


def _idf(n: int, df: int) -> float:
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


class _Language:
    """One language's tantivy index (in memory when folder is None)."""

    def __init__(self, schema: Any, folder: Path | None) -> None:
        import tantivy

        self.schema = schema
        if folder is None:
            self.index = tantivy.Index(schema)
        else:
            folder.mkdir(parents=True, exist_ok=True)
            self.index = tantivy.Index(schema, path=str(folder))
        self._searcher: Any = None
        self.writer: Any = None

    @property
    def searcher(self) -> Any:
        if self._searcher is None:
            self._searcher = self.index.searcher()
        return self._searcher

    def refresh(self) -> None:
        self.index.reload()
        self._searcher = None


class KeywordIndex:
    """Per-language BM25 indexes plus the record of which document versions they hold."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self._schema = _schema()
        self._langs: dict[str, _Language] = {}
        self._summary: dict[str, tuple[int, int, list[str]]] | None = None
        self._keys: dict[str, str] | None = None
        self.docs = {}  # see the property
        self.live: str | None = None
        self.change: str | None = None  # the store's change key this index is in step with
        self._writing = False
        self._dirty = False
        if folder is not None:
            self._load()
        self.idf = _IdfView(self)

    # --- building, for tests and tools ---------------------------------------------------------
    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, dict[str, Any]]]) -> KeywordIndex:
        """An in-memory index of (id, text, metadata) rows; metadata needs path and language."""
        index = cls()
        by_path: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
        for row in rows:
            by_path.setdefault(row[2].get("path", ""), []).append(row)
        with index.writing():
            for path, doc_rows in by_path.items():
                meta = doc_rows[0][2]
                index.replace(path, meta.get("version", ""), meta.get("language", ""), meta.get("source", ""), doc_rows)
            index.commit()
        return index

    # --- state on disk -------------------------------------------------------------------------
    def _load(self) -> None:
        assert self.folder is not None
        state_path = self.folder / _STATE
        try:
            state = json.loads(state_path.read_text(encoding="utf-8"))
            if state.get("format") != FORMAT:
                raise ValueError("format")
            self.docs = dict(state.get("docs") or {})
            self.live = state.get("live")
            self.change = state.get("change")
            langs = list(state.get("languages") or [])
        except (OSError, ValueError, TypeError, AttributeError):
            # No state (new folder) or an unreadable one: start empty; sync refills it.
            if self.folder.exists():
                shutil.rmtree(self.folder, ignore_errors=True)
            self.docs, self.live, self.change, langs = {}, None, None, []
        for lang in langs:
            self._lang(lang)

    def _save(self) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        state = {
            "format": FORMAT,
            "live": self.live,
            "change": self.change,
            "languages": sorted(self._langs),
            "docs": self.docs,
        }
        tmp = self.folder / f".{_STATE}.{os.getpid()}"
        # One string, one write: `json.dump` streams many small writes (2.5x slower at 10k docs).
        data = json.dumps(state, ensure_ascii=False, separators=(",", ":"))
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.folder / _STATE)

    def _lang(self, language: str) -> _Language:
        if language not in self._langs:
            folder = None if self.folder is None else self.folder / _lang_dir(language)
            self._langs[language] = _Language(self._schema, folder)
        return self._langs[language]

    # --- what is held, summed per language -------------------------------------------------------
    @property
    def docs(self) -> dict[str, dict[str, Any]]:
        """path -> {"v": version, "l": language, "s": source, "n": chunks, "t": tokens}.

        Changed only through this class (replace, remove, load, clear), which keeps the sums
        per language in step; callers read it.
        """
        return self._docs

    @docs.setter
    def docs(self, value: dict[str, dict[str, Any]]) -> None:
        self._docs = value
        self._changed()

    def _changed(self) -> None:
        self._summary = None
        self._keys = None

    def held_chunk(self, chunk_id: str) -> tuple[str, str, str] | None:
        """(path, version, language) of a chunk id this index holds the document version of, by
        the id alone (`store.chunk_id`: source key, version, index); None for any other id."""
        key, sep, rest = chunk_id.partition("-")
        version, sep2, _index = rest.partition("-")
        if not sep or not sep2:
            return None
        if self._keys is None:
            from .store import source_key

            self._keys = {source_key(path): path for path in self._docs}
        path = self._keys.get(key)
        if path is None:
            return None
        entry = self._docs[path]
        if entry.get("v") != version:
            return None
        return path, version, entry.get("l", "")

    def _totals(self) -> dict[str, tuple[int, int, list[str]]]:
        """language -> (chunks, tokens, paths in `docs` order), summed once per change.

        A question needs these several times per language; summing them over every document
        each time cost tens of milliseconds at 10,000 documents.
        """
        if self._summary is None:
            chunks: dict[str, int] = {}
            tokens: dict[str, int] = {}
            paths: dict[str, list[str]] = {}
            for path, d in self._docs.items():
                lang = d.get("l", "")
                chunks[lang] = chunks.get(lang, 0) + int(d.get("n", 0))
                tokens[lang] = tokens.get(lang, 0) + int(d.get("t", 0))
                paths.setdefault(lang, []).append(path)
            self._summary = {lang: (chunks[lang], tokens[lang], paths[lang]) for lang in chunks}
        return self._summary

    def chunk_counts(self) -> dict[str, int]:
        """Chunks held per language."""
        return {lang: n for lang, (n, _t, _p) in self._totals().items()}

    def document_counts(self) -> dict[str, int]:
        """Documents held per language."""
        return {lang: len(paths) for lang, (_n, _t, paths) in self._totals().items()}

    def paths_in(self, language: str) -> list[str]:
        """Paths of the documents held in a language, in the order `docs` lists them."""
        entry = self._totals().get(language)
        return list(entry[2]) if entry is not None else []

    # --- reading -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return sum(n for n, _t, _p in self._totals().values())

    @property
    def languages(self) -> list[str]:
        """Languages of the documents held."""
        return sorted(self._totals())

    @property
    def paths(self) -> list[str]:
        """Paths of the documents held."""
        return sorted(self.docs)

    def chunk_count(self, language: str) -> int:
        """Chunks held in a language."""
        entry = self._totals().get(language)
        return entry[0] if entry is not None else 0

    def holds(self, path: str, version: str | None) -> bool:
        """Whether this version of the document is complete in the store (as last synced)."""
        entry = self.docs.get(path)
        return entry is not None and (version is None or entry.get("v") == version)

    def _scope(self, language: str | None) -> list[str]:
        """The languages whose statistics score a language's chunks."""
        if language is None or self.chunk_count(language) < MIN_LANGUAGE_CHUNKS:
            return list(self._langs)
        return [language]

    def _stats(self, language: str) -> tuple[Any, int]:
        lang = self._langs.get(language)
        if lang is None:
            return None, 0
        searcher = lang.searcher
        return searcher, int(searcher.num_docs)

    def idf_for(
        self, text: str | Iterable[str], language: str | None = None
    ) -> dict[str, float | None]:
        """BM25 idf of each keyword token of a text (or of the given tokens), None for a token
        no chunk contains; within `language` (all languages for a tiny one), or over all."""
        tokens = tokenize(text) if isinstance(text, str) else list(text)
        known = self._idf_known(tokens, language)
        return {t: known.get(t) for t in dict.fromkeys(tokens)}

    def _idf_known(self, tokens: Iterable[str], language: str | None) -> dict[str, float]:
        tokens = list(dict.fromkeys(tokens))
        langs = self._scope(language)
        total = 0
        df = dict.fromkeys(tokens, 0)
        for lang in langs:
            searcher, n = self._stats(lang)
            if searcher is None or not n:
                continue
            total += n
            for t in tokens:
                df[t] += int(searcher.doc_freq("tokens", t))
        return {t: _idf(total, d) for t, d in df.items() if d > 0}

    def _avgdl(self, language: str) -> float:
        scope = set(self._scope(language))
        held = [(n, t) for lang, (n, t, _p) in self._totals().items() if lang in scope]
        chunks = sum(n for n, _t in held)
        return sum(t for _n, t in held) / chunks if chunks else 0.0

    def ceiling(self, query_tokens: Sequence[str], language: str) -> float:
        """The best BM25 score a chunk of `language` could reach for these tokens (each once).

        Every query word counts, also those no chunk contains (at the rarest idf): an Arabic
        question matching an English passage only on a number is a weak match, not a perfect one.
        Scores are Lucene's BM25 without the (k1 + 1) factor (what bm25s computed before), so a
        saturated term tends to its idf and the ceiling is the sum of the idfs.
        """
        query_tokens = list(dict.fromkeys(query_tokens))
        searcher, n = self._stats(language)
        if searcher is None or not n:
            return 0.0
        return self._ceiling(query_tokens, language, self._idf_known(query_tokens, language))

    def _ceiling(self, query_tokens: list[str], language: str, idf: dict[str, float]) -> float:
        """`ceiling` with the tokens' idf already known (distinct tokens)."""
        if not idf:
            return 0.0
        rarest = _idf(sum(self._stats(lang)[1] for lang in self._scope(language)), 0)
        return sum(idf.get(t, rarest) for t in query_tokens)

    def search(
        self,
        query: str,
        limit: int,
        *,
        languages: Sequence[str] | None = None,
        paths: Sequence[str] | None = None,
    ) -> list[KeywordHit]:
        """Top chunks per language, each score set against its language's ceiling (0..1).

        tantivy finds the candidates; they are rescored here with exact document lengths
        (tantivy stores lengths in one lossy byte, which moved XQuAD rankings measurably).
        """
        import tantivy

        tokens = list(dict.fromkeys(tokenize(query)))
        if not tokens or limit <= 0:
            return []
        out: list[KeywordHit] = []
        for language in languages if languages is not None else list(self._langs):
            searcher, n = self._stats(language)
            if searcher is None or not n:
                continue
            idf = self._idf_known(tokens, language)
            ceiling = self._ceiling(tokens, language, idf)
            if ceiling <= 0:
                continue
            avgdl = self._avgdl(language) or 1.0
            terms = [
                (tantivy.Occur.Should, tantivy.Query.term_query(self._schema, "tokens", t))
                for t in idf
            ]
            query_obj = tantivy.Query.boolean_query(terms)
            if paths is not None:
                only = tantivy.Query.const_score_query(
                    tantivy.Query.term_set_query(self._schema, "path", list(paths)), 0.0
                )
                query_obj = tantivy.Query.boolean_query(
                    [(tantivy.Occur.Must, query_obj), (tantivy.Occur.Must, only)]
                )
            scored = []
            for _score, address in searcher.search(query_obj, limit).hits:
                row = json.loads(bytes(searcher.doc(address)["row"][0]).decode("utf-8"))
                doc_tokens = row["k"].split()
                norm = K1 * (1 - B + B * len(doc_tokens) / avgdl)
                tf: dict[str, int] = {}
                for t in doc_tokens:
                    if t in idf:
                        tf[t] = tf.get(t, 0) + 1
                score = sum(idf[t] * f / (f + norm) for t, f in tf.items())
                if score > 0:
                    scored.append(KeywordHit(row["id"], min(1.0, score / ceiling), row["t"], row["m"]))
            out.extend(sorted(scored, key=lambda h: -h.score))
        return out

    # --- writing -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self) -> Iterator[KeywordIndex]:
        """Hold the writers (one process at a time per folder); uncommitted work is dropped.

        Re-entrant: a sync inside an ingest's writing block keeps the writers open for the rest.
        """
        if self._writing:
            yield self
            return
        self._writing = True
        try:
            yield self
        finally:
            self._writing = False
            for lang in self._langs.values():
                if lang.writer is not None:
                    with contextlib.suppress(Exception):
                        lang.writer.rollback()
                    with contextlib.suppress(Exception):
                        lang.writer.wait_merging_threads()
                    lang.writer = None

    def _writer(self, language: str) -> Any:
        assert self._writing, "open the index with writing() first"
        lang = self._lang(language)
        if lang.writer is None:
            deadline = time.monotonic() + _LOCK_WAIT_SECONDS
            while True:
                try:
                    lang.writer = lang.index.writer(_HEAP, 1)
                    break
                except ValueError:  # another process holds this folder's writer lock
                    if time.monotonic() >= deadline:
                        raise KeywordIndexBusy(str(self.folder)) from None
                    time.sleep(0.05)
        if not self._dirty:
            # Until the next commit records what it holds, a crash leaves the index suspect.
            self._dirty = True
            self.change = None
            self._save()
        return lang.writer

    def acquire(self) -> None:
        """Take every language's writer lock now (fails fast with KeywordIndexBusy)."""
        for language in list(self._langs) or [""]:
            self._writer(language)

    def remove(self, path: str) -> None:
        """Drop every chunk of a document."""
        entry = self.docs.pop(path, None)
        if entry is None:
            return
        self._changed()
        self._writer(entry.get("l", "")).delete_documents_by_term("path", path)

    def replace(
        self,
        path: str,
        version: str,
        language: str,
        source: str,
        rows: Sequence[tuple[str, str, dict[str, Any]]],
    ) -> None:
        """Put this version of a document in place of any other."""
        import tantivy

        self.remove(path)
        writer = self._writer(language)
        writer.delete_documents_by_term("path", path)
        total = 0
        for cid, text, meta in rows:
            tokens = " ".join(tokenize(text))
            total += tokens.count(" ") + 1 if tokens else 0
            payload = json.dumps({"id": cid, "t": text, "m": meta, "k": tokens}, ensure_ascii=False)
            writer.add_document(
                tantivy.Document(id=cid, path=path, tokens=tokens, row=payload.encode("utf-8"))
            )
        self.docs[path] = {"v": version, "l": language, "s": source, "n": len(rows), "t": total}
        self._changed()

    def commit(self, change: str | None = None, live: str | None = None) -> None:
        """Make the writes durable and visible; record the store state they match."""
        for lang in self._langs.values():
            if lang.writer is not None:
                lang.writer.commit()
                lang.refresh()
        if live is not None:
            self.live = live
        self.change = change
        self._dirty = change is None
        self._save()

    def clear(self, live: str | None) -> None:
        """Forget everything (the store was rebuilt or emptied)."""
        for lang in self._langs.values():
            if lang.writer is not None:
                with contextlib.suppress(Exception):
                    lang.writer.rollback()
        self._langs.clear()
        if self.folder is not None and self.folder.exists():
            shutil.rmtree(self.folder, ignore_errors=True)
        self.docs, self.live, self.change = {}, live, None


class KeywordIndexBusy(Exception):
    """Another process is writing this keyword index."""


class _IdfView:
    """`index.idf[token]` / `.get(token, default)` over all languages, computed on demand."""

    def __init__(self, index: KeywordIndex) -> None:
        self._index = index
        self._cache: dict[str, float | None] = {}

    def _lookup(self, token: str) -> float | None:
        if token not in self._cache:
            self._cache[token] = self._index._idf_known([token], None).get(token)
        return self._cache[token]

    def get(self, token: str, default: Any = None) -> Any:
        value = self._lookup(token)
        return default if value is None else value

    def __getitem__(self, token: str) -> float:
        value = self._lookup(token)
        if value is None:
            raise KeyError(token)
        return value

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and self._lookup(token) is not None

    def __bool__(self) -> bool:
        return len(self._index) > 0


# --- keeping the index in step with the store ---------------------------------------------------


def open_for(store: Any, live: str | None) -> KeywordIndex:
    """The keyword index a store keeps for a generation (in memory for stores without a folder)."""
    folder = store.keyword_folder(live) if live is not None else None
    index = KeywordIndex(folder)
    if live is not None and index.live not in (None, live):
        index.clear(live)
    index.live = live
    return index


def sync(index: KeywordIndex, store: Any, key: str | None = None) -> int:
    """Bring the index in step with the store's manifest; returns the chunk rows fetched.

    Only documents whose complete version differs from the one held are fetched; documents that
    are gone or not complete (an interrupted write) are dropped. Raises KeywordIndexBusy when
    another process is writing the index.
    """
    key = store.change_key() if key is None else key
    if key is not None and index.change == key:
        return 0
    manifest = store.manifest_rows() if key is not None else {}
    complete = {p: m for p, m in manifest.items() if m.get("status") == "complete"}
    stale = [p for p, d in index.docs.items() if complete.get(p, {}).get("version") != d.get("v")]
    wanted = [p for p, m in complete.items() if index.docs.get(p, {}).get("v") != m.get("version")]
    if not stale and not wanted:
        if index.change != key:
            index.change = key
            index._save()
        return 0
    fetched = 0
    with index.writing():
        for path in stale:
            index.remove(path)
        for i in range(0, len(wanted), 64):
            batch = wanted[i : i + 64]
            rows: dict[str, list[tuple[str, str, dict[str, Any]]]] = {p: [] for p in batch}
            for cid, text, meta in store.rows_for(batch):
                fetched += 1
                path = meta.get("path", "")
                if path in rows and meta.get("version") == complete[path].get("version"):
                    rows[path].append((cid, text, meta))
            for path in batch:
                m = complete[path]
                index.replace(path, m["version"], m.get("language", ""), m.get("source", ""), rows[path])
        index.commit(change=key)
    return fetched
