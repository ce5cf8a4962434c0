"""The web page at / in a real headless Chromium, driven through its DevTools protocol: ask, see the
streamed answer and its cited passages, Arabic right to left, and document text that stays text."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.documents import load_document
from tests.conftest import ROOT
from tests.integration.test_serve import QUESTION, ServeProcess, copy_store
from tests.processes import stop

pytestmark = pytest.mark.integration

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
SCRIPT_DOC = (
    "Quarterly Vanadium Notes\n\n"
    "Analysts at the Borsund exchange said the <script>alert(1)</script> vanadium flow battery "
    "order from Kestrel Grid reached 310 megawatt-hours in March. "
    "The order is the largest vanadium flow battery contract in the region.\n"
)
# Answered from the Arabic seed article (an Arabic quote) and an English one.
ARABIC_PAGE_QUESTION = "ما المناجم التي بدأت كندا بالفعل في تطويرها بحسب رويترز؟"
SCRIPT_QUESTION = "How large was the vanadium flow battery order from Kestrel Grid?"
# Records any alert() instead of blocking the page, before the page's own scripts run.
TRAP = "window.__alerts = []; window.alert = (m) => { window.__alerts.push(String(m)); };"


def browser_binary() -> str | None:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


class DevTools:
    """A minimal client of the Chrome DevTools protocol over one page's websocket."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self.ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self.events.append(message)

    def evaluate(self, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {expression}")
            time.sleep(0.1)

    def close(self) -> None:
        self.ws.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[str]:
    """A headless Chromium with a fresh profile; yields its DevTools HTTP endpoint."""
    binary = browser_binary()
    if binary is None:
        pytest.skip(
            "no Chromium or Chrome installed (apt-get install -y chromium); the web page test "
            "needs a real browser"
        )
    profile = tempfile.mkdtemp(prefix="assistant-chromium-")
    proc = subprocess.Popen(
        [
            binary,
            "--headless",
            "--no-sandbox",  # CI and this machine run as root
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    endpoint = None
    deadline = time.monotonic() + 60
    assert proc.stderr is not None
    while endpoint is None:
        line = proc.stderr.readline()
        found = re.search(r"DevTools listening on ws://([^/]+)/", line)
        if found:
            endpoint = f"http://{found.group(1)}"
        elif (not line and proc.poll() is not None) or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"Chromium did not start: {line}")
    try:
        yield endpoint
    finally:
        stop(proc, timeout=10)
        proc.stderr.close()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def site(
    seeded_store_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """`assistant serve` on a copy of the seeds plus a document whose text holds a <script> tag."""
    base = tmp_path_factory.mktemp("web")
    data_dir = copy_store(seeded_store_template, base / ".assistant")
    doc = base / "vanadium_notes.txt"
    doc.write_text(SCRIPT_DOC, encoding="utf-8")
    with ServeProcess(data_dir) as server:
        report = httpx.post(f"{server.url}/ingest", json={"paths": [str(doc)]}, timeout=300)
        assert report.status_code == 200 and report.json()["added"] == 1, report.text
        yield server.url, doc


@pytest.fixture()
def page(browser: str, site: tuple[str, Path]) -> Iterator[DevTools]:
    """A new tab on the served page, alert() trapped, the page loaded."""
    target = httpx.put(f"{browser}/json/new?about:blank", timeout=30).json()
    tools = DevTools(target["webSocketDebuggerUrl"])
    tools.send("Page.enable")
    tools.send("Runtime.enable")
    tools.send("Page.addScriptToEvaluateOnNewDocument", source=TRAP)
    tools.send("Page.navigate", url=f"{site[0]}/")
    tools.wait_for("document.readyState === 'complete' && !!document.getElementById('ask-form')")
    try:
        yield tools
    finally:
        tools.close()
        httpx.get(f"{browser}/json/close/{target['id']}", timeout=30)


def ask_in_page(tools: DevTools, question: str) -> dict[str, Any]:
    """Type the question, submit, wait for the answer; returns what the page shows."""
    tools.evaluate(
        f"document.getElementById('question').value = {json.dumps(question)};"
        "document.getElementById('ask-form').requestSubmit(); true"
    )
    state = tools.wait_for(
        "['done', 'error'].includes(document.getElementById('result').dataset.state)"
        " && document.getElementById('result').dataset.state"
    )
    shown = tools.evaluate(
        """(() => {
          const answer = document.getElementById('answer');
          return {
            answer: answer.textContent,
            direction: getComputedStyle(answer).direction,
            markers: [...answer.querySelectorAll('a.marker')].map(a => ({
              text: a.textContent, href: a.getAttribute('href')})),
            citations: [...document.querySelectorAll('#citations li')].map(li => ({
              id: li.id, n: li.dataset.n,
              title: li.querySelector('.cite-title').textContent,
              source: li.querySelector('.cite-source').textContent,
              span: li.querySelector('.cite-span').textContent,
              quote: li.querySelector('blockquote').textContent,
              direction: getComputedStyle(li.querySelector('blockquote')).direction})),
            error: document.getElementById('error').hidden ? null : document.getElementById('error').textContent,
            scripts: document.querySelectorAll('script').length,
            alerts: window.__alerts,
          };
        })()"""
    )
    shown["state"] = state
    return dict(shown)


def served_answer(site: tuple[str, Path], question: str) -> dict[str, Any]:
    return dict(httpx.post(f"{site[0]}/ask", json={"question": question}, timeout=120).json())


def test_the_page_shows_the_answer_and_each_marker_links_to_the_stored_passage(
    page: DevTools, site: tuple[str, Path]
) -> None:
    shown = ask_in_page(page, QUESTION)
    expected = served_answer(site, QUESTION)
    assert shown["state"] == "done" and shown["error"] is None
    assert shown["answer"] == expected["answer"] and "[1]" in shown["answer"]
    assert shown["direction"] == "ltr"
    # One marker per quoted passage (two passages of one chunk share the number).
    assert shown["markers"] and all(m == {"text": "1", "href": "#cite-1"} for m in shown["markers"])
    assert len(shown["markers"]) == shown["answer"].count("[1]") == len(expected["citations"])
    first = shown["citations"][0]
    cited = expected["citations"][0]
    assert first["id"] == "cite-1" and first["n"] == "1"
    assert first["title"] == cited["title"] and first["source"] == cited["source"]
    assert f"characters {cited['start']}–{cited['end']}" in first["span"]
    stored = load_document(ROOT / cited["source"]).text[cited["start"] : cited["end"]]
    assert first["quote"] == stored == cited["quote"]

    page.evaluate("document.querySelector('#answer a.marker').click(); true")
    assert page.evaluate("location.hash") == "#cite-1"
    assert page.evaluate("document.getElementById('cite-1').classList.contains('highlight')")


def first_strong_direction(text: str) -> str:
    """What dir="auto" must resolve to: the direction of the first Arabic or Latin letter."""
    found = re.search(r"[A-Za-z\u0600-\u06ff]", text)
    return "rtl" if found and "\u0600" <= found.group() <= "\u06ff" else "ltr"


def test_an_arabic_question_renders_right_to_left(page: DevTools, site: tuple[str, Path]) -> None:
    assert (
        page.evaluate(
            f"document.getElementById('question').value = {json.dumps(ARABIC_PAGE_QUESTION)};"
            "getComputedStyle(document.getElementById('question')).direction"
        )
        == "rtl"
    )
    shown = ask_in_page(page, ARABIC_PAGE_QUESTION)
    expected = served_answer(site, ARABIC_PAGE_QUESTION)
    assert shown["state"] == "done" and shown["answer"] == expected["answer"]
    assert first_strong_direction(expected["answer"]) == "rtl"  # an Arabic answer...
    assert shown["direction"] == "rtl"  # ...laid out right to left
    assert [c["quote"] for c in shown["citations"]] == [c["quote"] for c in expected["citations"]]
    # Each passage takes its own direction: the Arabic article's right to left, English left to right.
    directions = [c["direction"] for c in shown["citations"]]
    assert directions == [first_strong_direction(c["quote"]) for c in expected["citations"]]
    assert "rtl" in directions


def test_a_document_containing_a_script_tag_shows_as_text(
    page: DevTools, site: tuple[str, Path]
) -> None:
    shown = ask_in_page(page, SCRIPT_QUESTION)
    expected = served_answer(site, SCRIPT_QUESTION)
    assert shown["state"] == "done", shown
    assert expected["citations"] and expected["citations"][0]["source"] == str(site[1])
    assert "<script>alert(1)</script>" in shown["answer"]
    assert any("<script>alert(1)</script>" in c["quote"] for c in shown["citations"])
    assert shown["scripts"] == 1  # only the page's own app.js
    assert shown["alerts"] == []
    assert not [e for e in page.events if e.get("method") == "Page.javascriptDialogOpening"]


def test_a_service_error_is_shown_with_its_message(page: DevTools) -> None:
    shown = ask_in_page(page, "x" * 4001)
    assert shown["state"] == "error"
    assert shown["error"] == "the question is longer than 4000 characters"


def test_the_api_docs_render_offline(browser: str, site: tuple[str, Path]) -> None:
    target = httpx.put(f"{browser}/json/new?about:blank", timeout=30).json()
    tools = DevTools(target["webSocketDebuggerUrl"])
    try:
        tools.send("Page.enable")
        tools.send("Page.navigate", url=f"{site[0]}/docs")
        paths = tools.wait_for(
            "[...document.querySelectorAll('.opblock-summary-path')].map(e => e.textContent)"
            ".filter(Boolean).length > 0 && "
            "[...document.querySelectorAll('.opblock-summary-path')].map(e => e.textContent)"
        )
    finally:
        tools.close()
        httpx.get(f"{browser}/json/close/{target['id']}", timeout=30)
    assert {"/ask", "/search", "/v1/chat/completions"} <= {p.replace("\u200b", "") for p in paths}
