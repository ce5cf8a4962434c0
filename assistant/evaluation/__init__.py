"""Offline evaluation: run the real pipeline over a labelled set and measure retrieval, answers,
citations, declines and latency.

Formats
- Our JSONL (one object a line: ``question``, ``answerable``, ``gold_sources``, ``answer_any`` /
  ``answer_all``, optional ``id``): asked against the CURRENT store (settings + environment); a gold
  source matches a retrieved or cited source by file name.
- SQuAD / XQuAD JSON (v1.1; v2.0 ``is_impossible`` items count as unanswerable): every paragraph
  becomes one ``.txt`` document, ingested through the real pipeline into a throwaway data dir, unless a
  data dir was given explicitly (``--data-dir``): then the documents are written under
  ``DATA_DIR/eval-docs/<corpus>/`` and ingested into the collection ``eval-<corpus>`` (or
  ``--collection``) of that store, so a rerun embeds nothing new and the user's own collection is
  never touched.
- Cross-lingual: ``--questions Q.json --corpus C.json`` with two parallel SQuAD files (same
  articles, paragraphs and questions in the same order): question i of Q is asked against the
  paragraphs of C, and the gold spans come from C. DATASET is the default for both sides: a side
  given by ``--questions`` or ``--corpus`` replaces it, so ``eval xquad.en.json --questions
  xquad.ar.json`` asks Arabic questions of the English paragraphs; with both options DATASET is
  not read.

``--limit N`` keeps the first N questions; a SQuAD corpus is always ingested whole, so retrieval is
measured against every paragraph.

The embedding cost is the product's: nothing is cached here.

Layout
- `assistant.evaluation.datasets`: the formats above and their readers (`Item`, `load_jsonl`,
  `load_squad_pair`, `paragraph_file_name`).
- `assistant.evaluation.runner`: `run_eval` and the store, question and judging steps (`Outcome`).
- `assistant.evaluation.report`: the metrics, answer-text normalisation and `render_table`.

The public names are re-exported here, so ``from assistant.evaluation import run_eval`` works as
it did when this was one module; so does ``_contains``, which the benchmarks use.
"""

from __future__ import annotations

from .datasets import Item, load_jsonl, load_squad_pair, paragraph_file_name
from .report import (
    MAX_FAILURES,
    _contains,
    normalize_answer,
    percentile,
    render_table,
    strip_markers,
    token_f1,
)
from .runner import Outcome, ProgressCallback, run_eval

__all__ = [
    "MAX_FAILURES",
    "Item",
    "Outcome",
    "ProgressCallback",
    "_contains",
    "load_jsonl",
    "load_squad_pair",
    "normalize_answer",
    "paragraph_file_name",
    "percentile",
    "render_table",
    "run_eval",
    "strip_markers",
    "token_f1",
]
