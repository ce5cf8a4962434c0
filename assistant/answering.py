"""Answers: the Answer object, the extractive answerer, and helpers the LLM answerer shares.

The decline decision lives in `evidence.py`, citations and their verification in `citations.py`.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .alignment import words_of
from .citations import (  # noqa: F401 - re-exported for the LLM answerer and older imports
    MARKER,
    Citation,
    MarkerFilter,
    best_quote,
    citations_for,
    parse_markers,
    verify_citations,
)
from .evidence import (  # noqa: F401 - re-exported
    DECLINE_MESSAGES,
    DECLINE_TOKEN,
    asked_type,
    decline_message,
    question_language,
    quote_language_note,
    states_type,
)
from .text import light_stem, tokenize
from .transliteration import NameMatcher, lower_words, passage_names, question_names

if TYPE_CHECKING:
    from .alignment import Aligner
    from .config import Settings
    from .retrieval import Hit
    from .sentences import Sentence

_DECLINE_PHRASES = re.compile(
    r"(do(es)? not (contain|answer|mention|say|provide)|no (information|answer)|cannot (be )?answer|"
    r"can['’]t answer|not (in|covered by) the (indexed )?(articles|sources)|لا تتضمن|لا تحتوي|لا تجيب)",
    re.IGNORECASE,
)
# A sentence opening with one of these leans on the sentence before it for its subject.
_ANAPHORA = re.compile(
    r"^(they|they['’]ll|they['’]re|these|this|those|it|its|it['’]s|he|she|his|her|such|both|the latter|"
    r"the former|él|ella|ellos|ellas|esto|este|esta|estos|estas|elle|ils|elles|cela|ceci|sie|er|"
    r"es|dies|diese|ele|ela|eles|elas|"
    # Arabic writes "and"/"so" (و, ف) onto the pronoun: "وهو كذلك…" (and he is also…).
    r"[وف]?(?:هم|هي|هو|هذه|هذا|تلك|ذلك|هؤلاء))\b",
    re.IGNORECASE,
)
_TERMINAL = re.compile(r"[.!?؟。！？…][\"'”’»)\]]*$")


@dataclass
class Answer:
    """What `ask` returns: text, whether it answered, citations and how it was made."""

    question: str
    text: str
    answered: bool
    citations: list[Citation]
    provider: str
    model: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    standalone_question: str | None = None
    context: list[Hit] = field(default_factory=list, repr=False)
    dropped_markers: list[int] = field(default_factory=list)
    decline_reason: str | None = None
    truncated: bool = False  # the text is an LLM reply cut at the token budget or the timeout
    finish_reason: str | None = None  # the LLM reply's: stop, length, or ours: budget, timeout, cut
    fallback: bool = False  # the LLM's reply was not accepted; this is the extractive answer
    fallback_reason: str | None = None  # why the LLM's reply was not accepted
    language: str = "en"  # the language of the reply
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The `ask --json` object."""
        return {
            "question": self.question,
            "answer": self.text,
            "answered": self.answered,
            "citations": [c.to_dict() for c in self.citations],
            "provider": self.provider,
            "model": self.model,
            "timings_ms": self.timings_ms,
            "usage": self.usage,
            "standalone_question": self.standalone_question,
            "dropped_markers": self.dropped_markers,
            "decline_reason": self.decline_reason,
            "truncated": self.truncated,
            "finish_reason": self.finish_reason,
            "fallback": self.fallback,
            "fallback_reason": self.fallback_reason,
            "language": self.language,
            "evidence": self.evidence,
        }


