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
"""

from __future__ import annotations

import json
import re
import string
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import UsageError

if TYPE_CHECKING:
    from rich.table import Table

    from .answering import Answer
    from .assistant import Assistant

ProgressCallback = Callable[[str], None]

_MARKERS = re.compile(r"\s*\[\d{1,3}(?:\s*[,،]\s*\d{1,3})*\]")
_AR_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_EN_ARTICLES = re.compile(r"\b(a|an|the)\b")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
MAX_FAILURES = 500


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
    """Evaluate the pipeline on a labelled set; returns the report (see the module docstring).

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
            what = "is a folder, not a file" if Path(path).is_dir() else "not found"
            raise UsageError(f"dataset file {what}: {path}")

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


# --- datasets -----------------------------------------------------------------------------------
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


# --- stores ---------------------------------------------------------------------------------------
def _make_assistant(overrides: dict[str, Any], embeddings: Any) -> Assistant:
    from .assistant import Assistant
    from .config import load_settings

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
            hits = assistant.retriever.search(o.item.question, depth, query_vector=vec)
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
    from .answering import parse_markers

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
