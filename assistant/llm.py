"""The LLM answerer: any server speaking the OpenAI chat protocol (OpenAI, Ollama, vLLM, llama.cpp).

A reply is bounded (max_tokens sent, and the stream is closed at the token budget or the
timeout even when the server ignores the cap) and gated: `ReplyGate` holds the text back until
the reply shows a cited claim that its source supports, so a decline, an echo of the prompt or
an uncited reply never reaches the user; the caller then falls back to the extractive answer.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .citations import MARKER as _MARKER
from .citations import best_quote
from .errors import AssistantError, ConfigError, ProviderError, safe_url, translate
from .evidence import DECLINE_TOKEN, language_name, question_language
from .text import tokenize

if TYPE_CHECKING:
    from .citations import Citation
    from .config import Settings
    from .retrieval import Hit

WHAT = "the chat model"
OPENAI_DEFAULT_MODEL = "gpt-4o-mini"
# Tokens a chat request spends beyond its messages' text (role markers, reply priming).
_MESSAGE_OVERHEAD = 4
_REQUEST_OVERHEAD = 16
# Room kept for the rewritten question a condense request answers with, and its cap.
_CONDENSE_REPLY_TOKENS = 256
CONDENSE_MAX_TOKENS = 96
_REWRITE_MAX_CHARS = 300

# Chat-template control tokens of common model families (ChatML, Llama 2/3, Gemma, Mistral, Phi).
TEMPLATE_TOKENS = re.compile(
    r"(?:<\|im_start\|>|<start_of_turn>|<\|start_header_id\|>)(?:system|user|assistant|model)?"
    r"(?:<\|end_header_id\|>)?"
    r"|<\|[A-Za-z0-9_]{1,40}\|>|</?(?:start_of_turn|end_of_turn|bos|eos|pad|s)>|\[/?INST\]|<</?SYS>>",
)
# Our own prompt markup (the source blocks of prompts/source.txt).
SOURCE_MARKUP = re.compile(r"</?source\b[^>\n]{0,300}>?")
# A reasoning model's thinking, which some servers leave in the reply's text: <think>…</think>
# (DeepSeek-R1, Qwen3, QwQ), <thinking>/<reasoning>, [THINK]…[/THINK] (Magistral), and the
# analysis channel of gpt-oss's harmony format. A block still open at the end (a stream, or a
# reply cut at the budget) is thinking too.
_REASONING = re.compile(
    r"<(think|thinking|reasoning)>.*?(?:</\1>|\Z)|\[THINK\].*?(?:\[/THINK\]|\Z)"
    r"|<\|channel\|>analysis<\|message\|>.*?(?:<\|end\|>|\Z)",
    re.DOTALL | re.IGNORECASE,
)
# A closing tag with no opening one: the template opened the block, so all before it is thinking.
_REASONING_END = re.compile(r"</(?:think|thinking|reasoning)>|\[/THINK\]", re.IGNORECASE)
# gpt-oss's header of the answer itself.
_HARMONY_FINAL = re.compile(r"(?:<\|start\|>assistant)?<\|channel\|>final<\|message\|>")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?؟])\s+|\n+")
# Characters kept back from the stream once it is open, so an echo or a foreign link starting
# in them can still be cut before it is shown.
_LAG = 64
# Passage-to-passage cosine (multilingual-e5-small) above which a claim in one language is taken
# as supported by a sentence in another; measured on the seeds: Arabic renderings of English
# sentences 0.845-0.92, unrelated Arabic or injected sentences against them 0.73-0.83.
CROSS_LINGUAL_SUPPORT = 0.84
# Lexical support: share of a claim's keywords the cited chunk must contain (and at least two).
_LEXICAL_SHARE = 0.3
_CONTEXT_REFUSAL = re.compile(
    r"context (?:size|length|window)|maximum context|too many tokens|prompt is too long|"
    r"exceeds the (?:available )?context",
    re.IGNORECASE,
)
_CONTEXT_LIMIT = re.compile(
    r"(?:context (?:size|length|window)[^0-9]{0,20}|maximum context length is |n_ctx[^0-9]{0,5})"
    r"\(?(\d{3,7})",
    re.IGNORECASE,
)

Similar = Callable[[str, Sequence[str]], float]


def hard_token_stop(max_tokens: int) -> int:
    """Where we close a stream ourselves, in cl100k tokens: the server's own tokenizer counts
    differently, so a server that honours max_tokens ends first (finish_reason "length") and
    only one that ignores the cap meets this."""
    return max_tokens + max(16, max_tokens // 2)


class ContextLimitError(ProviderError):
    """The server refused the prompt as larger than its context; `limit` is its size when stated."""

    def __init__(self, message: str, limit: int | None) -> None:
        super().__init__(message)
        self.limit = limit


@contextlib.contextmanager
def _provider_errors() -> Iterator[None]:
    """Turn vendor errors raised inside the block into ProviderError; others pass unchanged."""
    try:
        yield
    except AssistantError:
        raise
    except Exception as exc:  # noqa: BLE001 - classified, re-raised when unknown
        mapped = _context_refusal(exc) or translate(exc, WHAT)
        if mapped is None:
            raise
        raise mapped from exc


def _context_refusal(exc: BaseException) -> ContextLimitError | None:
    """A 400 saying the prompt does not fit the server's context, as a ContextLimitError."""
    if getattr(exc, "status_code", None) != 400:
        return None
    text = " ".join(str(exc).split())
    if not _CONTEXT_REFUSAL.search(text):
        return None
    found = _CONTEXT_LIMIT.search(text)
    limit = int(found.group(1)) if found else None
    size = f" of {limit} tokens" if limit else ""
    hint = f"to at most {limit - 256}" if limit and limit > 768 else "(e.g. to 2048)"
    return ContextLimitError(
        f"{WHAT} refused the prompt as larger than its context{size}; lower "
        f"ASSISTANT_CONTEXT_WINDOW {hint}, or -k, or start the server with a larger context",
        limit,
    )