# --- extractive --------------------------------------------------------------------------------
@dataclass
class Candidate:
    """A sentence the extractive answerer may quote, with its score."""

    sentence: Sentence
    similarity: float
    score: float = 0.0
    coverage: float = 0.0  # local-idf share of the question's words in the sentence (+ antecedent)
    aligned: float = 0.0  # word alignment with the question, for a sentence in another language
    latent: float = 0.0  # latent-terms cosine with the question, for such a sentence
    # The similarity the sentence is chosen by: with its antecedent, for an anaphoric one, when
    # that is closer (0: its own). The decline evidence keeps `similarity`.
    read_similarity: float = 0.0
    names: float = 0.0  # the question's names it writes in another script or spelling (`transliteration`)
    antecedent: Candidate | None = None
    heading: bool = False
    # The document's next sentence (in this chunk or the next one retrieved), when this one lacks
    # the asked type and that one states it (a news lead over its figure: "PT HML shipped its
    # first MHP. 12,000 tonnes left…").
    completion: Candidate | None = None


def _is_title(sentence: Sentence, hit: Hit) -> bool:
    """Whether a sentence is the article's title on a line of its own (a title taken from a
    file's first sentence, when it has no title line, is prose)."""
    before = hit.text[: sentence.start - hit.start]
    after = hit.text[sentence.end - hit.start :]
    alone = (not before.strip(" \t") or before.rstrip(" \t").endswith("\n")) and (
        not after.strip(" \t") or after.lstrip(" \t").startswith("\n")
    )
    return alone and " ".join(sentence.text.split()).casefold() == " ".join(hit.title.split()).casefold()


def is_heading(text: str) -> bool:
    """A title or heading line: short, without a sentence's final punctuation, and stating no
    figure (a headline with one, "Geely invests $4.6bn in a battery plant", is a claim)."""
    stripped = text.strip()
    return (
        not _TERMINAL.search(stripped)
        and len(stripped.split()) < 12
        and not any(ch.isdigit() for ch in stripped)
    )


