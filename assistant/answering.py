"""Answerers (extractive and LLM), the decline decision, and citation parsing and verification."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .retrieval import Hit
from .text import ascii_digits, tokenize

if TYPE_CHECKING:
    from .config import Settings
    from .store import Store

DECLINE_TOKEN = "NOT_IN_SOURCES"
DECLINE_MESSAGES = {
    "en": "The indexed articles do not answer this question.",
    "ar": "لا تتضمن المقالات المفهرسة إجابة عن هذا السؤال.",
}
_MARKER = re.compile(r"\[(\d{1,3}(?:\s*[,،]\s*\d{1,3})*)\]")
_ARABIC = re.compile("[\u0600-\u06ff]")
_LATIN = re.compile("[A-Za-z]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
# A sentence opening with one of these leans on the sentence before it for its subject.
_ANAPHORA = re.compile(
    r"^(they|they['’]ll|they['’]re|these|this|those|it|its|it['’]s|he|she|such|both|the latter|the former|"
    r"هم|هي|هو|هذه|هذا|تلك|ذلك)\b",
    re.IGNORECASE,
)
_DECLINE_PHRASES = re.compile(
    r"(do(es)? not (contain|answer|mention|say|provide)|no (information|answer)|cannot (be )?answer|"
    r"can['’]t answer|not (in|covered by) the (indexed )?(articles|sources)|لا تتضمن|لا تحتوي|لا تجيب)",
    re.IGNORECASE,
)


def question_language(text: str) -> str:
    """'ar' when the question is mostly Arabic script, else 'en'."""
    ar = len(_ARABIC.findall(text))
    return "ar" if ar and ar >= len(_LATIN.findall(text)) else "en"


def decline_message(language: str) -> str:
    """The fixed 'not in the articles' reply, in the question's language."""
    return DECLINE_MESSAGES.get(language, DECLINE_MESSAGES["en"])


@dataclass
class Citation:
    """A pointer from the answer to an exact passage of a stored chunk."""

    n: int
    source: str
    title: str
    chunk_id: str
    start: int
    end: int
    quote: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return asdict(self)


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
        }


# --- declining ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Relevance:
    """The signals behind the decline decision."""

    similarity: float
    coverage: float
    same_language: bool
    missing_numbers: tuple[str, ...]


def term_coverage(question: str, text: str, idf: dict[str, float] | None = None) -> float:
    """Share of the question's keywords (idf-weighted when known) that occur in the text."""
    q = list(dict.fromkeys(tokenize(question)))
    if not q:
        return 0.0
    present = set(tokenize(text))
    weight = (lambda t: idf.get(t, 1.0)) if idf else (lambda t: 1.0)
    total = sum(weight(t) for t in q)
    return sum(weight(t) for t in q if t in present) / total if total else 0.0


def assess(question: str, hits: Sequence[Hit], idf: dict[str, float] | None = None) -> Relevance:
    """Measure how well the retrieved chunks could answer the question."""
    if not hits:
        return Relevance(0.0, 0.0, False, ())
    lang = question_language(question)
    best = max(hits, key=lambda h: h.similarity)
    joined = " ".join(h.text for h in hits)
    joined = ascii_digits(joined)
    numbers = tuple(n for n in dict.fromkeys(_NUMBER.findall(ascii_digits(question))) if n not in joined)
    same = [h for h in hits if h.language == lang]
    coverage = max((term_coverage(question, h.text, idf) for h in same), default=0.0)
    return Relevance(best.similarity, coverage, hits[0].language == lang, numbers)


# Share of the question's (idf-weighted) words the best same-language passage must contain,
# unless its similarity is high; Arabic's attached prefixes and suffixes lower every coverage.
_MIN_COVERAGE = {"ar": 0.2}
_DEFAULT_MIN_COVERAGE = 0.35
_COVERAGE_WAIVED_ABOVE = 0.84
# Figures asked about must appear, unless the passage covers most of the question's words.
_NUMBERS_WAIVED_COVERAGE = 0.6


def decline_reason(rel: Relevance, settings: Settings, language: str = "en") -> str | None:
    """Why the assistant should decline, or None to answer. Uses more than one signal.

    Measured on XQuAD (bench/): raw similarity of a question to a passage in another language
    runs about 0.08 lower than within one language, so each case has its own floor.
    """
    if rel.similarity <= 0:
        return "nothing was retrieved"
    if not rel.same_language:
        if rel.similarity < settings.min_relevance_cross:
            return (
                f"best passage similarity {rel.similarity:.3f} < {settings.min_relevance_cross} "
                "(passage in another language)"
            )
        if rel.missing_numbers:
            return f"the question's figures {list(rel.missing_numbers)} appear in no retrieved passage"
        return None
    if rel.similarity < settings.min_relevance:
        return f"best passage similarity {rel.similarity:.3f} < {settings.min_relevance}"
    floor = _MIN_COVERAGE.get(language, _DEFAULT_MIN_COVERAGE)
    if rel.coverage < floor and rel.similarity < _COVERAGE_WAIVED_ABOVE:
        return f"the best passages share too few of the question's words (coverage {rel.coverage:.2f})"
    if rel.missing_numbers and rel.coverage < _NUMBERS_WAIVED_COVERAGE:
        return f"the question's figures {list(rel.missing_numbers)} appear in no retrieved passage"
    return None