def _is_timeout(exc: BaseException) -> bool:
    import openai

    seen: BaseException | None = exc
    while seen is not None:
        if (
            isinstance(seen, (openai.APITimeoutError, TimeoutError))
            or "Timeout" in type(seen).__name__
        ):
            return True
        seen = seen.__cause__
    return False


def _is_connection_error(exc: BaseException) -> bool:
    import openai

    seen: BaseException | None = exc
    while seen is not None:
        module = type(seen).__module__ or ""
        if isinstance(seen, (openai.APIConnectionError, ConnectionError)) or module.startswith(
            ("httpx", "httpcore")
        ):
            return True
        seen = seen.__cause__
    return False


def _tokens(messages: Sequence[Any]) -> int:
    """Prompt tokens of chat messages, counted as the server will (text plus per-message overhead)."""
    from .chunking import count_tokens

    return (
        sum(count_tokens(str(m.content)) + _MESSAGE_OVERHEAD for m in messages) + _REQUEST_OVERHEAD
    )


def is_openai_host(base_url: str | None) -> bool:
    """Whether a base URL is OpenAI's own API (or unset, which means it)."""
    if base_url is None:
        return True
    host = (urlsplit(base_url).hostname or "").lower()
    return host == "api.openai.com" or host.endswith(".openai.com")


# --- what a reply may contain ---------------------------------------------------------------------
def _reasoning_spans(text: str) -> tuple[list[tuple[int, int]], bool]:
    """Where a reasoning model's thinking (and gpt-oss's answer header) sits in a reply, in
    order; and whether a closing tag stands outside every block (the chat template opened the
    block, so everything before that tag is thinking too)."""
    spans = [m.span() for m in _REASONING.finditer(text)]
    spans += [m.span() for m in _HARMONY_FINAL.finditer(text)]
    spans.sort()
    stray = [
        m.end() for m in _REASONING_END.finditer(text)
        if not any(a <= m.start() < b for a, b in spans)
    ]
    if not stray:
        return spans, False
    return [(0, stray[-1])] + [(a, b) for a, b in spans if a >= stray[-1]], True


def strip_reasoning(text: str) -> str:
    """The reply without a reasoning model's thinking (`_REASONING`)."""
    spans, _ = _reasoning_spans(text)
    kept, at = [], 0
    for a, b in spans:
        kept.append(text[at:a])
        at = max(at, b)
    return "".join(kept) + text[at:]


def _blank_reasoning(text: str) -> str:
    """The reply with its thinking blanked out, every other character where it was."""
    chars = list(text)
    for a, b in _reasoning_spans(text)[0]:
        chars[a:b] = " " * (b - a)
    return "".join(chars)


def template_opens_reasoning(text: str) -> bool:
    """Whether the reply closes a thinking block it never opened (the chat template did)."""
    return _reasoning_spans(text)[1]


def has_reasoning(text: str) -> bool:
    """Whether the reply holds a reasoning model's thinking."""
    return bool(_REASONING.search(text) or _REASONING_END.search(text))