class ExtractiveAnswerer:
    """Answers with the best sentences of the retrieved chunks, verbatim, each cited.

    Retrieval already put the chunks on one scale across languages (per-language standardised
    similarity plus same-language keyword evidence). A sentence is scored against its own chunk:
    the chunk's fused score, plus how much closer to the question the sentence is than its chunk
    (a same-language comparison), plus the question's locally rare words it holds (a penalty
    against the best sentence of its language, so words never lift one language over another).
    """

    provider = "extractive"
    CHUNK_WEIGHT = 0.5
    SENTENCE_WEIGHT = 1.0
    SENTENCE_SCALE = 0.045  # cosine units per point of score
    # A best sentence lacking the asked type is answered with the next one that states it.
    COMPLETE_TYPE = True
    KEYWORD_WEIGHT = 0.7
    # Score points per unit of word alignment (`alignment`) for sentences in another language
    # than the question's, where words cannot be compared as they are.
    ALIGN_WEIGHT = 20.0
    # Score points per unit of latent-terms cosine (`alignment.Aligner.latent_scores`) for those
    # sentences. Whole XQuAD, gold span in the answer at 0 / 10 / 20: ar->en 0.660 / 0.672 /
    # 0.670, es->en 0.803 / 0.823 / 0.826, en->ar 0.607 / 0.613 / 0.617 (bench/RESULTS.md 7e).
    LATENT_WEIGHT = 20.0
    LATENT_SENTENCES = 8  # the sentences per question weighed by latent terms
    HEADING_PENALTY = 1.5
    # How far below the best sentence (score points) the second one may be, and each later one
    # (the `extractive_sentences` budget allows three): a later sentence must be nearly as good
    # as the best, else a shorter answer beats a padded one. Whole XQuAD, gold span in the
    # answer / mean characters, two sentences within 2.5 (before) and three within 2.0 / 1.0
    # (now): en->en 0.920 / 337 and 0.929 / 336, ar->ar 0.824 / 244 and 0.832 / 245, es->es
    # 0.888 / 378 and 0.907 / 386, ar->en 0.694 / 408 and 0.711 / 445 (bench/RESULTS.md 7h).
    MARGIN = 2.0
    LATER_MARGIN = 1.0
    # Score points for a second sentence beside the first one (or its antecedent) in its chunk:
    # it is likelier to complete it than a sentence elsewhere ("The neighborhood lies west of
    # the 41 freeway" follows the sentence naming it). Whole XQuAD, gold span in the answer at
    # 0 / 0.25 / 0.5 / 0.75 / 1 / 2: en->en 0.910 / 0.913 / 0.915 / 0.916 / 0.914 / 0.908,
    # ar->ar 0.814 / 0.819 / 0.819 / 0.819 / 0.817 / 0.815, es->es 0.877 / 0.882 / 0.883 /
    # 0.882 / 0.882 / 0.871, ar->en 0.686 / 0.690 / 0.690 / 0.684 / 0.683 / 0.677
    # (bench/RESULTS.md 7g).
    NEIGHBOUR_BONUS = 0.5
    # A second sentence that shares no word with the question (always so across languages) is
    # still no padding when it is about as close to the question as the first one.
    SECOND_SIMILARITY = 0.04
    # Score points for the question's names a sentence writes in another script or spelling
    # ("ماسترخت": "Maastricht"; `transliteration`), as a share of the question's words weighed
    # by how few sentences hold each. Whole XQuAD ar->en, gold span in the answer at 0 / 1 / 2 /
    # 5: 0.7353 / 0.7378 / 0.7378 / 0.726 (bench/RESULTS.md 7i).
    NAME_WEIGHT = 2.0
    # Score points for a sentence stating what the question asks for (an amount, a share, a
    # year: `evidence.answer_type_missing`), since a best sentence stating none declines. Kept
    # XQuAD stores, with that decline, gold span in the answer / false declines at 0 / 1 / 2 / 4:
    # en->en 0.9311 / 27, 0.9361 / 20, 0.9361 / 20, 0.9361 / 20; ar->ar 0.8286 / 69, 0.8328 /
    # 65, 0.8311 / 66, 0.8353 / 60; es->en 0.8496 / 50, 0.8504 / 48, 0.8513 / 47, 0.8529 / 44.
    # Above 2 a figure in an off-topic sentence lifts it over the on-topic one: the seed dev set's
    # "What share of global cobalt refining does China control?" was answered (bench/RESULTS.md 7k).
    TYPE_WEIGHT = 2.0

    def __init__(self, settings: Settings, model_id: str) -> None:
        self.settings = settings
        self.model = model_id

    def answer(
        self,
        question: str,
        hits: Sequence[Hit],
        sentences: Sequence[Sentence],
        similarities: Any,
        language: str = "en",
    ) -> tuple[str, list[Citation]]:
        """The answer text with [n] markers numbered in reading order, and its citations."""
        picked = self.select(question, hits, sentences, similarities)
        return compose(picked, hits, language)

    def candidates(
        self,
        question: str,
        hits: Sequence[Hit],
        sentences: Sequence[Sentence],
        similarities: Any,
        language: str | None = None,
        aligner: Aligner | None = None,
        spelling: Mapping[str, str] | None = None,
        similar: Callable[[Sequence[str]], Any] | None = None,
    ) -> list[Candidate]:
        """Every sentence of the retrieved chunks, scored.

        With the question's `language` and an `aligner`, sentences in other languages are also
        weighed by their word alignment with the question (against their own language only).
        `spelling` maps question tokens the store never uses to the evidence's spelling of them
        (`evidence.spelling_for`). `similar` gives texts' cosines with the question: an
        anaphoric sentence is then ranked by its pair with its antecedent when that is closer.
        """
        if not hits or not sentences:
            return []
        cands = [Candidate(s, float(x)) for s, x in zip(sentences, similarities)]
        by_pos = {(c.sentence.hit, c.sentence.index): c for c in cands}
        for c in cands:
            # The article's own title is a heading even when it ends like a sentence ("… What
            # Could the U.S. Produce?"): quoted, it only names the article.
            c.heading = is_heading(c.sentence.text) or _is_title(c.sentence, hits[c.sentence.hit])
        contexts = []
        for c in cands:
            prev = by_pos.get((c.sentence.hit, c.sentence.index - 1))
            if (
                prev is not None
                and not prev.heading
                and _ANAPHORA.match(c.sentence.text.lstrip("“\"'(«"))
            ):
                c.antecedent = prev
            contexts.append(
                (c.antecedent.sentence.text + " " if c.antecedent else "") + c.sentence.text
            )
        if similar is not None:
            # An anaphoric sentence ("They'll start with mining nickel and lithium.") says what
            # it says with its antecedent: measured with it, when that is closer. Kept stores,
            # gold span in the answer: en->en 0.9319 -> 0.9361, ar->en 0.7345 -> 0.7370, es->en
            # 0.8471 -> 0.8513, ar->ar 0.8328 -> 0.8345 (bench/RESULTS.md 7j).
            linked = [i for i, c in enumerate(cands) if c.antecedent is not None]
            if linked:
                for i, value in zip(linked, similar([contexts[i] for i in linked])):
                    cands[i].read_similarity = max(cands[i].similarity, float(value))
        # Words of the question that every candidate shares (the article's topic) say little
        # about which sentence answers; the locally rare ones do.
        tokens = [tokenize(t) for t in contexts]
        # Matched on light stems: an Arabic sentence's "بأربع" answers a question's "أربعة".
        token_sets = [{light_stem(t) for t in toks} for toks in tokens]
        spelling = spelling or {}
        # A name the question writes in another script than a sentence's ("ماسترخت", Maastricht)
        # is the question's word found there (`transliteration`).
        matcher = NameMatcher(question_names(question, spelling)) if self.NAME_WEIGHT else None
        common = lower_words(h.text for h in hits) if matcher else set()
        found = [
            matcher.found(
                passage_names(text, common),
                same_script=language is not None and c.sentence.language != language,
            )
            if matcher
            else set()
            for c, text in zip(cands, contexts)
        ]
        local_df: dict[str, int] = {}
        for toks in token_sets:
            for t in toks:
                local_df[t] = local_df.get(t, 0) + 1
        asked = [light_stem(spelling.get(t, t)) for t in tokenize(question)]
        q_terms = [t for t in dict.fromkeys(asked) if t in local_df]
        weights = {t: math.log(1 + len(cands) / local_df[t]) for t in q_terms}
        total = sum(weights.values())
        for c, toks in zip(cands, token_sets):
            c.coverage = sum(weights[t] for t in q_terms if t in toks) / total if total else 0.0
        if any(found):
            # Against all the question's words (a name is one of them), each weighed by how
            # few sentences name it.
            name_df: dict[str, int] = {}
            for keys in found:
                for key in keys:
                    name_df[key] = name_df.get(key, 0) + 1
            every = len(set(asked)) or 1
            for c, keys in zip(cands, found):
                c.names = sum(math.log(1 + len(cands) / name_df[k]) for k in keys) / (
                    every * math.log(1 + len(cands))
                )
        if aligner is not None and language is not None:
            other = [i for i, c in enumerate(cands) if c.sentence.language != language]
            for i, value in zip(other, aligner.scores_of([words_of(tokens[i]) for i in other])):
                cands[i].aligned = value
        # Similarity and words weigh sentences within a language; across languages only the
        # chunks' fused scores (retrieval put them on one scale) decide. So each sentence is
        # measured from the best sentence of its own language, plus its chunk's standing.
        # A question asking for an amount, a share or a year is answered by a sentence stating
        # one (`evidence.answer_type_missing`).
        kind = asked_type(question) if self.TYPE_WEIGHT else None
        typed = [self.TYPE_WEIGHT if kind and states_type(kind, text) else 0.0 for text in contexts]
        if kind and self.COMPLETE_TYPE:
            # The next sentence of the document, in this chunk or the next one retrieved.
            starts = sorted((c.sentence.path, c.sentence.start, i) for i, c in enumerate(cands))
            for (path, _start, i), (path2, start2, j) in zip(starts, starts[1:]):
                c, after = cands[i], cands[j]
                if (
                    path2 == path
                    and 0 <= start2 - c.sentence.end <= 3
                    and not typed[i]
                    and typed[j]
                    and not after.heading
                    and after.antecedent in (None, c)
                ):
                    c.completion = after
        own: list[float] = []
        for c, bonus in zip(cands, typed):
            own.append(
                bonus
                + self.SENTENCE_WEIGHT * (c.read_similarity or c.similarity) / self.SENTENCE_SCALE
                + self.KEYWORD_WEIGHT * c.coverage / 0.25
                + self.ALIGN_WEIGHT * c.aligned
                + self.NAME_WEIGHT * c.names
                - (self.HEADING_PENALTY if c.heading else 0.0)
            )
        # Each sentence's chunk, against the best chunk retrieved (one scale across languages).
        top = hits[0].score
        chunk = [self.CHUNK_WEIGHT * (hits[c.sentence.hit].score - top) for c in cands]
        if aligner is not None and language is not None and self.LATENT_WEIGHT:
            # Latent terms cost a pass of the model per sentence: only the likeliest sentences
            # in other languages are weighed by them (on XQuAD, 8 choose as well as all of them).
            other = sorted(
                (i for i, c in enumerate(cands) if c.sentence.language != language),
                key=lambda i: -(own[i] + chunk[i]),
            )[: self.LATENT_SENTENCES]
            for i, value in zip(other, aligner.latent_scores([contexts[i] for i in other])):
                cands[i].latent = value
                own[i] += self.LATENT_WEIGHT * value
        best_own: dict[str, float] = {}
        for c, value in zip(cands, own):
            lang = c.sentence.language
            best_own[lang] = max(best_own.get(lang, value), value)
        for c, value, placed in zip(cands, own, chunk):
            c.score = placed + value - best_own[c.sentence.language]
        return cands

    def select(
        self, question: str, hits: Sequence[Hit], sentences: Sequence[Sentence], similarities: Any
    ) -> list[Candidate]:
        """The sentences to answer with, in reading order."""
        return self.pick(self.candidates(question, hits, sentences, similarities))

    def pick(self, cands: Sequence[Candidate]) -> list[Candidate]:
        """The best candidates to answer with (see `select`), in reading order."""
        if not cands:
            return []
        order = sorted(cands, key=lambda c: -c.score)
        first = order[0]
        chosen: list[Candidate] = [first] if first.antecedent is None else [first.antecedent, first]
        if first.completion is not None:
            chosen.append(first.completion)  # the figure the question asks for, right after it
        # The budget counts answering sentences: an antecedent only completes the one after it
        # ("He is also the oldest quarterback…" needs the sentence naming him).
        budget = self.settings.extractive_sentences
        answering = 1
        # Each other candidate's score, with the bonus for standing beside the first group.
        near = {(x.sentence.hit, x.sentence.index + step) for x in chosen for step in (-1, 1)}
        placed = sorted(
            (
                (c.score + (self.NEIGHBOUR_BONUS if (c.sentence.hit, c.sentence.index) in near else 0.0), c)
                for c in order[1:]
            ),
            key=lambda pair: -pair[0],
        )
        for value, c in placed:
            if answering >= budget:
                break
            if value < first.score - (self.MARGIN if answering < 2 else self.LATER_MARGIN):
                break  # the rest answer something else: a shorter answer beats a padded one
            if any(x is c for x in chosen) or c.heading:
                continue
            if (
                c.coverage <= 0
                and c.names <= 0
                and (
                    c.sentence.language != first.sentence.language
                    or c.similarity < first.similarity - self.SECOND_SIMILARITY
                )
            ):
                continue  # no padding: a second sentence carries the question's words or meaning
            group = [c] if c.antecedent is None or any(x is c.antecedent for x in chosen) else [c.antecedent, c]
            chosen.extend(group)
            answering += 1
        chosen.sort(key=lambda c: (c.sentence.hit, c.sentence.start))
        return self._fill_gaps(chosen, cands)

    @staticmethod
    def _fill_gaps(chosen: list[Candidate], cands: Sequence[Candidate]) -> list[Candidate]:
        """`chosen` (in reading order) with the sentence between any two of one chunk that
        stand one sentence apart, unless it is a heading: the answer reads as one passage, and
        a sentence both of whose neighbours answer is likely part of the answer (often the one
        naming what the others describe). Whole XQuAD, gold span in the answer, without / with:
        en->en 0.916 / 0.920, ar->ar 0.823 / 0.824, es->es 0.883 / 0.888, ar->en 0.690 / 0.694;
        en->en answers 324 / 337 characters (bench/RESULTS.md 7h)."""
        by_pos = {(c.sentence.hit, c.sentence.index): c for c in cands}
        out: list[Candidate] = []
        for c in chosen:
            last = out[-1] if out else None
            if (
                last is not None
                and last.sentence.hit == c.sentence.hit
                and c.sentence.index == last.sentence.index + 2
            ):
                between = by_pos.get((c.sentence.hit, c.sentence.index - 1))
                if between is not None and not between.heading:
                    out.append(between)
            out.append(c)
        return out


