"""`assistant serve` over HTTP: warm /ask latency (p50, p95) and the throughput of concurrent clients.

The service runs as `assistant serve` in a subprocess on a free loopback port, over a fresh store
with the seed articles ingested (the real model); the questions are the 26 of the dev set
(tests/data/seed_qa_dev.jsonl, English and Arabic, answerable and not), extractive answers.
Measured, after the service reports healthy (model, store and keyword index open):

- sequential: one client, keep-alive, `rounds` passes over the questions: /ask latency, the
  service's own `timings_ms.total` (the difference is HTTP and JSON), the time to the first
  streamed piece of `/ask` with "stream": true, and /v1/chat/completions;
- concurrent: `clients` threads, each asking every question once (rotated), started together:
  questions per second, and the latency each request saw.

With `--scale-store DIR`, the store is the one `bench/scale.py --build-only --workdir DIR`
built in DIR/store (~100k synthetic chunks, XQuAD English/Arabic words), served with the
embeddings it was built with: `ASSISTANT_EMBEDDINGS=openai` against tests/openai_server.py
(384-d hashed vectors) run in its own process on 127.0.0.1. The questions are then 26 XQuAD
questions, English and Arabic alternating (what bench/scale.py asks). Beside the HTTP figures,
the floor: a bare Chroma query (k=5, texts and metadata) of the same question vectors, warm, in
this process, on the same store; the ratio is /ask p50 over the floor's p50.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import loadavg, machine, percentile, write_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
sys.path.insert(0, str(ROOT))

from tests.processes import stop  # noqa: E402

DEV_SET = ROOT / "tests" / "data" / "seed_qa_dev.jsonl"
DIM = 384


def questions() -> list[str]:
    rows = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line]
    return [r["question"] for r in rows]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """`assistant serve` in a subprocess; `startup_s` is spawn to healthy."""

    def __init__(self, data_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_"))}
        env.update(
            ANONYMIZED_TELEMETRY="False",
            ASSISTANT_DATA_DIR=str(data_dir),
            ASSISTANT_CORPUS_DIR=str(SEEDS),
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        )
        env.update(extra_env or {})
        self.env = env

    def __enter__(self) -> Service:
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise SystemExit("assistant serve exited before it was healthy")
            time.sleep(0.1)
        self.startup_s = time.perf_counter() - t0
        return self

    def __exit__(self, *exc: object) -> None:
        stop(self.proc, timeout=20)


class FakeEmbeddingServer:
    """tests/openai_server.py in its own process (not this one's GIL), 384-d hashed embeddings."""

    def __enter__(self) -> FakeEmbeddingServer:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "openai_server.py"), "--embedding-dim", str(DIM)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url:
            raise SystemExit("the fake OpenAI server did not start")
        sys.path.insert(0, str(ROOT))
        from tests.openai_server import DEFAULT_API_KEY

        self.api_key = DEFAULT_API_KEY
        return self

    def env(self) -> dict[str, str]:
        """What the service needs to embed as the scale store was built (answers: extractive)."""
        return {
            "ASSISTANT_EMBEDDINGS": "openai",
            "OPENAI_BASE_URL": self.base_url,
            "OPENAI_API_KEY": self.api_key,
            "ASSISTANT_PROVIDER": "extractive",
        }

    def __exit__(self, *exc: object) -> None:
        stop(self.proc, timeout=20)


def xquad_questions(n: int = 26) -> list[str]:
    """English and Arabic XQuAD questions, alternating (bench/scale.py's questions)."""
    from common import load_xquad

    _, en_q = load_xquad("en")
    _, ar_q = load_xquad("ar")
    return [q.text for pair in zip(en_q, ar_q) for q in pair][:n]


