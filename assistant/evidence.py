"""The decline decision: do the retrieved passages hold the answer? Signals that hold in any language.

The assistant answers only when the evidence supports it. The signals (see `Evidence`):

- how far the best passage stands above the typical passage of its language for this question
  (retrieval's per-language standardised similarity), and how close the best sentence is;
- whether the question's words occur in the store at all, and in the evidence. When the question
  shares its language with the evidence, its rare words must be there; when it does not (an Arabic
  question about English articles), only what survives translation is checked: figures (digits
  fold across scripts), names written in the evidence's script (or spelt its language's way,
  "Japón" for "Japan"), names the question writes in another script that the evidence holds
  ("ماسترخت", Maastricht: `transliteration`), and how close the passages' latent terms
  (`alignment.Aligner.latent_scores`) are to the question's;
- whether a question asking for a number or a date finds one in the candidate answer.

Which mode applies follows from the question's language as the detector can vouch for it
(`checked_language`), compared with the evidence's: a question whose language cannot be told
(an SQL string, a shell snippet, a bare name) is held to the stricter check, so that words the
articles never use count against it. No rule names a language; `question_language` only
chooses the language of the reply and of the decline message.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .text import LETTER, ascii_digits, respell, script, tokenize, unicode_words
from .transliteration import NameMatcher, lower_words, passage_names, question_names

if TYPE_CHECKING:
    from .alignment import Aligner
    from .retrieval import Hit

DECLINE_TOKEN = "NOT_IN_SOURCES"
DECLINE_MESSAGES = {
    "en": "The indexed articles do not answer this question.",
    "ar": "لا تتضمن المقالات المفهرسة إجابة عن هذا السؤال.",
    "es": "Los artículos indexados no responden a esta pregunta.",
    "fr": "Les articles indexés ne répondent pas à cette question.",
    "de": "Die indexierten Artikel beantworten diese Frage nicht.",
    "pt": "Os artigos indexados não respondem a esta pergunta.",
    "it": "Gli articoli indicizzati non rispondono a questa domanda.",
    "nl": "De geïndexeerde artikelen beantwoorden deze vraag niet.",
    "ru": "Проиндексированные статьи не отвечают на этот вопрос.",
    "uk": "Проіндексовані статті не відповідають на це питання.",
    "tr": "Dizinlenen makaleler bu soruyu yanıtlamıyor.",
    "el": "Τα ευρετηριασμένα άρθρα δεν απαντούν σε αυτή την ερώτηση.",
    "ro": "Articolele indexate nu răspund la această întrebare.",
    "pl": "Zaindeksowane artykuły nie odpowiadają na to pytanie.",
    "zh": "已索引的文章没有回答这个问题。",
    "ja": "索引された記事はこの質問に答えていません。",
    "ko": "색인된 기사는 이 질문에 답하지 않습니다.",
    "hi": "अनुक्रमित लेख इस प्रश्न का उत्तर नहीं देते।",
    "vi": "Các bài báo đã lập chỉ mục không trả lời câu hỏi này.",
    "th": "บทความที่จัดทำดัชนีไว้ไม่ได้ตอบคำถามนี้",
    "id": "Artikel yang diindeks tidak menjawab pertanyaan ini.",
    "fa": "مقاله‌های نمایه‌شده به این پرسش پاسخ نمی‌دهند.",
    "ur": "اشاریہ شدہ مضامین اس سوال کا جواب نہیں دیتے۔",
    "he": "המאמרים שנוספו לאינדקס אינם עונים על שאלה זו.",
    "sw": "Makala zilizoorodheshwa hazijibu swali hili.",
}
# How the reply says that the quoted passage is in another language than the question: for each
# language of DECLINE_MESSAGES, a note and the names of the languages a quote is most often in
# (the stores' languages: English, Arabic, and a few more), written as the note needs them
# (Russian "на английском", Polish "w języku angielskim"). A quote in a language the reply's
# language has no name for gets the English note.
QUOTE_LANGUAGE_NOTES = {
    "en": "(quoted in {language})",
    "ar": "(الاقتباس باللغة {language})",
    "es": "(cita en {language})",
    "fr": "(citation en {language})",
    "de": "(Zitat auf {language})",
    "pt": "(citação em {language})",
    "it": "(citazione in {language})",
    "nl": "(citaat in het {language})",
    "ru": "(цитата на {language})",
    "uk": "(цитата {language} мовою)",
    "tr": "({language} alıntı)",
    "el": "(απόσπασμα στα {language})",
    "ro": "(citat în limba {language})",
    "pl": "(cytat w języku {language})",
    "zh": "（引文为{language}）",
    "ja": "（{language}の引用）",
    "ko": "({language} 인용)",
    "hi": "(उद्धरण {language} में)",
    "vi": "(trích dẫn bằng tiếng {language})",
    "th": "(อ้างอิงเป็นภาษา{language})",
    "id": "(kutipan dalam bahasa {language})",
    "fa": "(نقل‌قول به زبان {language})",
    "ur": "(اقتباس {language} میں)",
    "he": "(ציטוט ב{language})",
    "sw": "(nukuu kwa {language})",
}
LANGUAGE_NAMES = {
    "en": {"en": "English", "ar": "Arabic", "es": "Spanish", "fr": "French", "de": "German",
           "pt": "Portuguese", "it": "Italian", "ru": "Russian", "zh": "Chinese", "tr": "Turkish",
           "el": "Greek", "ro": "Romanian", "hi": "Hindi", "vi": "Vietnamese", "th": "Thai",
           "ja": "Japanese", "ko": "Korean", "nl": "Dutch", "pl": "Polish", "uk": "Ukrainian",
           "fa": "Persian", "he": "Hebrew", "id": "Indonesian", "ur": "Urdu", "sw": "Swahili"},
    "ar": {"en": "الإنجليزية", "ar": "العربية", "es": "الإسبانية", "fr": "الفرنسية",
           "de": "الألمانية", "zh": "الصينية", "ru": "الروسية"},
    "es": {"en": "inglés", "ar": "árabe", "es": "español", "fr": "francés", "de": "alemán",
           "zh": "chino", "ru": "ruso"},
    "fr": {"en": "anglais", "ar": "arabe", "es": "espagnol", "fr": "français", "de": "allemand",
           "zh": "chinois", "ru": "russe"},
    "de": {"en": "Englisch", "ar": "Arabisch", "es": "Spanisch", "fr": "Französisch", "de": "Deutsch",
           "zh": "Chinesisch", "ru": "Russisch"},
    "pt": {"en": "inglês", "ar": "árabe", "es": "espanhol", "fr": "francês", "de": "alemão",
           "zh": "chinês", "ru": "russo"},
    "it": {"en": "inglese", "ar": "arabo", "es": "spagnolo", "fr": "francese", "de": "tedesco",
           "zh": "cinese", "ru": "russo"},
    "nl": {"en": "Engels", "ar": "Arabisch", "es": "Spaans", "fr": "Frans", "de": "Duits",
           "zh": "Chinees", "ru": "Russisch"},
    "ru": {"en": "английском", "ar": "арабском", "es": "испанском", "fr": "французском",
           "de": "немецком", "zh": "китайском", "ru": "русском"},
    "uk": {"en": "англійською", "ar": "арабською", "es": "іспанською", "fr": "французькою",
           "de": "німецькою", "zh": "китайською", "ru": "російською"},
    "tr": {"en": "İngilizce", "ar": "Arapça", "es": "İspanyolca", "fr": "Fransızca", "de": "Almanca",
           "zh": "Çince", "ru": "Rusça"},
    "el": {"en": "αγγλικά", "ar": "αραβικά", "es": "ισπανικά", "fr": "γαλλικά", "de": "γερμανικά",
           "zh": "κινεζικά", "ru": "ρωσικά"},
    "ro": {"en": "engleză", "ar": "arabă", "es": "spaniolă", "fr": "franceză", "de": "germană",
           "zh": "chineză", "ru": "rusă"},
    "pl": {"en": "angielskim", "ar": "arabskim", "es": "hiszpańskim", "fr": "francuskim",
           "de": "niemieckim", "zh": "chińskim", "ru": "rosyjskim"},
    "zh": {"en": "英文", "ar": "阿拉伯文", "es": "西班牙文", "fr": "法文", "de": "德文",
           "ru": "俄文"},
    "ja": {"en": "英語", "ar": "アラビア語", "es": "スペイン語", "fr": "フランス語", "de": "ドイツ語",
           "zh": "中国語", "ru": "ロシア語"},
    "ko": {"en": "영어", "ar": "아랍어", "es": "스페인어", "fr": "프랑스어", "de": "독일어",
           "zh": "중국어", "ru": "러시아어"},
    "hi": {"en": "अंग्रेज़ी", "ar": "अरबी", "es": "स्पेनिश", "fr": "फ़्रेंच", "de": "जर्मन",
           "zh": "चीनी", "ru": "रूसी"},
    "vi": {"en": "Anh", "ar": "Ả Rập", "es": "Tây Ban Nha", "fr": "Pháp", "de": "Đức",
           "zh": "Trung", "ru": "Nga"},
    "th": {"en": "อังกฤษ", "ar": "อาหรับ", "es": "สเปน", "fr": "ฝรั่งเศส", "de": "เยอรมัน",
           "zh": "จีน", "ru": "รัสเซีย"},
    "id": {"en": "Inggris", "ar": "Arab", "es": "Spanyol", "fr": "Prancis", "de": "Jerman",
           "zh": "Tionghoa", "ru": "Rusia"},
    "fa": {"en": "انگلیسی", "ar": "عربی", "es": "اسپانیایی", "fr": "فرانسوی", "de": "آلمانی",
           "zh": "چینی", "ru": "روسی"},
    "ur": {"en": "انگریزی", "ar": "عربی", "es": "ہسپانوی", "fr": "فرانسیسی", "de": "جرمن",
           "zh": "چینی", "ru": "روسی"},
    "he": {"en": "אנגלית", "ar": "ערבית", "es": "ספרדית", "fr": "צרפתית", "de": "גרמנית",
           "zh": "סינית", "ru": "רוסית"},
    "sw": {"en": "Kiingereza", "ar": "Kiarabu", "es": "Kihispania", "fr": "Kifaransa",
           "de": "Kijerumani", "zh": "Kichina", "ru": "Kirusi"},
}

# Interrogatives that ask for a quantity or a date, in the languages users are likely to ask
# in (XQuAD's twelve and a few more). A question that asks for one expects a figure in the
# answer; a question without them is not typed (no check). Each is a whole word: "Catholic",
# "mayor", "quandary" and Arabic "كما" (as) begin like Romanian "cât", Vietnamese "mấy", French
# "quand" and Arabic "كم" (how many).
_NUMBER_QUESTION = re.compile(
    r"\b(?:how (?:many|much|long|old|far|often|large|big|high|tall)|what (?:prices?|costs?|years?|percentages?|percent|"
    r"proportions?|shares?|numbers?|amounts?|ages?|dates?|times?|decades?|centur(?:y|ies))|"
    r"which (?:years?|decades?|centur(?:y|ies))|when|in what years?"
    r"|cu[aá]nt[oa]s?|qu[eé] (?:a[nñ]os?|porcentajes?|fechas?|cantidad|edad|siglos?)|cu[aá]ndo|en qu[eé] a[nñ]os?"
    r"|combien|quand|en quelles? ann[ée]es?|quel(?:le)?s? (?:ann[ée]es?|pourcentages?|dates?|[aâ]ges?|si[eè]cles?)"
    r"|wie (?:viele?|lange|alt|weit|oft|hoch|gro[sß])|wann|in welchem jahr|welche[sm]? (?:jahr|jahrhundert)"
    r"|quant[oa]s?|quando|em que ano|que ano|in che anno|quale anno"
    r"|сколько|когда|в каком году|какой год"
    r"|ka[cç]|ne zaman|hangi y[ıi]l"
    r"|πόσ[οαεηι]ς?|πότε|ποιο έτος"
    r"|cât(?:e|i|ă)?|cat(?:e|i|ă)|c[aâ]nd|[iî]n ce an"
    r"|bao nhi[eê]u|khi n[aà]o|n[aă]m n[aà]o|mấy"
    r"|कितन[ेाी]|कब|किस वर्ष|किस साल"
    r"|كم|متى|في أي عام|في أي سنة|ما عدد|ما نسبة|ما هو عدد|ما هي نسبة|ما كمية|ما مقدار"
    # More of the languages users ask in: Indonesian and Malay, Tagalog (not "ilan", a Turkish
    # word too), Swahili, Turkish, Dutch, the Nordic languages, Czech, Hungarian, Finnish,
    # Ukrainian, Persian, Urdu, Hebrew, Bengali.
    r"|berapa|kapan|bilakah|magkano|kailan|ngapi|ne kadar|hoeveel|wanneer"
    r"|hur (?:många|mycket)|hvor (?:mange|meget|mye)|kolik[aeo]?|kdy|hány|mennyi|mikor"
    r"|kuinka (?:monta|paljon)|paljonko|milloin|скільки|коли|چند|چقدر|کتن[ےیا]|کب|כמה|מתי|কত|কখন)\b",
    re.IGNORECASE,
)
_NUMBER_QUESTION_NOSPACE = re.compile(
    r"多少|几|什么时候|哪一年|何时|何年|いつ|何年|いくら|どのくらい|どれくらい|どれだけ|どれほど|몇|얼마|언제"
    r"|กี่|เมื่อไร|เมื่อใด|ปีใด"
)
# Number words (English and the other XQuAD languages' commonest), counted as figures.
_NUMBER_WORDS = frozenset(
    """one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
    sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety
    hundred thousand million billion trillion dozen dozens half quarter twice
    uno una dos tres cuatro cinco seis siete ocho nueve diez cien mil millón millones
    un une deux trois quatre cinq sept huit neuf dix cent mille
    ein eine zwei drei vier fünf sechs sieben acht neun zehn hundert tausend
    um uma dois duas quatro cinco oito nove dez
    один два три четыре пять шесть семь восемь девять десять сто тысяча миллион
    واحد اثنان اثنين ثلاثة ثلاث أربعة أربع خمسة خمس ستة ست سبعة سبع ثمانية ثماني تسعة تسع عشرة عشر
    مئة مائة ألف آلاف مليون ملايين مليار""".split()
)
_MONTHS = re.compile(
    r"\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|enero|febrero|marzo|abril|mayo|junio|julio|agosto|"
    r"septiembre|octubre|noviembre|diciembre|janvier|février|mars|avril|mai|juin|juillet|août|"
    r"septembre|octobre|novembre|décembre|يناير|فبراير|مارس|أبريل|مايو|يونيو|يوليو|أغسطس|سبتمبر|"
    r"أكتوبر|نوفمبر|ديسمبر|century|centuries|siglo|siècle|قرن)\b",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")
_FIGURE = re.compile(r"\d+(?:[.,]\d+)*")
# A name: a capitalised word inside a sentence (cased scripts only), or an all-caps acronym.
_NAME = re.compile(r"(?<![.!?¿¡:]\s)(?<!^)(?<!^[¿¡\"“«'(])\b[A-ZÀ-ÞΑ-ΩА-Я][\w'’-]*|\b[A-Z]{2,}\b")


def question_language(text: str) -> str:
    """The language the reply is written in: the question's, detected (English when unsure)."""
    return checked_language(text) or "en"


