"""Where warm `HybridSearch.search` spends its time on a kept scale store (issue 8).

In-process, the question vector given (as bench/scale.py's warm measurement): one warm-up
search, then `--queries` XQuAD questions (English and Arabic alternating). Reports the search's
p50 / p95 (wall and CPU), the time of each stage summed over the run (each stage wrapped with
perf_counter: the keyword index check, the dense queries, `_index_holds`, the vectors of keyword-only hits, the
keyword search, `_hit`; "rest" is the search minus them: counting, z-scores, fusion), and with
`--cprofile N` the top N functions of a cProfile of the same searches.

    python bench/search_profile.py /work/scale-store [--queries 40] [--cprofile 25] [--json F]
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import json
import pstats
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from common import load_xquad, loadavg, machine, write_json  # noqa: E402

DIM = 384


def questions(n: int) -> list[str]:
    _, en_q = load_xquad("en")
    _, ar_q = load_xquad("ar")
    return [q.text for pair in zip(en_q, ar_q) for q in pair][:n]


def timed(totals: dict[str, float], name: str, fn: Any) -> Any:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[name] = totals.get(name, 0.0) + time.perf_counter() - t0
            totals[name + " calls"] = totals.get(name + " calls", 0) + 1

    return wrapper


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workdir", type=Path, help="bench/scale.py --workdir (the store is WORKDIR/store)")
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--cprofile", type=int, default=0, help="print the top N functions")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    from assistant import Assistant, Settings
    from tests.openai_server import FakeOpenAIServer

    # The vector is always given; the server is there in case the store opening asks for one.
    with FakeOpenAIServer(embedding_dim=DIM) as server:
        a = Assistant(Settings(data_dir=args.workdir / "store", embeddings="openai",
                               openai_base_url=server.base_url, openai_api_key=server.api_key))
        profile(a, args)


def profile(a: Any, args: argparse.Namespace) -> None:
    from tests.openai_server import fake_embedding

    searcher = a.searcher
    qs = questions(args.queries + 1)
    vecs = [np.asarray(fake_embedding(q, DIM), dtype=np.float32) for q in qs]
    load0 = loadavg()
    searcher.search(qs[0], 5, query_vector=vecs[0])  # warm-up: index open, Chroma caches loaded

    def run() -> tuple[list[float], list[float]]:
        wall, cpu = [], []
        for q, v in zip(qs[1:], vecs[1:]):
            t0, c0 = time.perf_counter(), time.process_time()
            searcher.search(q, 5, query_vector=v)
            wall.append(1000 * (time.perf_counter() - t0))
            cpu.append(1000 * (time.process_time() - c0))
        return wall, cpu

    wall, cpu = run()  # plain: the figures
    index = searcher.keyword_index()
    totals: dict[str, float] = {}
    store = searcher.store
    patches = [
        (searcher, "keyword_index", "keyword index check (store.change_key)"),
        (store, "query", "dense: store.query"),
        (store, "query_ids", "dense: store.query_ids"),
        (store, "rows_by_id", "rows: store.rows_by_id"),
        (store, "matches_for", "dense: store.matches_for (small languages)"),
        (searcher, "_index_holds", "_index_holds"),
        (store, "vectors_for", "store.vectors_for (keyword-only hits)"),
        (index, "search", "keyword: index.search"),
        (searcher, "_hit", "_hit"),
    ]
    patches = [(obj, attr, name) for obj, attr, name in patches if hasattr(obj, attr)]  # older code
    for obj, attr, name in patches:
        setattr(obj, attr, timed(totals, name, getattr(obj, attr)))
    staged, _ = run()
    for obj, attr, _name in patches:
        delattr(obj, attr)  # the instance attribute goes; the class's method is back
    stages = {k: round(1000 * v / len(staged), 2) for k, v in totals.items() if not k.endswith(" calls")}
    stages["rest (counting, z-scores, fusion)"] = round(
        float(np.mean(staged)) - sum(stages.values()), 2
    )
    calls = {k[:-6]: round(v / len(staged), 1) for k, v in totals.items() if k.endswith(" calls")}

    profile_text = ""
    if args.cprofile:
        prof = cProfile.Profile()
        prof.enable()
        run()
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(args.cprofile)
        profile_text = buf.getvalue()

    out = {
        "machine": machine(),
        "chunks": a.store.count(),
        "queries": len(wall),
        "search_ms": {
            "p50": round(float(np.percentile(wall, 50)), 1),
            "p95": round(float(np.percentile(wall, 95)), 1),
            "cpu_p50": round(float(np.percentile(cpu, 50)), 1),
        },
        "stages_mean_ms_per_search": stages,
        "stage_calls_per_search": calls,
        "load": [load0, loadavg()],
    }
    print(json.dumps(out, indent=2, ensure_ascii=False))
    if profile_text:
        print(profile_text)
    write_json(args.json, out)


if __name__ == "__main__":
    main()