def clean_reply(text: str) -> str:
    """The reply without a model's thinking, chat-template tokens and source markup (never
    shown to the user)."""
    return SOURCE_MARKUP.sub("", TEMPLATE_TOKENS.sub("", strip_reasoning(text)))


def prompt_signatures(messages: Sequence[Any]) -> list[str]:
    """Opening words of every fixed line of the prompt (the system message and the frame of the
    last user message, not the quoted sources): a reply containing one echoes the prompt."""
    out: list[str] = []
    chosen = [m for m in messages[:1] if getattr(m, "type", "") == "system"]
    chosen += [m for m in messages[-1:] if getattr(m, "type", "") == "human"]
    for m in chosen:
        inside = False
        for line in str(m.content).splitlines():
            line = " ".join(line.split())
            if line.startswith("<source"):
                inside = True
            if inside:
                inside = not line.endswith("</source>")
                continue
            if len(line) >= 32:
                out.append(line[:24])
    return list(dict.fromkeys(out))


def checked_rewrite(text: str, question: str) -> str | None:
    """The condensed question if it is one plain line of reasonable length, else None."""
    text = strip_reasoning(text)
    if TEMPLATE_TOKENS.search(text) or SOURCE_MARKUP.search(text) or DECLINE_TOKEN in text:
        return None
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return None
    line = re.sub(r"^(?:standalone question|question)\s*:\s*", "", lines[0], flags=re.IGNORECASE)
    line = line.strip().strip("\"'“”«»").strip()
    if not line or len(line) > max(_REWRITE_MAX_CHARS, 2 * len(question)):
        return None
    if not tokenize(line) or "<" in line or _MARKER.search(line):
        return None
    return line


def claim_supported(claim: str, hit: Hit, similar: Similar | None = None) -> bool:
    """Whether the cited chunk supports a claim: shared keywords, or (across languages) meaning."""
    from .chunking import split_sentences

    words = set(tokenize(_MARKER.sub(" ", claim)))
    if not words:
        return False
    shared = words & set(tokenize(hit.text))
    if len(shared) >= min(2, len(words)) and len(shared) / len(words) >= _LEXICAL_SHARE:
        return True
    if similar is not None and question_language(claim) != (hit.language or "en"):
        spans = split_sentences(hit.text) or []
        sentences = [hit.text[s.start : s.end] for s in spans] or [hit.text]
        return similar(_MARKER.sub(" ", claim), sentences) >= CROSS_LINGUAL_SUPPORT
    return False


def _claim_before(text: str, at: int) -> str:
    """The sentence a marker at `at` closes: the text since the previous sentence end."""
    before = _MARKER.sub(" ", text[:at]).rstrip(" .!?؟,;:")
    parts = [p for p in _SENTENCE_END.split(before) if p.strip()]
    return parts[-1].strip() if parts else ""


