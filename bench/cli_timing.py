"""CLI wall times and warm `Assistant.ask` latency on the seeds.

- `assistant --help`: median of 5 new processes (after one untimed run that warms the OS caches).
- A cold `assistant ask QUESTION`: a new process on an existing store holding the five seeds,
  3 runs (each one a new process: Python start, imports, model load, Chroma open, BM25 index
  build, embedding, answer).
- Warm `Assistant.ask` in one process, extractive, the 12 questions of the seed dev set, after 2
  warm-up questions, 3 rounds (1 with --quick); the live model embeds every question.
The store is built once by the real ingest from seeds/ (vectors from the benchmark disk cache,
identical to the live model's).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, SHARED, CachedEmbeddings, loadavg, machine, percentile, write_json  # noqa: E402

from assistant.config import Settings  # noqa: E402
from assistant.embeddings import LocalE5Embeddings  # noqa: E402
from assistant.ingest import ingest  # noqa: E402
from assistant.store import Store  # noqa: E402

QUESTION = "Which minerals will Japan and Canada start mining first?"
DEV_SET = SHARED / "eval" / "seed_qa_dev.jsonl"


def clean_env(data_dir: Path) -> dict[str, str]:
    """The environment of a new shell: no ASSISTANT_/OPENAI_ settings but the store location."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_"))}
    env["ASSISTANT_DATA_DIR"] = str(data_dir)
    env["ANONYMIZED_TELEMETRY"] = "False"
    return env


def run_timed(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return time.perf_counter() - t0, proc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="one round of warm questions")
    ap.add_argument("--json", type=Path, default=None, help="write results here")
    args = ap.parse_args()

    exe = Path(sys.executable).with_name("assistant")
    cli = [str(exe)] if exe.exists() else [sys.executable, "-m", "assistant.cli"]
    results: dict = {
        "machine": machine(),
        "quick": args.quick,
        "loadavg_before": loadavg(),
        "cli": " ".join(cli),
    }
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "seeded"
        settings = Settings(data_dir=data_dir, corpus_dir=ROOT / "seeds")
        cached = CachedEmbeddings(LocalE5Embeddings())
        cwd = Path.cwd()
        os.chdir(ROOT)  # sources are named relative to the working directory, as a user sees them
        try:
            report = ingest(
                [Path("seeds")],
                settings=settings,
                store=Store(settings, cached.model_id, cached.dimension),
                embeddings=cached,
            )
        finally:
            os.chdir(cwd)
        cached.save()
        results["store"] = {
            "documents": report.added,
            "chunks": report.chunks_embedded,
            "sentences": report.sentences_embedded,
        }
        env = clean_env(data_dir)

        run_timed([*cli, "--help"], env)
        help_times = []
        for _ in range(5):
            seconds, proc = run_timed([*cli, "--help"], env)
            assert proc.returncode == 0, proc.stderr
            help_times.append(seconds)
        results["help_s"] = {
            "median": round(statistics.median(help_times), 3),
            "runs": [round(x, 3) for x in help_times],
        }
        print("help", results["help_s"], file=sys.stderr, flush=True)

        cold = []
        for _ in range(3):
            seconds, proc = run_timed([*cli, "ask", QUESTION, "--json"], env)
            answer = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}
            cold.append(
                {
                    "seconds": round(seconds, 2),
                    "exit": proc.returncode,
                    "answered": answer.get("answered"),
                    "has_nickel_and_lithium": all(
                        w in answer.get("answer", "").lower() for w in ("nickel", "lithium")
                    ),
                    "cites": sorted({c["source"] for c in answer.get("citations", [])}),
                    "timings_ms": answer.get("timings_ms"),
                    "stderr_tail": proc.stderr[-300:] if proc.returncode not in (0, 3) else "",
                }
            )
            print("cold ask", cold[-1], file=sys.stderr, flush=True)
        results["cold_ask"] = {
            "command": f'assistant ask "{QUESTION}" --json',
            "median_s": round(statistics.median(c["seconds"] for c in cold), 2),
            "first_s": cold[0]["seconds"],
            "runs": cold,
        }

        # Warm: one process, the live model.
        from assistant import Assistant

        questions = [
            json.loads(line)["question"]
            for line in DEV_SET.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        assistant = Assistant(
            Settings(data_dir=data_dir, corpus_dir=ROOT / "seeds", provider="extractive")
        )
        for q in questions[:2]:
            assistant.ask(q)
        wall, cpu, retrieve, generate = [], [], [], []
        rounds = 1 if args.quick else 3
        for _ in range(rounds):
            for q in questions:
                t0, c0 = time.perf_counter(), time.process_time()
                answer = assistant.ask(q)
                wall.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
                retrieve.append(answer.timings_ms.get("retrieve", 0.0))
                generate.append(answer.timings_ms.get("generate", 0.0))
        results["warm_ask_ms"] = {
            "p50": round(percentile(wall, 50), 1),
            "p95": round(percentile(wall, 95), 1),
            "cpu_p50": round(percentile(cpu, 50), 1),
            "retrieve_p50": round(percentile(retrieve, 50), 1),
            "generate_p50": round(percentile(generate, 50), 1),
            "n": len(wall),
            "rounds": rounds,
        }
        print("warm ask", results["warm_ask_ms"], file=sys.stderr, flush=True)
    results["loadavg_after"] = loadavg()
    write_json(args.json, results)


if __name__ == "__main__":
    main()