def compose(
    picked: Sequence[Candidate], hits: Sequence[Hit], language: str = "en"
) -> tuple[str, list[Citation]]:
    """Answer text and citations from picked sentences: adjacent sentences of one chunk become one
    passage with one marker (unless a line break parts them: an answer stays one paragraph, each
    passage still verbatim); markers are numbered 1, 2, 3… in reading order."""
    runs: list[list[Candidate]] = []
    for c in picked:
        last = runs[-1][-1] if runs else None
        if (
            last is not None
            and last.sentence.hit == c.sentence.hit
            and c.sentence.index == last.sentence.index + 1
            and "\n" not in _gap(hits[c.sentence.hit], last.sentence.end, c.sentence.start)
        ):
            runs[-1].append(c)
        else:
            runs.append([c])
    parts, citations = [], []
    numbers: dict[int, int] = {}
    for run in runs:
        hit = hits[run[0].sentence.hit]
        n = numbers.setdefault(run[0].sentence.hit, len(numbers) + 1)
        start, end = run[0].sentence.start, run[-1].sentence.end
        quote = hit.text[start - hit.start : end - hit.start]
        parts.append(f"{quote} [{n}]")
        citations.append(Citation(n, hit.source, hit.title, hit.chunk_id, start, end, quote))
    text = " ".join(parts)
    quoted = {hits[r[0].sentence.hit].language for r in runs}
    if quoted and language not in quoted:
        # No translation offline: say in the reply's language that the quote is in another one.
        text += " " + quote_language_note(sorted(quoted)[0], language)
    return text, citations


