"""Retrieval quality on XQuAD: dense-only vs BM25-only vs fused, four directions plus a mixed corpus.

Each paragraph is ingested as its own document through the real pipeline (clean, chunk, embed,
Chroma); recall is document level: did the paragraph that answers the question come back?
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CachedEmbeddings, load_xquad, machine  # noqa: E402

from assistant.config import Settings  # noqa: E402
from assistant.embeddings import LocalE5Embeddings  # noqa: E402
from assistant.ingest import ingest  # noqa: E402
from assistant.retrieval import HybridRetriever  # noqa: E402
from assistant.store import Store  # noqa: E402

MODES = ("dense", "keyword", "hybrid")


def build_corpus(root: Path, name: str, paragraphs_by_lang: dict[str, list], choose) -> Path:
    """Write one file per paragraph; `choose(paragraph)` picks its language."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    any_lang = next(iter(paragraphs_by_lang.values()))
    for para in any_lang:
        lang = choose(para)
        text = paragraphs_by_lang[lang][para.index].text
        (folder / f"p{para.index:03d}.txt").write_text(text + "\n", encoding="utf-8")
    return folder


def open_store(
    root: Path, name: str, corpus: Path, embeddings
) -> tuple[Store, HybridRetriever, float]:
    settings = Settings(data_dir=root / f"data-{name}", collection="xquad")
    store = Store(settings, embeddings.model_id, embeddings.dimension)
    t0 = time.perf_counter()
    report = ingest([corpus], settings=settings, store=store, embeddings=embeddings)
    seconds = time.perf_counter() - t0
    if report.skipped:
        print(
            f"  warning: {report.skipped} paragraphs skipped: {report.skipped_files[:3]}",
            file=sys.stderr,
        )
    retriever = HybridRetriever(
        store=store, embeddings=embeddings, k=5, keyword_weight=settings.keyword_weight
    )
    return store, retriever, seconds


def evaluate(retriever: HybridRetriever, questions, embeddings, limit: int | None = None) -> dict:
    qs = questions[:limit] if limit else questions
    vectors = embeddings.embed_queries_array([q.text for q in qs])
    out = {}
    for mode in MODES:
        r1 = r5 = rr = 0.0
        for q, vec in zip(qs, vectors):
            hits = retriever.search(q.text, 20, query_vector=vec, mode=mode)
            ranked = list(dict.fromkeys(int(Path(h.source).stem[1:]) for h in hits))
            if ranked[:1] == [q.paragraph]:
                r1 += 1
            if q.paragraph in ranked[:5]:
                r5 += 1
            if q.paragraph in ranked:
                rr += 1.0 / (ranked.index(q.paragraph) + 1)
        n = len(qs)
        out[mode] = {
            "recall@1": round(r1 / n, 3),
            "recall@5": round(r5 / n, 3),
            "mrr": round(rr / n, 3),
            "n": n,
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--limit", type=int, default=None, help="questions per direction (default all 1190)"
    )
    ap.add_argument(
        "--articles", type=int, default=None, help="corpus: only the first N of 48 articles"
    )
    ap.add_argument("--json", type=Path, default=None, help="write results here")
    args = ap.parse_args()

    en_p, en_q = load_xquad("en", args.articles)
    ar_p, ar_q = load_xquad("ar", args.articles)
    embeddings = CachedEmbeddings(LocalE5Embeddings())
    results: dict = {
        "machine": machine(),
        "corpus": {
            "articles": args.articles or 48,
            "paragraphs": len(en_p),
            "questions": len(en_q),
        },
        "limit": args.limit,
        "directions": {},
        "mixed": {},
        "ingest_seconds": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paras = {"en": en_p, "ar": ar_p}
        stores = {}
        for lang in ("en", "ar"):
            corpus = build_corpus(root, f"corpus-{lang}", paras, lambda p, lang=lang: lang)
            stores[lang] = open_store(root, lang, corpus, embeddings)
            results["ingest_seconds"][lang] = round(stores[lang][2], 1)
            embeddings.save()
        # Odd-numbered articles (0-based, file order) in Arabic, the rest in English.
        mixed = build_corpus(root, "corpus-mixed", paras, lambda p: "ar" if p.article % 2 else "en")
        stores["mixed"] = open_store(root, "mixed", mixed, embeddings)
        results["ingest_seconds"]["mixed"] = round(stores["mixed"][2], 1)
        embeddings.save()

        qsets = {"en": en_q, "ar": ar_q}
        for q_lang, c_lang in (("en", "en"), ("ar", "ar"), ("ar", "en"), ("en", "ar")):
            key = f"{q_lang}->{c_lang}"
            results["directions"][key] = evaluate(
                stores[c_lang][1], qsets[q_lang], embeddings, args.limit
            )
            print(key, json.dumps(results["directions"][key]), flush=True)
        for q_lang in ("en", "ar"):
            key = f"{q_lang}->mixed"
            results["mixed"][key] = evaluate(
                stores["mixed"][1], qsets[q_lang], embeddings, args.limit
            )
            print(key, json.dumps(results["mixed"][key]), flush=True)
        embeddings.save()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
