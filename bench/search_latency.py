"""Warm search latency at 1k, 10k and 100k chunks.

SYNTHETIC data: random unit vectors (384-d, like multilingual-e5-small) and texts of 150 words drawn
from the XQuAD English and Arabic vocabulary (real word frequencies), half the documents tagged
English and half Arabic, 10 chunks per document, written straight into a Store (Chroma on disk)
without embedding. Queries are real XQuAD questions (half English, half Arabic). Measured:
`HybridRetriever.search(query, 5, query_vector=v)` with a precomputed vector, and the same search
embedding the question with the live model. The first search after a change builds the BM25 index;
it is timed separately and not part of the warm figures.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Stopwatch, load_xquad, loadavg, machine, percentile, write_json  # noqa: E402

from assistant.config import Settings  # noqa: E402
from assistant.embeddings import LocalE5Embeddings  # noqa: E402
from assistant.retrieval import HybridRetriever  # noqa: E402
from assistant.store import Store  # noqa: E402

WORDS_PER_CHUNK = 150
CHUNKS_PER_DOC = 10
QUERIES = 40
DIM = 384


def vocabulary() -> dict[str, np.ndarray]:
    """Every word occurrence of the XQuAD paragraphs per language (sampling it keeps frequencies)."""
    out = {}
    for lang in ("en", "ar"):
        paragraphs, _ = load_xquad(lang)
        words = [w for p in paragraphs for w in re.findall(r"\w+", p.text)]
        out[lang] = np.array(words, dtype=object)
    return out


def add_rows(
    store: Store, start: int, stop: int, vocab: dict[str, np.ndarray], rng: np.random.Generator
) -> float:
    """Write synthetic chunks start..stop-1; returns seconds."""
    store.begin_write()
    collection = store.chunks(create=True)
    batch = store._batch_size()  # noqa: SLF001 - Chroma's limit, as the product uses it
    t0 = time.perf_counter()
    for lo in range(start, stop, batch):
        hi = min(stop, lo + batch)
        ids, docs, metas = [], [], []
        for i in range(lo, hi):
            doc = i // CHUNKS_PER_DOC
            lang = "ar" if doc % 2 else "en"
            words = vocab[lang][rng.integers(0, len(vocab[lang]), WORDS_PER_CHUNK)]
            text = " ".join(words)
            path = f"/synthetic/doc{doc:06d}.txt"
            pos = (i % CHUNKS_PER_DOC) * 1000
            ids.append(f"syn{doc:06d}-c{i % CHUNKS_PER_DOC:05d}")
            docs.append(text)
            metas.append(
                {
                    "source": f"synthetic/doc{doc:06d}.txt",
                    "path": path,
                    "title": f"Synthetic document {doc}",
                    "language": lang,
                    "sha256": "0" * 64,
                    "version": "v",
                    "chunk_index": i % CHUNKS_PER_DOC,
                    "start": pos,
                    "end": pos + len(text),
                    "tokens": 220,
                }
            )
        vecs = rng.standard_normal((hi - lo, DIM)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        collection.add(ids=ids, documents=docs, metadatas=metas, embeddings=vecs)
    # The manifest: one complete row per document (the keyword index syncs from it on the
    # first search, which is timed apart from the warm figures).
    entries = []
    for doc in range(start // CHUNKS_PER_DOC, (stop + CHUNKS_PER_DOC - 1) // CHUNKS_PER_DOC):
        path = f"/synthetic/doc{doc:06d}.txt"
        entries.append(
            {"path": path, "source": path.lstrip("/"), "title": f"Synthetic document {doc}",
             "language": "ar" if doc % 2 else "en", "sha256": "0" * 64, "version": "v",
             "chunks": CHUNKS_PER_DOC}
        )
    store.mark(entries, "complete")
    store.finish_write(True)
    return time.perf_counter() - t0


def timed(fn, runs) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of each call (CPU time shows what other load on the machine hides)."""
    wall, cpu = [], []
    for args in runs:
        t0, c0 = time.perf_counter(), time.process_time()
        fn(*args)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return wall, cpu


def stats(measured: tuple[list[float], list[float]]) -> dict:
    ms, cpu = measured
    return {
        "p50": round(percentile(ms, 50), 1),
        "p95": round(percentile(ms, 95), 1),
        "mean": round(float(np.mean(ms)), 1),
        "cpu_p50": round(percentile(cpu, 50), 1),
        "n": len(ms),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="1k and 10k chunks only")
    ap.add_argument(
        "--sizes", default=None, help="comma-separated chunk counts (default 1000,10000,100000)"
    )
    ap.add_argument("--json", type=Path, default=None, help="write results here")
    args = ap.parse_args()
    sizes = (
        [int(x) for x in args.sizes.split(",")]
        if args.sizes
        else ([1000, 10000] if args.quick else [1000, 10000, 100000])
    )

    rng = np.random.default_rng(42)
    vocab = vocabulary()
    _, en_q = load_xquad("en")
    _, ar_q = load_xquad("ar")
    step = len(en_q) // (QUERIES // 2)
    questions = [q.text for q in en_q[::step][: QUERIES // 2]] + [
        q.text for q in ar_q[::step][: QUERIES // 2]
    ]
    live = LocalE5Embeddings()
    with Stopwatch() as emb:
        vectors = live.embed_queries_array(questions)
    results: dict = {
        "machine": machine(),
        "quick": args.quick,
        "synthetic": True,
        "queries": len(questions),
        "query_embedding_batch_ms_per_query": round(emb.wall * 1000 / len(questions), 1),
        "loadavg_before": loadavg(),
        "sizes": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", collection="latency")
        store = Store(settings, live.model_id, DIM)
        count = 0
        for size in sizes:
            print(f"filling the store to {size} chunks", file=sys.stderr, flush=True)
            insert_s = add_rows(store, count, size, vocab, rng)
            count = size
            retriever = HybridRetriever(
                store=store, embeddings=live, k=5, keyword_weight=settings.keyword_weight
            )
            with Stopwatch() as first:
                retriever.search(questions[0], 5, query_vector=vectors[0])
            for q, v in zip(questions[:3], vectors[:3]):  # warm up
                retriever.search(q, 5, query_vector=v)
            pairs = list(zip(questions, vectors))
            with_vec = timed(lambda q, v, r=retriever: r.search(q, 5, query_vector=v), pairs)
            dense = timed(
                lambda q, v, r=retriever: r.search(q, 5, query_vector=v, mode="dense"), pairs
            )
            with_embed = timed(lambda q, r=retriever: r.search(q, 5), [(q,) for q in questions])
            results["sizes"][str(size)] = {
                "chunks": store.count(),
                "insert_seconds": round(insert_s, 1),
                "first_search_with_index_build_s": round(first.wall, 2),
                "hybrid_precomputed_vector_ms": stats(with_vec),
                "dense_only_precomputed_vector_ms": stats(dense),
                "hybrid_including_query_embedding_ms": stats(with_embed),
            }
            print(size, results["sizes"][str(size)], file=sys.stderr, flush=True)
    results["loadavg_after"] = loadavg()
    write_json(args.json, results)


if __name__ == "__main__":
    main()