# --- extractive --------------------------------------------------------------------------------
class ExtractiveAnswerer:
    """Answers with the best sentences of the retrieved chunks, verbatim, each cited."""

    provider = "extractive"
    KEYWORD_WEIGHT = 0.7
    CHUNK_WEIGHT = 1.0
    MARGIN = 2.5

    def __init__(self, settings: Settings, store: Store, model_id: str) -> None:
        self.settings = settings
        self.store = store
        self.model = model_id

    def answer(
        self, question: str, query_vector: Any, hits: Sequence[Hit], idf: dict[str, float] | None = None
    ) -> tuple[str, list[Citation]]:
        """The answer text with [n] markers, and its citations (n = 1-based hit number)."""
        picked = self.select(question, query_vector, hits, idf)
        # Adjacent sentences of one chunk become one passage with one marker and one quote.
        runs: list[list[dict[str, Any]]] = []
        for sent in picked:
            last = runs[-1][-1] if runs else None
            if (
                last is not None
                and last["hit"] == sent["hit"]
                and last["path"] == sent["path"]
                and sent["sentence_index"] == last["sentence_index"] + 1
            ):
                runs[-1].append(sent)
            else:
                runs.append([sent])
        parts, citations = [], []
        for run in runs:
            hit = hits[run[0]["hit"]]
            n = run[0]["hit"] + 1
            start, end = run[0]["start"], run[-1]["end"]
            quote = hit.text[start - hit.start : end - hit.start]
            parts.append(f"{quote} [{n}]")
            citations.append(Citation(n, hit.source, hit.title, hit.chunk_id, start, end, quote))
        return " ".join(parts), citations

    def select(
        self, question: str, query_vector: Any, hits: Sequence[Hit], idf: dict[str, float] | None = None
    ) -> list[dict[str, Any]]:
        """The sentences to answer with, in reading order."""
        import numpy as np

        if not hits:
            return []
        paths = list(dict.fromkeys(h.path for h in hits))
        texts, metas, vectors = self.store.sentence_rows(paths)
        cands: list[dict[str, Any]] = []
        for i, (text, meta) in enumerate(zip(texts, metas)):
            for rank, h in enumerate(hits):
                if meta.get("path") == h.path and h.start <= meta["start"] and meta["end"] <= h.end:
                    cands.append({"row": i, "text": text, "hit": rank, **meta})
                    break
        if not cands:
            return []
        all_sims = vectors @ np.asarray(query_vector, dtype=np.float32)
        sims = all_sims[[c["row"] for c in cands]]
        # Cosine favours sentences in the question's language: standardise within each language,
        # against every sentence of the retrieved documents in that language (a small candidate
        # group alone would cap its own z-scores).
        ref: dict[str, list[int]] = {}
        for i, meta in enumerate(metas):
            ref.setdefault(meta.get("language", ""), []).append(i)
        by_lang: dict[str, list[int]] = {}
        for j, c in enumerate(cands):
            by_lang.setdefault(c.get("language", ""), []).append(j)
        z = np.zeros(len(cands), dtype=np.float32)
        for lang, idx in by_lang.items():
            base = all_sims[ref[lang]]
            z[idx] = (sims[idx] - float(base.mean())) / max(float(base.std()), 0.02)
        by_pos = {(c["path"], c["sentence_index"]): c for c in cands}
        contexts = []
        for c in cands:
            context = c["text"]
            # A sentence that leans on the one before it ("They'll start with…") is scored with,
            # and answered together with, that antecedent.
            c["antecedent"] = (
                by_pos.get((c["path"], c["sentence_index"] - 1))
                if _ANAPHORA.match(c["text"].lstrip("“\"'("))
                else None
            )
            if c["antecedent"] is not None:
                context = c["antecedent"]["text"] + " " + context
            contexts.append(context)
        # Words of the question that every candidate shares (the article's topic: "Japan",
        # "Canada") say little about which sentence answers; rare ones ("start", "mining") do.
        token_sets = [set(tokenize(t)) for t in contexts]
        local_df: dict[str, int] = {}
        for toks in token_sets:
            for t in toks:
                local_df[t] = local_df.get(t, 0) + 1
        q_terms = [t for t in dict.fromkeys(tokenize(question)) if t in local_df]
        weights = {t: math.log(1 + len(cands) / local_df[t]) for t in q_terms}
        total = sum(weights.values())
        cov = np.array(
            [sum(weights[t] for t in q_terms if t in toks) / total if total else 0.0 for toks in token_sets],
            dtype=np.float32,
        )
        # Keyword evidence exists only in the question's language. Set it against the best
        # sentence of the same language (a penalty for lacking what that one has), so it ranks
        # sentences within a language without lifting that language over the others.
        for idx in by_lang.values():
            part = cov[idx]
            sd = float(part.std())
            cov[idx] = (part - float(part.max())) / sd if sd > 1e-6 else 0.0
        top_score = hits[0].score
        for j, c in enumerate(cands):
            # Retrieval already weighed languages and keywords per chunk: lean on its ranking.
            chunk_prior = self.CHUNK_WEIGHT * (hits[c["hit"]].score - top_score)
            c["score"] = float(z[j]) + self.KEYWORD_WEIGHT * float(cov[j]) + chunk_prior
        order = sorted(range(len(cands)), key=lambda j: -cands[j]["score"])
        chosen: list[dict[str, Any]] = []
        budget = self.settings.extractive_sentences
        best = cands[order[0]]["score"]
        for j in order:
            if len(chosen) >= budget:
                break
            c = cands[j]
            if chosen and c["score"] < best - self.MARGIN:
                break  # the rest answer something else: a shorter answer beats a padded one
            if any(x is c for x in chosen):
                continue
            group = [c]
            prev = c["antecedent"]
            if prev is not None and not any(x is prev for x in chosen):
                group.insert(0, prev)
            chosen.extend(group)
        rank_of_path = {p: i for i, p in enumerate(paths)}
        chosen.sort(key=lambda c: (rank_of_path[c["path"]], c["start"]))
        return chosen


