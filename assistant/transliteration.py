"""Names across scripts: "ماسترخت" in an Arabic question is "Maastricht" in an English passage.

A translated question keeps the names of the text it was translated from, written in its own
script. Each word is transliterated to Latin letters (`anyascii`, tables for every Unicode
script) and reduced to its consonant skeleton: vowels and the letters scripts write for long
vowels dropped, letters one script lacks folded onto their nearest neighbour (p→b, v→f, c/q→k,
z→s, j→g), doubled letters single. "California" and "كاليفورنيا" both read "klfrn", "Hutton" and
"هوتون" "tn", "Тесла" and "Tesla" "tsl".

A skeleton is short, so only names are matched: on the side written in a cased script (Latin,
Cyrillic, Greek…) a word must be capitalised; an uncased script (Arabic, Hebrew, Devanagari…)
has no capitals, so all its words are looked at. Two words of one script are compared only when
the passage is in another language than the question ("Japón", "Japan"; within a language words
match as they are), and skeletons under MIN_SKELETON consonants never match.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

from .text import light_stem, script, tokenize, unicode_words

# Skeletons shorter than this say too little ("tn" is Hutton, Tony, Eton…).
MIN_SKELETON = 3
_DIGRAPHS = (("sch", "s"), ("ch", "k"), ("kh", "k"), ("sh", "s"), ("th", "t"), ("ph", "f"),
             ("gh", "g"), ("dh", "d"), ("ck", "k"), ("x", "ks"))
_FOLD = str.maketrans("cqvpzj", "kkfbsg")
# Vowels, and the letters scripts write for long vowels, in a transliteration.
_VOWEL_SOUNDS = "aeiouwyh"
_VOWELS = re.compile(f"[{_VOWEL_SOUNDS}]")
_NOT_LETTER = re.compile(r"[^a-z]")
# Letters an uncased script writes for a vowel, which transliterate to nothing or to an
# apostrophe: words of their Unicode names (not GHAIN's "AIN").
_VOWEL_LETTERS = {"ALEF", "AIN", "AYIN", "MARBUTA"}
_DOUBLE = re.compile(r"(.)\1+")
# The Arabic script's article, written onto its noun.
_ARTICLE = re.compile(r"^ال(?=...)")
# Words with their combining marks (`text.unicode_words`): "पेटन" is one word, not "प" and "टन".
_LOWER = r"\b[^\W\d_A-Z][\w'’-]*"
_CAPITALISED = r"\b[^\W\d_][\w'’-]*"
_LETTERS = r"[^\W\d_]+"


def script_of(word: str) -> str:
    """The script of a word's first letter ("LATIN", "ARABIC", "CYRILLIC"…)."""
    for ch in word:
        if ch.isalpha():
            return script(ch)
    return ""


def is_cased(word: str) -> bool:
    """Whether the word's script has capitals (read off its first letter)."""
    first = word[:1]
    return first.lower() != first.upper()


# Before transliterating: the nasal mark of the scripts of India (anusvara, candrabindu) is the
# "n" of "मैनिंग" (Manning), not the "m" the tables give; Thai and Lao write some vowels before
# the consonant they follow ("เพย์ตัน", Peyton, reads "ephytan"), and Thai's aspirated p
# ("ph") is no f.
_BEFORE = str.maketrans(
    {**{ch: "n" for ch in "\u0901\u0902\u0981\u0982\u0a01\u0a02\u0a70\u0a81\u0a82\u0b01\u0b02"
        "\u0b82\u0c01\u0c02\u0c81\u0c82\u0d02\u0d82"},
     **{ch: "" for ch in "\u0e40\u0e41\u0e42\u0e43\u0e44\u0ec0\u0ec1\u0ec2\u0ec3\u0ec4"},
     **{ch: "p" for ch in "\u0e1c\u0e1e\u0e20"}}
)


@lru_cache(maxsize=65536)
def _latin(word: str) -> str:
    """The word in lower-case Latin letters (`anyascii`, after `_BEFORE`), letters only."""
    from anyascii import anyascii

    return _NOT_LETTER.sub("", anyascii(word.translate(_BEFORE)).lower())


def _writes_vowel(letter: str) -> bool:
    """Whether an uncased script's letter stands for a vowel ("أ" of "أمريكا", "ا" of "روما")."""
    return bool(set(unicodedata.name(letter, "").split()) & _VOWEL_LETTERS)


@lru_cache(maxsize=65536)
def skeleton(word: str) -> str:
    """The word's consonant skeleton in Latin letters (see the module's docstring)."""
    text = _latin(word)
    # Whether the name opens on a vowel ("America", "أمريكا"; not "Mark").
    opens = text[:1] in ("a", "e", "i", "o", "u") or (bool(word) and _writes_vowel(word[0]))
    for pair, single in _DIGRAPHS:
        text = text.replace(pair, single)
    text = _VOWELS.sub("", text.translate(_FOLD))
    return ("_" if opens else "") + _DOUBLE.sub(r"\1", text)


