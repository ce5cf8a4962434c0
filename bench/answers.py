"""Extractive answers on XQuAD (en->en, ar->en, ar->ar) and on the seed dev set, through the real
pipeline: `assistant.evaluation.run_eval`, the function behind `assistant eval`, so the figures
are the ones `assistant eval` prints.

XQuAD runs pass a disk-cached copy of the embedding model (bench/.cache/) so reruns do not
re-embed 240 paragraphs; vectors are identical to the live model's. The dev set uses the live model.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, SHARED, CachedEmbeddings, machine, write_json, xquad_subset_file  # noqa: E402

from assistant.config import Settings  # noqa: E402
from assistant.embeddings import LocalE5Embeddings  # noqa: E402
from assistant.evaluation import run_eval  # noqa: E402

DEV_SET = SHARED / "eval" / "seed_qa_dev.jsonl"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def summary(report: dict) -> dict:
    """The report without its per-question failures (kept as a count and a few examples)."""
    out = {k: v for k, v in report.items() if k != "failures"}
    out["failures_count"] = len(report.get("failures", []))
    out["failure_examples"] = report.get("failures", [])[:5]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--quick", action="store_true", help="first 8 articles, 100 questions per direction"
    )
    ap.add_argument("--json", type=Path, default=None, help="write results here")
    args = ap.parse_args()

    articles = 8 if args.quick else None
    limit = 100 if args.quick else None
    cached = CachedEmbeddings(LocalE5Embeddings())
    results: dict = {
        "machine": machine(),
        "quick": args.quick,
        "articles": articles or 48,
        "limit": limit,
        "xquad": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        en = xquad_subset_file("en", articles, root / "subset")
        ar = xquad_subset_file("ar", articles, root / "subset")
        runs = {
            # One kept store per corpus: en->en and ar->en share the English one.
            "en->en": dict(dataset=en),
            "ar->en": dict(dataset=en, questions=ar, corpus=en),
            "ar->ar": dict(dataset=ar),
        }
        for key, files in runs.items():
            say(f"== XQuAD {key}")
            report = run_eval(
                settings_overrides={"data_dir": root / "store"},
                limit=limit,
                provider="extractive",
                k=None,
                progress=say,
                embeddings=cached,
                **files,
            )
            cached.save()
            results["xquad"][key] = summary(report)
            r, a = report["retrieval"], report["answers"]
            say(
                f"{key}: hit {a['hit_rate']} f1 {a['f1']} R@1 {r['recall@1']} false declines "
                f"{report['declines']['false_declines']}"
            )

        # The seed dev set against a store holding the five seeds (ingested from the repo's
        # seeds/, so sources read seeds/NNN_....txt); questions embedded by the live model.
        say("== seed dev set")
        data_dir = root / "seeded"
        from assistant.ingest import ingest
        from assistant.store import Store

        settings = Settings(data_dir=data_dir, corpus_dir=ROOT / "seeds")
        store = Store(settings, cached.model_id, cached.dimension)
        ingest([ROOT / "seeds"], settings=settings, store=store, embeddings=cached)
        cached.save()
        report = run_eval(
            DEV_SET,
            settings_overrides={"data_dir": data_dir, "corpus_dir": ROOT / "seeds"},
            limit=None,
            provider="extractive",
            k=None,
            questions=None,
            corpus=None,
            progress=say,
        )
        results["dev_set"] = summary(report)
        results["dev_set"]["failures"] = report["failures"]
    write_json(args.json, results)


if __name__ == "__main__":
    main()