class ReplyGate:
    """Decides, as a reply streams in, whether it is a cited answer, and what of it to show.

    Nothing is shown until the reply holds a marker [n] to a given source whose claim that
    source supports; from then on text flows, `_LAG` characters behind, with template tokens,
    source markup and markers to no source removed. A reply that starts with the decline token,
    echoes the prompt or carries a link found in no source is never shown (`stop` asks the
    caller to stop reading); once open, such text cuts the reply where it starts.
    """

    def __init__(
        self,
        hits: Sequence[Hit],
        signatures: Sequence[str] = (),
        similar: Similar | None = None,
        await_reasoning_end: bool = False,
    ) -> None:
        # await_reasoning_end: the model's template opens a thinking block that the reply only
        # closes; nothing opens the gate before that closing tag (or the reply's end).
        self.await_reasoning_end = await_reasoning_end
        self.hits = list(hits)
        self.signatures = [s for s in signatures if s]
        self.similar = similar
        self.raw = ""
        self.state = "hold"  # hold -> open | declined | rejected
        self.reason: str | None = None
        self.stop = False
        self.emitted = ""
        self.anchor: tuple[int, str] | None = None  # (n, claim) that opened the gate
        self._cut: int | None = None
        self.cut_reason: str | None = None  # why an open reply was cut short
        self.mapping: dict[int, int] = {}  # given source number -> printed marker number
        self._checked_markers = 0
        self._sources = " ".join(h.text for h in self.hits).lower()

    # -- inspection ---------------------------------------------------------------------
    @property
    def text(self) -> str:
        """The reply as far as it counts (up to a cut), cleaned."""
        raw = self.raw if self._cut is None else self.raw[: self._cut]
        return clean_reply(raw)

    def dropped(self) -> list[int]:
        """Markers in the shown text that point at no given source."""
        out: list[int] = []
        for m in _MARKER.finditer(self.text):
            for x in re.split(r"\s*[,،]\s*", m.group(1)):
                n = int(x)
                if not 1 <= n <= len(self.hits) and n not in out:
                    out.append(n)
        return out

    def final_text(self) -> str:
        """The whole reply as it counts, as shown: markers renumbered, thinking left out."""
        raw = self.raw if self._cut is None else self.raw[: self._cut]
        return self._filter_markers(clean_reply(raw)).strip()

    # -- streaming ------------------------------------------------------------------------
    def feed(self, piece: str) -> str:
        """Text that is safe to show now."""
        if self.state in ("declined", "rejected") or self._cut is not None:
            return ""
        self.raw += piece
        if self.state == "hold":
            head = clean_reply(self.raw).lstrip()
            if head and DECLINE_TOKEN.startswith(head):
                return ""
            if head.startswith(DECLINE_TOKEN):
                self._end("declined", "the model found no answer in the sources")
                return ""
            bad = self._bad_text(self.raw)
            if bad is not None:
                self._end("rejected", bad[1])
                return ""
            if self.await_reasoning_end and not _REASONING_END.search(self.raw):
                return ""
            if "]" in piece or self._checked_markers == 0:
                self._try_open()
            if self.state != "open":
                return ""
        self._scan()
        return self._show(final=self._cut is not None)

    def finish(self) -> str:
        """At the end of the reply: the rest to show, and the final decision."""
        if self.state == "hold":
            head = clean_reply(self.raw).strip()
            if head.startswith(DECLINE_TOKEN):
                self._end("declined", "the model found no answer in the sources")
                return ""
            if self._bad_text(self.raw) is None:
                self._try_open()
            if self.state == "hold":
                bad = self._bad_text(self.raw)
                self._end("rejected", bad[1] if bad else self._why_not())
                return ""
        if self.state != "open":
            return ""
        self._scan()
        return self._show(final=True)

    # -- internals ------------------------------------------------------------------------------
    def _end(self, state: str, reason: str) -> None:
        self.state, self.reason, self.stop = state, reason, True

    def _scan(self) -> None:
        """Once open: cut the reply where it starts echoing the prompt or linking elsewhere."""
        if self._cut is None:
            bad = self._bad_text(self.raw)
            if bad is not None:
                self._cut, self.cut_reason, self.stop = bad[0], bad[1], True

    def _bad_text(self, raw: str) -> tuple[int, str] | None:
        """Where the reply starts echoing the prompt or linking outside the sources, and why
        (its thinking, never shown, is not looked at)."""
        raw = _blank_reasoning(raw)
        found: list[tuple[int, str]] = []
        m = SOURCE_MARKUP.search(raw)
        if m:
            found.append((m.start(), "the reply repeats the prompt's source markup"))
        for sig in self.signatures:
            at = raw.find(sig)
            if at != -1:
                found.append((at, "the reply repeats the prompt"))
                break
        for u in _URL.finditer(raw):
            if u.group(0).rstrip(".,;:").lower() not in self._sources:
                found.append((u.start(), "the reply links to an address found in no source"))
                break
        if self.state == "open":
            token = raw.find(DECLINE_TOKEN)
            if token != -1:
                found.append((token, "the reply ends with the decline token"))
        return min(found) if found else None

    def _try_open(self) -> None:
        text = clean_reply(self.raw)
        markers = list(_MARKER.finditer(text))
        self._checked_markers = len(markers) or 1
        for m in markers:
            for x in re.split(r"\s*[,،]\s*", m.group(1)):
                n = int(x)
                if not 1 <= n <= len(self.hits):
                    continue
                claim = _claim_before(text, m.start())
                if claim and claim_supported(claim, self.hits[n - 1], self.similar):
                    self.state = "open"
                    self.anchor = (n, claim)
                    return

    def _why_not(self) -> str:
        text = clean_reply(self.raw).strip()
        if not text and has_reasoning(self.raw):
            return "the model's reply held only its reasoning, no answer"
        if not text:
            return "the model's reply was empty"
        markers = [
            int(x) for m in _MARKER.finditer(text) for x in re.split(r"\s*[,،]\s*", m.group(1))
        ]
        if not markers:
            return "the model's reply cites no source"
        if not any(1 <= n <= len(self.hits) for n in markers):
            wrong = sorted(set(markers))
            return f"the model's reply cites only sources that were not given ({wrong})"
        return "no claim of the model's reply matches the source it cites"

    def _show(self, final: bool) -> str:
        raw = self.raw if self._cut is None else self.raw[: self._cut]
        shown = self._filter_markers(clean_reply(raw)).lstrip()
        if final:
            shown = shown.rstrip()
        else:
            # Keep the tail back (an echo, a link or a template token may be starting there),
            # and never split a possible tag or marker: back off to before an unclosed '<' or '['.
            end = max(0, len(shown) - _LAG)
            for opener, closer in (("<", ">"), ("[", "]")):
                at = shown.rfind(opener, 0, end)
                if at != -1 and closer not in shown[at:end] and end - at < 48:
                    end = at
            shown = shown[:end]
        if not shown.startswith(self.emitted):
            return ""
        new, self.emitted = shown[len(self.emitted) :], shown
        return new

    def _filter_markers(self, text: str) -> str:
        """Markers to no given source dropped, the others renumbered 1, 2, 3... in order of first
        appearance (as citations.MarkerFilter does); `mapping`: given number -> printed number."""
        mapping: dict[int, int] = {}

        def fix(m: re.Match[str]) -> str:
            out: list[str] = []
            for x in re.split(r"\s*[,،]\s*", m.group(1)):
                n = int(x)
                if 1 <= n <= len(self.hits):
                    marker = f"[{mapping.setdefault(n, len(mapping) + 1)}]"
                    if marker not in out:
                        out.append(marker)
            return "".join(out)

        shown = _MARKER.sub(fix, text)
        self.mapping = mapping
        return shown


