"""Scale: the pipeline's own cost at 10k and 100k chunks, through the real CLI (issue 8).

SYNTHETIC corpus: articles of ~10 chunks each, words drawn from the XQuAD English and Arabic
paragraphs (real word frequencies), half the articles English and half Arabic. Embeddings:
ASSISTANT_EMBEDDINGS=openai pointed at tests/openai_server.py on 127.0.0.1 (hashed vectors,
returned at once), so what shows is the pipeline's cost, not a model's.

Measured per size (the store grows: the 100k store is the 10k one plus 9,000 articles):
- ingest: CLI wall time, its embedding time (HTTP round trips to the fast server), and the rest
  (the pipeline: reading, cleaning, chunking, Chroma and keyword-index writes) per chunk;
- cold `assistant search` and cold `assistant ask --provider extractive`, median of 5, against the
  floor: a cold Python process that opens the same Chroma store and runs one query;
- warm hybrid search p50 with the question vector given (in-process, after one warm-up);
- adding one article (its ingest's own time minus embedding, and the CLI wall);
- re-ingesting the unchanged corpus: nothing embedded; time per file beyond reading it
  (`documents.load_document` on every file, measured in-process, is "reading").

Prints a markdown section (and writes JSON with --json).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from common import load_xquad, loadavg, machine  # noqa: E402

from tests.openai_server import FakeOpenAIServer  # noqa: E402

CHUNKS_PER_ARTICLE = 10
WORDS_PER_ARTICLE = 700  # ~10 chunks of 220 cl100k tokens (Arabic words cost more tokens)
DIM = 384
COLD_RUNS = 5
WARM_QUERIES = 40
# The CLI as `python -m assistant.cli` of this checkout (PYTHONPATH is set in scale_env), so the
# package need not be installed and a worktree measures its own code.
EXE = [sys.executable, "-m", "assistant.cli"]


def vocabulary() -> dict[str, list[str]]:
    out = {}
    for lang in ("en", "ar"):
        paragraphs, _ = load_xquad(lang)
        out[lang] = [w for p in paragraphs for w in re.findall(r"\w+", p.text)]
    return out


def write_articles(folder: Path, start: int, stop: int, vocab: dict[str, list[str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, stop):
        rng = np.random.default_rng(i)
        lang = "ar" if i % 2 else "en"
        words = vocab[lang]
        sentences = []
        for _ in range(WORDS_PER_ARTICLE // 15):
            picks = rng.integers(0, len(words), 15)
            sentences.append(" ".join(words[j] for j in picks) + ".")
        title = f"Article {i}" if lang == "en" else f"مقال {i}"
        (folder / f"a{i:06d}.txt").write_text(title + "\n\n" + " ".join(sentences) + "\n", encoding="utf-8")


def cli(env: dict[str, str], *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    proc = subprocess.run([*EXE, *args], env=env, capture_output=True, text=True, timeout=24 * 3600)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 3):
        raise SystemExit(f"assistant {' '.join(args[:2])} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, proc


FLOOR = """
import sys, chromadb
from chromadb.config import Settings
client = chromadb.PersistentClient(path=sys.argv[1], settings=Settings(anonymized_telemetry=False))
head = client.get_collection(sys.argv[2])
live = head.metadata["live"]
col = client.get_collection(f"{sys.argv[2]}--{live}")
vec = [float(x) for x in sys.argv[3].split(",")]
res = col.query(query_embeddings=[vec], n_results=5, include=["documents", "metadatas", "distances"])
assert res["ids"][0]
"""


WARM = """
import json, sys, time
import numpy as np
from assistant import Assistant, Settings
from tests.openai_server import fake_embedding
questions = json.loads(sys.argv[4])
a = Assistant(Settings(data_dir=sys.argv[1], embeddings="openai", openai_base_url=sys.argv[2],
                       openai_api_key=sys.argv[3]))
vecs = [np.asarray(fake_embedding(q, __DIM__), dtype=np.float32) for q in questions]
a.searcher.search(questions[0], 5, query_vector=vecs[0])
wall, cpu = [], []
for q, v in zip(questions[1:], vecs[1:]):
    t0, c0 = time.perf_counter(), time.process_time()
    a.searcher.search(q, 5, query_vector=v)
    wall.append(1000 * (time.perf_counter() - t0))
    cpu.append(1000 * (time.process_time() - c0))