# Languages with a script of their own. A guess of one of them for a text in another script (a
# Latin-letter SQL string "detected" as Japanese) is a misfire; languages not listed use Latin.
_SCRIPTS = {
    "ar": {"ARABIC"}, "fa": {"ARABIC"}, "ur": {"ARABIC"}, "ps": {"ARABIC"}, "ku": {"ARABIC", "LATIN"},
    "he": {"HEBREW"}, "yi": {"HEBREW"}, "el": {"GREEK"}, "hy": {"ARMENIAN"}, "ka": {"GEORGIAN"},
    "ru": {"CYRILLIC"}, "uk": {"CYRILLIC"}, "bg": {"CYRILLIC"}, "sr": {"CYRILLIC", "LATIN"},
    "mk": {"CYRILLIC"}, "be": {"CYRILLIC"}, "kk": {"CYRILLIC"}, "ky": {"CYRILLIC"},
    "mn": {"CYRILLIC"}, "tg": {"CYRILLIC"}, "zh": {"CJK"}, "ja": {"CJK", "HIRAGANA", "KATAKANA"},
    "ko": {"HANGUL", "CJK"}, "hi": {"DEVANAGARI"}, "mr": {"DEVANAGARI"}, "ne": {"DEVANAGARI"},
    "bn": {"BENGALI"}, "pa": {"GURMUKHI"}, "gu": {"GUJARATI"}, "ta": {"TAMIL"}, "te": {"TELUGU"},
    "kn": {"KANNADA"}, "ml": {"MALAYALAM"}, "si": {"SINHALA"}, "th": {"THAI"}, "lo": {"LAO"},
    "km": {"KHMER"}, "my": {"MYANMAR"}, "am": {"ETHIOPIC"},
}
# Below this the language detector is guessing: XQuAD's questions score above it in 99.4%
# (English), 100% (Spanish, Arabic) of cases, the dev set's in all; most SQL, shell and format
# strings below. A question of one or two words says too little for a guess under
# SHORT_LANGUAGE_CONFIDENCE ("../../etc/passwd" reads as Croatian at 0.57).
MIN_LANGUAGE_CONFIDENCE = 0.5
MIN_SCRIPT_SHARE = 0.2
# A guess of a language with a script of its own, which that script bears out, may be less sure:
# "Хто засновник Sino Auto Insights?" reads as Ukrainian at 0.34 (the Latin name pulls the
# detector away), and "Хто CEO Tesla?" as Bulgarian at 0.44: a Cyrillic question either way, never
# one to be held to English words. (A misfire on a string of another script fails the share.)
MIN_SCRIPT_CONFIDENCE = 0.3
SHORT_LANGUAGE_CONFIDENCE = 0.9
_WORD = r"[^\W\d_]{2,}"  # a word with its combining marks (`text.unicode_words`)
# Scripts written without spaces between words: no word count.
_UNSPACED = {"CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR"}


