"""The LLM answerer: any server speaking the OpenAI chat protocol (OpenAI, Ollama, vLLM, llama.cpp)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .answering import DECLINE_TOKEN, MarkerFilter, pack_context, question_language
from .errors import AssistantError, ConfigError, ProviderError, translate

if TYPE_CHECKING:
    from .config import Settings
    from .retrieval import Hit

WHAT = "the chat model"
# Tokens a chat request spends beyond its messages' text (role markers, reply priming).
_MESSAGE_OVERHEAD = 4
_REQUEST_OVERHEAD = 16
# Room kept for the rewritten question a condense request answers with.
_CONDENSE_REPLY_TOKENS = 256


@contextlib.contextmanager
def _provider_errors() -> Iterator[None]:
    """Turn vendor errors raised inside the block into ProviderError; others pass unchanged."""
    try:
        yield
    except AssistantError:
        raise
    except Exception as exc:  # noqa: BLE001 - classified, re-raised when unknown
        mapped = translate(exc, WHAT)  # also knows langchain-openai's re-wrapped openai errors
        if mapped is None:
            raise
        raise mapped from exc


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


class OpenAIAnswerer:
    """Answers with a chat model through the OpenAI protocol (OpenAI, Ollama, vLLM, llama.cpp...)."""

    provider = "openai"

    def __init__(self, settings: Settings, model: str | None = None) -> None:
        if settings.openai_api_key is None and settings.openai_base_url is None:
            raise ConfigError(
                "the openai provider needs OPENAI_API_KEY (or OPENAI_BASE_URL for a compatible "
                "server such as Ollama or vLLM); or use --provider extractive"
            )
        self.settings = settings
        self.model = model or settings.model
        self._llm: Any = None

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

        room = (
            self.settings.context_window
            - _CONDENSE_REPLY_TOKENS
            - _tokens([HumanMessage(prompt(""))])
        )
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

    def condense(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        """A standalone version of a follow-up question."""
        if not history:
            return question
        messages = self.condense_messages(question, history)
        with _provider_errors():
            reply = self.llm.invoke(messages)
        if not (getattr(reply, "response_metadata", None) or {}).get("finish_reason"):
            # A body closed early gives truncated text and no finish_reason: not a usable question.
            raise ProviderError(f"{WHAT}'s reply was cut off before it finished; try again")
        text = str(reply.content).strip()
        # A rewritten question is one line; anything else (a refusal, an answer) is not usable.
        first = text.splitlines()[0].strip() if text else ""
        return first or question

    # --- answering -------------------------------------------------------------------------
    def messages(
        self, question: str, hits: Sequence[Hit], history: Sequence[tuple[str, str]]
    ) -> tuple[list[Any], list[Hit]]:
        """Chat messages within the context window, and the hits actually given (in [n] order).

        The prompt plus the answer_tokens reserved for the reply never exceed context_window.
        """
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        from .chunking import count_tokens
        from .prompts import render

        lang_name = "Arabic" if question_language(question) == "ar" else "English"
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

        budget = (
            self.settings.context_window
            - self.settings.answer_tokens
            - _tokens([SystemMessage(system), HumanMessage(user_message(""))])
        )
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
        while (
            len(packed) > 1
            and _tokens(messages) + self.settings.answer_tokens > self.settings.context_window
        ):
            packed.pop()
            messages[-1] = HumanMessage(user_message("\n\n".join(b for _, b in packed)))
        return messages, [h for h, _ in packed]

    def stream(
        self, messages: list[Any], given: int, usage: dict[str, int], state: dict[str, Any]
    ) -> Iterator[str]:
        """Answer text as it arrives, markers checked.

        Raises ProviderError for every failure of the service: rejected key, unknown model,
        rate limit, server error, timeout, and a stream cut off before the model finished.
        Sets state["declined"] when the model answered with the decline token, and
        state["dropped"] to the markers that pointed at no source.
        """
        filt = MarkerFilter(given)
        state["dropped"] = filt.dropped
        state["mapping"] = filt.mapping  # given source number -> printed marker number
        state["declined"] = False
        finished = False
        started = False  # the server began answering (any chunk arrived)
        head = ""
        decided = declined = False
        try:
            for chunk in self.llm.stream(messages):
                started = True
                meta = getattr(chunk, "response_metadata", {}) or {}
                if meta.get("finish_reason"):
                    finished = True
                um = getattr(chunk, "usage_metadata", None)
                if um:
                    usage["prompt_tokens"] = usage.get("prompt_tokens", 0) + int(
                        um.get("input_tokens", 0)
                    )
                    usage["completion_tokens"] = usage.get("completion_tokens", 0) + int(
                        um.get("output_tokens", 0)
                    )
                piece = chunk.content if isinstance(chunk.content, str) else ""
                if not piece or declined:
                    continue
                if not decided:
                    # Hold back the start until it is clear whether it is the decline token.
                    head += piece
                    stripped = head.lstrip()
                    if DECLINE_TOKEN.startswith(stripped):
                        continue
                    if stripped.startswith(DECLINE_TOKEN):
                        declined = decided = True
                        continue
                    decided = True
                    piece, head = head, ""
                out = filt.feed(piece)
                if out:
                    yield out
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
            mapped = translate(exc, WHAT)
            if mapped is None:
                raise
            raise mapped from exc
        if not finished:
            raise ProviderError(f"{WHAT}'s answer stream was cut off before it finished; try again")
        if not decided and head.strip() == DECLINE_TOKEN:
            declined = True
        elif head and not declined:
            out = filt.feed(head)
            if out:
                yield out
        rest = filt.flush()
        if rest and not declined:
            yield rest
        state["declined"] = declined
