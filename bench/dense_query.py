"""One dense query per question (issue 8.4): how often does a language come back short?

HybridSearch queries Chroma once without a language filter (candidates x languages results),
groups the hits by language, and runs a language-filtered query only for a language that came
back with fewer than `candidates` hits. With real vectors the question's language dominates raw
cosine, so the other language may often come back short and pay the filtered query (which costs
~40x an unfiltered one at 100k chunks in the embedded store).

Measured here on the XQuAD mixed store (every paragraph its own document, odd articles Arabic,
real e5 vectors from the benchmark cache): per question direction, the share of questions that
needed a filtered query, and queries per question. Prints markdown.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CachedEmbeddings, load_xquad  # noqa: E402
from retrieval import build_corpus, open_store  # noqa: E402

from assistant.embeddings import E5Embeddings  # noqa: E402


class CountingStore:
    """Wraps a Store; counts queries and which carried a language filter."""

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self.queries = 0
        self.filtered = 0

    def query(self, vector, n, where=None):  # noqa: ANN001, ANN201
        self.queries += 1
        if where and ("language" in where or any("language" in c for c in where.get("$and", []))):
            self.filtered += 1
        return self._inner.query(vector, n, where)

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--limit", type=int, default=300, help="questions per direction")
    args = ap.parse_args()
    en_p, en_q = load_xquad("en")
    ar_p, ar_q = load_xquad("ar")
    embeddings = CachedEmbeddings(E5Embeddings())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        corpus = build_corpus(root, "mixed", {"en": en_p, "ar": ar_p}, lambda p: "ar" if p.article % 2 else "en")
        _store, retriever, _ = open_store(root, "mixed", corpus, embeddings)
        engine = retriever._search_engine()  # noqa: SLF001 - measuring its queries
        counting = CountingStore(engine.store)
        engine.store = counting
        for name, questions in (("en→mixed", en_q), ("ar→mixed", ar_q)):
            qs = questions[: args.limit]
            vectors = embeddings.embed_queries_array([q.text for q in qs])
            short = 0
            counting.queries = counting.filtered = 0
            for q, vec in zip(qs, vectors):
                before = counting.filtered
                engine.search(q.text, 5, query_vector=vec)
                short += counting.filtered > before
            rows.append((name, len(qs), short / len(qs), counting.queries / len(qs)))
    print("| questions → corpus | n | share needing a filtered query | Chroma queries per question |")
    print("| --- | --- | --- | --- |")
    for name, n, share, per in rows:
        print(f"| {name} | {n} | {share:.3f} | {per:.2f} |")


if __name__ == "__main__":
    main()