def _script_shares(text: str) -> dict[str, float]:
    """Each script's share of a text's letters."""
    counts: dict[str, int] = {}
    letters = LETTER.findall(text)
    for ch in letters:
        which = script(ch)
        counts[which] = counts.get(which, 0) + 1
    return {k: v / len(letters) for k, v in counts.items()} if letters else {}


def checked_language(text: str) -> str | None:
    """The question's language when the detector is sure of it, else None.

    None (too few letters, a low-confidence guess, or a guess whose script writes under a fifth
    of the text's letters) means the question is checked like a question in the evidence's language: its
    words must be found there.
    """
    from .documents import guess_language

    letters = LETTER.findall(text)
    if len(letters) < 2:
        return None
    lang, confidence = guess_language(text)
    own_script = lang in _SCRIPTS
    if confidence < (MIN_SCRIPT_CONFIDENCE if own_script else MIN_LANGUAGE_CONFIDENCE):
        return None
    scripts = _script_shares(text)
    dominant = max(scripts, key=lambda k: scripts[k])
    # The guessed language's script must write a good part of the text (not all of it: a
    # Russian question naming "Sino Auto Insights" has more Latin letters than Cyrillic ones).
    if sum(scripts.get(s, 0.0) for s in _SCRIPTS.get(lang, {"LATIN"})) < MIN_SCRIPT_SHARE:
        return None
    spaced = dominant not in _UNSPACED
    if spaced and len(unicode_words(_WORD).findall(text)) < 3 and confidence < SHORT_LANGUAGE_CONFIDENCE:
        return None
    return lang


