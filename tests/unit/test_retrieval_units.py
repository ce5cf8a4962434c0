"""Unit tests for the retrieval helpers, with fakes instead of the embedding model and Chroma."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import assistant.retrieval as retrieval

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


def test_tokenize_keeps_a_words_combining_marks_in_it() -> None:
    # The scripts of India and South-East Asia write most vowels as combining marks, which `\w`
    # does not match. Before: "पेटन मैनिंग" (Peyton Manning) read as "टन" and a lone "म" (dropped),
    # "ब्रोंकोस" (Broncos) was lost, and Thai "เพย์ตัน" read as "เพย" and "ตัน".
    assert tokenize("पेटन मैनिंग ब्रोंकोस") == ["पेटन", "मैनिंग", "ब्रोंकोस"]
    assert tokenize("เพย์ตัน แมนนิง") == ["เพย์ตัน", "แมนนิง"]
    assert tokenize("தமிழ் মানুষ") == ["தமிழ்", "মানুষ"]
    # Latin and Arabic text tokenizes as before (Arabic's own diacritics are still dropped).
    assert tokenize("Tesla’s plants, 2024") == ["tesla", "plant", "2024"]
    assert tokenize("الْمَصْنَع") == tokenize("المصنع") == ["مصنع"]


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


def _scores(index: KeywordIndex, query: str, language: str | None = None) -> dict[str, float]:
    return {h.id: h.score for h in index.search(query, 100, languages=[language] if language else None)}


def test_keyword_index_scores_only_chunks_containing_the_query_terms() -> None:
    index = KeywordIndex.from_rows(ROWS)
    assert list(_scores(index, "cobalt Congo")) == ["a"]


def test_keyword_index_matches_arabic_query_against_article_form_in_text() -> None:
    index = KeywordIndex.from_rows(ROWS)
    scores = _scores(index, "ليثيوم")  # no article in the query, "الليثيوم" in the text
    assert list(scores) == ["c"]  # English "lithium" is another token


def test_keyword_index_normalised_scores_never_exceed_one() -> None:
    index = KeywordIndex.from_rows(ROWS)
    for query in ["lithium", "lithium output", "cobalt Congo battery", "ليثيوم تشيلي", "output"]:
        scores = _scores(index, query)
        assert scores
        assert all(0 < s <= 1.0 for s in scores.values())


@pytest.fixture(autouse=True)
def _per_language_even_for_tiny_fixtures(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """The fixtures here are tiny; most tests want each language scored on its own."""
    if "tiny_language" not in request.node.name:
        import assistant.keyword

        monkeypatch.setattr(assistant.keyword, "MIN_LANGUAGE_CHUNKS", 1)


def test_keyword_index_ceiling_counts_each_query_term_once() -> None:
    index = KeywordIndex.from_rows(ROWS)
    assert index.ceiling(["lithium"], "en") == pytest.approx(index.ceiling(tokenize("lithium Lithium lithiums"), "en"))
    assert _scores(index, "lithium") == pytest.approx(_scores(index, "lithium Lithium lithiums"))


def test_keyword_ceiling_counts_query_words_no_chunk_contains() -> None:
    # A chunk matching one word of a two-word question is a partial match, not a perfect one.
    index = KeywordIndex.from_rows(ROWS)
    partial = _scores(index, "lithium zirconium")
    full = _scores(index, "lithium")
    assert partial.keys() == full.keys() == {"b"}
    assert partial["b"] < full["b"] / 1.5


def test_keyword_scores_are_lucene_bm25_against_the_sum_of_idfs() -> None:
    # Lucene's BM25 without the (k1 + 1) factor: a one-word match of average length scores
    # idf / (1 + k1), against a ceiling of the idf itself.
    index = KeywordIndex.from_rows(
        [_row(f"r{i}", f"word{i} filler{i}", f"/r{i}.txt") for i in range(5)]
    )
    idf = index.idf_for(["word0"], "en")["word0"]
    assert idf is not None
    assert index.ceiling(["word0"], "en") == pytest.approx(idf)
    assert _scores(index, "word0")["r0"] == pytest.approx(1 / 2.2)


def test_keyword_scores_use_exact_document_lengths() -> None:
    # tantivy keeps lengths in one lossy byte; the rescoring uses the exact token counts.
    long_a = " ".join(["cobalt"] + [f"filler{i}" for i in range(60)])
    long_b = " ".join(["cobalt"] + [f"filler{i}" for i in range(62)])
    index = KeywordIndex.from_rows([_row("a", long_a, "/a.txt"), _row("b", long_b, "/b.txt")])
    scores = _scores(index, "cobalt")
    assert scores["a"] > scores["b"]


def test_keyword_index_query_without_known_terms_scores_nothing_with_zero_ceiling() -> None:
    index = KeywordIndex.from_rows(ROWS)
    assert _scores(index, "the of and zirconium") == {}
    assert index.ceiling(tokenize("the of and zirconium"), "en") == 0.0


def test_empty_keyword_index_has_no_rows_and_scores_nothing() -> None:
    index = KeywordIndex.from_rows([])
    assert len(index) == 0
    assert _scores(index, "lithium") == {}


def test_keyword_index_lists_languages_and_paths_once() -> None:
    index = KeywordIndex.from_rows([*ROWS, _row("e", "More lithium.", "/docs/b.txt")])
    assert index.languages == ["ar", "en"]
    assert index.paths == ["/docs/a.txt", "/docs/b.txt", "/docs/c.txt", "/docs/d.txt"]
    assert len(index) == 5


def test_keyword_index_rarer_term_has_higher_idf() -> None:
    index = KeywordIndex.from_rows(ROWS)
    assert index.idf["cobalt"] > index.idf["output"]  # output occurs in two chunks
    assert index.idf.get("zirconium", 1.0) == 1.0
    idf = index.idf_for("Cobalt and zirconium")
    assert idf["zirconium"] is None and idf["cobalt"] == index.idf["cobalt"]
    assert index.idf_for(["cobalt"], "ar") == {"cobalt": None}  # no Arabic chunk has it


def test_a_tiny_language_is_scored_with_the_statistics_of_all() -> None:
    # One misdetected paragraph must not get a ceiling of its own that its one chunk nearly reaches.
    rows = [
        *[_row(f"e{i}", f"Lithium output in mine {i} rose.", f"/e{i}.txt") for i in range(60)],
        _row("pt", "Lithium exports from Brazil.", "/pt.txt", "pt"),
    ]
    index = KeywordIndex.from_rows(rows)
    assert index.idf_for(["lithium"], "pt") == index.idf_for(["lithium"])
    assert index.idf_for(["lithium"], "en") != index.idf_for(["lithium"], "pt")


def test_keyword_statistics_are_per_language() -> None:
    # A word shared by both languages' chunks (a figure) is rare among the Arabic chunks only.
    rows = [
        *[_row(f"e{i}", f"Output reached 2023 levels in mine {i}.", f"/e{i}.txt") for i in range(6)],
        _row("a1", "بلغ الإنتاج مستوى 2023.", "/a1.txt", "ar"),
        _row("a2", "ارتفعت الأسعار بسرعة.", "/a2.txt", "ar"),
    ]
    index = KeywordIndex.from_rows(rows)
    ar, en = index.idf_for(["2023"], "ar")["2023"], index.idf_for(["2023"], "en")["2023"]
    assert ar is not None and en is not None and ar > en


def test_keyword_score_of_a_saturated_match_approaches_the_ceiling() -> None:
    index = KeywordIndex.from_rows(
        [
            _row("x", " ".join(["cobalt"] * 40), "/x.txt"),
            *[
                _row(f"f{i}", f"Filler text about nickel number {i}.", f"/f{i}.txt")
                for i in range(8)
            ],
        ]
    )
    assert _scores(index, "cobalt")["x"] > 0.8


def test_keyword_index_on_disk_is_reopened_with_its_documents(tmp_path: Any) -> None:
    index = KeywordIndex(tmp_path / "kw")
    with index.writing():
        index.replace("/docs/b.txt", "v1", "en", "docs/b.txt", [ROWS[1]])
        index.commit(change="g:1", live="g")
    again = KeywordIndex(tmp_path / "kw")
    assert again.change == "g:1" and again.live == "g"
    assert again.holds("/docs/b.txt", "v1") and not again.holds("/docs/b.txt", "v2")
    assert [h.id for h in again.search("lithium", 5)] == ["b"]
    with again.writing():
        again.remove("/docs/b.txt")
        again.commit(change="g:2")
    assert KeywordIndex(tmp_path / "kw").search("lithium", 5) == []


def test_uncommitted_keyword_writes_leave_the_index_marked_unsynced(tmp_path: Any) -> None:
    index = KeywordIndex(tmp_path / "kw")
    with index.writing():
        index.replace("/docs/b.txt", "v1", "en", "docs/b.txt", [ROWS[1]])
        index.commit(change="g:1", live="g")
        index.replace("/docs/a.txt", "v1", "en", "docs/a.txt", [ROWS[0]])  # never committed
    again = KeywordIndex(tmp_path / "kw")
    assert again.change is None  # a reader will compare it with the manifest
    assert [h.id for h in again.search("cobalt lithium", 5)] == ["b"]


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
    index = KeywordIndex.from_rows(ROWS)
    assert _matching_paths(index, None) is None
    assert _matching_paths(index, "*b.txt") == ["/docs/b.txt"]
    assert _matching_paths(index, "/docs/c*") == ["/docs/c.txt"]  # the absolute path matches too
    assert _matching_paths(index, "d.txt") == ["/docs/d.txt"]  # plain substring of the source
    assert _matching_paths(index, "*nothing*") == []


# --- HybridRetriever with a fake store and fake embeddings -------------------------------------


class FakeStore:
    """Just what HybridSearch uses: change_key, manifest_rows, rows_for, query, vectors_for."""

    def __init__(
        self, rows: list[tuple[str, str, dict[str, Any]]], vectors: dict[str, list[float]]
    ) -> None:
        self.rows = list(rows)
        self.vectors = {
            k: np.asarray(v, dtype=np.float32) / np.linalg.norm(v) for k, v in vectors.items()
        }
        self._version = 1
        self.fetched: list[str] = []
        self.wheres: list[dict[str, Any] | None] = []
        self.ns: list[int] = []

    def change_key(self) -> str | None:
        return f"g:{self._version}" if self.rows else None

    def keyword_folder(self, generation: str) -> None:
        return None  # in memory

    def manifest_rows(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for _cid, _text, meta in self.rows:
            entry = out.setdefault(meta["path"], {**meta, "status": "complete", "version": "v", "chunks": 0})
            entry["chunks"] += 1
        return out

    def rows_for(self, paths: list[str]) -> Any:
        for cid, text, meta in self.rows:
            if meta["path"] in paths:
                self.fetched.append(cid)
                yield cid, text, {**meta, "version": "v"}

    def add(self, row: tuple[str, str, dict[str, Any]], vector: list[float]) -> None:
        self.rows.append(row)
        self.vectors[row[0]] = np.asarray(vector, dtype=np.float32) / np.linalg.norm(vector)
        self._version += 1

    def vectors_for(self, ids: list[str]) -> dict[str, Any]:
        return {cid: self.vectors[cid] for cid in ids if cid in self.vectors}

    def query(self, vector: Any, n: int, where: dict[str, Any] | None = None) -> list[Any]:
        from assistant.store import Match

        self.wheres.append(where)
        self.ns.append(n)
        q = np.asarray(vector, dtype=np.float32)
        q = q / np.linalg.norm(q)
        out = [
            Match(cid, text, {**meta, "version": "v"}, float(self.vectors[cid] @ q))
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
    def __init__(self, vector: list[float] | None = None, language_premium: float = 0.0) -> None:
        self.vector = vector
        self.calls = 0
        self.language_premium = language_premium

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


def test_keyword_index_fetches_only_the_documents_that_changed() -> None:
    store = FakeStore(ROWS, VECTORS)
    retriever = HybridRetriever(store=store, embeddings=FakeEmbeddings())
    first = retriever.keyword_index()
    assert sorted(store.fetched) == ["a", "b", "c", "d"]
    assert retriever.keyword_index() is first
    assert len(store.fetched) == 4  # the store did not change: nothing fetched
    store.add(_row("e", "Gallium export licences tightened.", "/docs/e.txt"), [0.0, 0.5, 0.5])
    second = retriever.keyword_index()
    assert store.fetched[4:] == ["e"]  # only the new document
    assert second.holds("/docs/e.txt", "v")
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


def test_dense_search_is_one_unfiltered_query_unless_a_language_comes_back_short() -> None:
    rows = [
        *ROWS,
        *[_row(f"e{i}", f"English filler {i}.", f"/docs/e{i}.txt") for i in range(6)],
        _row("c2", "نص عربي آخر.", "/docs/c2.txt", "ar"),
    ]
    vectors = {**VECTORS, **{f"e{i}": [1.0, 0.1 * i, 0.0] for i in range(6)}, "c2": [0.0, 1.0, 0.2]}
    store = FakeStore(rows, vectors)
    retriever = HybridRetriever(store=store, embeddings=FakeEmbeddings([1.0, 0.0, 0.0]), candidates=3)
    retriever.search("cobalt", k=3, mode="dense")
    # 3 candidates per language: the unfiltered top 6 holds only one Arabic chunk of two.
    assert store.wheres == [None, {"language": "ar"}]
    assert store.ns == [6, 3]
    store.wheres.clear()
    retriever.candidates = 10
    retriever.search("cobalt", k=3, mode="dense")
    assert store.wheres == [None]  # every language complete in the first answer
    store.wheres.clear()
    retriever.search("cobalt", mode="dense", source="*a.txt")
    assert store.wheres == [{"path": "/docs/a.txt"}]
    store.wheres.clear()
    retriever.search("cobalt", mode="dense", language="en")
    assert store.wheres == [{"language": "en"}]


def test_dense_search_finds_the_same_candidates_as_one_query_per_language() -> None:
    rows = [
        *ROWS,
        *[_row(f"e{i}", f"English filler {i}.", f"/docs/e{i}.txt") for i in range(6)],
    ]
    vectors = {**VECTORS, **{f"e{i}": [1.0, 0.1 * i, 0.3] for i in range(6)}}
    retriever = HybridRetriever(
        store=FakeStore(rows, vectors), embeddings=FakeEmbeddings([1.0, 0.2, 0.1]), candidates=3
    )
    engine = retriever._search_engine()
    index = engine.keyword_index()
    counts = {lang: index.chunk_count(lang) for lang in index.languages}
    groups = engine._dense_groups([1.0, 0.2, 0.1], 3, None, None, ["ar", "en"], counts)
    got = {m.id for g in groups for m in g}
    store = FakeStore(rows, vectors)
    expected = {
        m.id for lang in ("ar", "en") for m in store.query([1.0, 0.2, 0.1], 3, {"language": lang})
    }
    assert got == expected


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


@pytest.mark.parametrize("backend", ["local", "openai"])
def test_configured_model_id_matches_the_embedder_without_importing_it(backend: str) -> None:
    from assistant.assistant import configured_model_id
    from assistant.config import Settings
    from assistant.embeddings import make_embeddings

    settings = Settings(embeddings=backend, openai_base_url="http://127.0.0.1:9/v1")
    assert configured_model_id(settings) == make_embeddings(settings).model_id


def test_a_small_language_that_comes_back_short_is_scored_by_id_without_a_filter() -> None:
    from assistant.store import Match, chunk_id

    class ByIdStore(FakeStore):
        def __init__(self, *a: Any) -> None:
            super().__init__(*a)
            self.by_id: list[list[str]] = []

        def matches_for(self, ids: list[str], vector: Any) -> list[Any]:
            self.by_id.append(list(ids))
            q = np.asarray(vector, dtype=np.float32) / np.linalg.norm(vector)
            return [
                Match(cid, text, {**meta, "version": "v"}, float(self.vectors[cid] @ q))
                for cid, text, meta in self.rows
                if cid in ids
            ]

    rows = [
        *[_row(chunk_id(f"/docs/e{i}.txt", "v", 0), f"English filler {i}.", f"/docs/e{i}.txt") for i in range(6)],
        _row(chunk_id("/docs/p.txt", "v", 0), "Texto em português.", "/docs/p.txt", "pt"),
    ]
    vectors = {r[0]: [1.0, 0.1 * i, 0.0] for i, r in enumerate(rows[:6])}
    vectors[rows[6][0]] = [0.0, 1.0, 0.0]
    store = ByIdStore(rows, vectors)
    retriever = HybridRetriever(store=store, embeddings=FakeEmbeddings([1.0, 0.0, 0.0]), candidates=3)
    hits = retriever.search("x", k=3, mode="dense")
    assert store.wheres == [None]  # no language-filtered query
    assert store.by_id == [[rows[6][0]]]
    assert len(hits) == 3


class IdsStore(FakeStore):
    """A FakeStore that also answers with ids and distances alone, and rows by id (as Store)."""

    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        self.row_requests: list[list[str]] = []

    def query_ids(self, vector: Any, n: int, where: dict[str, Any] | None = None) -> list[Any]:
        return [(m.id, m.similarity) for m in self.query(vector, n, where)]

    def rows_by_id(self, ids: list[str]) -> dict[str, Any]:
        self.row_requests.append(list(ids))
        return {cid: (text, {**meta, "version": "v"}) for cid, text, meta in self.rows if cid in ids}


def _id_rows() -> tuple[list[tuple[str, str, dict[str, Any]]], dict[str, list[float]]]:
    from assistant.store import chunk_id

    texts = [
        ("Cobalt mining in Congo expanded as battery demand rose.", "en"),
        ("Lithium prices fell while lithium output in Chile grew.", "en"),
        ("ارتفع إنتاج الليثيوم في تشيلي هذا العام.", "ar"),
        ("Nickel smelters in Indonesia cut output.", "en"),
        ("Lithium brine in Argentina, lithium again.", "en"),
        ("النيكل في إندونيسيا.", "ar"),
    ]
    rows = [
        _row(chunk_id(f"/docs/{i}.txt", "v", 0), text, f"/docs/{i}.txt", lang)
        for i, (text, lang) in enumerate(texts)
    ]
    vectors = {r[0]: [1.0, 0.3 * i, (-1.0) ** i * 0.2] for i, r in enumerate(rows)}
    return rows, vectors


@pytest.mark.parametrize("mode", ["hybrid", "dense"])
def test_dense_candidates_placed_by_id_rank_exactly_as_with_their_rows(mode: str) -> None:
    rows, vectors = _id_rows()
    fields = ("chunk_id", "text", "score", "similarity", "keyword", "dense_z", "metadata")
    for options in ({}, {"language": "en"}, {"source": "*1.txt"}):
        plain = HybridRetriever(
            store=FakeStore(rows, vectors), embeddings=FakeEmbeddings([1.0, 0.2, 0.0])
        ).search("lithium Chile", k=3, mode=mode, **options)
        store = IdsStore(rows, vectors)
        by_id = HybridRetriever(store=store, embeddings=FakeEmbeddings([1.0, 0.2, 0.0])).search(
            "lithium Chile", k=3, mode=mode, **options
        )
        assert [[getattr(h, f) for f in fields] for h in by_id] == [
            [getattr(h, f) for f in fields] for h in plain
        ]
        # Rows are fetched for the hits returned only, never for every candidate.
        assert 0 < sum(len(r) for r in store.row_requests) <= len(by_id)


def test_a_candidate_whose_row_is_gone_gives_way_to_the_next() -> None:
    rows, vectors = _id_rows()
    store = IdsStore(rows, vectors)
    retriever = HybridRetriever(store=store, embeddings=FakeEmbeddings([1.0, 0.2, 0.0]))
    first = retriever.search("cobalt", k=2, mode="dense", language="en")
    gone = first[0].chunk_id
    real_rows_by_id = store.rows_by_id

    def rows_by_id(ids: list[str]) -> dict[str, Any]:  # deleted after the query answered
        return {cid: row for cid, row in real_rows_by_id(ids).items() if cid != gone}

    store.rows_by_id = rows_by_id  # type: ignore[method-assign]
    again = retriever.search("cobalt", k=2, mode="dense", language="en")
    assert [h.chunk_id for h in again][0] == first[1].chunk_id
    assert len(again) == 2 and gone not in {h.chunk_id for h in again}


def test_keyword_index_sums_per_language_follow_replace_and_remove() -> None:
    index = KeywordIndex.from_rows(ROWS)
    assert index.chunk_counts() == {"en": 3, "ar": 1} and len(index) == 4
    assert index.paths_in("en") == ["/docs/a.txt", "/docs/b.txt", "/docs/d.txt"]
    avgdl = index._avgdl("en")
    with index.writing():
        index.replace("/docs/e.txt", "v", "ar", "docs/e.txt", [("e", "نص عربي آخر هنا.", {"path": "/docs/e.txt"})])
        index.remove("/docs/a.txt")
        index.commit()
    assert index.chunk_counts() == {"en": 2, "ar": 2} and len(index) == 4
    assert index.chunk_count("ar") == 2 and index.languages == ["ar", "en"]
    assert index.paths_in("en") == ["/docs/b.txt", "/docs/d.txt"]
    assert index._avgdl("en") != avgdl
    docs = [d for d in index.docs.values() if d["l"] == "en"]
    assert index._avgdl("en") == sum(d["t"] for d in docs) / sum(d["n"] for d in docs)


def test_held_chunk_places_an_id_only_for_the_version_held() -> None:
    from assistant.store import chunk_id

    rows, _ = _id_rows()
    index = KeywordIndex.from_rows([(cid, text, {**meta, "version": "v"}) for cid, text, meta in rows])
    assert index.held_chunk(chunk_id("/docs/2.txt", "v", 0)) == ("/docs/2.txt", "v", "ar")
    assert index.held_chunk(chunk_id("/docs/2.txt", "w", 0)) is None  # another version
    assert index.held_chunk(chunk_id("/docs/9.txt", "v", 0)) is None  # not held
    assert index.held_chunk("a") is None  # not an id chunk_id writes


def test_store_reading_reads_the_head_once_per_thread(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from assistant.config import Settings
    from assistant.store import Store

    store = Store(Settings(data_dir=tmp_path), "any/model")
    reads: list[str] = []
    heads = iter(f"g{i}" for i in range(100))

    def read_head() -> dict[str, Any]:
        reads.append(threading.current_thread().name)
        return {"live": next(heads), "change": "t"}

    monkeypatch.setattr(store, "_read_head", read_head)
    store.change_key()
    store.change_key()
    assert len(reads) == 2  # outside a reading, every call reads the head
    with store.reading():
        first = store.change_key()
        with store.reading():
            assert store.live() == first.split(":")[0]
        other = threading.Thread(target=lambda: [store.live(), store.live()], name="other")
        other.start()
        other.join()
        assert store.change_key() == first
    assert reads.count("other") == 2  # another thread is not held to this one's head
    assert len(reads) == 5
    assert store.change_key() != first  # after the reading, the head is read again


def _at(similarity: float) -> list[float]:
    """A vector whose cosine with [1, 0, 0] is `similarity`."""
    return [similarity, (1 - similarity**2) ** 0.5, 0.0]


def test_a_language_of_one_document_is_weighed_on_the_scale_of_those_with_a_background(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One English page, every chunk of it on topic (a question about it), and French and German
    # pages by the dozen, one of whose chunks (a cookie notice) comes close to every question.
    rows, vectors = [], {}
    for i, sim in enumerate([0.82, 0.80, 0.78, 0.77, 0.76, 0.75]):
        rows.append(_row(f"en{i}", f"Redcliff paragraph {i}.", "/docs/en.txt"))
        vectors[f"en{i}"] = _at(sim)
    for lang in ("fr", "de"):
        for i in range(12):
            rows.append(_row(f"{lang}{i}", f"Texte {lang} {i}.", f"/docs/{lang}{i // 3}.txt", lang))
            vectors[f"{lang}{i}"] = _at(0.68 + 0.003 * i)
    rows.append(_row("hub", "Cookies akzeptieren.", "/docs/de9.txt", "de"))
    vectors["hub"] = _at(0.765)
    retriever = HybridRetriever(
        store=FakeStore(rows, vectors),
        embeddings=FakeEmbeddings([1.0, 0.0, 0.0], language_premium=0.045),
    )
    question = "Who is the managing director of Redcliff Resources?"
    assert retriever.search(question, k=1, mode="dense")[0].chunk_id == "en0"
    # Before: the page's chunks standardised on their own spread (their mean is how close the
    # page is, not a background), the English best came to z 1.6 and the cookie notice to z 3.
    monkeypatch.setattr(retrieval, "_BACKGROUND_DOCUMENTS", 0)
    assert retriever.search(question, k=1, mode="dense")[0].chunk_id == "hub"
