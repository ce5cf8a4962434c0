"""The seed dev set asked in other languages than the articles' (French and Spanish in full;
German, Russian and Chinese in part: tests/data/seed_qa_languages.jsonl, translated by us), through
`assistant eval`'s runner on the seeded store. The issue's bar: at least 90% of the answerable
questions answered in any language; the rest are floors a little under today's figures
(bench/RESULTS.md), so a change that loses ground fails here."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from assistant.evaluation import run_eval

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data" / "seed_qa_languages.jsonl"

# Measured 2026-12-01 (88 questions): 66 of 67 answerable ones answered, gold span in 0.82, gold
# source cited 0.88, 15 of 21 unanswerable ones declined (before the third trust pass: 0.81, 12).
# 2026-12-02, each language's passages weighed apart (`evidence.weigh`): 67 of 67 answered, gold
# span in 0.925, gold source cited 1.0, 14 of 21 declined.
ANSWERED_FLOOR = 0.9
HIT_FLOOR = 0.85
DECLINED_FLOOR = 0.6


def test_the_set_covers_five_languages_with_both_kinds_of_question() -> None:
    items = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    assert set(Counter(i["language"] for i in items)) == {"fr", "es", "de", "ru", "zh"}
    assert sum(not i["answerable"] for i in items) >= 15


def test_questions_in_other_languages_are_answered_from_the_articles_or_declined(
    seeded_data_dir: Path,
) -> None:
    report = run_eval(DATA, provider="extractive")
    answers, declines, citations = report["answers"], report["declines"], report["citations"]
    answerable = declines["answerable"]
    assert 1 - declines["false_declines"] / answerable >= ANSWERED_FLOOR, declines
    assert answers["hit_rate"] >= HIT_FLOOR, answers
    assert declines["declined"] / declines["unanswerable"] >= DECLINED_FLOOR, declines
    assert citations["valid"] == citations["answers"], citations


def test_a_question_is_answered_from_the_articles_in_another_language(seeded_data_dir: Path) -> None:
    """The seeds mix an Arabic article with English ones. An Arabic question whose answer is only
    in an English article: before, its evidence was weighed with the Arabic passages ranked first
    (and the floor counted all 21 chunks as one distribution), and it was declined."""
    from assistant import Assistant

    answer = Assistant().ask("ما هي المعادن التي ستبدأ اليابان وكندا بتعدينها؟", provider="extractive")
    assert answer.answered, answer.decline_reason
    assert {Path(c.source).name for c in answer.citations} == {"003_00a1cc68e7f4e4af.txt"}
    assert "nickel and lithium" in answer.text
    assert answer.text.endswith("(الاقتباس باللغة الإنجليزية)")
    assert answer.evidence["shared_language"] is False


MORE = Path(__file__).resolve().parents[1] / "data" / "seed_qa_more_languages.jsonl"
# Measured 2026-12-04 (80 questions in ja, hi, tr, el, vi, th, pt, it): 63 of 64 answerable ones
# answered, gold span in 0.844, gold source cited 0.92, 14 of 16 unanswerable ones declined.
MORE_HIT_FLOOR = 0.8
MORE_DECLINED_FLOOR = 0.75


def test_questions_in_eight_more_languages_are_answered_or_declined(seeded_data_dir: Path) -> None:
    items = [json.loads(line) for line in MORE.read_text(encoding="utf-8").splitlines()]
    assert set(Counter(i["language"] for i in items)) == {"ja", "hi", "tr", "el", "vi", "th", "pt", "it"}
    report = run_eval(MORE, provider="extractive")
    answers, declines, citations = report["answers"], report["declines"], report["citations"]
    assert 1 - declines["false_declines"] / declines["answerable"] >= ANSWERED_FLOOR, declines
    assert answers["hit_rate"] >= MORE_HIT_FLOOR, answers
    assert declines["declined"] / declines["unanswerable"] >= MORE_DECLINED_FLOOR, declines
    assert citations["valid"] == citations["answers"], citations


def test_a_hindi_question_finds_the_name_it_transliterates(seeded_data_dir: Path) -> None:
    """Devanagari writes most vowels as combining marks. Before: the question's words were cut at
    them ("सर्बिया", Serbia, read as "सर" and a dropped "ब"), and no name was found in the evidence."""
    from assistant import Assistant

    answer = Assistant().ask("सर्बिया में किस लिथियम भंडार को जनता के विरोध ने रोक दिया है?", provider="extractive")
    assert answer.answered, answer.decline_reason
    assert "सर्बिया" in answer.evidence["names_found"]
    assert {Path(c.source).name for c in answer.citations} == {"001_fea0fef66f3d3d96.txt"}