def decline_message(language: str) -> str:
    """The fixed 'not in the articles' reply, in the question's language (English if unknown)."""
    return DECLINE_MESSAGES.get(language, DECLINE_MESSAGES["en"])


def language_name(code: str, in_language: str) -> str:
    """A language's name as `in_language` writes it (English names as the fallback)."""
    names = LANGUAGE_NAMES.get(in_language) or LANGUAGE_NAMES["en"]
    return names.get(code) or LANGUAGE_NAMES["en"].get(code, code)


def quote_language_note(quote_language: str, reply_language: str) -> str:
    """'(quoted in Arabic)' in the reply's language; in English when the reply's language has no
    note, or no name for the quote's language (no English name inside a Hindi note)."""
    names = LANGUAGE_NAMES.get(reply_language, {})
    if reply_language not in QUOTE_LANGUAGE_NOTES or quote_language not in names:
        reply_language, names = "en", LANGUAGE_NAMES["en"]
    return QUOTE_LANGUAGE_NOTES[reply_language].format(language=names.get(quote_language, quote_language))


# --- question analysis ------------------------------------------------------------------------------
def figures(text: str) -> list[str]:
    """Figures in a text, digits folded to ASCII and thousands separators removed."""
    out = []
    for m in _FIGURE.finditer(ascii_digits(text)):
        raw = m.group()
        out.append(re.sub(r"(?<=\d)[.,](?=\d{3}\b)", "", raw))
    return list(dict.fromkeys(out))


# Languages whose spelling capitalises every noun: there a capitalised word is a name only when
# its shape says so (an acronym, a capital inside the word) or it stands in a run of capitalised
# words ("Sino Auto Insights"); "Gründer" (founder) is not one.
_CAPITALISED_NOUNS = {"de", "lb"}


def names(text: str, language: str | None = None) -> list[str]:
    """Capitalised words inside the question (proper names survive translation in cased scripts)."""
    matches = [m for m in _NAME.finditer(text) if len(m.group().strip("'’-")) >= 2]
    found = []
    for i, m in enumerate(matches):
        word = m.group().strip("'’-")
        # A case ending after an apostrophe is no part of the name: Turkish "Tesla'nın",
        # "Broncos'a" (of Tesla, to the Broncos); English "Tesla's".
        stem = re.split(r"['’]", word, maxsplit=1)[0]
        if len(stem) >= 2:
            word = stem
        if word.isdigit():
            continue
        if language in _CAPITALISED_NOUNS and not (
            word.isupper()
            or any(ch.isupper() for ch in word[1:])
            or _in_run(text, matches, i)
        ):
            continue
        found.append(word)
    return list(dict.fromkeys(found))


def _in_run(text: str, matches: list[re.Match[str]], i: int) -> bool:
    """Whether match i is next to another capitalised word (only a space between them)."""
    before = i > 0 and text[matches[i - 1].end() : matches[i].start()].isspace()
    after = i + 1 < len(matches) and text[matches[i].end() : matches[i + 1].start()].isspace()
    return bool(before or after)


# Words that ask "when" but also join clauses ("What does the Doctor do when his body is
# damaged?", "En cuanto a…"): an interrogative only where a question begins with it (after a
# conjunction or preposition at most). Before, 5% of XQuAD's questions asked for a figure through
# a "when" in mid-question.
_AMBIGUOUS_WHEN = re.compile(r"when|cuando|quand|quando|когда|c[aâ]nd|cuant[oa]s?", re.IGNORECASE)
_OPENING_WHEN = re.compile(
    r"^\W*(?:(?:and|but|so|since|until|till|y|e|et|pero|mais|desde|hasta|depuis|jusqu'?|seit|bis|"
    r"и|а|с|до|și|iar)\s+)?(?:when|cu[aá]ndo|cu[aá]nt[oa]s?|quand|quando|когда|c[aâ]nd)\b",
    re.IGNORECASE,
)
# A question asking for a point or span of time ("when", "which year"): its answer may be an
# event ("after the war"), not a figure. What is left asks for a quantity.
_TIME_QUESTION = re.compile(
    r"\b(?:when|cu[aá]ndo|quand|quando|когда|c[aâ]nd|wann|متى|कब|πότε|khi n[aà]o|ne zaman"
    r"|how long|how often|what (?:years?|dates?|times?|decades?|centur(?:y|ies))"
    r"|which (?:years?|decades?|centur(?:y|ies))|in what years?"
    r"|qu[eé] (?:a[nñ]os?|fechas?|siglos?)|en qu[eé] a[nñ]os?|en quelles? ann[ée]es?"
    r"|quel(?:le)?s? (?:ann[ée]es?|dates?|si[eè]cles?)|in welchem jahr|welche[sm]? (?:jahr|jahrhundert)"
    r"|wie (?:lange|oft)|em que ano|que ano|in che anno|quale anno|в каком году|какой год"
    r"|hangi y[ıi]l|ποιο έτος|[iî]n ce an|n[aă]m n[aà]o|किस वर्ष|किस साल|في أي عام|في أي سنة"
    r"|kapan|bilakah|kailan|wanneer|kdy|mikor|milloin|коли|کب|מתי|কখন)\b"
    r"|什么时候|哪一年|何时|何年|いつ|언제|เมื่อไร|เมื่อใด|ปีใด",
    re.IGNORECASE,
)


_ARABIC_MARKS = re.compile(r"[\u064B-\u065F\u0670\u0640]")