@lru_cache(maxsize=65536)
def ends_on_vowel(word: str) -> bool:
    """Whether the word's last sound is a vowel, read off its transliteration (a, e, i, o, u and
    the letters scripts write for long vowels: w, y, h, or alef, teh marbuta…, which transliterate
    to nothing: "روما", Rome, reads "rwm"); a cased word's silent final "e" after a consonant is
    not one ("Stone", "Claude")."""
    letters = [ch for ch in word if ch.isalpha()]
    if letters and _writes_vowel(letters[-1]):
        return True
    text = _latin(word)
    if is_cased(word) and len(text) >= 4 and text[-1] == "e" and text[-2] not in _VOWEL_SOUNDS:
        text = text[:-1]
    return bool(text) and text[-1] in _VOWEL_SOUNDS


def name_words(text: str, common: Iterable[str] = ()) -> list[str]:
    """The words of a text that may be names: capitalised ones in a cased script, every word of
    three letters or more in an uncased one. A capitalised word opening a sentence is no name
    when `common` (words the passages write in lower case) holds it ("Later", "Machine")."""
    common = set(common)
    out = []
    for m in unicode_words(_CAPITALISED).finditer(text):
        word = m.group().strip("'’-")
        if not word or word[0].islower():
            continue  # a cased script's lower-case word
        if word[0].isupper():
            if not (common and word.lower() in common and _opens_sentence(text, m.start())):
                out.append(word)
        elif len(word) >= 3:
            out.append(word)  # an uncased script's word
    return out


def _opens_sentence(text: str, at: int) -> bool:
    before = text[:at].rstrip(" \t\"“«'(")
    return not before or before[-1] in ".!?\n:;¿¡"


def lower_words(texts: Iterable[str]) -> set[str]:
    """The words the texts write in lower case (see `name_words`)."""
    return {m.group() for text in texts for m in unicode_words(_LOWER).finditer(text)}


class NameMatcher:
    """The question's words that name, in another script, a word of a passage.

    `words` are the question's words as the caller keys them (its tokens), each with the text to
    transliterate (the word as written, or its normalised token).
    """

    def __init__(self, words: Iterable[tuple[str, str]]) -> None:
        # (key, script, skeleton, cased, ends on a vowel)
        self._keys: list[tuple[str, str, str, bool, bool]] = []
        for key, written in words:
            sk = skeleton(written)
            if len(sk.lstrip("_")) >= MIN_SKELETON:
                self._keys.append((key, script_of(written), sk, is_cased(written), ends_on_vowel(written)))

    def __bool__(self) -> bool:
        return bool(self._keys)

    def found(self, passage_words: Sequence[str], *, same_script: bool = False) -> set[str]:
        """The question keys whose name appears among `passage_words` (see `name_words`) in
        another script than the question word's, or also in its own with `same_script` (a
        passage in another language of that script: "Japón" in an English passage's "Japan")."""
        if not self._keys:
            return set()
        # script -> skeleton -> (cased, ends on a vowel) of the passage words that have it
        seen: dict[str, dict[str, set[tuple[bool, bool]]]] = {}
        for word in passage_words:
            sk = skeleton(word)
            if len(sk.lstrip("_")) >= MIN_SKELETON:
                seen.setdefault(script_of(word), {}).setdefault(sk, set()).add(
                    (is_cased(word), ends_on_vowel(word))
                )
        out = set()
        for key, own, sk, cased, vowel in self._keys:
            for other, skeletons in seen.items():
                if other == own and not same_script:
                    continue
                # Every word of an uncased script is a candidate name, so a common word shares a
                # skeleton with some name ("करते", do: "Court"): across an uncased script the
                # last sounds must agree too ("टेस्ला" and "Tesla" end on a vowel, "Court" not).
                if any(
                    (cased and their_cased) or vowel == their_vowel
                    for their_cased, their_vowel in skeletons.get(sk, ())
                ):
                    out.add(key)
                    break
        return out


def question_names(question: str, spelling: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """The question's possible names, each as (its key: the token as the sentence choice and the
    evidence key the question's words, respelled by `spelling`; a spelling to transliterate: as
    written, and in an uncased script also as its token)."""
    spelling = spelling or {}
    out = []
    for word in name_words(question):
        for part, tok in _parts(word):
            out.append((light_stem(spelling.get(tok, tok)), part))
    return out


def passage_names(text: str, common: Iterable[str] = ()) -> list[str]:
    """A passage's possible names, to transliterate (see `question_names`, `name_words`)."""
    return [part for word in name_words(text, common) for part, _tok in _parts(word)]


@lru_cache(maxsize=65536)
def _parts(word: str) -> tuple[tuple[str, str], ...]:
    """A word's parts with their tokens ("Hutton's": "Hutton", "hutton")."""
    out: list[tuple[str, str]] = []
    for part in unicode_words(_LETTERS).findall(word):
        toks = tokenize(part)
        if not toks:
            continue
        if is_cased(part):
            out.append((part, toks[0]))
            continue
        # An uncased script's word as written (the tokenizer takes "كال" off "كاليفورنيا"), its
        # token and its light stem (the article and clitics off "والأمازون").
        for form in dict.fromkeys((_ARTICLE.sub("", part), toks[0], light_stem(toks[0]))):
            out.append((form, toks[0]))
    return tuple(out)
