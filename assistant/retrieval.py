"""Hybrid retrieval: dense (Chroma) and keyword (BM25) evidence, fused score-aware, as a BaseRetriever."""

from __future__ import annotations

import contextlib
import fnmatch
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .evidence import MIN_GROUP
from .keyword import KeywordIndex, KeywordIndexBusy
from .text import ascii_digits, clean_question, normalize_token, tokenize  # noqa: F401 - re-exported

log = logging.getLogger("assistant")

if TYPE_CHECKING:
    from langchain_core.documents import Document

Mode = Literal["hybrid", "dense", "keyword"]

@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with the evidence that ranked it."""

    chunk_id: str
    text: str
    source: str
    path: str
    title: str
    language: str
    start: int
    end: int
    score: float  # fused score used for ranking
    similarity: float  # raw cosine similarity to the question
    keyword: float  # keyword evidence in [0, 1]
    metadata: dict[str, Any] = field(default_factory=dict, repr=False)
    # Dense similarity standardised within the chunk's language candidates: how far this chunk
    # stands above the typical passage of its language for this question.
    dense_z: float = 0.0

    def to_document(self) -> Document:
        """As a LangChain Document (metadata carries the citation fields)."""
        from langchain_core.documents import Document

        meta = {
            **self.metadata,
            "chunk_id": self.chunk_id,
            "source": self.source,
            "title": self.title,
            "language": self.language,
            "start": self.start,
            "end": self.end,
            "score": self.score,
            "similarity": self.similarity,
            "keyword": self.keyword,
        }
        return Document(page_content=self.text, metadata=meta, id=self.chunk_id)


class HybridSearch:
    """Dense search normalised per language, plus keyword evidence weighted by its strength.

    Plain Python, so that a question in the CLI does not pay for importing LangChain's
    retriever machinery; `HybridRetriever` wraps it as a LangChain BaseRetriever.
    """

    def __init__(
        self,
        store: Any,
        embeddings: Any,
        *,
        k: int = 5,
        mode: Mode = "hybrid",
        keyword_weight: float = 4.0,
        candidates: int = 40,
        source: str | None = None,
        language: str | None = None,
    ) -> None:
        self.store = store
        self.embeddings = embeddings
        self.k = k
        self.mode: Mode = mode
        self.keyword_weight = keyword_weight
        self.candidates = candidates
        self.source = source
        self.language = language
        self._index: KeywordIndex | None = None
        self._lock = threading.Lock()
        # A long-lived process (the service) keeps each large language's vectors in memory, so
        # a language that the one unfiltered query brings back short is searched exactly here
        # instead of by a `where`-filtered Chroma query (hundreds of ms at 100k chunks).
        self.memory_vectors = False
        self._memory: dict[str, tuple[str | None, list[str], Any]] = {}

    # --- keyword index, kept in step with the store ------------------------------------------
    def keyword_index(self) -> KeywordIndex:
        """The keyword index, brought in step with the store (one Chroma call when it is)."""
        from . import keyword

        key = self.store.change_key()
        live = key.split(":", 1)[0] if key else None
        with self._lock:
            if self._index is None or self._index.live != live:
                self._index = keyword.open_for(self.store, live)
            index = self._index
            if index.change != key or key is None:
                try:
                    keyword.sync(index, self.store, key)
                except KeywordIndexBusy:
                    # Never a stale index silently: say so (an ingest is writing right now).
                    log.warning(
                        "the keyword index is being written by another process (an ingest?): "
                        "keyword evidence may miss its latest documents until it finishes"
                    )
            return index

    # --- search ------------------------------------------------------------------------------------
    def search(
        self,
        query: str,
        k: int | None = None,
        *,
        source: str | None = None,
        language: str | None = None,
        query_vector: Any = None,
        mode: Mode | None = None,
        index: KeywordIndex | None = None,
        asked_in: str | None = None,
    ) -> list[Hit]:
        """Rank chunks for a query; `query_vector` and `index` let callers reuse their own, and
        `asked_in` the query's language (`evidence.checked_language`) when they have told it."""
        with reading(self.store):  # the store's head read once for the whole search
            return self._search(query, k, source, language, query_vector, mode, index, asked_in)

    def _search(
        self,
        query: str,
        k: int | None,
        source: str | None,
        language: str | None,
        query_vector: Any,
        mode: Mode | None,
        index: KeywordIndex | None,
        asked_in: str | None = None,
    ) -> list[Hit]:
        import numpy as np

        k = k or self.k
        mode = mode or self.mode
        source = source if source is not None else self.source
        language = language if language is not None else self.language
        index = index or self.keyword_index()
        if not len(index):
            return []
        paths = _matching_paths(index, source)
        if paths is not None and not paths:
            return []
        # Chunks per language among the documents searched (all, or those the filter matched).
        counts: dict[str, int] = {}
        documents: dict[str, int] = {}
        if paths is None:
            counts = index.chunk_counts()
            documents = index.document_counts()
        else:
            for path in paths:
                entry = index.docs[path]
                lang = entry.get("l", "")
                counts[lang] = counts.get(lang, 0) + int(entry.get("n", 0))
                documents[lang] = documents.get(lang, 0) + 1
        languages = [language] if language else sorted(counts)
        n = max(self.candidates, k)

        if query_vector is None and mode != "keyword":
            query_vector = self.embeddings.embed_queries_array([query])[0]

        rows: dict[str, tuple[str, dict[str, Any]]] = {}
        similarity: dict[str, float] = {}
        dense_z: dict[str, float] = {}
        real_groups: set[str] = set()
        if mode != "keyword":
            groups = self._dense_groups(query_vector, n, paths, language, languages, counts)
            # Raw cosine favours passages in the question's language; standardising within each
            # language's candidates puts languages on one scale. A language with only a few
            # chunks (often a misdetected paragraph) has no distribution of its own: it is set
            # against all candidates together instead of being inflated by its own tiny spread.
            pooled = np.array([m.similarity for g in groups for m in g], dtype=np.float32)
            def lang_of(matches: list[Any]) -> str:
                return matches[0].metadata.get("language", "")

            asked = asked_in
            thin = any(documents.get(lang_of(g), 0) < _BACKGROUND_DOCUMENTS for g in groups)
            if asked is None and len(groups) > 1 and (thin or len(groups) > 2):
                from .evidence import checked_language

                asked = checked_language(query)
            # Each group of candidates with the mean and spread it is standardised on, and what
            # is taken off its similarities first.
            scales: list[tuple[list[Any], float, float, float]] = []
            # The question's own language, when the store holds only a document or two in it,
            # has no background of its own: its candidates are one topic's, their mean is how
            # close that page is, not how close a passage in the language typically comes. On
            # its own spread the page's best chunk came to z ~ 1 and an Arabic share bar or a
            # Russian footer above it (an English page among four in other languages: R@1
            # 0.55). Such a group is set on the scale of the other languages' candidates, the
            # model's premium for the question's own language taken out of its similarities.
            # Another language's lone page keeps its own spread: on the seeds a Russian question
            # about the English articles then found the Arabic article, on the same topic, first.
            own = next((g for g in groups if asked is not None and lang_of(g) == asked), None)
            if own is not None and len(groups) > 1 and documents.get(asked, 0) < _BACKGROUND_DOCUMENTS:
                others = np.array(
                    [m.similarity for g in groups if g is not own for m in g], dtype=np.float32
                )
                premium = float(getattr(self.embeddings, "language_premium", 0.0) or 0.0)
                scales.append((own, float(others.mean()), float(others.std()), premium))
                if len(own) >= _MIN_GROUP:
                    real_groups.add(asked)
                groups = [g for g in groups if g is not own]
            if _POOL_FOREIGN and len(groups) > 2 and asked is not None:
                # The bias raw cosine needs taken out is toward the question's own language. The
                # other languages are set against each other on one scale: standardised apart, a
                # language that is one document (a French page, a German page) would have its
                # best chunk raised to the top of its own small spread, whatever it says. On four
                # pages in four languages, questions in a fifth: R@1 0.53 -> 0.91.
                own_lang = [g for g in groups if lang_of(g) == asked]
                foreign = [m for g in groups if lang_of(g) != asked for m in g]
                groups = own_lang + ([foreign] if foreign else [])
            for matches in groups:
                sims = np.array([m.similarity for m in matches], dtype=np.float32)
                ref = sims if len(sims) >= _MIN_GROUP else pooled
                if len(sims) >= _MIN_GROUP:
                    real_groups.add(lang_of(matches))
                scales.append((matches, float(ref.mean()), float(ref.std()), 0.0))
            for matches, mu, sd, cut in scales:
                sd = max(sd, 0.02)
                for m in matches:
                    rows[m.id] = (m.text, m.metadata)
                    similarity[m.id] = m.similarity
                    dense_z[m.id] = (m.similarity - cut - mu) / sd

        keyword: dict[str, float] = {}
        if mode != "dense" and (self.keyword_weight > 0 or mode == "keyword"):
            for kh in index.search(query, n, languages=languages, paths=paths):
                if not index.holds(kh.metadata.get("path", ""), kh.metadata.get("version")):
                    continue
                # Against the best any chunk of its language could score: a weak match (a number
                # shared by an Arabic question and an English passage) stays weak instead of
                # being promoted to rank 1 as rank fusion would.
                keyword[kh.id] = kh.score
                rows.setdefault(kh.id, (kh.text, kh.metadata))

        if mode == "keyword":
            ranked = sorted(keyword.items(), key=lambda kv: -kv[1])[:k]
            return [
                self._hit(rows, cid, s, similarity.get(cid, 0.0), s, dense_z.get(cid, 0.0))
                for cid, s in ranked
            ]

        unscored: set[str] = set()
        if mode == "hybrid":
            missing = [cid for cid in keyword if cid not in dense_z]
            if missing and query_vector is not None:
                # Not among the dense candidates of its language, so it ranks below all of them
                # on dense evidence; keyword evidence can still lift it. Its similarity (and
                # whether it still has a vector) is looked up only if it is returned.
                floor = min(dense_z.values()) if dense_z else 0.0
                for cid in missing:
                    dense_z[cid] = floor - 0.5
                unscored = set(missing)

        # Keyword evidence exists only for passages in the question's language. Counted as a
        # shortfall against the best keyword match of the passage's own language, it reorders
        # passages within a language without lifting that language above the others.
        # Tiny language groups (a misdetected paragraph) share the overall best instead.
        def group(cid: str) -> str:
            lang = rows[cid][1].get("language", "")
            return lang if lang in real_groups else "*"

        best_kw: dict[str, float] = {}
        for cid, kw in keyword.items():
            for key in {group(cid), "*"}:
                best_kw[key] = max(best_kw.get(key, 0.0), kw)
        fused = {
            cid: z + self.keyword_weight * (keyword.get(cid, 0.0) - best_kw.get(group(cid), 0.0))
            for cid, z in dense_z.items()
        }
        ranked = sorted(fused.items(), key=lambda kv: -kv[1])
        kept = self._complete(rows, [cid for cid, _score in ranked], k, unscored, query_vector, similarity)
        return [
            self._hit(
                rows, cid, fused[cid], similarity.get(cid, 0.0), keyword.get(cid, 0.0), dense_z[cid]
            )
            for cid in kept
        ]

    def _dense_groups(
        self,
        query_vector: Any,
        n: int,
        paths: list[str] | None,
        only: str | None,
        languages: list[str],
        counts: dict[str, int],
    ) -> list[list[Any]]:
        """The top `n` dense candidates of each language, from one query where possible.

        One query without a language filter (a `where` filter costs far more than the search
        itself at scale), grouped by language here; a filtered query only for a language that
        came back with fewer than `n` candidates while holding more chunks than that.
        Rows of documents that are not completely stored (an interrupted write) are dropped.
        """
        by_lang: dict[str, list[Any]] = {lang: [] for lang in languages}

        def take(matches: list[Any]) -> None:
            seen = {m.id for g in by_lang.values() for m in g}
            for m in matches:
                lang = m.metadata.get("language", "")
                if lang not in by_lang or m.id in seen:
                    continue
                if not self._index_holds(m.metadata):
                    continue
                if len(by_lang[lang]) < n:
                    by_lang[lang].append(m)

        # Enough results that the smallest large language can expect its `n` among them.
        big = [counts.get(lang, 0) for lang in languages if counts.get(lang, 0) > _SMALL_LANGUAGE]
        total = sum(counts.get(lang, 0) for lang in languages) or 1
        wanted = n * len(languages)
        if only is None and big:
            wanted = max(wanted, min(int(1.5 * n * total / min(big)), 1000))
        take(self._query(query_vector, wanted, _where(paths, only)))
        for lang in languages:
            if only is None and len(by_lang[lang]) < min(n, counts.get(lang, 0)):
                by_lang[lang] = []
                ids = self._chunk_ids(lang, paths) if counts.get(lang, 0) <= _SMALL_LANGUAGE else None
                if ids is not None:
                    # A small language (often a misdetected article): its chunks by id, scored
                    # here, instead of a filtered query that costs as much as a large one.
                    take(self.store.matches_for(ids, query_vector))
                elif self.memory_vectors and paths is None and self._language_vectors(lang):
                    take(self._memory_matches(lang, query_vector, n))
                else:
                    take(self._query(query_vector, n, _where(paths, lang)))
        for matches in by_lang.values():
            matches.sort(key=lambda m: -m.similarity)
        return [g for g in by_lang.values() if g]

    def preload_vectors(self) -> int:
        """Load the vectors of every large language into memory (`memory_vectors`); chunks."""
        self.memory_vectors = True
        index = self.keyword_index()
        loaded = 0
        for lang in index.languages:
            if index.chunk_count(lang) > _SMALL_LANGUAGE:
                got = self._language_vectors(lang)
                loaded += len(got[0]) if got else 0
        return loaded

    def _language_vectors(self, lang: str) -> tuple[list[str], Any] | None:
        """(ids, unit vectors) of a language's chunks, read once per store change."""
        import numpy as np

        index = self._index
        if index is None or not hasattr(self.store, "vectors_for"):
            return None
        cached = self._memory.get(lang)
        if cached is not None and cached[0] == index.change:
            return cached[1], cached[2]
        ids = self._chunk_ids(lang, None) or []
        matrix = np.empty((len(ids), 0), dtype=np.float32)
        have: list[str] = []
        for at in range(0, len(ids), _VECTOR_BATCH):
            batch = self.store.vectors_for(ids[at : at + _VECTOR_BATCH])
            found = [cid for cid in ids[at : at + _VECTOR_BATCH] if cid in batch]
            if not found:
                continue
            if matrix.shape[1] == 0:
                matrix = np.empty((len(ids), len(batch[found[0]])), dtype=np.float32)
            matrix[len(have) : len(have) + len(found)] = [batch[cid] for cid in found]
            have.extend(found)
        if not have:
            return None
        matrix = matrix[: len(have)]
        # Cosine, as Chroma's collections measure it, whatever the stored vectors' length.
        matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        self._memory[lang] = (index.change, have, matrix)
        return have, matrix

    def _memory_matches(self, lang: str, query_vector: Any, n: int) -> list[Any]:
        """A language's top `n` by exact cosine over its vectors in memory."""
        import numpy as np

        ids, matrix = self._memory[lang][1], self._memory[lang][2]
        q = np.asarray(query_vector, dtype=np.float32)
        sims = matrix @ (q / max(float(np.linalg.norm(q)), 1e-12))
        top = np.argpartition(-sims, min(n, len(sims)) - 1)[:n] if len(sims) > n else np.arange(len(sims))
        index = self._index
        out = []
        for i in top[np.argsort(-sims[top])]:
            cid = ids[int(i)]
            held = index.held_chunk(cid) if index is not None else None
            if held is not None:  # ids come from the index, so only a concurrent change drops one
                out.append(_placeholder(cid, held, float(sims[int(i)])))
        return out

    def _query(self, query_vector: Any, n: int, where: dict[str, Any] | None) -> list[Any]:
        """`store.query`, but without fetching rows where the keyword index can stand in.

        A candidate's language, path and version come from its id when the index holds that
        document version (what `_index_holds` would find in its metadata); its text and
        metadata are fetched only if it is returned (`_complete`). Ids the index cannot place
        (another version, a row written otherwise) get their metadata from the store as before.
        """
        from .store import Match

        index = self._index
        query_ids = getattr(self.store, "query_ids", None)
        if index is None or query_ids is None or not hasattr(self.store, "rows_by_id"):
            return self.store.query(query_vector, n, where)
        found = query_ids(query_vector, n, where)
        placed = {cid: index.held_chunk(cid) for cid, _sim in found}
        others = self.store.rows_by_id([cid for cid, where_ in placed.items() if where_ is None])
        out = []
        for cid, sim in found:
            held = placed[cid]
            if held is not None:
                out.append(_placeholder(cid, held, sim))
            elif cid in others:
                text, meta = others[cid]
                out.append(Match(cid, text, meta, sim))
        return out

    def _complete(
        self,
        rows: dict[str, tuple[str, dict[str, Any]]],
        ranked: list[str],
        k: int,
        unscored: set[str],
        query_vector: Any,
        similarity: dict[str, float],
    ) -> list[str]:
        """The first `k` of `ranked`, completed: placeholder rows fetched, and the similarity of
        keyword-only candidates (`unscored`) computed from their stored vectors. A candidate whose
        row or vector is gone (a concurrent ingest; a keyword row without a vector) gives way to
        the next, as if it had never been a candidate."""
        import numpy as np

        out: list[str] = []
        at = 0
        q = np.asarray(query_vector, dtype=np.float32) if unscored else None
        while len(out) < k and at < len(ranked):
            batch = ranked[at : at + k - len(out)]
            at += len(batch)
            todo = [cid for cid in batch if rows[cid][1].get(_PLACEHOLDER)]
            fetched = self.store.rows_by_id(todo) if todo else {}
            need = [cid for cid in batch if cid in unscored]
            vectors = self.store.vectors_for(need) if need else {}
            for cid in batch:
                if rows[cid][1].get(_PLACEHOLDER):
                    if cid not in fetched:
                        continue
                    rows[cid] = fetched[cid]
                if cid in unscored:
                    if cid not in vectors:
                        continue
                    similarity[cid] = float(vectors[cid] @ q)
                out.append(cid)
        return out

    def _chunk_ids(self, language: str, paths: list[str] | None) -> list[str] | None:
        """Ids of a language's chunks, derived from the documents the keyword index holds."""
        from .store import chunk_id

        index = self._index
        if index is None or not hasattr(self.store, "matches_for"):
            return None
        wanted = set(paths) if paths is not None else None
        docs = index.docs
        return [
            chunk_id(path, str(docs[path].get("v", "")), i)
            for path in index.paths_in(language)
            if wanted is None or path in wanted
            for i in range(int(docs[path].get("n", 0)))
        ]

    def _index_holds(self, meta: dict[str, Any]) -> bool:
        index = self._index
        return index is None or index.holds(meta.get("path", ""), meta.get("version"))

    def _hit(
        self,
        rows: dict[str, tuple[str, dict[str, Any]]],
        cid: str,
        score: float,
        sim: float,
        kw: float,
        dz: float = 0.0,
    ) -> Hit:
        text, meta = rows[cid]
        return Hit(
            chunk_id=cid,
            text=text,
            source=meta.get("source", ""),
            path=meta.get("path", ""),
            title=meta.get("title", ""),
            language=meta.get("language", ""),
            start=int(meta.get("start", 0)),
            end=int(meta.get("end", 0)),
            score=float(score),
            similarity=float(sim),
            keyword=float(kw),
            metadata=meta,
            dense_z=float(dz),
        )

