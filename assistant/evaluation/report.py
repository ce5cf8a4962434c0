"""Evaluation report: the metrics computed over the outcomes, the answer-text normalisation they
rely on (SQuAD token F1, marker stripping, containment) and the report's rich table.

Pure functions over `Outcome` records and plain dicts: no store, no model, no I/O.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table

    from .runner import Outcome

_MARKERS = re.compile(r"\s*\[\d{1,3}(?:\s*[,،]\s*\d{1,3})*\]")
_AR_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_EN_ARTICLES = re.compile(r"\b(a|an|the)\b")
MAX_FAILURES = 500


def render_table(report: dict[str, Any]) -> Table:
    """The report as a rich table (metric, value, n)."""
    from rich.table import Table

    if report.get("questions_file") and report.get("questions_file") != report.get("corpus_file"):
        name = f"{Path(report['questions_file']).name} → {Path(report['corpus_file']).name}"
    else:
        name = Path(str(report.get("dataset", ""))).name
    table = Table(
        title=f"assistant eval {name}",
        caption=(
            f"{report.get('n')} questions · {report.get('provider')} ({report.get('model')}) · "
            f"k={report.get('k')} · {report.get('seconds')} s"
        ),
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("over", justify="right")
    r, a, c, d, lat = (
        report.get(x, {}) for x in ("retrieval", "answers", "citations", "declines", "latency_ms")
    )
    rows: list[tuple[str, Any, Any]] = [
        ("retrieval recall@1", r.get("recall@1"), r.get("n")),
        ("retrieval recall@5", r.get("recall@5"), r.get("n")),
        (f"retrieval MRR@{r.get('depth', '')}", r.get("mrr"), r.get("n")),
        ("answer hit rate", a.get("hit_rate"), a.get("n")),
        ("answer token F1", a.get("f1"), a.get("f1_n")),
        ("gold source cited", a.get("gold_cited"), a.get("gold_cited_n")),
        ("citations valid", c.get("valid_rate"), c.get("answers")),
        ("decline accuracy", d.get("accuracy"), d.get("unanswerable")),
        ("false declines", d.get("false_declines"), d.get("answerable")),
        ("latency p50 (ms)", lat.get("p50"), report.get("n")),
        ("latency p95 (ms)", lat.get("p95"), report.get("n")),
    ]
    for name, value, over in rows:
        table.add_row(name, _fmt(value), "" if over is None else str(over))
    return table



# --- metrics ----------------------------------------------------------------------------------------
def _rate(num: float, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _retrieval_metrics(outcomes: Sequence[Outcome], depth: int) -> dict[str, Any]:
    n = len(outcomes)
    r1 = sum(1 for o in outcomes if o.gold_rank == 1)
    r5 = sum(1 for o in outcomes if o.gold_rank is not None and o.gold_rank <= 5)
    mrr = sum(1.0 / o.gold_rank for o in outcomes if o.gold_rank)
    return {
        "recall@1": _rate(r1, n),
        "recall@5": _rate(r5, n),
        "mrr": _rate(mrr, n),
        "depth": depth,
        "n": n,
    }


def _answer_metrics(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    judged = [o for o in outcomes if o.hit is not None]
    scored = [o for o in outcomes if o.f1 is not None]
    cited = [o for o in outcomes if o.gold_cited is not None]
    return {
        "hit_rate": _rate(sum(1 for o in judged if o.hit), len(judged)),
        "n": len(judged),
        "f1": _rate(sum(o.f1 or 0.0 for o in scored), len(scored)),
        "f1_n": len(scored),
        "gold_cited": _rate(sum(1 for o in cited if o.gold_cited), len(cited)),
        "gold_cited_n": len(cited),
        "mean_answer_chars": _rate(
            sum(len(strip_markers(o.text)) for o in outcomes if o.answered),
            sum(1 for o in outcomes if o.answered),
        ),
    }


def _citation_metrics(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    checked = [o for o in outcomes if o.citations_valid is not None]
    return {
        "answers": len(checked),
        "valid": sum(1 for o in checked if o.citations_valid),
        "valid_rate": _rate(sum(1 for o in checked if o.citations_valid), len(checked)),
        "markers": sum(o.markers for o in checked),
        "unresolved_markers": sum(o.unresolved for o in checked),
        "quotes": sum(o.quotes for o in checked),
        "non_verbatim_quotes": sum(o.bad_quotes for o in checked),
        "dropped_markers": sum(o.dropped for o in outcomes),
    }


def _decline_metrics(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    unanswerable = [o for o in outcomes if not o.item.answerable]
    answerable = [o for o in outcomes if o.item.answerable]
    declined = sum(1 for o in unanswerable if not o.answered)
    false = sum(1 for o in answerable if not o.answered)
    return {
        "accuracy": _rate(declined, len(unanswerable)),
        "declined": declined,
        "unanswerable": len(unanswerable),
        "false_declines": false,
        "false_decline_rate": _rate(false, len(answerable)),
        "answerable": len(answerable),
    }


def _latency(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    values = sorted(o.latency_ms for o in outcomes if o.latency_ms is not None)
    if not values:
        return {"p50": None, "p95": None, "mean": None, "max": None}
    return {
        "p50": round(percentile(values, 50), 1),
        "p95": round(percentile(values, 95), 1),
        "mean": round(sum(values) / len(values), 1),
        "max": round(values[-1], 1),
    }


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile of values (numpy's default method)."""
    data = sorted(values)
    if not data:
        raise ValueError("no values")
    pos = (len(data) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def _failures(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for o in outcomes:
        it = o.item
        problems: list[str] = [f"error: {o.error}"] if o.error else []
        if it.answerable and it.gold_sources and (o.gold_rank is None or o.gold_rank > 5):
            problems.append("gold source not in the top 5 retrieved documents")
        if o.error:
            pass
        elif it.answerable and not o.answered:
            problems.append(f"declined an answerable question ({o.decline_reason})")
        elif it.answerable and o.hit is False:
            problems.append("answer lacks the gold answer")
        if it.answerable and o.answered and o.gold_cited is False:
            problems.append("no gold source among the citations")
        if not it.answerable and o.answered:
            problems.append("answered an unanswerable question")
        problems.extend(o.citation_problems)
        if not problems:
            continue
        out.append(
            {
                "id": it.id,
                "question": it.question,
                "problems": problems,
                "answered": o.answered,
                "answer": o.text if len(o.text) <= 400 else o.text[:399] + "…",
                "gold_sources": list(it.gold_sources),
                "gold": list(it.spans or it.answer_all or it.answer_any),
                "gold_rank": o.gold_rank,
                "retrieved": o.retrieved[:5],
            }
        )
        if len(out) >= MAX_FAILURES:
            break
    return out


# --- text normalisation ---------------------------------------------------------------------------
def strip_markers(text: str) -> str:
    """Answer text without its [n] citation markers."""
    return _MARKERS.sub("", text).strip()


def _contains(text: str, term: str) -> bool:
    return _squash(term) in _squash(text)


def _squash(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _AR_DIACRITICS.sub("", text)
    return " ".join(text.split())


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lowercase, no punctuation, no English articles, single spaces;
    Arabic diacritics and tatweel are stripped too."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _AR_DIACRITICS.sub("", text)
    text = "".join(
        " " if (ch in string.punctuation or unicodedata.category(ch).startswith("P")) else ch
        for ch in text
    )
    text = _EN_ARTICLES.sub(" ", text)
    return " ".join(text.split())


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD token F1 between a prediction and one gold answer."""
    from collections import Counter

    pred = normalize_answer(prediction).split()
    truth = normalize_answer(gold).split()
    if not pred or not truth:
        return float(pred == truth)
    common = Counter(pred) & Counter(truth)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred)
    recall = same / len(truth)
    return 2 * precision * recall / (precision + recall)


# --- output helpers -------------------------------------------------------------------------------
_ORDER = (
    "dataset",
    "format",
    "n",
    "provider",
    "model",
    "k",
    "retrieval",
    "answers",
    "citations",
    "declines",
    "latency_ms",
    "seconds",
    "store",
    "collection",
    "questions_file",
    "corpus_file",
    "ingest",
    "missing_gold_sources",
    "failures",
)


def _ordered(report: dict[str, Any]) -> dict[str, Any]:
    out = {key: report[key] for key in _ORDER if key in report}
    out.update({key: value for key, value in report.items() if key not in out})
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}" if value <= 1.0 else f"{value:.1f}"
    return str(value)
