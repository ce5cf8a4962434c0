"""The peer a user would otherwise write: the LangChain tutorial RAG pipeline on XQuAD.

RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200) from langchain-text-splitters,
then langchain_chroma.Chroma.from_documents + similarity_search, with the SAME multilingual-e5-small
embeddings as the product (e5 query/passage prefixes, vectors from the benchmark disk cache). No
cleaning, no keyword index, no per-language normalisation. Same corpora, questions and
document-level recall metric as bench/retrieval.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CachedEmbeddings, load_xquad, machine, write_json  # noqa: E402

from assistant.embeddings import LocalE5Embeddings  # noqa: E402

DEPTH = 20


def build_store(paragraphs_by_lang: dict[str, list], choose, embeddings, persist: Path):
    """One Document per paragraph, split and stored the tutorial way."""
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    any_lang = next(iter(paragraphs_by_lang.values()))
    docs = []
    for para in any_lang:
        text = paragraphs_by_lang[choose(para)][para.index].text
        docs.append(Document(page_content=text, metadata={"source": f"p{para.index:03d}.txt"}))
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    splits = splitter.split_documents(docs)
    t0 = time.perf_counter()
    store = Chroma.from_documents(
        splits,
        embedding=embeddings,
        collection_name=f"baseline-{uuid.uuid4().hex[:8]}",
        persist_directory=str(persist),
    )
    return store, len(splits), time.perf_counter() - t0


def evaluate(store, questions, limit: int | None = None) -> dict:
    qs = questions[:limit] if limit else questions
    r1 = r5 = rr = 0.0
    for q in qs:
        docs = store.similarity_search(q.text, k=DEPTH)
        ranked = list(dict.fromkeys(int(Path(d.metadata["source"]).stem[1:]) for d in docs))
        if ranked[:1] == [q.paragraph]:
            r1 += 1
        if q.paragraph in ranked[:5]:
            r5 += 1
        if q.paragraph in ranked:
            rr += 1.0 / (ranked.index(q.paragraph) + 1)
    n = len(qs)
    return {
        "recall@1": round(r1 / n, 3),
        "recall@5": round(r5 / n, 3),
        "mrr": round(rr / n, 3),
        "n": n,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--limit", type=int, default=None, help="questions per direction (default all)")
    ap.add_argument(
        "--articles", type=int, default=None, help="corpus: only the first N of 48 articles"
    )
    ap.add_argument("--json", type=Path, default=None, help="write results here")
    args = ap.parse_args()

    en_p, en_q = load_xquad("en", args.articles)
    ar_p, ar_q = load_xquad("ar", args.articles)
    embeddings = CachedEmbeddings(LocalE5Embeddings())
    paras = {"en": en_p, "ar": ar_p}
    results: dict = {
        "machine": machine(),
        "pipeline": "RecursiveCharacterTextSplitter(1000, 200) + langchain_chroma.Chroma.similarity_search",
        "corpus": {
            "articles": args.articles or 48,
            "paragraphs": len(en_p),
            "questions": len(en_q),
        },
        "limit": args.limit,
        "chunks": {},
        "directions": {},
        "mixed": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        stores = {}
        for name, choose in (
            ("en", lambda p: "en"),
            ("ar", lambda p: "ar"),
            # Odd-numbered articles (0-based, file order) in Arabic, the rest in English.
            ("mixed", lambda p: "ar" if p.article % 2 else "en"),
        ):
            stores[name], n_chunks, seconds = build_store(paras, choose, embeddings, root / name)
            results["chunks"][name] = n_chunks
            embeddings.save()
            print(
                f"baseline corpus {name}: {n_chunks} chunks in {seconds:.1f}s",
                file=sys.stderr,
                flush=True,
            )
        qsets = {"en": en_q, "ar": ar_q}
        for q_lang, c_lang in (("en", "en"), ("ar", "ar"), ("ar", "en"), ("en", "ar")):
            key = f"{q_lang}->{c_lang}"
            results["directions"][key] = evaluate(stores[c_lang], qsets[q_lang], args.limit)
            print(key, results["directions"][key], file=sys.stderr, flush=True)
        for q_lang in ("en", "ar"):
            key = f"{q_lang}->mixed"
            results["mixed"][key] = evaluate(stores["mixed"], qsets[q_lang], args.limit)
            print(key, results["mixed"][key], file=sys.stderr, flush=True)
        embeddings.save()
    write_json(args.json, results)


if __name__ == "__main__":
    main()
