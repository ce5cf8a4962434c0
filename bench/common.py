"""Shared helpers for the benchmarks: XQuAD loading, machine facts, an embedding cache."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
XQUAD_DIR = Path(os.environ.get("ASSISTANT_XQUAD_DIR", SHARED / "data" / "xquad"))
CACHE_DIR = Path(os.environ.get("ASSISTANT_BENCH_CACHE", ROOT / "bench" / ".cache"))


@dataclass(frozen=True)
class Paragraph:
    """One XQuAD paragraph: global index, article index, text."""

    index: int
    article: int
    text: str


@dataclass(frozen=True)
class Question:
    """One XQuAD question with the paragraph that answers it and its answer spans."""

    id: str
    text: str
    paragraph: int
    answers: tuple[str, ...]


def load_xquad(lang: str, articles: int | None = None) -> tuple[list[Paragraph], list[Question]]:
    """Paragraphs and questions of xquad.<lang>.json, in file order (optionally the first N articles)."""
    data = json.loads((XQUAD_DIR / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]
    if articles is not None:
        data = data[:articles]
    paragraphs: list[Paragraph] = []
    questions: list[Question] = []
    for a_idx, article in enumerate(data):
        for para in article["paragraphs"]:
            p_idx = len(paragraphs)
            paragraphs.append(Paragraph(p_idx, a_idx, para["context"]))
            for qa in para["qas"]:
                answers = tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
                questions.append(Question(qa["id"], qa["question"], p_idx, answers))
    return paragraphs, questions


def machine() -> dict[str, Any]:
    """Cores, CPU model, memory, Python: stamped on every figure."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": mem_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": _git_commit(),
    }


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


class CachedEmbeddings:
    """Wraps an embeddings object; remembers vectors on disk so reruns embed nothing twice.

    Benchmarks only: the product embeds for real every time it needs to.
    """

    def __init__(self, inner: Any, name: str = "e5") -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dimension = inner.dimension
        self.language_premium = getattr(inner, "language_premium", 0.0)
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        self.path = CACHE_DIR / f"{name}.npz"
        self._mem: dict[str, np.ndarray] = {}
        if self.path.exists():
            try:
                with np.load(self.path) as data:
                    self._mem = {k: data[k] for k in data.files}
            except (OSError, ValueError, zipfile.BadZipFile):
                self._mem = {}  # a damaged cache only costs time
        self._dirty = False

    def _key(self, text: str, is_query: bool) -> str:
        return ("q" if is_query else "p") + hashlib.sha1(text.encode("utf-8")).hexdigest()

    def _get(self, texts: list[str], is_query: bool) -> np.ndarray:
        keys = [self._key(t, is_query) for t in texts]
        todo = [i for i, k in enumerate(keys) if k not in self._mem]
        if todo:
            fn = self.inner.embed_queries_array if is_query else self.inner.embed_passages_array
            vecs = fn([texts[i] for i in todo])
            for i, v in zip(todo, vecs):
                self._mem[keys[i]] = np.asarray(v, dtype=np.float32)
            self._dirty = True
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack([self._mem[k] for k in keys])

    def embed_passages_array(self, texts: list[str]) -> np.ndarray:
        return self._get(list(texts), False)

    def embed_queries_array(self, texts: list[str]) -> np.ndarray:
        return self._get(list(texts), True)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_passages_array(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_queries_array([text])[0].tolist()

    def save(self) -> None:
        if self._dirty:
            # Another benchmark process may have saved vectors since we loaded: merge, never clobber.
            if self.path.exists():
                try:
                    with np.load(self.path) as data:
                        for k in data.files:
                            if k not in self._mem:
                                self._mem[k] = data[k]
                except (OSError, ValueError, zipfile.BadZipFile):
                    pass
            tmp = self.path.with_name(f"{self.path.stem}.{os.getpid()}.tmp.npz")
            np.savez(tmp, **self._mem)
            tmp.replace(self.path)
            self._dirty = False


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default)."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def loadavg() -> list[float]:
    """1, 5 and 15 minute load averages: other work on the machine skews timings."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def write_json(path: Path | None, data: Any) -> None:
    """Write a result file (when asked) and say where."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")


def xquad_subset_file(lang: str, articles: int | None, folder: Path) -> Path:
    """xquad.<lang>.json itself, or a copy holding only its first N articles (same file name)."""
    source = XQUAD_DIR / f"xquad.{lang}.json"
    if articles is None:
        return source
    data = json.loads(source.read_text(encoding="utf-8"))
    data["data"] = data["data"][:articles]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    target.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return target


class Stopwatch:
    """Wall and CPU seconds of a block: `with Stopwatch() as sw: ...; sw.wall, sw.cpu`."""

    def __enter__(self) -> Stopwatch:
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu
