"""The whole seed dev set in extractive mode: every answerable question answered with a gold
source among its citations and the answer terms in its text; every unanswerable one declined
with exit code 3. Real model, real Chroma, the seeded store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from assistant.cli import app

pytestmark = pytest.mark.integration

DEV_SET = Path(__file__).resolve().parents[1] / "data" / "seed_qa_dev.jsonl"
ITEMS = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line.strip()]


def ask_json(question: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, ["ask", question, "--json", "--provider", "extractive"])
    assert "Traceback" not in result.output
    start = result.stdout.index("{")
    return result.exit_code, json.loads(result.stdout[start:])


def test_dev_set_has_answerable_and_unanswerable_questions() -> None:
    assert sum(1 for i in ITEMS if i["answerable"]) >= 8
    assert sum(1 for i in ITEMS if not i["answerable"]) >= 2


# Known misses of the offline answerer, measured and reported (bench/RESULTS.md), kept visible as
# xfail (not strict): a fix turns them into passes without editing the test. None today: dev-20
# is answered since the latent terms weigh sentences, dev-13 (an English question answered only
# by the Arabic article) and dev-24 (an unanswerable one whose best passage is Arabic) since
# each language's passages are weighed apart (`evidence.weigh`).
KNOWN_MISSES: dict[str, str] = {}


def _param(item: dict[str, Any]) -> Any:
    marks = [pytest.mark.xfail(reason=KNOWN_MISSES[item["id"]], strict=False)] if item["id"] in KNOWN_MISSES else []
    return pytest.param(item, id=item["id"], marks=marks)


@pytest.mark.parametrize("item", [_param(i) for i in ITEMS])
def test_dev_question_is_answered_from_its_gold_source_or_declined(
    item: dict[str, Any], seeded_data_dir: Path
) -> None:
    code, answer = ask_json(item["question"])
    if not item["answerable"]:
        assert code == 3, answer
        assert answer["answered"] is False
        assert answer["citations"] == []
        return
    assert code == 0, answer
    assert answer["answered"] is True
    cited = {Path(c["source"]).name for c in answer["citations"]}
    assert cited & set(item["gold_sources"]), (cited, answer["answer"])
    text = answer["answer"].lower()
    if "answer_all" in item:
        assert all(t.lower() in text for t in item["answer_all"]), answer["answer"]
    if "answer_any" in item:
        assert any(t.lower() in text for t in item["answer_any"]), answer["answer"]
    # Every quote is verbatim in the seed file's cleaned text at its stated span.
    from assistant.documents import load_document

    for c in answer["citations"]:
        doc = load_document(Path(__file__).resolve().parents[2] / c["source"])
        assert doc.text[c["start"] : c["end"]] == c["quote"]
