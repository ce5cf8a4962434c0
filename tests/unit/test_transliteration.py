"""Names across scripts (`assistant.transliteration`): skeletons, which words are names, matching."""

from __future__ import annotations

import pytest

from assistant.transliteration import (
    NameMatcher,
    lower_words,
    name_words,
    passage_names,
    question_names,
    skeleton,
)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("California", "كاليفورنيا"),
        ("Maastricht", "ماسترخت"),
        ("Amazon", "أمازون"),
        ("America", "أمريكا"),
        ("Tesla", "Тесла"),
        ("Tesla", "تسلا"),
        ("Ukraine", "Україна"),
        ("Victoria", "فيكتوريا"),
        ("Ghana", "غانا"),
        ("Iraq", "العراق"[2:]),
        # Devanagari's nasal mark is the "n" (the tables write "m": "mainimg" before), and a
        # word is its letters with its vowel marks ("पेटन" was split into "प" and "टन").
        ("Manning", "मैनिंग"),
        ("Broncos", "ब्रोंकोस"),
        ("Peyton", "पेटन"),
        # Thai writes some vowels before their consonant ("ephytan" before) and its "ph" is a p.
        ("Peyton", "เพย์ตัน"),
        ("Tesla", "เทสลา"),
        ("California", "แคลิฟอร์เนีย"),
    ],
)
def test_a_name_and_its_transliteration_share_a_skeleton(one: str, other: str) -> None:
    assert skeleton(one) == skeleton(other)


@pytest.mark.parametrize(("one", "other"), [("America", "Mark"), ("Emperor", "مباراة"), ("Tesla", "Toyota")])
def test_different_names_have_different_skeletons(one: str, other: str) -> None:
    # "America" and "Mark" share their consonants; the opening vowel tells them apart.
    assert skeleton(one) != skeleton(other)


def test_names_are_capitalised_words_in_cased_scripts_and_every_word_in_uncased_ones() -> None:
    text = "Later the plant opened. Machine tools and later ones came from Livent in Argentina."
    # "Later" opens a sentence and the text writes "later": no name. "Machine" opens one too,
    # but nothing writes "machine" in lower case here.
    assert name_words(text, lower_words([text])) == ["Machine", "Livent", "Argentina"]
    assert name_words("افتتحت تسلا مصنعا") == ["افتتحت", "تسلا", "مصنعا"]


def test_a_question_name_in_another_script_is_found_in_a_passage() -> None:
    matcher = NameMatcher(question_names("في أي سنة تم التوقيع على معاهدة ماسترخت؟", {}))
    assert matcher.found(passage_names("The Maastricht Treaty was signed in 1992.")) == {"ماسترخت"}
    assert matcher.found(passage_names("The Treaty of Lisbon was signed in 2007.")) == set()


def test_a_cased_question_name_is_found_in_an_uncased_passage() -> None:
    matcher = NameMatcher(question_names("Where did Tesla build its factory?", {}))
    assert matcher.found(passage_names("بنت تسلا مصنعها في برلين")) == {"tesla"}


def test_words_of_one_script_are_never_compared_by_skeleton() -> None:
    # Within a script words match as they are (the keyword evidence); "Tesla" and "Tesco" differ.
    matcher = NameMatcher(question_names("When did Tesla open?", {}))
    assert matcher.found(passage_names("Tesla opened in 2003.")) == set()


def test_lower_case_words_of_a_cased_question_are_no_names() -> None:
    assert question_names("what did the company sell?", {}) == []


def test_a_name_spelt_another_way_in_another_language_of_the_script_is_found_when_asked() -> None:
    # A Spanish question over an English passage: "Japón" is "Japan". Only across languages:
    # within one, a word and its skeleton twin are different words.
    matcher = NameMatcher(question_names("¿Qué minerales extraerán Japón y Canadá?", {}))
    words = passage_names("Japan and Canada will mine nickel first.")
    assert matcher.found(words) == set()
    assert matcher.found(words, same_script=True) == {"japón", "canadá"}


def test_a_devanagari_question_finds_the_names_it_transliterates() -> None:
    # Before: the question's words were cut at their vowel marks and no name was found.
    question = "सुपर बाउल 50 में खेलते समय पेटन मैनिंग की उम्र कितनी थी?"
    matcher = NameMatcher(question_names(question))
    passage = "Peyton Manning became the first quarterback to lead two teams to the Super Bowl."
    found = matcher.found(passage_names(passage, lower_words([passage])))
    assert {"पेटन", "मैनिंग"} <= found


@pytest.mark.parametrize(
    ("question_word", "passage", "found"),
    [
        # A common Hindi word shares Court's skeleton ("krt"); it ends on a vowel, Court does not.
        ("करते", "The Court ruled on the matter.", False),
        ("टेस्ला", "The plant was built by Tesla in Nevada.", True),
        # An alef at the end is a vowel the tables write as nothing ("تسلا" reads "tsl").
        ("تسلا", "The plant was built by Tesla in Nevada.", True),
        # A silent final e is no vowel: "كلود" (Claude) ends on d.
        ("كلود", "The painter Claude lived in Paris.", True),
    ],
)
def test_across_an_uncased_script_a_name_must_end_as_the_passage_word_does(
    question_word: str, passage: str, found: bool
) -> None:
    # Before: every word of an uncased script is a candidate name, and "करते" (do) was found as
    # "Court" in an English passage, counting as evidence for a question about anything.
    matcher = NameMatcher(question_names(f"{question_word} ?"))
    assert bool(matcher.found(passage_names(passage, lower_words([passage])))) is found
