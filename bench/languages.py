"""Questions in languages the other benchmarks never ask in, against the English XQuAD corpus.

`bench/declines.py` asks in English, Arabic and Spanish (XQuAD's own translations). Users ask in
others; XQuAD has ten more, which this machine does not hold. `bench/data/xquad_questions/`
holds our own translations of 120 XQuAD English questions (60 of articles 0-11, 60 of articles
12-23; the sample `python bench/languages.py --source` writes) into German, Greek, Russian,
Turkish, Chinese, Vietnamese, Thai and Hindi: machine-made by us, not XQuAD's translators, so the
figures say how a language fares, not how XQuAD's would.

Store: the English paragraphs of articles 0-11 (the `far` store of `bench/declines.py`). Per
language: answered share of the 60 answerable questions (and a gold span in the answer), declined
share of the 60 whose article is absent. English and Spanish (XQuAD's) are asked too, the same
120 questions, for reference. Through `Assistant.ask`, extractive, as a user asks.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import CachedEmbeddings, load_xquad, loadavg, machine, write_json  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "xquad_questions"
PER_KIND = 60


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def source() -> list[dict[str, str]]:
    """The questions to translate: 60 answerable (articles 0-11), 60 not (articles 12-23)."""
    import declines

    paragraphs, questions = load_xquad("en")
    article = {p.index: p.article for p in paragraphs}
    out = []
    for kind, wanted in (("answer", lambda a: a < 12), ("decline", lambda a: 12 <= a < 24)):
        pool = [q for q in questions if wanted(article[q.paragraph])]
        for q in declines.sample(pool, 100, f"xl-far_{kind}-0")[:PER_KIND]:
            out.append({"id": q.id, "kind": kind, "en": q.text})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--source", action="store_true", help="print the English questions to translate (JSON)")
    ap.add_argument("--json", type=Path, default=None, help="write results here")
    ap.add_argument("--rows", type=Path, default=None, help="write every answer and its evidence here")
    ap.add_argument("--only", default="", help="languages to ask in, e.g. vi,tr (default: all)")
    args = ap.parse_args()
    if args.source:
        print(json.dumps(source(), ensure_ascii=False, indent=0))
        return
    import declines

    from assistant.embeddings import LocalE5Embeddings

    paragraphs, en_questions = load_xquad("en")
    spans = {q.id: q.answers for q in en_questions}
    asked = source()
    texts = {"en": {q["id"]: q["en"] for q in asked}}
    spanish = {q.id: q.text for q in load_xquad("es")[1]}
    texts["es"] = {q["id"]: spanish[q["id"]] for q in asked}
    for path in sorted(DATA.glob("*.json")):
        rows = json.loads(path.read_text(encoding="utf-8"))
        texts[path.stem] = {r["id"]: r["q"] for r in rows}
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    if only:
        texts = {k: v for k, v in texts.items() if k in only}
    cached = CachedEmbeddings(LocalE5Embeddings())
    started, load_start = time.time(), loadavg()
    table, all_rows = {}, {}
    with tempfile.TemporaryDirectory(prefix="bench-languages-") as tmp:
        store = declines.build_store(Path(tmp), "far0", [p for p in paragraphs if p.article < 12], cached)
        for lang, by_id in texts.items():
            counts = {"answer": [0, 0, 0], "decline": [0, 0, 0]}  # n, answered, gold span
            rows = []
            for q in asked:
                text = by_id.get(q["id"])
                if not text:
                    continue
                answer = store.ask(text, provider="extractive")
                hit = bool(answer.answered) and declines.contains(answer.text, spans[q["id"]])
                c = counts[q["kind"]]
                c[0] += 1
                c[1] += bool(answer.answered)
                c[2] += hit
                rows.append({"id": q["id"], "kind": q["kind"], "question": text, "answered": bool(answer.answered),
                             "hit": hit, "answer": answer.text, "evidence": answer.evidence})
            a, d = counts["answer"], counts["decline"]
            table[lang] = {
                "answered": round(a[1] / max(1, a[0]), 3),
                "gold_span": round(a[2] / max(1, a[0]), 3),
                "declined": round(1 - d[1] / max(1, d[0]), 3),
                "n": [a[0], d[0]],
            }
            all_rows[lang] = rows
            say(f"{lang}: answered {a[1]}/{a[0]} (gold span in {a[2]}), declined {d[0] - d[1]}/{d[0]}")
        cached.save()
    report = {"machine": machine(), "seconds": round(time.time() - started, 1),
              "loadavg": [load_start, loadavg()], "summary": table}
    print(json.dumps(table, indent=1))
    write_json(args.json, report)
    write_json(args.rows, all_rows)


if __name__ == "__main__":
    main()
