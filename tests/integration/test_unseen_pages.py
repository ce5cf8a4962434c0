"""Four raw web pages in four languages, whose furniture is in their own language, and questions
about them in five and more languages (`data/unseen_pages`: made-up pages, written by helpers
that saw none of our sets), through the real pipeline and model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant import Assistant, Settings

pytestmark = pytest.mark.integration

PAGES = Path(__file__).resolve().parents[1] / "data" / "unseen_pages"
PAGES2 = PAGES.parent / "unseen_pages2"


def ingested(tmp_path_factory: pytest.TempPathFactory, folder: Path) -> Assistant:
    """A store holding every page of `folder`, each ingested without a skip."""
    assistant = Assistant(Settings(data_dir=tmp_path_factory.mktemp(folder.name), collection=folder.name))
    report = assistant.ingest([folder])
    assert report.added == len(list(folder.glob("*.txt"))) and report.skipped == 0, report
    return assistant


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return ingested(tmp_path_factory, PAGES)


@pytest.fixture(scope="module")
def pages2(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return ingested(tmp_path_factory, PAGES2)


def questions(folder: Path = PAGES) -> list[dict]:
    return [json.loads(line) for line in (folder / "qa.jsonl").read_text(encoding="utf-8").splitlines()]


def test_furniture_in_the_pages_own_language_is_not_stored(pages: Assistant) -> None:
    text = " ".join(h.text for q in ("Kommentare", "Facebook LinkedIn WhatsApp", "Anmelden Abo") for h in pages.retriever.search(q, 10))
    for junk in ("schrieb am", "WhatsApp", "Startseite ›", "Se connecter", "Flash info"):
        assert junk not in text, junk
    titles = {Path(d.source).name: d.title for d in pages.sources()}
    assert titles["doc_fr_cobalt.txt"].startswith("Cobalt : Kolwezi Cobalt Ressources mise 640 millions")


# Measured 2026-12-04: the first passage is the answering page's for 29 of 32 answerable questions
# (0.91), 17 of 32 (0.53) with every language standardised apart.
FIRST_FLOOR = 0.8


def first_is_gold(assistant: Assistant, folder: Path = PAGES) -> float:
    asked = [q for q in questions(folder) if q["answerable"]]
    found = sum(Path(assistant.retriever.search(q["question"], 5)[0].source).name in q["gold_sources"] for q in asked)
    return found / len(asked)


def test_the_answering_page_ranks_first_whatever_the_languages(pages: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.retrieval as retrieval

    pooled = first_is_gold(pages)
    assert pooled >= FIRST_FLOOR, pooled
    # Before: each language standardised apart, each page's best chunk at the top of its own spread.
    monkeypatch.setattr(retrieval, "_POOL_FOREIGN", False)
    assert first_is_gold(pages) < pooled


# Measured 2026-12-04: 31 of 40 (0.775) on the five pages of the second set, 22 of 40 (0.55) with
# each language's candidates standardised on their own spread.
FIRST_FLOOR_2 = 0.7


def test_a_page_alone_in_its_language_is_not_held_down_by_its_own_spread(
    pages2: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    import assistant.retrieval as retrieval

    question = "Who is Redcliff's managing director?"
    assert Path(pages2.retriever.search(question, 5)[0].source).name == "page_en_manganese.txt"
    answer = pages2.ask(question)
    assert answer.answered and "Sarah Lindqvist" in answer.text
    on_scale = first_is_gold(pages2, PAGES2)
    assert on_scale >= FIRST_FLOOR_2, on_scale
    # Before: the English page's chunks were one topic's, their mean how close the page is; set
    # on their own spread, the page's best came below an Arabic share bar and a Russian footer.
    monkeypatch.setattr(retrieval, "_BACKGROUND_DOCUMENTS", 0)
    assert Path(pages2.retriever.search(question, 5)[0].source).name != "page_en_manganese.txt"
    assert first_is_gold(pages2, PAGES2) < on_scale