# --- LLM -----------------------------------------------------------------------------------------
class MarkerFilter:
    """Streams text through, dropping [n] markers that point at no given source."""

    def __init__(self, valid: int) -> None:
        self.valid = valid
        self.buffer = ""
        self.dropped: list[int] = []

    def feed(self, piece: str) -> str:
        """Text that is safe to emit now."""
        self.buffer += piece
        cut = self.buffer.rfind("[")
        if cut != -1 and "]" not in self.buffer[cut:] and len(self.buffer) - cut < 16:
            ready, self.buffer = self.buffer[:cut], self.buffer[cut:]
        else:
            ready, self.buffer = self.buffer, ""
        return self._clean(ready)

    def flush(self) -> str:
        """Whatever is left at the end of the stream."""
        ready, self.buffer = self.buffer, ""
        return self._clean(ready)

    def _clean(self, text: str) -> str:
        def fix(m: re.Match[str]) -> str:
            nums = [int(x) for x in re.split(r"\s*[,،]\s*", m.group(1))]
            keep = [n for n in nums if 1 <= n <= self.valid]
            self.dropped.extend(n for n in nums if not 1 <= n <= self.valid)
            return "".join(f"[{n}]" for n in keep)

        return _MARKER.sub(fix, text)


def parse_markers(text: str) -> list[int]:
    """Every source number cited in the text, in order of first use."""
    out: list[int] = []
    for m in _MARKER.finditer(text):
        for x in re.split(r"\s*[,،]\s*", m.group(1)):
            if int(x) not in out:
                out.append(int(x))
    return out


def best_quote(hit: Hit, claim: str) -> tuple[int, int, str]:
    """The sentence of a chunk that best supports a claim: (doc start, doc end, verbatim text)."""
    from .chunking import split_sentences

    spans = split_sentences(hit.text) or []
    if not spans:
        return hit.start, hit.end, hit.text
    claim_tokens = set(tokenize(claim))
    best = max(spans, key=lambda s: len(claim_tokens & set(tokenize(hit.text[s.start : s.end]))))
    return hit.start + best.start, hit.start + best.end, hit.text[best.start : best.end]


def citations_for(text: str, hits: Sequence[Hit]) -> list[Citation]:
    """Citations for the markers in an LLM answer; each quote is a sentence of the cited chunk."""
    out: list[Citation] = []
    sentences = re.split(r"(?<=[.!?؟])\s+", text)
    for n in parse_markers(text):
        if not 1 <= n <= len(hits):
            continue
        hit = hits[n - 1]
        claim = " ".join(s for s in sentences if f"[{n}]" in s) or text
        start, end, quote = best_quote(hit, claim)
        out.append(Citation(n, hit.source, hit.title, hit.chunk_id, start, end, quote))
    return out


def verify_citations(citations: Sequence[Citation], hits: Sequence[Hit]) -> list[Citation]:
    """Keep only citations whose quote is the stored chunk's text at the stated span."""
    by_id = {h.chunk_id: h for h in hits}
    good = []
    for c in citations:
        h = by_id.get(c.chunk_id)
        if h is None or not c.quote or c.quote not in h.text:
            continue
        if h.text[c.start - h.start : c.end - h.start] != c.quote:
            continue
        good.append(c)
    return good


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
