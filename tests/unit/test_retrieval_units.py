"""Unit tests for the retrieval helpers, with fakes instead of the embedding model and Chroma."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from assistant.retrieval import (
    HybridRetriever,
    KeywordIndex,
    _matching_paths,
    _where,
    normalize_token,
    tokenize,
)

# --- tokenize / normalize_token: English ------------------------------------------------------


def test_tokenize_drops_english_stop_words_and_folds_case() -> None:
    assert tokenize("The Lithium OF the mines") == ["lithium", "mine"]


def test_tokenize_folds_english_plurals() -> None:
    assert tokenize("batteries mines refineries") == ["battery", "mine", "refinery"]


def test_normalize_token_keeps_double_s_and_short_words() -> None:
    assert normalize_token("glass") == "glass"
    assert normalize_token("gas") == "gas"  # too short to be a plural
    assert normalize_token("US") == "us"


def test_tokenize_keeps_single_digits_but_drops_single_letters() -> None:
    assert tokenize("4 x 2024 y") == ["4", "2024"]


def test_tokenize_applies_nfkc_so_ligatures_and_fullwidth_match() -> None:
    assert tokenize("ﬁnance ＬＩＴＨＩＵＭ") == ["finance", "lithium"]


# --- tokenize / normalize_token: Arabic ---------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("الليثيوم", "ليثيوم"),  # the article
        ("والكوبالت", "كوبالت"),  # and + the
        ("بالسيارات", "سيارات"),  # with + the
        ("للبطاريات", "بطاريات"),  # for + the
        ("ومعادن", "معادن"),  # and
    ],
)
def test_normalize_token_strips_arabic_article_and_conjunction_prefixes(
    word: str, stem: str
) -> None:
    assert normalize_token(word) == stem


def test_normalize_token_keeps_short_arabic_words_whole() -> None:
    # Stripping "ال" from a three-letter word would leave a single letter.
    assert normalize_token("الى") == "الي"
    assert normalize_token("وزن") == "وزن"  # too short for the و prefix rule


@pytest.mark.parametrize(
    ("variant", "plain"),
    [
        ("أسعار", "اسعار"),
        ("إنتاج", "انتاج"),
        ("آبار", "ابار"),
        ("شركة", "شركه"),
        ("مستوى", "مستوي"),
    ],
)
def test_normalize_token_folds_arabic_spelling_variants(variant: str, plain: str) -> None:
    assert normalize_token(variant) == plain
    assert tokenize(variant) == tokenize(plain)


def test_normalize_token_removes_tatweel() -> None:
    assert normalize_token("ليثيـــوم") == "ليثيوم"


def test_tokenize_drops_arabic_stop_words() -> None:
    assert tokenize("في عام 2024 من الصين إلى كندا") == ["عام", "2024", "صين", "كندا"]


def test_tokenize_matches_arabic_presentation_forms() -> None:
    # Text copied from PDFs often carries presentation-form letters; NFKC folds them.
    assert tokenize("ﺍﻟﻠﻴﺜﻴﻮﻡ") == ["ليثيوم"]


def test_tokenize_ignores_arabic_diacritics_inside_words() -> None:
    assert tokenize("البَطَّارِيَّة") == tokenize("البطارية") == ["بطاريه"]


def test_tokenize_folds_arabic_indic_digits_to_ascii() -> None:
    # An Arabic question may write ٢٠٢٤ (or Persian-style ۲۰۲۴) where the passage has 2024.
    assert tokenize("عام ٢٠٢٤") == tokenize("عام ۲۰۲۴") == tokenize("عام 2024") == ["عام", "2024"]


# --- KeywordIndex -------------------------------------------------------------------------------


def _row(cid: str, text: str, path: str, language: str = "en") -> tuple[str, str, dict[str, Any]]:
    return (
        cid,
        text,
        {
            "path": path,
            "source": path.lstrip("/"),
            "language": language,
            "start": 0,
            "end": len(text),
        },
    )


ROWS = [
    _row("a", "Cobalt mining in Congo expanded as battery demand rose.", "/docs/a.txt"),
    _row("b", "Lithium prices fell while lithium output in Chile grew.", "/docs/b.txt"),
    _row("c", "ارتفع إنتاج الليثيوم في تشيلي هذا العام.", "/docs/c.txt", "ar"),
    _row("d", "Nickel smelters in Indonesia cut output.", "/docs/d.txt"),
]


def test_keyword_index_scores_only_chunks_containing_the_query_terms() -> None:
    index = KeywordIndex(ROWS)
    scores, ceiling = index.scores("cobalt Congo")
    assert ceiling > 0
    assert scores[index.position["a"]] > 0
    assert [i for i, s in enumerate(scores) if s > 0] == [index.position["a"]]


def test_keyword_index_matches_arabic_query_against_article_form_in_text() -> None:
    index = KeywordIndex(ROWS)
    scores, _ = index.scores("ليثيوم")  # no article in the query, "الليثيوم" in the text
    assert int(np.argmax(scores)) == index.position["c"]
    assert scores[index.position["b"]] == 0  # English "lithium" is another token


def test_keyword_index_normalised_scores_never_exceed_one() -> None:
    index = KeywordIndex(ROWS)
    for query in ["lithium", "lithium output", "cobalt Congo battery", "ليثيوم تشيلي", "output"]:
        scores, ceiling = index.scores(query)
        assert ceiling > 0
        assert float(scores.max()) <= ceiling
        assert float(scores.max()) > 0


def test_keyword_index_ceiling_counts_each_query_term_once() -> None:
    index = KeywordIndex(ROWS)
    once, ceiling_once = index.scores("lithium")
    twice, ceiling_twice = index.scores("lithium Lithium lithiums")
    assert ceiling_once == pytest.approx(ceiling_twice)
    assert np.allclose(once, twice)


def test_keyword_ceiling_counts_query_words_no_chunk_contains() -> None:
    # A chunk matching one word of a two-word question is a partial match, not a perfect one.
    index = KeywordIndex(ROWS)
    partial, with_unknown = index.scores("lithium zirconium")
    full, alone = index.scores("lithium")
    assert np.allclose(partial, full)
    assert with_unknown > alone * 1.5


def test_keyword_index_query_without_known_terms_scores_zero_with_zero_ceiling() -> None:
    index = KeywordIndex(ROWS)
    scores, ceiling = index.scores("the of and zirconium")
    assert ceiling == 0.0
    assert scores.shape == (4,)
    assert not scores.any()


def test_empty_keyword_index_has_no_rows_and_scores_nothing() -> None:
    index = KeywordIndex([])
    assert len(index) == 0
    scores, ceiling = index.scores("lithium")
    assert scores.shape == (0,)
    assert ceiling == 0.0


def test_keyword_index_lists_languages_and_paths_once() -> None:
    index = KeywordIndex([*ROWS, _row("e", "More lithium.", "/docs/b.txt")])
    assert index.languages == ["ar", "en"]
    assert index.paths == ["/docs/a.txt", "/docs/b.txt", "/docs/c.txt", "/docs/d.txt"]


def test_keyword_index_rarer_term_has_higher_idf() -> None:
    index = KeywordIndex(ROWS)
    assert index.idf["cobalt"] > index.idf["output"]  # output occurs in two chunks


def test_keyword_score_of_a_saturated_match_approaches_the_ceiling() -> None:
    index = KeywordIndex(
        [
            _row("x", " ".join(["cobalt"] * 40), "/x.txt"),
            *[
                _row(f"f{i}", f"Filler text about nickel number {i}.", f"/f{i}.txt")
                for i in range(8)
            ],
        ]
    )
    scores, ceiling = index.scores("cobalt")
    assert scores[index.position["x"]] / ceiling > 0.8


# --- _where and _matching_paths ------------------------------------------------------------------


def test_where_without_filters_is_none() -> None:
    assert _where(None, None) is None
    assert _where(None, "") is None


def test_where_with_one_path_is_an_equality() -> None:
    assert _where(["/a.txt"], None) == {"path": "/a.txt"}


def test_where_with_several_paths_uses_in() -> None:
    assert _where(["/a.txt", "/b.txt"], None) == {"path": {"$in": ["/a.txt", "/b.txt"]}}


def test_where_with_language_only() -> None:
    assert _where(None, "ar") == {"language": "ar"}


def test_where_with_paths_and_language_combines_with_and() -> None:
    assert _where(["/a.txt", "/b.txt"], "en") == {
        "$and": [{"path": {"$in": ["/a.txt", "/b.txt"]}}, {"language": "en"}]
    }


def test_matching_paths_by_glob_substring_or_none() -> None:
    index = KeywordIndex(ROWS)
    assert _matching_paths(index, None) is None
    assert _matching_paths(index, "*b.txt") == ["/docs/b.txt"]
    assert _matching_paths(index, "/docs/c*") == ["/docs/c.txt"]  # the absolute path matches too
    assert _matching_paths(index, "d.txt") == ["/docs/d.txt"]  # plain substring of the source
    assert _matching_paths(index, "*nothing*") == []


# --- HybridRetriever with a fake store and fake embeddings -------------------------------------


class FakeCollection:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def get(self, ids: list[str], include: list[str]) -> dict[str, Any]:
        rows = [r for r in self.store.rows if r[0] in ids]
        return {
            "ids": [r[0] for r in rows],
            "embeddings": [self.store.vectors[r[0]] for r in rows],
            "metadatas": [r[2] for r in rows],
        }


class FakeStore:
    """Just what HybridRetriever uses: version, iter_chunks, query, chunks."""

    def __init__(
        self, rows: list[tuple[str, str, dict[str, Any]]], vectors: dict[str, list[float]]
    ) -> None:
        self.rows = list(rows)
        self.vectors = {
            k: np.asarray(v, dtype=np.float32) / np.linalg.norm(v) for k, v in vectors.items()
        }
        self._version = 1
        self.iterations = 0
        self.wheres: list[dict[str, Any] | None] = []

    def version(self) -> int:
        return self._version

    def add(self, row: tuple[str, str, dict[str, Any]], vector: list[float]) -> None:
        self.rows.append(row)
        self.vectors[row[0]] = np.asarray(vector, dtype=np.float32) / np.linalg.norm(vector)
        self._version += 1

    def iter_chunks(self) -> Any:
        self.iterations += 1
        yield from self.rows

    def chunks(self) -> FakeCollection:
        return FakeCollection(self)

    def query(self, vector: Any, n: int, where: dict[str, Any] | None = None) -> list[Any]:
        from assistant.store import Match

        self.wheres.append(where)
        q = np.asarray(vector, dtype=np.float32)
        q = q / np.linalg.norm(q)
        out = [
            Match(cid, text, dict(meta), float(self.vectors[cid] @ q))
            for cid, text, meta in self.rows
            if _matches(meta, where)
        ]
        return sorted(out, key=lambda m: -m.similarity)[:n]


def _matches(meta: dict[str, Any], where: dict[str, Any] | None) -> bool:
    if not where:
        return True
    if "$and" in where:
        return all(_matches(meta, w) for w in where["$and"])
    ((key, cond),) = where.items()
    if isinstance(cond, dict):
        return meta.get(key) in cond["$in"]
    return meta.get(key) == cond


class FakeEmbeddings:
    def __init__(self, vector: list[float] | None = None) -> None:
        self.vector = vector
        self.calls = 0

    def embed_queries_array(self, texts: list[str]) -> Any:
        self.calls += 1
        if self.vector is None:
            raise AssertionError("the query must not be embedded in this mode")
        return np.asarray([self.vector] * len(texts), dtype=np.float32)


VECTORS = {
    "a": [1.0, 0.0, 0.0],
    "b": [0.9, 0.1, 0.0],
    "c": [0.0, 1.0, 0.0],
    "d": [0.0, 0.0, 1.0],
}


def test_keyword_index_is_rebuilt_only_when_the_store_version_changes() -> None:
    store = FakeStore(ROWS, VECTORS)
    retriever = HybridRetriever(store=store, embeddings=FakeEmbeddings())
    first = retriever.keyword_index()
    assert retriever.keyword_index() is first
    assert store.iterations == 1
    store.add(_row("e", "Gallium export licences tightened.", "/docs/e.txt"), [0.0, 0.5, 0.5])
    second = retriever.keyword_index()
    assert second is not first
    assert store.iterations == 2
    assert "e" in second.position
    hits = retriever.search("gallium", mode="keyword")
    assert [h.chunk_id for h in hits] == ["e"]


def test_keyword_mode_never_embeds_the_query() -> None:
    embeddings = FakeEmbeddings(vector=None)  # raises if called
    retriever = HybridRetriever(store=FakeStore(ROWS, VECTORS), embeddings=embeddings)
    hits = retriever.search("lithium Chile", mode="keyword")
    assert [h.chunk_id for h in hits] == ["b"]
    assert embeddings.calls == 0
    assert 0 < hits[0].keyword <= 1.0
    assert hits[0].score == hits[0].keyword


def test_keyword_mode_respects_language_and_source_filters() -> None:
    rows = [*ROWS, _row("e", "Lithium in Chile.", "/docs/e.txt")]
    retriever = HybridRetriever(
        store=FakeStore(rows, {**VECTORS, "e": [1, 1, 0]}), embeddings=FakeEmbeddings()
    )
    assert {h.chunk_id for h in retriever.search("lithium", mode="keyword")} == {"b", "e"}
    assert [h.chunk_id for h in retriever.search("lithium", mode="keyword", source="*e.txt")] == [
        "e"
    ]
    assert retriever.search("lithium", mode="keyword", language="ar") == []
    assert [h.chunk_id for h in retriever.search("ليثيوم", mode="keyword", language="ar")] == ["c"]


def test_search_with_a_source_glob_matching_nothing_returns_nothing_without_embedding() -> None:
    embeddings = FakeEmbeddings(vector=None)
    retriever = HybridRetriever(store=FakeStore(ROWS, VECTORS), embeddings=embeddings)
    assert retriever.search("lithium", source="*missing*") == []
    assert embeddings.calls == 0


def test_search_on_an_empty_store_returns_nothing() -> None:
    retriever = HybridRetriever(store=FakeStore([], {}), embeddings=FakeEmbeddings(vector=None))
    assert retriever.search("lithium") == []


def test_dense_candidates_are_queried_once_per_language_with_filters() -> None:
    store = FakeStore(ROWS, VECTORS)
    retriever = HybridRetriever(store=store, embeddings=FakeEmbeddings([1.0, 0.0, 0.0]))
    retriever.search("cobalt", mode="dense")
    assert store.wheres == [{"language": "ar"}, {"language": "en"}]
    store.wheres.clear()
    retriever.search("cobalt", mode="dense", source="*a.txt")
    assert store.wheres == [
        {"$and": [{"path": "/docs/a.txt"}, {"language": "ar"}]},
        {"$and": [{"path": "/docs/a.txt"}, {"language": "en"}]},
    ]
    store.wheres.clear()
    retriever.search("cobalt", mode="dense", language="en")
    assert store.wheres == [{"language": "en"}]


def test_dense_mode_ranks_by_similarity_and_reports_it() -> None:
    retriever = HybridRetriever(
        store=FakeStore(ROWS, VECTORS), embeddings=FakeEmbeddings([1.0, 0.0, 0.0])
    )
    hits = retriever.search("anything", k=2, mode="dense", language="en")
    assert [h.chunk_id for h in hits] == ["a", "b"]
    assert hits[0].similarity == pytest.approx(1.0, abs=1e-5)
    assert hits[0].keyword == 0.0


def test_hybrid_keyword_evidence_lifts_an_exact_term_match_over_a_denser_neighbour() -> None:
    store = FakeStore(ROWS, VECTORS)
    retriever = HybridRetriever(
        store=store, embeddings=FakeEmbeddings([1.0, 0.0, 0.0]), keyword_weight=1.0
    )
    dense = retriever.search("lithium prices Chile", k=2, mode="dense", language="en")
    hybrid = retriever.search("lithium prices Chile", k=2, mode="hybrid", language="en")
    assert [h.chunk_id for h in dense] == ["a", "b"]
    assert [h.chunk_id for h in hybrid] == ["b", "a"]
    assert hybrid[0].keyword > 0


def test_hybrid_with_zero_keyword_weight_is_dense_order() -> None:
    store = FakeStore(ROWS, VECTORS)
    retriever = HybridRetriever(
        store=store, embeddings=FakeEmbeddings([1.0, 0.0, 0.0]), keyword_weight=0.0
    )
    hits = retriever.search("lithium prices Chile", k=2, language="en")
    assert [h.chunk_id for h in hits] == ["a", "b"]


def test_search_returns_at_most_k_hits_with_citation_fields() -> None:
    retriever = HybridRetriever(
        store=FakeStore(ROWS, VECTORS), embeddings=FakeEmbeddings([1.0, 1.0, 1.0])
    )
    hits = retriever.search("lithium", k=3)
    assert len(hits) == 3
    assert len({h.chunk_id for h in hits}) == 3
    for h in hits:
        text = dict((r[0], r[1]) for r in ROWS)[h.chunk_id]
        assert h.text == text
        assert h.source == h.path.lstrip("/")
        assert (h.start, h.end) == (0, len(text))
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_invoke_returns_documents_honouring_k_and_filter_kwargs() -> None:
    retriever = HybridRetriever(
        store=FakeStore(ROWS, VECTORS), embeddings=FakeEmbeddings([1.0, 1.0, 1.0]), k=4
    )
    docs = retriever.invoke("lithium")
    assert len(docs) == 4
    one = retriever.invoke("lithium", k=1, language="ar")
    assert [d.id for d in one] == ["c"]
    meta = one[0].metadata
    assert meta["chunk_id"] == "c" and meta["language"] == "ar" and meta["source"] == "docs/c.txt"
    assert {"start", "end", "score", "similarity", "keyword"} <= set(meta)