# Marks the metadata of a dense candidate whose row is not fetched yet (see HybridSearch._query).
_PLACEHOLDER = "\x00placeholder"
# Fewer dense candidates than this in a language: standardise them against all candidates.
_MIN_GROUP = MIN_GROUP  # a module name of its own, so a test can switch the rule off
# Standardise the question's language apart from all the others together (see `_search`).
_POOL_FOREIGN = True
# The question's language holding fewer documents than this among those searched has no
# background of its own (see `_search`); 0 switches the rule off.
_BACKGROUND_DOCUMENTS = 3
# A language with at most this many chunks is scored by id rather than by a filtered query.
_SMALL_LANGUAGE = 500
# Vectors read per Chroma call when a language is loaded into memory.
_VECTOR_BATCH = 5000


def _placeholder(cid: str, held: tuple[str, str, str], similarity: float) -> Any:
    """A dense candidate placed by the keyword index (path, version, language), its row not
    fetched yet (`HybridSearch._complete` fetches it if it is returned)."""
    from .store import Match

    path, version, language = held
    meta = {"path": path, "version": version, "language": language, _PLACEHOLDER: True}
    return Match(cid, "", meta, similarity)


def reading(store: Any) -> Any:
    """`store.reading()` (one read of the store's head for several calls), where it has one."""
    begin = getattr(store, "reading", None)
    return begin() if begin is not None else contextlib.nullcontext()


