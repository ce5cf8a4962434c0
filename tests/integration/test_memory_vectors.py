"""The service's in-memory vectors: a language that the one unfiltered dense query brings back
short is searched exactly in memory instead of by a `where`-filtered Chroma query, with the same
candidates (real Chroma, real e5 vectors, the seeded store)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant import Assistant, Settings, retrieval

pytestmark = pytest.mark.integration

QUESTIONS = [
    "Which minerals will Japan and Canada start mining first?",
    "How much is Geely investing in a battery plant?",
    "Who dominates every stage of EV battery development?",
    "What did the US Commerce Department meeting discuss?",
]


def _searches(assistant: Assistant, monkeypatch: pytest.MonkeyPatch) -> tuple[list[list[Any]], list[Any]]:
    wheres: list[Any] = []
    store = assistant.store
    original = store.query_ids

    def spy(vector: Any, n: int, where: Any = None) -> Any:
        wheres.append(where)
        return original(vector, n, where)

    monkeypatch.setattr(store, "query_ids", spy)
    results = [[(h.chunk_id, round(h.similarity, 4)) for h in assistant.searcher.search(q, 3)] for q in QUESTIONS]
    return results, wheres


def test_memory_vectors_give_the_filtered_query_candidates_without_filtering(
    seeded_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Treat the Arabic seed as a large language and ask for few candidates, so that the
    # unfiltered query comes back short of Arabic chunks for English questions.
    monkeypatch.setattr(retrieval, "_SMALL_LANGUAGE", 2)
    filtered = Assistant(Settings(data_dir=seeded_data_dir, k=3))
    filtered.searcher.candidates = 3
    before, wheres = _searches(filtered, monkeypatch)
    assert {"language": "ar"} in wheres, "the case needs the filtered fallback to be taken"

    warm = Assistant(Settings(data_dir=seeded_data_dir, k=3))
    warm.searcher.candidates = 3
    assert warm.searcher.preload_vectors() == warm.store.count()
    after, wheres = _searches(warm, monkeypatch)
    assert all(w is None for w in wheres), wheres
    assert after == before


def test_memory_vectors_are_reread_after_the_store_changes(
    seeded_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retrieval, "_SMALL_LANGUAGE", 2)
    assistant = Assistant(Settings(data_dir=seeded_data_dir, k=3))
    loaded = assistant.searcher.preload_vectors()
    extra = tmp_path / "extra.txt"
    extra.write_text(
        "Indonesia's nickel smelters expanded output in 2024 as battery makers signed new supply "
        "deals. The government kept its ban on raw ore exports to draw refining investment.\n",
        encoding="utf-8",
    )
    assistant.ingest([extra])
    assert assistant.searcher.preload_vectors() > loaded
    hits = assistant.search("Indonesia nickel ore export ban", 3)
    assert hits and hits[0].source.endswith("extra.txt")


def test_warm_loads_every_large_language_into_memory(seeded_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retrieval, "_SMALL_LANGUAGE", 2)
    assistant = Assistant(Settings(data_dir=seeded_data_dir))
    assistant.warm()
    assert assistant.searcher.memory_vectors
    index = assistant.searcher.keyword_index()
    assert sorted(assistant.searcher._memory) == sorted(index.languages)  # noqa: SLF001