def chroma_floor(data_dir: Path, qs: list[str], rounds: int) -> dict[str, float]:
    """A bare Chroma query per question (k=5, texts and metadata), warm, in this process."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    sys.path.insert(0, str(ROOT))
    from tests.openai_server import fake_embedding

    client = chromadb.PersistentClient(
        path=str(data_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    live = client.get_collection("articles").metadata["live"]
    col = client.get_collection(f"articles--{live}")
    vecs = [fake_embedding(q, DIM) for q in qs]
    include = ["documents", "metadatas", "distances"]
    for v in vecs:  # warm: the vector index loaded, every page touched once
        col.query(query_embeddings=[v], n_results=5, include=include)
    times = []
    for _ in range(rounds):
        for v in vecs:
            t0 = time.perf_counter()
            col.query(query_embeddings=[v], n_results=5, include=include)
            times.append((time.perf_counter() - t0) * 1000)
    return summary(times)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 50), 1),
        "p95": round(percentile(values, 95), 1),
        "mean": round(float(np.mean(values)), 1),
        "n": len(values),
    }


def ask(client: httpx.Client, question: str) -> tuple[float, dict[str, Any]]:
    t0 = time.perf_counter()
    response = client.post("/ask", json={"question": question})
    elapsed = (time.perf_counter() - t0) * 1000
    response.raise_for_status()
    return elapsed, response.json()


def first_piece_ms(client: httpx.Client, question: str) -> float:
    t0 = time.perf_counter()
    first = None
    with client.stream("POST", "/ask", json={"question": question, "stream": True}) as response:
        response.raise_for_status()
        for line in response.iter_lines():  # read to the end: the request is complete
            if first is None and line.startswith("data:"):
                first = (time.perf_counter() - t0) * 1000
    if first is None:
        raise RuntimeError("the stream sent nothing")
    return first


def chat_ms(client: httpx.Client, question: str) -> float:
    t0 = time.perf_counter()
    body = {"model": "assistant", "messages": [{"role": "user", "content": question}]}
    client.post("/v1/chat/completions", json=body).raise_for_status()
    return (time.perf_counter() - t0) * 1000


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(url: str, pid: int, qs: list[str], rounds: int, clients: int) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=300) as client:
        for q in qs:  # one pass first: connection set up, every code path touched once
            ask(client, q)
        latency, served, retrieve, answered = [], [], [], 0
        cpu0 = cpu_seconds(pid)
        for _ in range(rounds):
            for q in qs:
                ms, body = ask(client, q)
                latency.append(ms)
                served.append(float(body["timings_ms"]["total"]))
                retrieve.append(float(body["timings_ms"]["retrieve"]))
                answered += bool(body["answered"])
        sequential_cpu = cpu_seconds(pid) - cpu0
        ttfp = [first_piece_ms(client, q) for q in qs]
        chat = [chat_ms(client, q) for q in qs]

    seen: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def worker(offset: int) -> None:
        try:
            with httpx.Client(base_url=url, timeout=600) as c:
                barrier.wait()
                for i in range(len(qs)):
                    ms, _ = ask(c, qs[(offset + i) % len(qs)])
                    with lock:
                        seen.append(ms)
        except BaseException as exc:  # noqa: BLE001 - reported after the run
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i * 3,)) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t0, cpu0 = time.perf_counter(), cpu_seconds(pid)
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    concurrent_cpu = cpu_seconds(pid) - cpu0
    if errors:
        raise SystemExit(f"concurrent run failed: {errors[0]!r}")
    sequential_mean_s = float(np.mean(latency)) / 1000
    return {
        "questions": len(qs),
        "answered_share": round(answered / len(latency), 3),
        "sequential_ask_ms": summary(latency),
        "service_total_ms": summary(served),
        "service_retrieve_ms": summary(retrieve),
        "stream_first_piece_ms": summary(ttfp),
        "chat_completions_ms": summary(chat),
        "sequential_questions_per_s": round(1 / sequential_mean_s, 2),
        "sequential_server_cpu_ms_per_question": round(sequential_cpu * 1000 / len(latency), 1),
        "concurrent": {
            "clients": clients,
            "requests": len(seen),
            "wall_s": round(wall, 2),
            "questions_per_s": round(len(seen) / wall, 2),
            "latency_ms": summary(seen),
            "server_cpu_ms_per_question": round(concurrent_cpu * 1000 / len(seen), 1),
        },
    }


def chunk_count(url: str) -> int:
    return sum(s["chunks"] for s in httpx.get(f"{url}/sources", timeout=60).json()["sources"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="sequential passes over the questions")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients")
    ap.add_argument(
        "--scale-store",
        type=Path,
        default=None,
        help="measure only the store bench/scale.py --build-only kept in DIR/store",
    )
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    args = ap.parse_args()

    results: dict[str, Any] = {"machine": machine(), "loadavg_before": loadavg(), "stores": {}}
    if args.scale_store is not None:
        measure_scale_store(args.scale_store / "store", args, results)
        return
    qs = questions()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / ".assistant"
        env = {**os.environ, "ASSISTANT_DATA_DIR": str(data_dir), "ANONYMIZED_TELEMETRY": "False"}
        print("ingesting the seeds", file=sys.stderr, flush=True)
        subprocess.run(
            [sys.executable, "-m", "assistant.cli", "ingest", str(SEEDS), "--json"],
            cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        with Service(data_dir) as service:
            print("measuring seeds", file=sys.stderr, flush=True)
            figures = measure(service.url, service.proc.pid, qs, args.rounds, args.clients)
            figures["chunks"] = chunk_count(service.url)
            figures["startup_to_healthy_s"] = round(service.startup_s, 2)
        results["stores"]["seeds"] = figures
        print(json.dumps({"seeds": figures}, indent=2), file=sys.stderr, flush=True)
    results["loadavg_after"] = loadavg()
    write_json(args.json, results)
    print(markdown(results))


def measure_scale_store(data_dir: Path, args: argparse.Namespace, results: dict[str, Any]) -> None:
    if not (data_dir / "chroma").is_dir():
        raise SystemExit(f"no store in {data_dir}: build it with bench/scale.py --build-only")
    qs = xquad_questions()
    print("floor: bare Chroma queries", file=sys.stderr, flush=True)
    floor = chroma_floor(data_dir, qs, args.rounds)
    with FakeEmbeddingServer() as fake, Service(data_dir, fake.env()) as service:
        print("measuring the scale store", file=sys.stderr, flush=True)
        figures = measure(service.url, service.proc.pid, qs, args.rounds, args.clients)
        figures["chunks"] = chunk_count(service.url)
        figures["startup_to_healthy_s"] = round(service.startup_s, 2)
    figures["floor_chroma_query_ms"] = floor
    figures["ask_p50_over_floor_p50"] = round(figures["sequential_ask_ms"]["p50"] / floor["p50"], 1)
    name = f"scale {figures['chunks']:,}"
    results["stores"][name] = figures
    results["loadavg_after"] = loadavg()
    print(json.dumps({name: figures}, indent=2), file=sys.stderr, flush=True)
    write_json(args.json, results)
    print(markdown(results))
    print(
        f"\nFloor (bare Chroma query, k=5, warm, in-process) p50 / p95: {floor['p50']} / "
        f"{floor['p95']} ms; /ask p50 over it: {figures['ask_p50_over_floor_p50']}×; "
        f"service retrieve p50: {figures['service_retrieve_ms']['p50']} ms."
    )


def markdown(results: dict[str, Any]) -> str:
    clients = next(iter(results["stores"].values()))["concurrent"]["clients"]
    lines = [
        "| store | chunks | /ask p50 | /ask p95 | service p50 | first piece p50 | chat p50 "
        f"| 1 client q/s | {clients} clients q/s | {clients} clients p50 / p95 "
        f"| server CPU/question, 1 / {clients} clients |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, f in results["stores"].items():
        c = f["concurrent"]
        lines.append(
            f"| {name} | {f['chunks']} | {f['sequential_ask_ms']['p50']} ms | "
            f"{f['sequential_ask_ms']['p95']} ms | {f['service_total_ms']['p50']} ms | "
            f"{f['stream_first_piece_ms']['p50']} ms | {f['chat_completions_ms']['p50']} ms | "
            f"{f['sequential_questions_per_s']} | {c['questions_per_s']} | "
            f"{c['latency_ms']['p50']} / {c['latency_ms']['p95']} ms | "
            f"{f['sequential_server_cpu_ms_per_question']} / {c['server_cpu_ms_per_question']} ms |"
        )
    m = results["machine"]
    lines.append(
        f"\n{m['cores']} cores ({m['cpu']}), load average {results['loadavg_before']} before, "
        f"{results['loadavg_after']} after; commit {m['commit']}."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