print(json.dumps({"p50": round(float(np.percentile(wall, 50)), 1),
                  "p95": round(float(np.percentile(wall, 95)), 1),
                  "cpu_p50": round(float(np.percentile(cpu, 50)), 1), "n": len(wall)}))
""".replace("__DIM__", str(DIM))


def floor_run(env: dict[str, str], data_dir: Path, vector: list[float]) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", FLOOR, str(data_dir / "chroma"), "articles", ",".join(map(str, vector))],
        env=env, check=True, capture_output=True, timeout=600,
    )
    return time.perf_counter() - t0


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def measure(size: int, env: dict[str, str], corpus: Path, data_dir: Path, server: FakeOpenAIServer,
            questions: list[str], have: int, vocab: dict[str, list[str]], top_up: int = 0) -> dict[str, Any]:
    from assistant import Assistant, Settings
    from assistant.documents import load_document
    from tests.openai_server import fake_embedding

    out: dict[str, Any] = {"chunks_target": size}
    articles = size // CHUNKS_PER_ARTICLE
    write_articles(corpus, have, articles, vocab)
    if top_up:  # a store built by an earlier run: measure ingest on `top_up` more articles
        write_articles(corpus, 20_000_000, 20_000_000 + top_up, vocab)
    load0 = loadavg()
    wall, proc = cli(env, "ingest", str(corpus), "--json")
    report = json.loads(proc.stdout)
    added = report["chunks_embedded"]
    pipeline = wall - report["embed_seconds"]
    out["ingest"] = {
        "articles_added": report["added"],
        "chunks_added": added,
        "sentences_embedded": report.get("sentences_embedded", 0),
        "wall_s": round(wall, 1),
        "embed_s": round(report["embed_seconds"], 1),
        "pipeline_ms_per_chunk": round(1000 * pipeline / max(added, 1), 2),
        "unchanged_files": report.get("unchanged", 0),
        "pipeline_s": round(pipeline, 2),
        "load": [load0, loadavg()],
    }
    assistant = Assistant(Settings(data_dir=data_dir, embeddings="openai",
                                   openai_base_url=server.base_url, openai_api_key=server.api_key))
    out["chunks"] = assistant.store.count()

    q_vectors = [fake_embedding(q, DIM) for q in questions]
    # Cold commands against the floor, interleaved so load changes hit all three alike.
    floor, search, ask = [], [], []
    for i in range(COLD_RUNS):
        floor.append(floor_run(env, data_dir, q_vectors[i]))
        search.append(cli(env, "search", questions[i], "-k", "5")[0])
        ask.append(cli(env, "ask", "--provider", "extractive", questions[i])[0])
    out["cold"] = {
        "floor_s": round(median(floor), 2),
        "search_s": round(median(search), 2),
        "ask_s": round(median(ask), 2),
        "search_ratio": round(median(search) / median(floor), 2),
        "ask_ratio": round(median(ask) / median(floor), 2),
    }

    # Warm search in a fresh process: Chroma's embedded client caches the vector index per
    # process and does not see rows other processes added meanwhile (this one ingested via CLI).
    proc = subprocess.run(
        [sys.executable, "-c", WARM, str(data_dir), server.base_url, str(server.api_key),
         json.dumps(questions[: WARM_QUERIES + 1])],
        env=env, capture_output=True, text=True, timeout=1800,
    )
    if proc.returncode:
        raise SystemExit(f"warm search failed: {proc.stderr[-2000:]}")
    out["warm_search_ms"] = json.loads(proc.stdout)

    one = corpus.parent / f"one-{size}"
    write_articles(one, 10_000_000 + size, 10_000_001 + size, vocab)
    wall_one, proc = cli(env, "ingest", str(one), "--json")
    rep = json.loads(proc.stdout)
    out["add_one"] = {"cli_wall_s": round(wall_one, 2), "ingest_s": rep["seconds"],
                      "embed_s": rep["embed_seconds"],
                      "ingest_minus_embed_s": round(rep["seconds"] - rep["embed_seconds"], 2)}

    files = sorted(corpus.glob("*.txt"))
    t0 = time.perf_counter()
    for f in files:
        load_document(f)
    reading = time.perf_counter() - t0
    wall_re, proc = cli(env, "ingest", str(corpus), "--json")
    rep = json.loads(proc.stdout)
    out["reingest"] = {"files": len(files), "chunks_embedded": rep["chunks_embedded"],
                       "ingest_s": rep["seconds"], "reading_s": round(reading, 2),
                       "beyond_reading_ms_per_file": round(1000 * (rep["seconds"] - reading) / len(files), 3),
                       "cli_wall_s": round(wall_re, 1)}
    # The folder ingest above also re-read the files already stored; net of that (at the
    # re-ingest's own cost per unchanged file, same run), what the new chunks cost.
    per_unchanged = rep["seconds"] / max(len(files), 1)
    net = out["ingest"]["pipeline_s"] - out["ingest"]["unchanged_files"] * per_unchanged
    out["ingest"]["pipeline_ms_per_new_chunk"] = round(1000 * net / max(added, 1), 2)
    return out


def markdown(results: dict[str, Any]) -> str:
    rows = results["sizes"]
    head = "| figure | " + " | ".join(f"{r['chunks']:,} chunks" for r in rows) + " | target |"
    sep = "| --- | " + " | ".join("---" for _ in rows) + " | --- |"

    def line(name: str, fn: Any, target: str) -> str:
        return f"| {name} | " + " | ".join(str(fn(r)) for r in rows) + f" | {target} |"

    lines = [
        "## Scale (issue 8): synthetic articles through the real CLI, fast embedding server",
        "",
        f"Command: `python bench/scale.py` — {results['seconds']:.0f} s. Machine: {results['machine'].get('cores', '?')} cores, "
        f"load {results['load']}. Embeddings: `ASSISTANT_EMBEDDINGS=openai` against tests/openai_server.py "
        f"on 127.0.0.1 ({DIM}-d hashed vectors). Articles of ~{CHUNKS_PER_ARTICLE} chunks, XQuAD English/Arabic "
        "words, half of each language; the larger store is the smaller one plus new articles.",
        "",
        head,
        sep,
        line("ingest: articles / chunks added", lambda r: f"{r['ingest']['articles_added']} / {r['ingest']['chunks_added']}", ""),
        line("ingest wall (s) / of which embedding (s)", lambda r: f"{r['ingest']['wall_s']} / {r['ingest']['embed_s']}", ""),
        line("pipeline ingest cost (ms per chunk, writes included)", lambda r: r["ingest"]["pipeline_ms_per_chunk"], "≤ 5"),
        line("the same net of re-reading the files already stored (at the re-ingest's cost per file)", lambda r: r["ingest"].get("pipeline_ms_per_new_chunk", "—"), "≤ 5"),
        line("floor: cold Python opening Chroma + one query (s, median)", lambda r: r["cold"]["floor_s"], ""),
        line("cold `assistant search` (s, median) / ratio to floor", lambda r: f"{r['cold']['search_s']} / {r['cold']['search_ratio']}", "≤ 1.3×"),
        line("cold `assistant ask --provider extractive` (s) / ratio", lambda r: f"{r['cold']['ask_s']} / {r['cold']['ask_ratio']}", "≤ 1.3×"),
        line("warm hybrid search p50 / p95 (ms, vector given)", lambda r: f"{r['warm_search_ms']['p50']} / {r['warm_search_ms']['p95']}", "≤ 50 at 100k"),
        line("add one article: ingest minus embedding (s) / CLI wall (s)", lambda r: f"{r['add_one']['ingest_minus_embed_s']} / {r['add_one']['cli_wall_s']}", "≤ 2 s + embedding"),
        line("re-ingest unchanged: chunks embedded", lambda r: r["reingest"]["chunks_embedded"], "0"),
        line("re-ingest unchanged: ms per file beyond reading", lambda r: r["reingest"]["beyond_reading_ms_per_file"], "≤ 1"),
        "",
    ]
    return "\n".join(lines)


def scale_env(data_dir: Path, server: FakeOpenAIServer) -> dict[str, str]:
    """The CLI's environment for a scale store: its embeddings come from the fake server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_"))}
    env.update(
        ASSISTANT_DATA_DIR=str(data_dir), ASSISTANT_EMBEDDINGS="openai",
        OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY=server.api_key, ANONYMIZED_TELEMETRY="False",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    return env


def build(work: Path, size: int, step: int) -> None:
    """Write the articles of a `size`-chunk store into work/corpus and ingest them into work/store.

    One CLI ingest per `step` articles, each over the whole folder (the earlier files are
    unchanged, so skipped); progress goes to stderr as JSON lines.
    """
    vocab = vocabulary()
    corpus, data_dir = work / "corpus", work / "store"
    articles = size // CHUNKS_PER_ARTICLE
    started = time.perf_counter()
    with FakeOpenAIServer(embedding_dim=DIM) as server:
        env = scale_env(data_dir, server)
        for hi in range(min(step, articles), articles + step, step):
            hi = min(hi, articles)
            write_articles(corpus, max(0, hi - step), hi, vocab)
            load0 = loadavg()
            wall, proc = cli(env, "ingest", str(corpus), "--json")
            report = json.loads(proc.stdout)
            print(json.dumps({"articles": hi, "added": report["added"], "chunks_embedded": report["chunks_embedded"],
                              "wall_s": round(wall, 1), "embed_s": round(report["embed_seconds"], 1),
                              "elapsed_s": round(time.perf_counter() - started, 1), "load": [load0, loadavg()]}),
                  file=sys.stderr, flush=True)
            if hi >= articles:
                break
    from assistant import Assistant, Settings

    with FakeOpenAIServer(embedding_dim=DIM) as server:
        chunks = Assistant(Settings(data_dir=data_dir, embeddings="openai", openai_base_url=server.base_url,
                                    openai_api_key=server.api_key)).store.count()
    print(json.dumps({"built": str(data_dir), "articles": articles, "chunks": chunks,
                      "seconds": round(time.perf_counter() - started, 1)}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="10000,100000", help="chunk counts, ascending")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--workdir", type=Path, default=None, help="keep the corpus and store here")
    ap.add_argument("--have-articles", type=int, default=0, help="articles already in --workdir's store")
    ap.add_argument("--top-up", type=int, default=0, help="with --have-articles: articles added to time ingest")
    ap.add_argument("--build-only", action="store_true",
                    help="with --workdir: only write the articles of the largest size and ingest them, in steps "
                    "of --step articles (an interrupted build resumes: unchanged files are skipped); the store, "
                    "WORKDIR/store, is then reused by `bench/serve.py --scale-store WORKDIR` and `--have-articles`")
    ap.add_argument("--step", type=int, default=1000, help="with --build-only: articles per ingest call")
    args = ap.parse_args()
    if args.build_only:
        if args.workdir is None:
            raise SystemExit("--build-only needs --workdir (the store is kept there)")
        build(args.workdir, max(int(s) for s in args.sizes.split(",")), args.step)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.perf_counter()
    load0 = loadavg()
    vocab = vocabulary()
    _, en_q = load_xquad("en")
    _, ar_q = load_xquad("ar")
    questions = [q.text for pair in zip(en_q, ar_q) for q in pair]
    work = args.workdir or Path(tempfile.mkdtemp(prefix="scale-"))
    corpus, data_dir = work / "corpus", work / "store"
    results: dict[str, Any] = {"machine": machine(), "sizes": []}
    with FakeOpenAIServer(embedding_dim=DIM) as server:
        env = scale_env(data_dir, server)
        have = args.have_articles
        for size in sizes:
            print(f"size {size}…", file=sys.stderr, flush=True)
            top_up = args.top_up if have >= size // CHUNKS_PER_ARTICLE else 0
            results["sizes"].append(measure(size, env, corpus, data_dir, server, questions, have, vocab, top_up))
            have = size // CHUNKS_PER_ARTICLE
            print(json.dumps(results["sizes"][-1]), file=sys.stderr, flush=True)
    results["seconds"] = time.perf_counter() - started
    results["load"] = [load0, loadavg()]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(markdown(results))


if __name__ == "__main__":
    main()
