"""Citations: the [n] markers in an answer, the passages they point at, and their verification.

Markers are numbered 1, 2, 3… in the order they first appear in the answer, whatever the rank of
the chunk they cite; a citation's `n` is its marker's number.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from .text import tokenize

if TYPE_CHECKING:
    from .retrieval import Hit

MARKER = re.compile(r"\[(\d{1,3}(?:\s*[,،]\s*\d{1,3})*)\]")
_SPLIT = re.compile(r"\s*[,،]\s*")


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


def parse_markers(text: str) -> list[int]:
    """Every source number cited in the text, in order of first use."""
    out: list[int] = []
    for m in MARKER.finditer(text):
        for x in _SPLIT.split(m.group(1)):
            if int(x) not in out:
                out.append(int(x))
    return out


class MarkerFilter:
    """Streams text through, dropping [n] markers that point at no given source and renumbering
    the others 1, 2, 3… in order of first appearance (`mapping`: given number -> printed number)."""

    def __init__(self, valid: int) -> None:
        self.valid = valid
        self.buffer = ""
        self.dropped: list[int] = []
        self.mapping: dict[int, int] = {}

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
            nums = [int(x) for x in _SPLIT.split(m.group(1))]
            out = []
            for n in nums:
                if not 1 <= n <= self.valid:
                    self.dropped.append(n)
                    continue
                printed = self.mapping.setdefault(n, len(self.mapping) + 1)
                if f"[{printed}]" not in out:
                    out.append(f"[{printed}]")
            return "".join(out)

        return MARKER.sub(fix, text)


def best_quote(hit: Hit, claim: str) -> tuple[int, int, str]:
    """The sentence of a chunk that best supports a claim: (doc start, doc end, verbatim text)."""
    from .chunking import split_sentences

    spans = split_sentences(hit.text) or []
    if not spans:
        return hit.start, hit.end, hit.text
    claim_tokens = set(tokenize(claim))
    best = max(spans, key=lambda s: len(claim_tokens & set(tokenize(hit.text[s.start : s.end]))))
    return hit.start + best.start, hit.start + best.end, hit.text[best.start : best.end]


def citations_for(
    text: str, hits: Sequence[Hit], mapping: dict[int, int] | None = None
) -> list[Citation]:
    """Citations for the markers of an LLM answer; each quote is a sentence of the cited chunk.

    `mapping` (given number -> printed number, from MarkerFilter) says which chunk each printed
    marker stands for; without it a marker [n] is the n-th hit.
    """
    out: list[Citation] = []
    sentences = re.split(r"(?<=[.!?؟])\s+", text)
    source_of = {printed: given for given, printed in (mapping or {}).items()}
    for n in parse_markers(text):
        given = source_of.get(n, n) if mapping is not None else n
        if not 1 <= given <= len(hits):
            continue
        hit = hits[given - 1]
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