def _matching_paths(index: KeywordIndex, pattern: str | None) -> list[str] | None:
    if not pattern:
        return None
    out = []
    for path, entry in sorted(index.docs.items()):
        src = str(entry.get("s", ""))
        if fnmatch.fnmatch(src, pattern) or fnmatch.fnmatch(path, pattern) or pattern in src:
            out.append(path)
    return out


def _where(paths: list[str] | None, language: str | None) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = []
    if paths is not None:
        clauses.append({"path": paths[0]} if len(paths) == 1 else {"path": {"$in": paths}})
    if language:
        clauses.append({"language": language})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


_OPTIONS = ("k", "mode", "keyword_weight", "candidates", "source", "language")
_retriever_class: Any = None


def _build_retriever_class() -> Any:
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.retrievers import BaseRetriever
    from pydantic import ConfigDict, Field, PrivateAttr

    class HybridRetriever(BaseRetriever):
        """Our hybrid search as a LangChain BaseRetriever (invoke, batch, ainvoke; `k=` per call)."""

        model_config = ConfigDict(arbitrary_types_allowed=True)

        store: Any = Field(description="assistant.store.Store")
        embeddings: Any = Field(description="an embeddings object with embed_queries_array")
        k: int = Field(5, ge=1, description="Chunks returned.")
        mode: Mode = Field("hybrid", description="hybrid, dense or keyword.")
        keyword_weight: float = Field(4.0, ge=0.0, description="Weight of keyword evidence.")
        candidates: int = Field(40, ge=1, description="Dense candidates per language.")
        source: str | None = Field(None, description="Only sources matching this glob.")
        language: str | None = Field(None, description="Only documents in this language.")
        engine: Any = Field(None, exclude=True, description="A HybridSearch to share.")
        word_vectors: Any = Field(
            None,
            exclude=True,
            description="Query vectors of single words (words -> array); when set, passages in "
            "another language than the question's are reordered by word alignment, as "
            "Assistant.ask does (assistant.alignment).",
        )
        latent_terms: Any = Field(
            None,
            exclude=True,
            description="Latent-terms codes of texts (texts -> codes), which the reorder adds "
            "to the word alignment (assistant.alignment).",
        )

        _engine: HybridSearch | None = PrivateAttr(default=None)

        def _search_engine(self) -> HybridSearch:
            if self._engine is None:
                self._engine = self.engine or HybridSearch(self.store, self.embeddings)
            for name in _OPTIONS:  # fields may be changed after construction
                setattr(self._engine, name, getattr(self, name))
            return self._engine

        def keyword_index(self) -> KeywordIndex:
            """The BM25 index for the store's current version."""
            return self._search_engine().keyword_index()

        def search(self, query: str, k: int | None = None, **options: Any) -> list[Hit]:
            """Ranked hits (see HybridSearch.search)."""
            return self._search_engine().search(query, k, **options)

        def _get_relevant_documents(
            self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
        ) -> list[Document]:
            query = clean_question(query)  # as `Assistant.ask` takes it
            k = kwargs.get("k") or self.k
            source, language = kwargs.get("source"), kwargs.get("language")
            from .alignment import aligned_search
            from .evidence import checked_language

            engine = self._search_engine()
            index = engine.keyword_index()
            asked_in = checked_language(query) if self.word_vectors is not None else None
            hits, _ = aligned_search(  # as Assistant.ask reads them
                lambda n: engine.search(query, n, source=source, language=language, index=index, asked_in=asked_in),
                query,
                k,
                asked_in,
                [language] if language else index.chunk_counts(),
                self.word_vectors,
                self.latent_terms,
            )
            return [h.to_document() for h in hits]

    return HybridRetriever


def __getattr__(name: str) -> Any:
    """`HybridRetriever` is built on first use: LangChain's import costs most of a second."""
    global _retriever_class
    if name == "HybridRetriever":
        if _retriever_class is None:
            _retriever_class = _build_retriever_class()
        return _retriever_class
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