def supported_citations(
    text: str,
    hits: Sequence[Hit],
    mapping: dict[int, int] | None,
    anchor: tuple[int, str] | None,
    similar: Similar | None = None,
) -> list[Citation]:
    """Citations for an accepted reply (markers as printed, `mapping` given -> printed), each
    cited sentence checked against its chunk; at least the claim that opened the gate."""
    from .citations import Citation, citations_for

    by_id = {h.chunk_id: h for h in hits}
    out = []
    sentences = [s for s in re.split(r"(?<=[.!?؟])\s+", text) if s.strip()]
    for c in citations_for(text, hits, mapping):
        claims = [s for s in sentences if f"[{c.n}]" in s]
        if any(claim_supported(s, by_id[c.chunk_id], similar) for s in claims):
            out.append(c)
    if not out and anchor is not None:
        n, claim = anchor
        hit = hits[n - 1]
        start, end, quote = best_quote(hit, claim)
        printed = (mapping or {}).get(n, n)
        out.append(Citation(printed, hit.source, hit.title, hit.chunk_id, start, end, quote))
    return out


class OpenAIAnswerer:
    """Answers with a chat model through the OpenAI protocol (OpenAI, Ollama, vLLM, llama.cpp...)."""

    provider = "openai"

    def __init__(
        self, settings: Settings, model: str | None = None, similar: Similar | None = None
    ) -> None:
        if settings.openai_api_key is None and settings.openai_base_url is None:
            raise ConfigError(
                "the openai provider needs OPENAI_API_KEY (or OPENAI_BASE_URL for a compatible "
                "server such as Ollama or vLLM); or use --provider extractive"
            )
        self.settings = settings
        self._model = model or settings.model
        self.similar = similar
        self._llm: Any = None
        self._context_limit: int | None = None  # the server's context size, once it told us
        # The model's chat template opens its thinking (a reply closed a block it never opened):
        # later replies are held until their closing tag, so the stream never shows the thinking.
        self._template_thinks = False

    @property
    def known_model(self) -> str:
        """The model's name if known without asking the server ("" when it would have to)."""
        return self._model or (
            "" if not is_openai_host(self.settings.openai_base_url) else self.model
        )

    @property
    def model(self) -> str:
        """The model asked for: ASSISTANT_MODEL, else OpenAI's default or the server's only model."""
        if self._model is None:
            self._model = self._resolve_model()
        return self._model

    def _resolve_model(self) -> str:
        base = self.settings.openai_base_url
        if is_openai_host(base):
            return OPENAI_DEFAULT_MODEL
        import openai

        assert base is not None
        key = self.settings.openai_api_key
        client = openai.OpenAI(
            api_key=key.get_secret_value() if key is not None else "not-needed",
            base_url=base,
            timeout=self.settings.timeout,
            max_retries=self.settings.max_retries,
        )
        where = safe_url(base.rstrip("/") + "/models")
        try:
            with _provider_errors():
                ids = [m.id for m in client.models.list().data]
        except ProviderError as exc:
            raise ConfigError(
                f"ASSISTANT_MODEL is not set and the server's model list ({where}) could not be "
                f"read: {exc}; set ASSISTANT_MODEL"
            ) from None
        if len(ids) == 1:
            return str(ids[0])
        if not ids:
            raise ConfigError(f"the server at {safe_url(base)} lists no model; set ASSISTANT_MODEL")
        shown = ", ".join(ids[:12]) + (", …" if len(ids) > 12 else "")
        raise ConfigError(
            f"the server at {safe_url(base)} serves {len(ids)} models ({shown}); choose one "
            "with ASSISTANT_MODEL or --model"
        )

    @property
    def llm(self) -> Any:
        """The ChatOpenAI client, built on first use."""
        if self._llm is None:
            from langchain_openai import ChatOpenAI

            key = self.settings.openai_api_key
            self._llm = ChatOpenAI(
                model=self.model,
                api_key=key if key is not None else "not-needed",  # local servers ignore it
                base_url=self.settings.openai_base_url,
                temperature=self.settings.temperature,
                timeout=self.settings.timeout,
                max_retries=self.settings.max_retries,
                streaming=True,
                stream_usage=True,
            )
        return self._llm

    def _cap(self, max_tokens: int) -> dict[str, Any]:
        """Request arguments capping the reply: max_completion_tokens (what langchain-openai
        sends for max_tokens), plus the older max_tokens for compatible servers that only read it."""
        kwargs: dict[str, Any] = {"max_tokens": max_tokens}
        if not is_openai_host(self.settings.openai_base_url):
            kwargs["extra_body"] = {"max_tokens": max_tokens}
        return kwargs

    # --- follow-ups ---------------------------------------------------------------------------
    def condense_messages(self, question: str, history: Sequence[tuple[str, str]]) -> list[Any]:
        """The condense request: the newest turns that fit the context window, answers cut to fit."""
        from langchain_core.messages import HumanMessage

        from .chunking import count_tokens, truncate_to_tokens
        from .prompts import render

        def prompt(transcript: str) -> str:
            return render(
                "condense", self.settings.prompts_dir, chat_history=transcript, question=question
            )

        room = self.window - _CONDENSE_REPLY_TOKENS - _tokens([HumanMessage(prompt(""))])
        if room < 0:
            raise ConfigError(
                "the question alone does not fit the model's context window; shorten it or raise "
                "ASSISTANT_CONTEXT_WINDOW"
            )
        lines: list[str] = []
        for q, a in reversed(list(history)[-4:]):
            turn = f"User: {q}\nAssistant: {a}"
            cost = count_tokens(turn) + 2
            if cost > room:
                # Keep the gist of the newest turn that does not fit whole; drop older ones.
                cut = truncate_to_tokens(turn, max(0, room - 2))
                if cut.strip():
                    lines.insert(0, cut)
                break
            lines.insert(0, turn)
            room -= cost
        return [HumanMessage(prompt("\n".join(lines)))]

    @property
    def window(self) -> int:
        """The context window prompts are fitted to: the setting, or the server's stated size."""
        if self._context_limit is not None:
            return min(self.settings.context_window, self._context_limit)
        return self.settings.context_window

    def condense(
        self, question: str, history: Sequence[tuple[str, str]], state: dict[str, Any] | None = None
    ) -> str:
        """A standalone version of a follow-up question, checked; else the follow-up with the
        previous question's terms. `state["rewrite"]` says which ("model" or the reason)."""
        state = state if state is not None else {}
        if not history:
            return question
        fallback = f"{question} ({history[-1][0]})"
        messages = self.condense_messages(question, history)
        try:
            text, finish = self._complete(messages, CONDENSE_MAX_TOKENS)
        except ContextLimitError as exc:
            state["rewrite"] = str(exc)
            return fallback
        if finish is None:
            # A body closed early gives truncated text and no finish_reason: not a usable question.
            raise ProviderError(f"{WHAT}'s reply was cut off before it finished; try again")
        if finish != "stop" and finish != "eos":
            state["rewrite"] = f"the rewrite did not finish ({finish})"
            return fallback
        checked = checked_rewrite(text, question)
        if checked is None:
            state["rewrite"] = "the rewrite was not a plain question"
            return fallback
        state["rewrite"] = "model"
        return checked

    def _complete(self, messages: list[Any], max_tokens: int) -> tuple[str, str | None]:
        """A short reply, read as a stream within max_tokens and the timeout; (text, finish)."""
        from .chunking import count_tokens

        deadline = time.monotonic() + self.settings.timeout
        text, tokens, finish = "", 0, None
        with _provider_errors():
            stream = self.llm.stream(messages, **self._cap(max_tokens))
            try:
                for chunk in stream:
                    meta = getattr(chunk, "response_metadata", {}) or {}
                    finish = meta.get("finish_reason") or finish
                    piece = chunk.content if isinstance(chunk.content, str) else ""
                    text += piece
                    tokens += count_tokens(piece) if piece else 0
                    if finish is None and tokens >= hard_token_stop(max_tokens):
                        finish = "budget"
                        break
                    if finish is None and time.monotonic() > deadline:
                        finish = "timeout"
                        break
            finally:
                with contextlib.suppress(Exception):
                    stream.close()
        return text, finish

    # --- answering -------------------------------------------------------------------------
    def messages(
        self,
        question: str,
        hits: Sequence[Hit],
        history: Sequence[tuple[str, str]],
        window: int | None = None,
    ) -> tuple[list[Any], list[Hit]]:
        """Chat messages within the context window, and the hits actually given (in [n] order).

        The prompt plus the reply budget (`reply_tokens(window)`) never exceed the window.
        """
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        from .answering import pack_context
        from .chunking import count_tokens
        from .prompts import render

        window = window or self.window
        reserve = self.reply_tokens(window)
        # The prompt names the question's language in English, whatever it is.
        lang_name = language_name(question_language(question), "en")
        system = render(
            "system",
            self.settings.prompts_dir,
            decline_token=DECLINE_TOKEN,
            question_language=lang_name,
        )

        def user_message(sources: str) -> str:
            return render(
                "answer",
                self.settings.prompts_dir,
                sources=sources,
                question=question,
                question_language=lang_name,
                decline_token=DECLINE_TOKEN,
            )

        budget = window - reserve - _tokens([SystemMessage(system), HumanMessage(user_message(""))])
        turns: list[Any] = []
        history_budget = max(0, budget // 4)
        for q, a in reversed(list(history)):
            cost = count_tokens(q) + count_tokens(a) + 2 * _MESSAGE_OVERHEAD
            if cost > history_budget:
                break
            history_budget -= cost
            budget -= cost
            turns[:0] = [HumanMessage(q), AIMessage(a)]
        if budget < 64:
            raise ConfigError(
                "the question alone does not fit the model's context window; shorten it or raise "
                "ASSISTANT_CONTEXT_WINDOW"
            )

        def one(n: int, hit: Hit, text: str) -> str:
            return render(
                "source",
                self.settings.prompts_dir,
                n=n,
                title=hit.title,
                source=hit.source,
                text=text,
            )

        packed = pack_context(hits, budget, one)
        if hits and not packed:
            raise ConfigError(
                "no source fits the model's context window next to the question; raise "
                "ASSISTANT_CONTEXT_WINDOW or lower ASSISTANT_ANSWER_TOKENS"
            )
        messages = [
            SystemMessage(system),
            *turns,
            HumanMessage(user_message("\n\n".join(b for _, b in packed))),
        ]
        # pack_context counts blocks one by one; the joined text can differ by a token or two.
        while len(packed) > 1 and _tokens(messages) + reserve > window:
            packed.pop()
            messages[-1] = HumanMessage(user_message("\n\n".join(b for _, b in packed)))
        return messages, [h for h, _ in packed]

    def reply_tokens(self, window: int | None = None) -> int:
        """The reply's budget: ASSISTANT_ANSWER_TOKENS, at most a third of a server-stated window."""
        window = window or self.window
        if self._context_limit is not None and window == self._context_limit:
            return min(self.settings.answer_tokens, max(32, window // 3))
        return self.settings.answer_tokens

    def generate(
        self,
        question: str,
        hits: Sequence[Hit],
        history: Sequence[tuple[str, str]],
        state: dict[str, Any],
    ) -> Iterator[str]:
        """The gated answer text as it arrives; fills `state` (see `stream`) and state["given"].

        On a context-size refusal that states the server's size, the prompt is fitted to that
        size once and the request repeated (remembered for later questions).
        """
        messages, given = self.messages(question, hits, history)
        for attempt in (1, 2):
            state["given"] = given
            try:
                yield from self.stream(messages, given, state.setdefault("usage", {}), state)
                return
            except ContextLimitError as exc:
                if attempt == 2 or state.get("started") or exc.limit is None:
                    raise
                # Fit to the size the server states; when that is no smaller than what we
                # fitted to, its tokenizer counts more than ours: leave a quarter spare.
                before = self._context_limit
                self._context_limit = exc.limit if exc.limit < self.window else exc.limit * 3 // 4
                try:
                    messages, given = self.messages(question, hits, history)
                except ConfigError:
                    self._context_limit = before
                    raise exc from None
                state["refitted_to"] = self._context_limit

    def stream(
        self,
        messages: list[Any],
        given: Sequence[Hit],
        usage: dict[str, int],
        state: dict[str, Any],
    ) -> Iterator[str]:
        """Answer text as it arrives, gated by `ReplyGate` and bounded in tokens and time.

        Raises ProviderError for every failure of the service: rejected key, unknown model,
        rate limit, server error, timeout, and a stream cut off before the model finished.
        Sets in `state`: "declined", "accepted", "rejected" (why not, or None), "dropped"
        (markers to no source), "finish_reason" ("stop", "length", or our own "budget" /
        "timeout" / "cut"), "truncated", "model" (as the server names it), "anchor", "text".
        """
        from .chunking import count_tokens

        gate = ReplyGate(
            given, prompt_signatures(messages), self.similar, self._template_thinks
        )
        budget = self.reply_tokens()
        hard_stop = hard_token_stop(budget)
        deadline = time.monotonic() + self.settings.timeout
        state.update(declined=False, accepted=False, rejected=None, dropped=[], truncated=False)
        state["finish_reason"] = None
        state["max_tokens"] = budget
        finished = ours = False
        started = False  # the server began answering (any chunk arrived)
        tokens = 0
        stream: Any = None
        try:
            stream = self.llm.stream(messages, **self._cap(budget))
            for chunk in stream:
                started = state["started"] = True
                meta = getattr(chunk, "response_metadata", {}) or {}
                if meta.get("finish_reason"):
                    finished = True
                    state["finish_reason"] = meta["finish_reason"]
                if meta.get("model_name"):
                    state["model"] = str(meta["model_name"])
                um = getattr(chunk, "usage_metadata", None)
                if um:
                    usage["prompt_tokens"] = usage.get("prompt_tokens", 0) + int(
                        um.get("input_tokens", 0)
                    )
                    usage["completion_tokens"] = usage.get("completion_tokens", 0) + int(
                        um.get("output_tokens", 0)
                    )
                piece = chunk.content if isinstance(chunk.content, str) else ""
                if piece and not gate.stop:
                    tokens += count_tokens(piece)
                    out = gate.feed(piece)
                    if out:
                        yield out
                if finished:
                    continue  # read on for the usage chunk
                if gate.stop:
                    ours, state["finish_reason"] = True, "cut"
                    break
                if tokens >= hard_stop:
                    ours, state["finish_reason"] = True, "budget"
                    break
                if time.monotonic() > deadline:
                    ours, state["finish_reason"] = True, "timeout"
                    break
        except AssistantError:
            raise
        except Exception as exc:  # noqa: BLE001 - classified below, re-raised when unknown
            if _is_timeout(exc):
                raise ProviderError(
                    f"{WHAT} timed out after {self.settings.timeout:g}s"
                    + (" mid-answer" if started else "")
                    + "; raise ASSISTANT_TIMEOUT or try again"
                ) from exc
            if started and _is_connection_error(exc):
                raise ProviderError(
                    f"{WHAT}'s answer stream was cut off mid-answer; try again"
                ) from exc
            mapped = _context_refusal(exc) or translate(exc, WHAT)
            if mapped is None:
                raise
            raise mapped from exc
        finally:
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.close()  # closes the HTTP response: the server stops generating
        if not finished and not ours:
            raise ProviderError(f"{WHAT}'s answer stream was cut off before it finished; try again")
        rest = gate.finish()
        if rest:
            yield rest
        reason = state["finish_reason"]
        state["usage"] = usage
        state["tokens_read"] = tokens
        state["declined"] = gate.state == "declined"
        state["accepted"] = gate.state == "open"
        state["rejected"] = gate.reason if gate.state == "rejected" else None
        state["dropped"] = gate.dropped()
        state["anchor"] = gate.anchor
        state["mapping"] = dict(gate.mapping)
        state["text"] = gate.emitted
        state["reply"] = gate.text
        # What counts is the whole reply as the gate reads it: where the template opened the
        # thinking, the stream may have shown some of it before the closing tag arrived (and
        # this answerer's later replies are held until that tag).
        state["final_text"] = gate.final_text()
        if template_opens_reasoning(gate.raw):
            self._template_thinks = True
        state["reasoning_only"] = not gate.text.strip() and has_reasoning(gate.raw)
        state["cut_reason"] = gate.cut_reason
        state["truncated"] = gate.state == "open" and reason in ("length", "budget", "timeout")
