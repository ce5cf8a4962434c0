"""Evaluation datasets: the labelled question formats and their readers.

- Our JSONL: one object a line with ``question``, ``answerable``, ``gold_sources``,
  ``answer_any`` / ``answer_all`` and an optional ``id`` (`load_jsonl`).
- SQuAD / XQuAD JSON (v1.1; v2.0 ``is_impossible`` items count as unanswerable): every paragraph
  becomes one document named by `paragraph_file_name`; two parallel files give a cross-lingual set
  (`load_squad_pair`).

Nothing here touches a store or a model; see `assistant.evaluation` for the whole picture.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError


@dataclass
class Item:
    """One labelled question."""

    id: str
    question: str
    answerable: bool = True
    gold_sources: tuple[str, ...] = ()
    answer_any: tuple[str, ...] = ()
    answer_all: tuple[str, ...] = ()
    spans: tuple[str, ...] = ()  # SQuAD gold answer spans (token F1)


def _format_of(path: Path) -> str:
    if not path.is_file():
        what = "is a folder, not a dataset file" if path.is_dir() else "does not exist"
        raise UsageError(f"{path}: {what}")
    if path.suffix.lower() == ".jsonl":
        return "jsonl"
    if path.suffix.lower() == ".json":
        return "squad"
    with open(path, encoding="utf-8", errors="replace") as fh:
        head = fh.read(4096).lstrip()
    if head.startswith("{") and '"data"' in head:
        return "squad"
    if head.startswith("{"):
        return "jsonl"
    raise UsageError(f"{path}: not a JSONL or SQuAD JSON dataset")


def load_jsonl(path: Path) -> list[Item]:
    """Our labelled questions, one JSON object a line."""
    items: list[Item] = []
    try:
        # A bad byte becomes U+FFFD: its line then fails to parse and is named below.
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            question = str(row["question"]).strip()
            for key in ("gold_sources", "answer_any", "answer_all"):
                if not isinstance(row.get(key) or [], list):
                    raise TypeError(f"{key!r} must be a list")
            gold = tuple(Path(str(g)).name for g in row.get("gold_sources") or ())
            items.append(
                Item(
                    id=str(row.get("id") or f"line-{lineno}"),
                    question=question,
                    answerable=bool(row.get("answerable", True)),
                    gold_sources=gold,
                    answer_any=tuple(str(x) for x in row.get("answer_any") or ()),
                    answer_all=tuple(str(x) for x in row.get("answer_all") or ()),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise UsageError(f"{path}:{lineno}: not a question object ({exc})") from None
    if not items:
        raise UsageError(f"{path}: no questions")
    return items


def _read_squad(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))["data"]
        if not isinstance(data, list):
            raise TypeError("'data' is not a list")
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError, OSError) as exc:
        raise UsageError(f"{path}: not a SQuAD/XQuAD JSON file ({exc})") from None
    return data


def load_squad_pair(q_path: Path, c_path: Path) -> tuple[list[str], list[Item]]:
    """Paragraph texts of the corpus file and its items, questions taken from the questions file.

    With one file both sides are the same. Parallel files must have the same articles, paragraphs
    and questions in the same order; gold spans come from the corpus side.
    """
    corpus_data = _read_squad(c_path)
    question_data = corpus_data if q_path == c_path else _read_squad(q_path)
    paragraphs: list[str] = []
    items: list[Item] = []
    width = 3
    n_paras = sum(len(a.get("paragraphs", [])) for a in corpus_data)
    width = max(width, len(str(n_paras - 1)))
    if q_path != c_path:
        q_paras = sum(len(a.get("paragraphs", [])) for a in question_data)
        if q_paras != n_paras or len(question_data) != len(corpus_data):
            raise UsageError(
                f"{q_path} and {c_path} are not parallel: {len(question_data)} vs {len(corpus_data)} "
                f"articles, {q_paras} vs {n_paras} paragraphs"
            )
    for article_c, article_q in zip(corpus_data, question_data):
        for para_c, para_q in zip(article_c.get("paragraphs", []), article_q.get("paragraphs", [])):
            index = len(paragraphs)
            paragraphs.append(str(para_c.get("context", "")))
            qas_c, qas_q = para_c.get("qas", []), para_q.get("qas", [])
            if len(qas_c) != len(qas_q):
                raise UsageError(
                    f"{q_path} and {c_path} are not parallel: paragraph {index} has "
                    f"{len(qas_q)} vs {len(qas_c)} questions"
                )
            for qa_c, qa_q in zip(qas_c, qas_q):
                impossible = bool(qa_c.get("is_impossible", False))
                spans = tuple(
                    dict.fromkeys(str(a["text"]) for a in qa_c.get("answers", []) if a.get("text"))
                )
                items.append(
                    Item(
                        id=str(qa_q.get("id") or f"q{len(items)}"),
                        question=str(qa_q["question"]).strip(),
                        answerable=not impossible,
                        gold_sources=(paragraph_file_name(index, width),) if not impossible else (),
                        spans=spans if not impossible else (),
                    )
                )
    if not items:
        raise UsageError(f"{q_path}: no questions")
    return paragraphs, items


def paragraph_file_name(index: int, width: int = 3) -> str:
    """The document name a SQuAD paragraph is ingested under."""
    return f"p{index:0{width}d}.txt"