def _number_asks(question: str) -> list[str]:
    """The interrogatives of the question that ask for a number (`_NUMBER_QUESTION`)."""
    # Without Arabic's short-vowel marks, after which a word boundary would fall: "كمُزَوِّدي"
    # (as providers) is no "كم" (how many).
    q = _ARABIC_MARKS.sub("", unicodedata.normalize("NFKC", question))
    asks = [m.group(0) for m in _NUMBER_QUESTION_NOSPACE.finditer(q)]
    for m in _NUMBER_QUESTION.finditer(q):
        word = m.group(0)
        if _AMBIGUOUS_WHEN.fullmatch(word) and not (word.lower() == "cuándo" or _OPENING_WHEN.match(q)):
            continue
        asks.append(word)
    return asks


def asks_for_number(question: str) -> bool:
    """Whether the question asks for a quantity, an amount or a date."""
    return bool(_number_asks(question))


def asks_for_quantity(question: str) -> bool:
    """Whether the question asks for a quantity or an amount (how many, how much, what share),
    not a time."""
    return any(not _TIME_QUESTION.fullmatch(word) for word in _number_asks(question))


def has_figure(text: str) -> bool:
    """Whether a text states a figure: digits, a number word, a month or century."""
    if _DIGIT.search(ascii_digits(text)):
        return True
    words = {w.lower() for w in re.findall(r"\w+", text)}
    return bool(words & _NUMBER_WORDS) or bool(_MONTHS.search(text))


# Words that state an amount without a figure ("many times", "most of them", "none of the
# treaties"): an answer to "how many" all the same. In the languages of the articles users keep.
_QUANTIFIERS = frozenset(
    """many much several few most numerous none dozens hundreds thousands millions billions
    majority minority half various countless multiple handful
    muchos muchas varios varias pocos pocas ninguno ninguna mayoría cientos miles millones
    muitos muitas vários várias poucos poucas nenhum nenhuma maioria centenas milhares milhões
    beaucoup plusieurs peu aucun aucune majorité centaines milliers
    viele mehrere wenige kein keine keiner mehrheit hunderte tausende millionen milliarden
    molti molte diversi diverse pochi poche nessuno maggioranza centinaia migliaia milioni
    многие много несколько мало большинство сотни тысячи миллионы
    عديد عديدة عدة كثير كثيرة كثيرون بضع بضعة معظم أغلب أغلبية مئات آلاف ملايين نصف ثلث ربع أكثر""".split()
)
# Numerals of the unspaced scripts (Chinese and Japanese write "三家公司"), and their words for
# "several" and "most": a character anywhere counts.
_CJK_NUMERALS = re.compile(r"[〇一二三四五六七八九十百千万萬亿億两兩几幾数數多半]")


# Questions asking for a share or a year, and what states one. A share is a percentage or a
# fraction ("half", "a third", "the majority"): a bare count is no answer to "what percentage"; a
# year is a figure of three or four digits, a decade ("the 1990s", "التسعينيات") or a century.
_SHARE_QUESTION = re.compile(
    r"\b(?:what (?:percentage|percent|proportion|share)|which percentage|how many percent"
    r"|qu[eé] (?:porcentaje|proporci[oó]n)|quel(?:le)? (?:pourcentage|proportion|part)"
    r"|wie viel prozent|welche[rn]? (?:anteil|prozentsatz)|qual (?:a )?(?:percentagem|porcentagem|parcela)"
    r"|какой процент|какая доля|ما النسبة المئوية|كم بالمئة|كم في المئة)\b|百分之|百分比|多大比例|割合|퍼센트",
    re.IGNORECASE,
)
_SHARE = re.compile(
    r"%|٪|\bper ?cent|\bpercentage|por ?ciento|pour ?cent|porcento|per cento|prozent|процент|بالمئة|بالمائة"
    r"|في المئة|في المائة|百分|\b(?:half|third|quarter|fifth|majority|mitad|tercio|cuarto|mayoría"
    r"|moitié|tiers|quart|majorité|hälfte|drittel|viertel|mehrheit|metade|terço|maioria|metà|половин"
    r"|треть|четверть|большинств|نصف|ثلث|ربع|معظم|أغلب)",
    re.IGNORECASE,
)
_YEAR_QUESTION = re.compile(
    r"\b(?:what year|which year|in what year|en qu[eé] a[nñ]o|qu[eé] a[nñ]o|en quelle ann[ée]e"
    r"|quelle ann[ée]e|in welchem jahr|welches jahr|em que ano|in che anno|в каком году|какой год"
    r"|hangi y[ıi]l|في أي عام|في أي سنة|في اي عام)\b|哪一年|哪年|何年(?!間)",
    re.IGNORECASE,
)
_YEAR = re.compile(
    r"(?<!\d)\d{3,4}(?!\d)|\b\d0s\b|centur|siglo|siècle|jahrhundert|век|قرن|decade|década|décennie"
    r"|jahrzehnt|يني?ات\b|年",
    re.IGNORECASE,
)


# A question asking for a date ("On what exact date will they sign?"): "next week" is no date.
_DATE_QUESTION = re.compile(
    r"\b(?:(?:on |by )?what (?:exact |precise |specific )?dates?|which (?:exact )?(?:date|day)"
    r"|(?:en )?qu[eé] fechas?|(?:à |a )?quel(?:le)?s? (?:dates?|jour)|welche[sm]? datum|an welchem tag"
    r"|em que data|que data|in che data|какого числа|какая дата|в какой день"
    r"|في أي تاريخ|ما تاريخ|ما هو تاريخ|في أي يوم)\b|什么日期|哪一天|哪天|何日|何月何日",
    re.IGNORECASE,
)


def asked_type(question: str) -> str | None:
    """What the question asks for: "a share", "a year", "a date", "an amount", or None."""
    q = unicodedata.normalize("NFKC", question)
    if _SHARE_QUESTION.search(q):
        return "a share"
    if _YEAR_QUESTION.search(q):
        return "a year"
    if _DATE_QUESTION.search(q):
        return "a date"
    return "an amount" if asks_for_quantity(question) else None


def states_type(kind: str, text: str) -> bool:
    """Whether a text states what `asked_type` said the question asks for."""
    if kind == "a share":
        return bool(_SHARE.search(text))
    if kind == "a year":
        return bool(_YEAR.search(ascii_digits(text)))
    if kind == "a date":
        return has_figure(text)
    return states_quantity(text)


def answer_type_missing(question: str, answer: str) -> str | None:
    """What the question asks for (an amount, a share, a year, a date) when the answer sentence
    states none of it, else None."""
    kind = asked_type(question)
    return None if kind is None or states_type(kind, answer) else kind