def _gap(hit: Hit, end: int, start: int) -> str:
    """The chunk's text between two of its sentences (document offsets)."""
    return hit.text[end - hit.start : start - hit.start]


# --- helpers the LLM answerer shares -------------------------------------------------------------
def pack_context(
    hits: Sequence[Hit], budget_tokens: int, render_one: Any
) -> list[tuple[Hit, str]]:
    """Rendered sources in rank order that fit the token budget (the first one is cut to fit)."""
    from .chunking import count_tokens, truncate_to_tokens

    out: list[tuple[Hit, str]] = []
    used = 0
    for hit in hits:
        block = render_one(len(out) + 1, hit, hit.text)
        cost = count_tokens(block) + 2
        if used + cost > budget_tokens:
            if out:
                continue
            overhead = count_tokens(render_one(1, hit, ""))
            room = budget_tokens - overhead - 2
            if room < 32:
                break
            block = render_one(1, hit, truncate_to_tokens(hit.text, room))
            cost = count_tokens(block) + 2
        out.append((hit, block))
        used += cost
    return out


def is_decline_text(text: str) -> bool:
    """Whether an LLM reply means 'the sources do not say': it is, or starts with, the decline
    token, or it is a short uncited sentence saying so."""
    stripped = text.strip()
    if not stripped:
        return True
    if stripped.startswith(DECLINE_TOKEN):
        return True
    return not parse_markers(stripped) and bool(_DECLINE_PHRASES.search(stripped)) and len(stripped) < 400


def elapsed_ms(since: float) -> float:
    """Milliseconds since a perf_counter reading."""
    return round((time.perf_counter() - since) * 1000, 1)
