"""Shared fixtures: an isolated environment, the seed corpus, a seeded store, servers on loopback."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.processes import stop

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
TEST_DATA = Path(__file__).resolve().parent / "data"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# A suite started in the background by a script (`cmd &`, nohup) inherits SIGINT ignored, and so
# would every process it spawns: the Ctrl-C tests would then test nothing and hang. Python's own
# default is what a user's terminal gives; restore it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ASSISTANT_*/OPENAI_* from the developer's shell; the data dir lives in tmp_path."""
    for name in list(os.environ):
        if name.startswith(("ASSISTANT_", "OPENAI_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / ".assistant"))
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(SEEDS))


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    """The five seed articles shipped in the repo."""
    return SEEDS


@pytest.fixture(scope="session")
def seeded_store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with the seeds ingested once per session by the real model (read-only: copy it)."""
    from assistant import Assistant, Settings

    data_dir = tmp_path_factory.mktemp("seeded") / ".assistant"
    assistant = Assistant(Settings(data_dir=data_dir, corpus_dir=SEEDS))
    report = assistant.ingest([SEEDS])
    assert report.added == 5, report
    warm_sentence_cache(assistant)
    return data_dir


def warm_sentence_cache(assistant: Any) -> None:
    """Fill the store's sentence cache for every chunk, as questions would over time: sentence
    vectors, word vectors and latent-terms codes (chunks, sentences, sentence pairs).

    A first question over a fresh copy of the seeds costs 2-4 s here, almost all of it spent
    embedding the sentences of the chunks it reads; with the cache warm it costs 0.2 s. Tests
    that copy the seeded store then pay that once per session (about 20 s) instead of once each.
    What a cold cache does is still tested: here, in the tests that ingest their own stores, and
    in tests/unit/test_alignment.py. Vectors are the model's either way.
    """
    from assistant.alignment import words
    from assistant.chunking import split_sentences

    chunks: list[str] = []
    sentences: list[str] = []
    pairs: list[str] = []
    vocabulary: dict[str, None] = {}
    for _id, text, _meta in assistant.store.iter_chunks():
        parts = [text[s.start : s.end] for s in split_sentences(text)]
        chunks.append(text)
        sentences.extend(parts)
        pairs.extend(f"{a} {b}" for a, b in zip(parts, parts[1:]))  # a sentence and its antecedent
        vocabulary.update(dict.fromkeys(words(text)))
    cache = assistant.sentence_vectors
    cache.vectors(sentences)
    cache.words(list(vocabulary))
    cache.latent(chunks + sentences + pairs)
    cache.close()


@pytest.fixture()
def seeded_data_dir(seeded_store_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the seeded store; ASSISTANT_DATA_DIR points at it."""
    target = tmp_path / "seeded.assistant"
    shutil.copytree(seeded_store_template, target)
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(target))
    return target


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A real `chroma run` server on a free loopback port, for the session."""
    exe = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    if not Path(exe).exists():
        pytest.fail("the `chroma` command (from the chromadb package) is not installed")
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    log = open(path / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [exe, "run", "--path", str(path / "data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.monotonic() + 60
    import urllib.request

    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log.close()
                pytest.fail(f"chroma server did not start: {(path / 'server.log').read_text()[-2000:]}")
            time.sleep(0.2)
    try:
        yield "127.0.0.1", port
    finally:
        stop(proc, timeout=10)
        log.close()


@pytest.fixture()
def openai_server() -> Iterator[object]:
    """A real HTTP server on 127.0.0.1 speaking the OpenAI protocol (tests/openai_server.py)."""
    from tests.openai_server import FakeOpenAIServer

    with FakeOpenAIServer() as server:
        yield server


def use_llm_server(monkeypatch: pytest.MonkeyPatch, server: Any, *, retries: int, timeout: float) -> None:
    """Point the assistant at an OpenAI-protocol server (model `gpt-test`, provider openai)."""
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
    monkeypatch.setenv("ASSISTANT_MODEL", "gpt-test")
    monkeypatch.setenv("ASSISTANT_PROVIDER", "openai")
    monkeypatch.setenv("ASSISTANT_MAX_RETRIES", str(retries))
    monkeypatch.setenv("ASSISTANT_TIMEOUT", str(timeout))
