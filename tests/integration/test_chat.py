"""`assistant chat`: piped input, a real pseudo-terminal (Ctrl-C cancels, Ctrl-D leaves), errors."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pexpect
import pytest
from typer.testing import CliRunner

from assistant.cli import app

pytestmark = pytest.mark.integration

EXE = Path(sys.executable).with_name("assistant")
Q1 = "Which minerals will Japan and Canada start mining first?"
Q2 = "What did the United States and its G7 partners launch in June 2022?"
REPLY = "Mining starts with nickel and lithium [1]."


@pytest.fixture()
def llm_env(openai_server: Any, seeded_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", openai_server.api_key)
    monkeypatch.setenv("ASSISTANT_MODEL", "gpt-test")
    monkeypatch.setenv("ASSISTANT_MAX_RETRIES", "2")
    monkeypatch.setenv("ASSISTANT_TIMEOUT", "20")
    openai_server.set_responder(lambda req: REPLY)
    return openai_server


def test_piped_chat_answers_each_line_and_handles_commands(seeded_data_dir: Path) -> None:
    proc = subprocess.run(
        [str(EXE), "chat"],
        input=f"{Q1}\n/sources\n/reset\n\n{Q2}\n/bogus\n/exit\nnever asked\n",
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out, err = proc.stdout, proc.stderr
    assert "nickel and lithium" in out
    assert "Partnership for Global Infrastructure and Investment" in out
    assert len([line for line in out.splitlines() if line.strip()]) == 2  # one answer per question
    assert "sources:" in err and "seeds/003_00a1cc68e7f4e4af.txt" in err
    assert err.index("seeds/003_00a1cc68e7f4e4af.txt") < err.index("conversation reset")
    assert "unknown command /bogus" in err
    assert "Traceback" not in out + err


def test_chat_ends_cleanly_at_end_of_input(seeded_data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["chat"], input=f"{Q1}\n")
    assert result.exit_code == 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "nickel" in result.stdout


def test_chat_keeps_going_after_a_provider_error(llm_env: Any) -> None:
    llm_env.fail_next(500, n=3, retry_after=0.05)  # the first question uses all 1 + 2 retries
    result = CliRunner().invoke(app, ["chat", "--provider", "openai"], input=f"{Q1}\n{Q1}\n/exit\n")
    assert result.exit_code == 0, result.output
    assert "error:" in result.stderr and "500" in result.stderr
    assert REPLY in result.stdout
    assert "(1 source: /sources to show)" in result.stderr
    assert llm_env.count() == 4
    assert "Traceback" not in result.output


def test_chat_in_a_terminal_ctrl_c_cancels_the_answer_and_ctrl_d_leaves(llm_env: Any) -> None:
    env = {**os.environ, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "NO_COLOR": "1"}
    child = pexpect.spawn(
        str(EXE),
        ["chat", "--provider", "openai"],
        env=env,
        encoding="utf-8",
        timeout=90,
        dimensions=(30, 200),
    )
    try:
        child.expect("Ask about the articles")
        child.expect("›")
        llm_env.delay_next(6)
        child.sendline(Q1)
        deadline = time.monotonic() + 60
        while llm_env.count() < 1:  # the request is out: the assistant is waiting for the model
            assert time.monotonic() < deadline, child.before
            time.sleep(0.05)
        time.sleep(0.3)
        child.sendintr()
        child.expect_exact("(cancelled)", timeout=5)  # well before the 6 s delay ends
        child.expect("›")

        child.sendline(Q1)
        child.expect_exact("Mining starts with nickel and lithium", timeout=30)
        child.expect_exact("/sources to show")
        child.expect("›")
        assert llm_env.count() == 2

        child.sendeof()
        child.expect(pexpect.EOF, timeout=30)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0, (child.exitstatus, child.signalstatus)
    assert "Traceback" not in (child.before or "")
