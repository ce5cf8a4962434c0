"""Hybrid retrieval: dense (Chroma) and keyword (BM25) evidence, fused score-aware, as a BaseRetriever."""

from __future__ import annotations

import fnmatch
import math
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .text import ascii_digits, normalize_token, tokenize  # noqa: F401 - re-exported

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


class KeywordIndex:
    """BM25 (bm25s) over every chunk, plus the chunk metadata it was built from."""

    k1 = 1.2
    b = 0.75

    def __init__(self, rows: list[tuple[str, str, dict[str, Any]]]) -> None:
        import bm25s

        self.ids = [r[0] for r in rows]
        self.texts = [r[1] for r in rows]
        self.metas = [r[2] for r in rows]
        self.position = {cid: i for i, cid in enumerate(self.ids)}
        corpus_tokens = [tokenize(t) for t in self.texts]
        df: Counter[str] = Counter()
        for toks in corpus_tokens:
            df.update(set(toks))
        n = max(len(rows), 1)
        # BM25's Lucene idf, kept here too so a score can be set against the best it could be.
        self.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self.languages = sorted({m.get("language", "") for m in self.metas})
        self.paths = sorted({m.get("path", "") for m in self.metas})
        self._bm25 = None
        if rows:
            self._bm25 = bm25s.BM25(k1=self.k1, b=self.b, method="lucene")
            # Pre-tokenised input: bm25s wants (ids, vocab); build them from our tokens.
            vocab: dict[str, int] = {}
            ids = [[vocab.setdefault(t, len(vocab)) for t in toks] or [vocab.setdefault("", len(vocab))] for toks in corpus_tokens]
            self._vocab = vocab
            self._bm25.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)

    def __len__(self) -> int:
        return len(self.ids)

    def idf_for(self, text: str) -> dict[str, float | None]:
        """The store's idf of each keyword token of a text (None: the store never uses it)."""
        return {t: self.idf.get(t) for t in dict.fromkeys(tokenize(text))}

    def scores(self, query: str) -> tuple[Any, float]:
        """BM25 score of every chunk for the query, and the best score any chunk could reach."""
        import numpy as np

        query_tokens = list(dict.fromkeys(tokenize(query)))
        toks = [t for t in query_tokens if t in self._vocab] if self._bm25 else []
        if not toks:
            return np.zeros(len(self.ids), dtype=np.float32), 0.0
        assert self._bm25 is not None
        scores = self._bm25.get_scores(toks)
        # The ceiling counts every query word, also those no chunk contains (at the idf of the
        # rarest word): an Arabic question matching an English passage only on a number is a
        # weak match, not a perfect one.
        rarest = math.log(1 + (len(self.ids) + 0.5) / 0.5)
        # bm25s' lucene variant has no (k1 + 1) factor: a chunk's score tends to sum(idf).
        ceiling = sum(self.idf.get(t, rarest) for t in query_tokens)
        return np.asarray(scores, dtype=np.float32), float(ceiling)


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
        self._index_version: int | None = None
        self._lock = threading.Lock()

    # --- keyword index, kept in step with the store ------------------------------------------
    def keyword_index(self) -> KeywordIndex:
        """The BM25 index for the store's current version (rebuilt when the store changed)."""
        version = self.store.version()
        with self._lock:
            if self._index is None or self._index_version != version:
                self._index = KeywordIndex(list(self.store.iter_chunks()))
                self._index_version = version
            return self._index

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
    ) -> list[Hit]:
        """Rank chunks for a query; `query_vector` and `index` let callers reuse their own."""
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
        languages = [language] if language else index.languages

        if query_vector is None and mode != "keyword":
            query_vector = self.embeddings.embed_queries_array([query])[0]

        similarity: dict[str, float] = {}
        dense_z: dict[str, float] = {}
        real_groups: set[str] = set()
        if mode != "keyword":
            groups: list[list[Any]] = []
            for lang in languages:
                matches = self.store.query(query_vector, max(self.candidates, k), _where(paths, lang))
                if matches:
                    groups.append(matches)
            # Raw cosine favours passages in the question's language; standardising within each
            # language's candidates puts languages on one scale. A language with only a few
            # chunks (often a misdetected paragraph) has no distribution of its own: it is set
            # against all candidates together instead of being inflated by its own tiny spread.
            pooled = np.array([m.similarity for g in groups for m in g], dtype=np.float32)
            for matches in groups:
                sims = np.array([m.similarity for m in matches], dtype=np.float32)
                ref = sims if len(sims) >= _MIN_GROUP else pooled
                if len(sims) >= _MIN_GROUP:
                    real_groups.add(matches[0].metadata.get("language", ""))
                mu, sd = float(ref.mean()), max(float(ref.std()), 0.02)
                for m in matches:
                    similarity[m.id] = m.similarity
                    dense_z[m.id] = (m.similarity - mu) / sd

        keyword: dict[str, float] = {}
        if mode != "dense" and (self.keyword_weight > 0 or mode == "keyword"):
            scores, ceiling = index.scores(query)
            if ceiling > 0:
                allowed = np.ones(len(index), dtype=bool)
                if paths is not None:
                    allowed &= np.array([m.get("path") in paths for m in index.metas])
                if language:
                    allowed &= np.array([m.get("language") == language for m in index.metas])
                scores = np.where(allowed, scores, 0.0)
                top = np.argsort(-scores)[: max(self.candidates, k)]
                for i in top:
                    if scores[i] > 0:
                        # Against the best any chunk could score: a weak match (a number shared
                        # by an Arabic question and an English passage) stays weak instead of
                        # being promoted to rank 1 as rank fusion would.
                        keyword[index.ids[i]] = min(1.0, float(scores[i]) / ceiling)

        if mode == "keyword":
            ranked = sorted(keyword.items(), key=lambda kv: -kv[1])[:k]
            return [
                self._hit(index, cid, s, similarity.get(cid, 0.0), s, dense_z.get(cid, 0.0))
                for cid, s in ranked
            ]

        if mode == "hybrid":
            missing = [cid for cid in keyword if cid not in dense_z]
            if missing and query_vector is not None:
                self._fill_dense(missing, query_vector, similarity, dense_z)

        # Keyword evidence exists only for passages in the question's language. Counted as a
        # shortfall against the best keyword match of the passage's own language, it reorders
        # passages within a language without lifting that language above the others.
        # Tiny language groups (a misdetected paragraph) share the overall best instead.
        def group(cid: str) -> str:
            lang = index.metas[index.position[cid]].get("language", "")
            return lang if lang in real_groups else "*"

        best_kw: dict[str, float] = {}
        for cid, kw in keyword.items():
            for key in {group(cid), "*"}:
                best_kw[key] = max(best_kw.get(key, 0.0), kw)
        fused = {
            cid: z + self.keyword_weight * (keyword.get(cid, 0.0) - best_kw.get(group(cid), 0.0))
            for cid, z in dense_z.items()
        }
        ranked = sorted(fused.items(), key=lambda kv: -kv[1])[:k]
        return [
            self._hit(
                index, cid, score, similarity.get(cid, 0.0), keyword.get(cid, 0.0), dense_z[cid]
            )
            for cid, score in ranked
        ]

    def _fill_dense(
        self, ids: list[str], query_vector: Any, similarity: dict[str, float], dense_z: dict[str, float]
    ) -> None:
        """Dense similarity for keyword-only candidates, z-scored against the worst dense candidate."""
        import numpy as np

        collection = self.store.chunks()
        res = collection.get(ids=ids, include=["embeddings", "metadatas"])
        if not len(res["ids"]):
            return
        vecs = np.asarray(res["embeddings"], dtype=np.float32)
        sims = vecs @ np.asarray(query_vector, dtype=np.float32)
        floor = min(dense_z.values()) if dense_z else 0.0
        for cid, s in zip(res["ids"], sims):
            similarity[cid] = float(s)
            # Not among the dense candidates of its language, so it ranks below all of them
            # on dense evidence; keyword evidence can still lift it.
            dense_z[cid] = floor - 0.5

    def _hit(
        self, index: KeywordIndex, cid: str, score: float, sim: float, kw: float, dz: float = 0.0
    ) -> Hit:
        meta = index.metas[index.position[cid]]
        return Hit(
            chunk_id=cid,
            text=index.texts[index.position[cid]],
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

# Fewer dense candidates than this in a language: standardise them against all candidates.
_MIN_GROUP = 5


def _matching_paths(index: KeywordIndex, pattern: str | None) -> list[str] | None:
    if not pattern:
        return None
    out = []
    for meta in index.metas:
        src, path = meta.get("source", ""), meta.get("path", "")
        if path in out:
            continue
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
            hits = self.search(
                query,
                kwargs.get("k") or self.k,
                source=kwargs.get("source"),
                language=kwargs.get("language"),
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