def states_quantity(text: str) -> bool:
    """Whether a text answers "how many/much": a figure, or a word for an amount."""
    if has_figure(text) or _CJK_NUMERALS.search(text):
        return True
    return bool({w.lower() for w in re.findall(r"\w+", text)} & _QUANTIFIERS)


@dataclass(frozen=True)
class Evidence:
    """The signals behind the decline decision (shown in `ask --json` as `evidence`)."""

    similarity: float = 0.0  # raw cosine of the best passage
    standing: float = 0.0  # best passage, standardised among its language's candidates
    sentence_similarity: float = 0.0  # raw cosine of the best candidate sentence
    known_words: float = 0.0  # share of the question's words the store's vocabulary knows
    shared_language: bool = False  # the question's words can be looked for in the evidence
    coverage: float = 0.0  # idf-weighted share of the question's words found in the evidence
    unknown_rare: float = 0.0  # idf-weighted share of the question's words the store never uses
    margin: float = 0.0  # standing of the best passage above the second best
    sentence_margin: float = 0.0  # best sentence's similarity above the typical candidate's
    latent: float = 0.0  # across languages: best latent-terms cosine of a passage (`alignment`)
    answer_coverage: float = 0.0  # idf-weighted share of the question's words in the answer sentence
    rarest_found: bool = True  # the question's rarest word (in the store) occurs in the evidence
    missing_figures: tuple[str, ...] = ()
    missing_names: tuple[str, ...] = ()
    # Across scripts: the question's words that name, in the passages' script, a name there
    # ("ماسترخت": "Maastricht"; `transliteration`). Within one script words match as they are.
    names_found: tuple[str, ...] = ()
    wants_figure: bool = False
    figure_in_answer: bool = True
    # What the question asks for (an amount, a share, a year, a date) when the answer sentence
    # states none of it (`answer_type_missing`); empty when it does, or it asks for no figure.
    missing_answer_type: str = ""
    store_size: int = 0  # chunks searched (0 under a source filter: no store-wide distribution)
    # Chunks in the store in the language the passages are weighed as (`assess`'s `lead`): the
    # distribution the best one's standing is measured in (None: as many as store_size).
    peers: int | None = None
    score: float = 0.0  # the combined evidence score; decline below the threshold
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        out = asdict(self)
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}


def spelling_for(idf: Mapping[str, float | None], hits: Sequence[Hit]) -> dict[str, str]:
    """The question's tokens that the store never uses (None in `idf`), each mapped to a token
    of the retrieved passages one edit away (`text.respell`): a typo, or an inflection the
    tokenizer keeps, is the word the passage uses, not a word the articles lack."""
    unknown = [t for t, value in idf.items() if value is None]
    if not unknown:
        return {}
    return respell(unknown, Counter(tokenize(" ".join(h.text for h in hits))))


# --- signals -----------------------------------------------------------------------------------------
def _idf_weight(idf: Mapping[str, float | None], token: str, rarest: float) -> float:
    value = idf.get(token)
    return rarest if value is None else float(value)


