"""A language that the one unfiltered dense query brings back short: Chroma's `where`-filtered
query against the service's in-memory vectors (issue 8; `HybridSearch.memory_vectors`).

With real vectors the question's language dominates raw cosine, so for nearly every question
the other large language comes back short of its candidates and needs a search of its own
(bench/dense_query.py; RESULTS.md section 8). This measures that search both ways on a kept
scale store (bench/scale.py --build-only --workdir DIR), per large language, warm, same
random unit vectors: the filtered query (ids and distances only, as the search asks for them)
and the exact top-n over the language's vectors in memory. Reported beside the times: how many
of the exact top-n the filtered HNSW query finds (random vectors against the store's hashed
vectors are near-ties, the hard case for an approximate index), and a sanity check that a
stored chunk's own vector finds that chunk first both ways. Also: the time to load the vectors
and the process's peak RSS growth.

    python bench/memory_vectors.py /work/scale-store [--queries 40] [--json F]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from common import loadavg, machine, write_json  # noqa: E402

DIM = 384
N = 40  # HybridSearch.candidates


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workdir", type=Path)
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    from assistant import Assistant, Settings, retrieval
    from tests.openai_server import FakeOpenAIServer

    with FakeOpenAIServer(embedding_dim=DIM) as server:
        a = Assistant(Settings(data_dir=args.workdir / "store", embeddings="openai",
                               openai_base_url=server.base_url, openai_api_key=server.api_key))
        searcher = a.searcher
        index = searcher.keyword_index()
        langs = [lg for lg in index.languages if index.chunk_count(lg) > retrieval._SMALL_LANGUAGE]
        rng = np.random.default_rng(7)
        vecs = rng.standard_normal((args.queries + 1, DIM)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        load0 = loadavg()
        rss0 = rss_mib()
        t0 = time.perf_counter()
        loaded = searcher.preload_vectors()
        load_s = time.perf_counter() - t0
        rss1 = rss_mib()
        out: dict = {"machine": machine(), "chunks": len(index), "loaded_vectors": loaded,
                     "load_seconds": round(load_s, 2), "rss_growth_mib": round(rss1 - rss0, 1),
                     "languages": {}}
        for lang in langs:
            filt, mem, recall = [], [], []
            for i, v in enumerate(vecs):
                t = time.perf_counter()
                got = a.store.query_ids(v, N, {"language": lang})
                f = time.perf_counter() - t
                t = time.perf_counter()
                exact = searcher._memory_matches(lang, v, N)  # noqa: SLF001
                m = time.perf_counter() - t
                if i == 0:
                    continue  # warm-up
                filt.append(f * 1000)
                mem.append(m * 1000)
                recall.append(len({cid for cid, _ in got} & {x.id for x in exact}) / max(1, len(exact)))
            out["languages"][lang] = {
                "chunks": index.chunk_count(lang),
                "filtered_query_ms_p50": round(statistics.median(filt), 2),
                "filtered_query_ms_p95": round(sorted(filt)[int(0.95 * (len(filt) - 1))], 2),
                "memory_ms_p50": round(statistics.median(mem), 2),
                "memory_ms_p95": round(sorted(mem)[int(0.95 * (len(mem) - 1))], 2),
                "speedup_p50": round(statistics.median(filt) / statistics.median(mem), 1),
                "filtered_recall_of_exact_top_n": round(statistics.mean(recall), 3),
            }
            # Sanity: a stored chunk's own vector finds it first, both ways.
            ids, matrix = searcher._memory[lang][1], searcher._memory[lang][2]  # noqa: SLF001
            picks = rng.choice(len(ids), 20, replace=False)
            self_exact = sum(searcher._memory_matches(lang, matrix[i], 1)[0].id == ids[i] for i in picks)  # noqa: SLF001
            self_filtered = sum(a.store.query_ids(matrix[i], 1, {"language": lang})[0][0] == ids[i] for i in picks)
            out["languages"][lang]["own_vector_first"] = {"memory": f"{self_exact}/20", "filtered": f"{self_filtered}/20"}
        out["loadavg"] = [load0, loadavg()]
    print(out)
    write_json(args.json, out)


if __name__ == "__main__":
    main()
