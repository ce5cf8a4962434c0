// The page's client: POST /ask with "stream": true, render the pieces as they come, then the
// cited passages. Document and model text only ever reach the page as text (textContent and
// text nodes), never as markup.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const form = $("ask-form");
  const question = $("question");
  const button = $("ask");
  const status = $("status");
  const result = $("result");
  const answerBox = $("answer");
  const meta = $("meta");
  const list = $("citations");
  const listTitle = $("citations-title");
  const errorBox = $("error");
  const keyBox = $("key-box");
  const keyInput = $("api-key");
  const MARKER = /\[(\d{1,3}(?:\s*[,،]\s*\d{1,3})*)\]/g;
  const KEY_SLOT = "assistant.apiKey";

  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    return node;
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    result.dataset.state = "error";
  }

  function setState(state, text) {
    result.dataset.state = state;
    status.textContent = text || "";
  }

  // The final answer: text with each [n] marker turned into a link to its first quote.
  function renderAnswer(answer) {
    const cited = new Set(answer.citations.map((c) => c.n));
    answerBox.replaceChildren();
    const text = String(answer.answer);
    let last = 0;
    for (const match of text.matchAll(MARKER)) {
      answerBox.append(document.createTextNode(text.slice(last, match.index)));
      answerBox.append(document.createTextNode("["));
      const numbers = match[1].split(/\s*[,،]\s*/);
      numbers.forEach((n, i) => {
        if (i > 0) answerBox.append(document.createTextNode(", "));
        const num = Number(n);
        if (cited.has(num)) {
          const link = el("a", n, { href: `#cite-${num}`, class: "marker", "data-n": String(num) });
          link.addEventListener("click", () => highlight(num));
          answerBox.append(link);
        } else {
          answerBox.append(document.createTextNode(n));
        }
      });
      answerBox.append(document.createTextNode("]"));
      last = match.index + match[0].length;
    }
    answerBox.append(document.createTextNode(text.slice(last)));
    renderCitations(answer.citations);
    const total = answer.timings_ms && answer.timings_ms.total;
    const how = `${answer.provider}: ${answer.model}${total ? `, ${Math.round(total)} ms` : ""}`;
    meta.textContent = answer.answered
      ? `(${how})`
      : `(declined${answer.decline_reason ? `: ${answer.decline_reason}` : ""}; ${how})`;
  }

  function renderCitations(citations) {
    list.replaceChildren();
    const seen = new Set();
    for (const c of citations) {
      const item = el("li", null, { "data-n": String(c.n), value: String(c.n) });
      if (!seen.has(c.n)) {
        item.id = `cite-${c.n}`;
        seen.add(c.n);
      }
      const head = el("div", null, { class: "cite-head" });
      head.append(el("strong", `[${c.n}] `));
      head.append(el("bdi", c.title, { class: "cite-title" }));
      head.append(document.createTextNode(" — "));
      head.append(el("bdi", c.source, { class: "cite-source" }));
      item.append(head);
      item.append(el("div", `chunk ${c.chunk_id} · characters ${c.start}–${c.end}`, { class: "cite-span" }));
      item.append(el("blockquote", c.quote, { dir: "auto", class: "quote" }));
      list.append(item);
    }
    listTitle.hidden = citations.length === 0;
  }

  function highlight(n) {
    for (const item of list.children) {
      item.classList.toggle("highlight", item.dataset.n === String(n));
    }
  }

  // Server-sent events from a fetch body: blocks separated by a blank line.
  async function* events(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
      }
    }
  }

  async function ask(text) {
    errorBox.hidden = true;
    result.hidden = false;
    answerBox.replaceChildren();
    list.replaceChildren();
    listTitle.hidden = true;
    meta.textContent = "";
    setState("streaming", "thinking…");
    button.disabled = true;
    try {
      const headers = { "Content-Type": "application/json", Accept: "text/event-stream" };
      const key = sessionStorage.getItem(KEY_SLOT);
      if (key) headers.Authorization = `Bearer ${key}`;
      const response = await fetch("/ask", {
        method: "POST",
        headers,
        body: JSON.stringify({ question: text, stream: true }),
      });
      if (!response.ok) {
        let message = `${response.status} ${response.statusText}`;
        try {
          message = (await response.json()).error.message;
        } catch (_) { /* not our JSON: keep the status line */ }
        if (response.status === 401) keyBox.hidden = false;
        result.hidden = true;
        showError(message);
        setState("error", "");
        return;
      }
      for await (const { event, data } of events(response)) {
        if (event === "delta") {
          answerBox.append(document.createTextNode(data.text));
        } else if (event === "answer") {
          renderAnswer(data);
          setState("done", data.answered ? "answered" : "the articles do not say");
        } else if (event === "error") {
          showError(data.error.message);
          setState("error", "");
        }
      }
      if (result.dataset.state === "streaming") {
        showError("the answer stopped before it was complete");
        setState("error", "");
      }
    } catch (exc) {
      showError(`cannot reach the service: ${exc}`);
      setState("error", "");
    } finally {
      button.disabled = false;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = question.value.trim();
    if (text) ask(text);
  });
  question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  $("save-key").addEventListener("click", () => {
    sessionStorage.setItem(KEY_SLOT, keyInput.value.trim());
    keyInput.value = "";
    keyBox.hidden = true;
    errorBox.hidden = true;
  });
})();