def assess(
    question: str,
    hits: Sequence[Hit],
    candidates: Sequence[Any],
    idf: Mapping[str, float | None],
    store_size: int,
    language: str | None = None,
    *,
    filtered: bool = False,
    spelling: Mapping[str, str] | None = None,
    latent: float = 0.0,
    sizes: Mapping[str, int] | None = None,
    lead: str | None = None,
    aligner: Aligner | None = None,
) -> Evidence:
    """Measure how well the retrieved passages could answer the question.

    `candidates` are the extractive answerer's scored sentences (best first or not); `idf` maps
    the question's tokens to their idf in the store (None or absent: the store never uses them);
    `language` is the question's language as `checked_language` tells it (None: unknown);
    `spelling` maps question tokens the store never uses to the evidence's spelling of them
    (`spelling_for`; `idf` then holds the respelled tokens); `latent` is the best latent-terms
    cosine of a passage in another language than the question's (0: none, or no sparse head);
    `sizes` are the store's chunks per language; `lead` is the language the passages are weighed
    as (default: the best passage's; `weigh` gives a misdetected passage its part's).
    """
    if not hits:
        return Evidence(reasons=("nothing was retrieved",))
    spelling = spelling or {}
    tokens = list(dict.fromkeys(spelling.get(t, t) for t in tokenize(question)))
    rarest = math.log(1 + (max(store_size, 1) + 0.5) / 0.5)
    words = [t for t in tokens if not t.isdigit()]
    known = [t for t in words if idf.get(t) is not None]
    known_share = len(known) / len(words) if words else 1.0
    lead = lead or hits[0].language
    # A question whose language cannot be told is held to the evidence's language.
    shared = language is None or language == lead
    evidence_text = " ".join(h.text for h in hits)
    present = set(tokenize(evidence_text))
    weights = {t: _idf_weight(idf, t, rarest) for t in tokens}
    total = sum(weights.values()) or 1.0
    coverage = sum(weights[t] for t in tokens if t in present) / total
    unknown = sum(weights[t] for t in words if idf.get(t) is None) / total
    have_figures = set(figures(evidence_text))
    missing_figures = tuple(f for f in figures(question) if f not in have_figures)
    lowered = evidence_text.lower()
    # A name is looked for only when the best passage is written in its script: an Arabic
    # passage spells "Commerce Department" in Arabic letters (a Latin brand name in it still
    # counts where it is found).
    scripts = _script_shares(hits[0].text)
    missing = [
        n for n in names(question, language)
        if n.lower() not in lowered and scripts.get(script(n[0]), 0.0) >= 0.2
    ]
    names_found: tuple[str, ...] = ()
    if not shared:
        names_found, missing = _names_across(question, hits, missing, present, spelling, aligner)
    best = max(candidates, key=lambda c: c.score) if candidates else None
    wants = asks_for_number(question)
    answer_text = ""
    if best is not None:
        answer_text = best.sentence.text
        if best.antecedent is not None:
            answer_text = best.antecedent.sentence.text + " " + answer_text
        if best.completion is not None:
            answer_text += " " + best.completion.sentence.text
    in_answer = set(tokenize(answer_text))
    answer_coverage = sum(weights[t] for t in tokens if t in in_answer) / total
    scored = [t for t in words if idf.get(t) is not None]
    rarest_found = True
    if scored:
        rarest_word = max(scored, key=lambda t: weights[t])
        rarest_found = rarest_word in present
    zs = sorted((h.dense_z for h in hits), reverse=True)
    sims = sorted((c.similarity for c in candidates), reverse=True)
    return Evidence(
        store_size=0 if filtered else store_size,
        peers=None if sizes is None else (0 if filtered else sizes.get(lead, 0)),
        margin=zs[0] - zs[1] if len(zs) > 1 else 0.0,
        sentence_margin=sims[0] - float(sorted(sims)[len(sims) // 2]) if sims else 0.0,
        latent=0.0 if shared else latent,
        answer_coverage=answer_coverage,
        rarest_found=rarest_found,
        similarity=max(h.similarity for h in hits),
        standing=max(h.dense_z for h in hits),
        sentence_similarity=max((c.similarity for c in candidates), default=0.0),
        known_words=known_share,
        shared_language=shared,
        coverage=coverage,
        unknown_rare=unknown,
        missing_figures=missing_figures,
        missing_names=tuple(missing),
        names_found=names_found,
        wants_figure=wants,
        figure_in_answer=has_figure(answer_text) if wants else True,
        missing_answer_type=(answer_type_missing(question, answer_text) or "") if best is not None else "",
    )


def _names_across(
    question: str,
    hits: Sequence[Hit],
    missing: list[str],
    present: set[str],
    spelling: Mapping[str, str],
    aligner: Aligner | None,
) -> tuple[tuple[str, ...], list[str]]:
    """Across languages, the question's names found in the evidence in another script
    (`Evidence.names_found`), and those of `missing` (not in the evidence as written) still
    missing: a name may be spelt another way ("Japón": "Japan") or translated ("Varsovia":
    "Warsaw")."""
    matcher = NameMatcher(question_names(question, spelling))
    if not matcher and not missing:
        return (), missing
    in_evidence = passage_names(" ".join(h.text for h in hits), lower_words(h.text for h in hits))
    # Found across scripts only: a name of the question's own script is looked for as it is
    # (`missing_names`, coverage). Counted in its own script too, the feature fired for most
    # es->en questions, answerable or not: refitted so, es->en near declined 0.455 -> 0.434
    # (bench/RESULTS.md 7i).
    found = tuple(sorted(matcher.found(in_evidence)))
    if missing:
        # The same consonant skeleton (`transliteration`): spelt the evidence language's way.
        spelt = NameMatcher((n, n) for n in missing).found(in_evidence, same_script=True)
        missing = [n for n in missing if n not in spelt]
    if missing and aligner is not None:
        # Translated, not spelt ("Teatro de Verano": "Summer Theatre"): the evidence's word
        # whose vector is nearest to the name.
        near = aligner.nearest([n.lower() for n in missing], sorted(t for t in present if not t.isdigit()))
        missing = [n for n, sim in zip(missing, near) if sim < TRANSLATED_NAME]
    return found, missing


# The evidence score: a logistic model over the signals, one per case (the question shares the
# best passage's language, or not), fitted by `python bench/declines.py --fit` on XQuAD articles
# 24-47 (stores of their paragraphs, whole and without every third one, alone and padded with
# articles 0-23 to 3-4 times the size, since the signals shift with the store's size; every
# question of present, missing and absent paragraphs asked in en, ar and es) and measured on
# articles 0-23, whose questions it never saw. Raw cosine levels belong to
# one embedding model: the `e5` weights use them; with any other model the `generic` weights use
# only the standardised and lexical signals. The e5 `cross` weights were last refitted on
# 2026-12-04, when a name found across an uncased script had to end as the passage's word does
# (bench/RESULTS.md 7j); the other three are earlier fits.
_FEATURES = {
    "shared": ("standing", "similarity", "sentence_similarity", "margin", "sentence_margin",
               "missing_figure", "figure_wanted", "coverage", "unknown_rare", "answer_coverage",
               "rarest_found"),
    "cross": ("standing", "similarity", "sentence_similarity", "margin", "sentence_margin",
              "missing_figure", "figure_wanted", "coverage", "answer_coverage", "missing_name",
              "latent", "name_found"),
}
_WEIGHTS: dict[str, dict[str, tuple[tuple[float, ...], float]]] = {
    "e5": {
        "shared": ((0.1784, 23.8933, 43.2864, 0.6848, -11.558, -1.3779, -0.719, 1.5535, -0.1733,
                    5.1992, 0.0563), -59.0437),
        "cross": ((0.5829, -16.6732, 55.354, 0.8008, -2.0947, -2.1004, -0.5203, 0.7372, 0.592,
                   -2.1921, 15.5535, 0.8762), -35.0371),
    },
    "generic": {
        "shared": ((1.4948, 0.0, 0.0, 0.3344, -6.0551, -1.7365, -0.9073, 0.3459, -0.8303, 7.4088,
                    -0.1158), -5.663),
        "cross": ((1.2504, 0.0, 0.0, 0.3121, 36.1067, -1.9133, -0.6807, 1.3598, -0.8945, -2.2402,
                   0.0, 0.356), -4.2111),
    },
}
# Below this standing the best passage is no better than the store's typical passage for the
# question: nothing answers it. At 1.1, under 1% of XQuAD's answerable questions fell below it
# in one language but 7.4% across languages (88 of ar->en's 183 false declines). At 0.9, whole
# XQuAD false declines fall en->en 23 -> 20, ar->ar 62 -> 58, ar->en 183 -> 156, and
# `bench/declines.py`'s far and near sets are unchanged; its bigger stores decline 1-2 points
# fewer (ar->en farbig 0.66 -> 0.64). At 0.75: ar->en 149, far declined 0.72 -> 0.71
# (bench/RESULTS.md 7h).
MIN_STANDING = 0.9
# A name of the question missing from the evidence as written is there when a word of the
# evidence is this close to it by the word vectors (`alignment.Aligner.nearest`): its
# translation ("Varsovia": "Warsaw"). On 300 XQuAD es questions, of the names missing from the
# gold paragraph as written 38% had a word there at 0.93 or more, 17% in another paragraph of
# the same article, 2% in another article's (0.9: 63%, 33%, 8%). Whole XQuAD es->en false
# declines 42 -> 37 before the refit (bench/RESULTS.md 7i).
TRANSLATED_NAME = 0.93
# A language with this few chunks in the store has no distribution of passages to stand out
# from: the floor is not used for its passages (the seeds hold 13 English chunks, 8 Arabic).
MIN_PEERS_FOR_STANDING = 20
# A language with fewer chunks than this (often one misdetected paragraph) is no group of its
# own: retrieval standardises its passages against all candidates, and `weigh` weighs them with
# the store's main language.
MIN_GROUP = 5
# Answer when the score is above this (log-odds of "the evidence answers the question").
THRESHOLDS = {"shared": -0.75, "cross": -1.0}


def _values(e: Evidence) -> dict[str, float]:
    return {
        "standing": e.standing,
        "similarity": e.similarity,
        "sentence_similarity": e.sentence_similarity,
        "margin": e.margin,
        "sentence_margin": e.sentence_margin,
        "missing_figure": float(bool(e.missing_figures)),
        "figure_wanted": float(e.wants_figure and not e.figure_in_answer),
        "coverage": e.coverage,
        "unknown_rare": e.unknown_rare,
        "answer_coverage": e.answer_coverage,
        "rarest_found": float(e.rarest_found),
        "missing_name": float(bool(e.missing_names)),
        "latent": e.latent,
        "name_found": float(bool(e.names_found)),
    }


def evidence_score(e: Evidence, model: str = "e5") -> float:
    """Log-odds that the retrieved passages answer the question."""
    case = "shared" if e.shared_language else "cross"
    weights, bias = _WEIGHTS.get(model, _WEIGHTS["generic"])[case]
    values = _values(e)
    return bias + sum(w * values[name] for w, name in zip(weights, _FEATURES[case]))


def scored(e: Evidence, model: str = "e5") -> Evidence:
    """The evidence with its score filled in."""
    from dataclasses import replace

    return replace(e, score=evidence_score(e, model))


def weights_for(model_id: str) -> str:
    """Which calibrated weights fit an embedding model."""
    return "e5" if "multilingual-e5-small" in model_id else "generic"


def weigh(
    question: str,
    hits: Sequence[Hit],
    candidates: Sequence[Any],
    idf: Mapping[str, float | None],
    store_size: int,
    language: str | None = None,
    *,
    filtered: bool = False,
    spelling: Mapping[str, str] | None = None,
    latent: Mapping[str, float] | None = None,
    sizes: Mapping[str, int] | None = None,
    model: str = "e5",
    offset: float = 0.0,
    aligner: Aligner | None = None,
) -> tuple[Evidence, str | None, list[Any]]:
    """The evidence, the decline reason (None: answer) and the candidates to answer from.

    When the passages are in several languages (a store that mixes them), the passages of each
    language are weighed on their own, in their own mode (`assess`): the question's words are
    looked for in the passages of its language, and only what survives translation in the
    others. Mixing them would hold a foreign passage to words it cannot contain, or let words
    found in one language vouch for a sentence of another. The part that passes by the largest
    margin answers; when none passes, the reason is that of the best passage's part. `latent`
    maps chunk ids of passages in other languages than the question's to their latent-terms
    cosine with it; `sizes` are the store's chunks per language.
    """
    latent = latent or {}
    # A language with a few chunks in the store (often a misdetected paragraph) is no part of its
    # own, as in retrieval's standardising: its passages go with the store's main language.
    counts = sizes or {}
    main = max(counts, key=counts.__getitem__, default=None)
    keys = [h.language if main is None or counts.get(h.language, 0) >= MIN_GROUP else main for h in hits]
    parts = [(keys[0] if hits else None, list(hits), list(candidates))]
    if language is not None and len(set(keys)) > 1:
        # One part per language, in the order of each language's best passage.
        parts = [
            (lang, [h for h, key in zip(hits, keys) if key == lang],
             [c for c in candidates if keys[c.sentence.hit] == lang])
            for lang in dict.fromkeys(keys)
        ]
    weighed = []
    for lead, part_hits, part_candidates in parts:
        e = scored(
            assess(
                question, part_hits, part_candidates, idf, store_size, language,
                filtered=filtered, spelling=spelling, sizes=sizes, lead=lead, aligner=aligner,
                latent=max((latent.get(h.chunk_id, 0.0) for h in part_hits), default=0.0),
            ),
            model,
        )
        weighed.append((e, decide(e, offset), part_candidates))
    passing = [w for w in weighed if w[1] is None]
    if not passing:
        return weighed[0]
    return max(passing, key=lambda w: w[0].score - THRESHOLDS["shared" if w[0].shared_language else "cross"])


def decide(evidence: Evidence, offset: float = 0.0) -> str | None:
    """Why the assistant should decline, or None to answer.

    `offset` (the `decline_bias` setting) moves the threshold: positive declines more.
    """
    if evidence.reasons:
        return evidence.reasons[0]
    peers = evidence.store_size if evidence.peers is None else evidence.peers
    if evidence.standing < MIN_STANDING and peers >= MIN_PEERS_FOR_STANDING:
        return (
            f"no passage stands out from the articles' typical passage for this question "
            f"(standing {evidence.standing:.2f} < {MIN_STANDING})"
        )
    if evidence.missing_figures and evidence.wants_figure and not evidence.figure_in_answer:
        # "How many cars were sold in 2022?" over passages that never mention 2022, answered by a
        # sentence stating no figure: the evidence is about something else, whatever the score
        # (among XQuAD's answerable questions, in every direction, none has both signs).
        return (
            f"the figures {list(evidence.missing_figures)} appear in no retrieved passage and "
            "the best sentence states no figure for a question asking for one"
        )
    if evidence.missing_answer_type:
        # "How much subsidy money has Canada pledged?" over "The Canadian government will offer
        # support through subsidies": the passage is on topic, the amount is not there.
        return f"the question asks for {evidence.missing_answer_type} and the best sentence states none"
    case = "shared" if evidence.shared_language else "cross"
    threshold = THRESHOLDS[case] + offset
    if evidence.score >= threshold:
        return None
    why = []
    if evidence.missing_figures:
        why.append(f"the figures {list(evidence.missing_figures)} appear in no retrieved passage")
    if evidence.wants_figure and not evidence.figure_in_answer:
        why.append("the question asks for a figure and the best sentence states none")
    if evidence.shared_language and evidence.unknown_rare > 0.3:
        why.append("the articles never use several of the question's words")
    if not why:
        why.append("no passage stands out as answering the question")
    return f"{'; '.join(why)} (evidence score {evidence.score:.2f} < {threshold:.2f})"
