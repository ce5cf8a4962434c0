"""Evaluation runner: build or reuse a store for the dataset, ask every question through the real
pipeline and judge each answer (hit, F1, citations, declines, latency) into an `Outcome`.

`run_eval` is the entry point behind ``assistant eval``; the figures are computed by
`assistant.evaluation.report` and the questions read by `assistant.evaluation.datasets`.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from .datasets import Item, _format_of, load_jsonl, load_squad_pair, paragraph_file_name
from .report import (
    _answer_metrics,
    _citation_metrics,
    _contains,
    _decline_metrics,
    _failures,
    _latency,
    _ordered,
    _retrieval_metrics,
    strip_markers,
    token_f1,
)

if TYPE_CHECKING:
    from ..answering import Answer
    from ..assistant import Assistant

ProgressCallback = Callable[[str], None]

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Outcome:
    """What happened to one item."""

    item: Item
    gold_rank: int | None = None  # 1-based document rank, None when not retrieved
    retrieved: list[str] = field(default_factory=list)
    answered: bool = False
    text: str = ""
    hit: bool | None = None
    f1: float | None = None
    gold_cited: bool | None = None
    citations_valid: bool | None = None
    citation_problems: list[str] = field(default_factory=list)
    markers: int = 0
    unresolved: int = 0
    quotes: int = 0
    bad_quotes: int = 0
    dropped: int = 0
    latency_ms: float | None = None
    decline_reason: str | None = None
    error: str | None = None


# --- public API ---------------------------------------------------------------------------------
def run_eval(
    dataset: Path | None,
    *,
    settings_overrides: dict[str, Any] | None = None,
    limit: int | None = None,
    provider: str | None = None,
    k: int | None = None,
    questions: Path | None = None,
    corpus: Path | None = None,
    progress: ProgressCallback | None = None,
    embeddings: Any = None,
) -> dict[str, Any]:
    """Evaluate the pipeline on a labelled set; returns the report (see `assistant.evaluation`).

    `embeddings` replaces the embedding model (benchmarks pass a disk-cached one); the product
    never passes it.
    """
    started = time.perf_counter()
    say = progress or (lambda _msg: None)
    overrides = {
        key: value for key, value in (settings_overrides or {}).items() if value is not None
    }
    if limit is not None and limit < 1:
        raise UsageError("--limit must be at least 1")
    if k is not None and not 1 <= k <= 100:
        raise UsageError("-k must be between 1 and 100")

    q_file = questions or dataset
    c_file = corpus or dataset
    if q_file is None or c_file is None:
        raise UsageError("give a DATASET, or both --questions and --corpus")
    for path in {q_file, c_file}:
        if not Path(path).is_file():
            if Path(path).is_dir():
                raise UsageError(f"dataset file is a folder, not a file: {path}")
            if Path(path).exists():
                raise UsageError(f"dataset is not a regular file (a device, pipe or socket): {path}")
            raise UsageError(f"dataset file not found: {path}")

    fmt = _format_of(Path(q_file))
    if questions is not None or corpus is not None:
        if fmt != "squad" or _format_of(Path(c_file)) != "squad":
            raise UsageError("--questions and --corpus take two parallel SQuAD/XQuAD JSON files")

    if fmt == "jsonl":
        items = load_jsonl(Path(q_file))
        items = items[:limit] if limit else items
        assistant = _make_assistant(overrides, embeddings)
        _ensure_store(assistant, say)
        report = _evaluate(assistant, items, provider, k, say)
        report["format"] = "jsonl"
        report["dataset"] = str(q_file)
        report["store"] = assistant.store.location
        report["collection"] = assistant.settings.collection
        stored = {Path(d.source).name for d in assistant.sources()}
        missing = sorted({g for it in items for g in it.gold_sources} - stored)
        if missing:
            report["missing_gold_sources"] = missing
    else:
        paragraphs, items = load_squad_pair(Path(q_file), Path(c_file))
        items = items[:limit] if limit else items
        with _squad_store(paragraphs, Path(c_file), overrides, embeddings, say) as (
            assistant,
            ingest_info,
        ):
            report = _evaluate(assistant, items, provider, k, say)
            report["store"] = assistant.store.location
            report["collection"] = assistant.settings.collection
        report["format"] = "squad" if q_file == c_file else "squad-crosslingual"
        report["dataset"] = str(q_file) if q_file == c_file else f"{q_file} -> {c_file}"
        report["questions_file"] = str(q_file)
        report["corpus_file"] = str(c_file)
        report["ingest"] = ingest_info
    report["seconds"] = round(time.perf_counter() - started, 2)
    return _ordered(report)



# --- stores ---------------------------------------------------------------------------------------
def _make_assistant(overrides: dict[str, Any], embeddings: Any) -> Assistant:
    from ..assistant import Assistant
    from ..config import load_settings

    assistant = Assistant(load_settings(**overrides))
    if embeddings is not None:
        assistant._embeddings = embeddings  # noqa: SLF001 - benchmark hook, see run_eval
    return assistant


def _ensure_store(assistant: Assistant, say: ProgressCallback) -> None:
    if assistant.store.count() > 0:
        return
    corpus = Path(assistant.settings.corpus_dir)
    if not corpus.is_dir():
        raise UsageError(
            f"the store at {assistant.store.location} is empty and the corpus dir {corpus} does not "
            "exist: run `assistant ingest PATH` first"
        )
    say(f"the store is empty; ingesting {corpus}/ first")
    assistant.ingest([corpus], progress=_ingest_progress(say))


def _ingest_progress(say: ProgressCallback) -> Callable[..., None]:
    state = {"done": 0, "total": 0, "chunks": 0, "last": 0.0}

    def notify(event: str, **info: Any) -> None:
        if event == "start":
            state["total"] = info.get("total", 0)
            state["last"] = time.monotonic()
            say(f"ingesting {state['total']} documents")
        elif event == "advance":
            state["done"] += 1
            state["chunks"] += info.get("chunks", 0)
            now = time.monotonic()
            if now - state["last"] >= 10 or state["done"] == state["total"]:
                state["last"] = now
                say(
                    f"  {state['done']}/{state['total']} documents, {state['chunks']} chunks embedded"
                )
        elif event == "skip":
            say(f"  skipped {info.get('path')}: {info.get('reason')}")

    return notify


@contextmanager
def _squad_store(
    paragraphs: Sequence[str],
    corpus_file: Path,
    overrides: dict[str, Any],
    embeddings: Any,
    say: ProgressCallback,
) -> Iterator[tuple[Assistant, dict[str, Any]]]:
    """An Assistant whose store holds the corpus paragraphs, one document each."""
    slug = _SAFE_NAME.sub("-", corpus_file.stem).strip("-._") or "corpus"
    width = max(3, len(str(len(paragraphs) - 1)))
    keep = "data_dir" in overrides or "chroma_host" in overrides
    with tempfile.TemporaryDirectory(prefix="assistant-eval-") as tmp:
        if "data_dir" in overrides:
            docs = Path(overrides["data_dir"]) / "eval-docs" / slug
        else:
            docs = Path(tmp) / "docs" / slug
        settings = dict(overrides)
        if "data_dir" not in overrides:
            settings["data_dir"] = Path(tmp) / "data"
        if keep:
            # Never mix the eval corpus into the user's own collection.
            settings.setdefault("collection", f"eval-{slug}"[:60])
        _write_paragraphs(docs, paragraphs, width)
        assistant = _make_assistant(settings, embeddings)
        say(
            f"ingesting {len(paragraphs)} paragraphs of {corpus_file.name} into {assistant.store.location}"
        )
        report = assistant.ingest([docs], prune=True, progress=_ingest_progress(say))
        info = {
            "documents": len(paragraphs),
            "added": report.added,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "removed": report.removed,
            "skipped": report.skipped,
            "chunks_embedded": report.chunks_embedded,
            "sentences_embedded": report.sentences_embedded,
            "seconds": report.seconds,
            "throwaway": not keep,
        }
        if report.skipped:
            say(f"warning: {report.skipped} paragraphs were skipped by ingest")
        try:
            yield assistant, info
        finally:
            assistant._store = None  # noqa: SLF001 - release Chroma before the temp dir goes
            assistant._retriever = None  # noqa: SLF001


def _write_paragraphs(folder: Path, paragraphs: Sequence[str], width: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for index, text in enumerate(paragraphs):
        name = paragraph_file_name(index, width)
        wanted.add(name)
        path = folder / name
        body = text + "\n"
        # Unchanged files keep their bytes so a reused store re-embeds nothing.
        if not path.exists() or path.read_text(encoding="utf-8") != body:
            path.write_text(body, encoding="utf-8")
    for stale in folder.glob("p*.txt"):
        if stale.name not in wanted:
            stale.unlink()


# --- the evaluation loop --------------------------------------------------------------------------
def _evaluate(
    assistant: Assistant,
    items: Sequence[Item],
    provider: str | None,
    k: int | None,
    say: ProgressCallback,
) -> dict[str, Any]:
    answerer = assistant.answerer(provider)  # fails fast on a bad provider or a missing key
    k_answer = k or assistant.settings.k
    depth = max(5, k_answer)
    outcomes: list[Outcome] = [Outcome(item=it) for it in items]

    # Retrieval, measured on its own: one batched query embedding, then the real search.
    with_gold = [o for o in outcomes if o.item.answerable and o.item.gold_sources]
    if with_gold:
        say(f"retrieval: {len(with_gold)} questions, top {depth}")
        vectors = assistant.embeddings.embed_queries_array([o.item.question for o in with_gold])
        for o, vec in zip(with_gold, vectors):
            try:
                hits = assistant.search(o.item.question, depth, query_vector=vec)
            except UsageError:
                continue  # an empty or overlong question: the answering step reports it
            ranked = list(dict.fromkeys(Path(h.source).name for h in hits))
            o.retrieved = ranked
            gold = set(o.item.gold_sources)
            o.gold_rank = next((i + 1 for i, name in enumerate(ranked) if name in gold), None)

    say(f"answering {len(items)} questions ({answerer.provider}: {answerer.model})")
    step = max(1, len(items) // 10)
    t0 = time.perf_counter()
    model = answerer.model
    used_provider = answerer.provider
    for i, o in enumerate(outcomes, 1):
        t = time.perf_counter()
        try:
            answer = assistant.ask(o.item.question, k=k, provider=provider)
        except (
            UsageError
        ) as exc:  # a bad item (empty or overlong question) is a finding, not a crash
            o.error = str(exc)
            if o.item.answerable and (o.item.spans or o.item.answer_all or o.item.answer_any):
                o.hit = False  # counts as a miss, not as a skipped item
                o.f1 = 0.0 if o.item.spans else None
        else:
            o.latency_ms = (time.perf_counter() - t) * 1000
            used_provider, model = answer.provider, answer.model
            _judge(o, answer)
        if i % step == 0 or i == len(items):
            rate = (time.perf_counter() - t0) / i
            say(f"  {i}/{len(items)} answered, ~{rate * (len(items) - i):.0f} s left")

    report: dict[str, Any] = {
        "n": len(items),
        "provider": used_provider,
        "model": model,
        "k": k_answer,
        "retrieval": _retrieval_metrics(with_gold, depth),
        "answers": _answer_metrics(outcomes),
        "citations": _citation_metrics(outcomes),
        "declines": _decline_metrics(outcomes),
        "latency_ms": _latency(outcomes),
        "errors": sum(1 for o in outcomes if o.error),
        "failures": _failures(outcomes),
    }
    return report


def _judge(o: Outcome, answer: Answer) -> None:
    from ..answering import parse_markers

    it = o.item
    o.answered = bool(answer.answered)
    o.text = answer.text
    o.decline_reason = answer.decline_reason
    o.dropped = len(answer.dropped_markers)
    if not it.answerable:
        return
    plain = strip_markers(answer.text) if o.answered else ""
    if it.spans:
        o.hit = o.answered and any(_contains(plain, span) for span in it.spans)
        o.f1 = max(token_f1(plain, span) for span in it.spans) if o.answered else 0.0
    elif it.answer_all or it.answer_any:
        ok_all = all(_contains(plain, term) for term in it.answer_all)
        ok_any = not it.answer_any or any(_contains(plain, term) for term in it.answer_any)
        o.hit = o.answered and ok_all and ok_any
    if it.gold_sources:
        cited = {Path(c.source).name for c in answer.citations}
        o.gold_cited = o.answered and bool(cited & set(it.gold_sources))
    if o.answered:
        _check_citations(o, answer, parse_markers(answer.text))


def _check_citations(o: Outcome, answer: Answer, markers: list[int]) -> None:
    """Every [n] resolves to a citation; every quote is verbatim in its chunk (rechecked from context)."""
    numbers = {c.n for c in answer.citations}
    by_id = {h.chunk_id: h for h in answer.context}
    o.markers = len(markers)
    for n in markers:
        if n not in numbers:
            o.unresolved += 1
            o.citation_problems.append(f"marker [{n}] has no citation")
    for c in answer.citations:
        o.quotes += 1
        hit = by_id.get(c.chunk_id)
        if hit is None:
            o.bad_quotes += 1
            o.citation_problems.append(
                f"citation [{c.n}] points at chunk {c.chunk_id}, which was not given"
            )
        elif not c.quote or c.quote not in hit.text:
            o.bad_quotes += 1
            o.citation_problems.append(
                f"citation [{c.n}] quote is not verbatim in chunk {c.chunk_id}"
            )
        elif hit.text[c.start - hit.start : c.end - hit.start] != c.quote:
            o.bad_quotes += 1
            o.citation_problems.append(
                f"citation [{c.n}] span {c.start}-{c.end} does not hold its quote"
            )
    if not markers and not answer.citations:
        o.citation_problems.append("answer has no citation")
    o.citations_valid = not o.citation_problems

