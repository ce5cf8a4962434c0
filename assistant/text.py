"""Text analysis shared by ingest, the keyword index and the answerers: keyword tokens, Arabic
normalisation, digit folding. The bottom of the module graph: it imports nothing of ours."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Any

# A letter in any script (a word character that is no digit and no underscore).
LETTER = re.compile(r"[^\W\d_]")
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_AR_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_AR_PREFIXES = ("وال", "بال", "كال", "فال", "لل", "ال")
_STOP = frozenset(
    """a an and are as at be been but by can could did do does for from had has have how i if in
    into is it its of on or our so than that the their them then there these they this those to
    was were what when where which who whom whose why will with would you your about after also
    more most other over such under up very de la le les et des du
    في من على إلى الى عن مع ما ماذا هل هو هي هذا هذه ذلك تلك التي الذي الذين كان كانت أن ان إن لم
    لا قد كم كيف متى أين اين أي اي او أو ثم بين عند حتى كل بعد قبل منذ""".split()
)


def _arabic(token: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in token)


def normalize_token(token: str) -> str:
    """Fold case and Arabic spelling variants, strip the article and light suffixes."""
    t = token.lower()
    if _arabic(t):
        t = _AR_DIACRITICS.sub("", t)
        t = t.replace("أ", "ا").replace("إ", "ا").replace("آ", "ا").replace("ى", "ي").replace("ة", "ه")
        for prefix in _AR_PREFIXES:
            if t.startswith(prefix) and len(t) - len(prefix) >= 3:
                t = t[len(prefix) :]
                break
        if t.startswith("و") and len(t) >= 5:
            t = t[1:]
        return t
    if len(t) > 4 and t.endswith("ies"):
        return t[:-3] + "y"
    if len(t) > 3 and t.endswith("s") and not t.endswith("ss"):
        return t[:-1]
    return t


# Arabic light stemming (Larkey, Ballesteros & Connell's light10 affixes: a one-letter proclitic,
# then the commonest suffixes), for matching a question's words to a sentence's in the extractive
# answerer's sentence choice: "اعترض" (intercepted) and "اعتراضات" stay apart, but "بأربع"
# (with four), "أربعة" (four) and "الاعتراضات" (the interceptions) meet "اعتراضات". It runs
# on tokens `normalize_token` already folded (ة as ه, ى as ي, the article stripped). The keyword
# index keeps `tokenize`'s tokens (a stored index stays valid), and so does the decline decision
# (its weights were fitted on them). Other scripts are left as they are: cutting words to a
# prefix cost en->en more false declines than it gained hits (bench/RESULTS.md 7g).
_AR_PROCLITICS = ("و", "ف", "ب", "ل", "ك")
_AR_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ه", "ي")


def light_stem(token: str) -> str:
    """An Arabic-script token's light stem (see above); any other token as it is."""
    if not _arabic(token):
        return token
    t = token
    if t.startswith(_AR_PROCLITICS) and len(t) >= 5:
        t = t[1:]
        if t.startswith("ال") and len(t) >= 5:
            t = t[2:]
    for suffix in _AR_SUFFIXES:
        if t.endswith(suffix) and len(t) - len(suffix) >= 3:
            return t[: -len(suffix)]
    return t


def script(ch: str) -> str:
    """The script a character is written in, as Unicode names it ("LATIN", "ARABIC", "CJK"…)."""
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0] if name else ""


def ascii_digits(text: str) -> str:
    """Arabic-Indic and Persian digits as ASCII, so figures match across scripts."""
    return text.translate(_DIGITS)


@cache
def unicode_words(pattern: str) -> Any:
    r"""`pattern` compiled by the `regex` module, whose `\w` is Unicode's word character: letters,
    digits and combining marks. Python's `re` matches no mark, and the scripts of India and
    South-East Asia write most vowels as marks: "पेटन" (Peyton) read as "प" and "टन", "เพย์ตัน"
    as "เพย" and "ตัน". (`regex` is tiktoken's dependency too; imported on first use.)"""
    import regex

    return regex.compile(pattern)


def tokenize(text: str) -> list[str]:
    """Keyword tokens of a text, in any language we handle (words with their combining marks:
    `unicode_words`)."""
    # Arabic diacritics are dropped: the same word is written with and without them.
    text = _AR_DIACRITICS.sub("", unicodedata.normalize("NFKC", text)).translate(_DIGITS)
    out = []
    for raw in unicode_words(r"\w+").findall(text):
        if raw.lower() in _STOP or raw in _STOP:
            continue
        tok = normalize_token(raw)
        if tok and tok not in _STOP and (len(tok) > 1 or tok.isdigit()):
            out.append(tok)
    return out


# Terminal control sequences: CSI (colours, cursor moves), OSC (titles, hyperlinks, clipboard),
# other ESC sequences, and the remaining C0/C1 control characters (tab and newline kept).
CONTROL_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def strip_control(text: str) -> str:
    """Text without terminal control sequences (so `ESC[31m` never reads as the figure 31)."""
    return CONTROL_SEQUENCE.sub("", text)


def clean_question(text: str) -> str:
    """A question as it is searched: no control sequences, tabs as spaces, no outer whitespace
    (a trailing space moves the query vector)."""
    return strip_control(text).replace("\t", " ").strip()


# Words this long or longer may be matched by a spelling one edit away; shorter ones have too
# many neighbours ("kind": king, mind, find) for a neighbour to mean the same word.
MIN_RESPELL = 5


def one_edit_apart(a: str, b: str) -> bool:
    """Whether `b` is `a` with one letter inserted, deleted, changed, or two adjacent letters
    swapped (Damerau-Levenshtein distance 1)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) < len(b):
        return a[i:] == b[i + 1 :]
    if a[i + 1 :] == b[i + 1 :]:
        return True
    return i + 1 < len(a) and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]


def respell(unknown: list[str], counts: dict[str, int]) -> dict[str, str]:
    """Each unknown token's spelling one edit away among `counts` (token -> occurrences in the
    evidence), the most frequent first: a typo ("Ghandi", "Bedigo") or an inflection or clitic
    the normaliser keeps ("كمستعمرين", "Lithiums") still names the word the passage uses."""
    out: dict[str, str] = {}
    for token in unknown:
        if len(token) < MIN_RESPELL or token.isdigit():
            continue
        near = [w for w in counts if len(w) >= MIN_RESPELL and one_edit_apart(token, w)]
        if near:
            out[token] = min(near, key=lambda w: (-counts[w], w))
    return out
