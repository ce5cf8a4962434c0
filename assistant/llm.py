"""The LLM answerer: any server speaking the OpenAI chat protocol (OpenAI, Ollama, vLLM, llama.cpp)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .answering import DECLINE_TOKEN, MarkerFilter, pack_context, question_language
from .errors import ConfigError, ProviderError, map_errors

if TYPE_CHECKING:
    from .config import Settings
    from .retrieval import Hit


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

    def condense(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        """A standalone version of a follow-up question."""
        from langchain_core.messages import HumanMessage

        from .prompts import render

        if not history:
            return question
        transcript = "\n".join(f"User: {q}\nAssistant: {a}" for q, a in history[-4:])
        prompt = render("condense", self.settings.prompts_dir, chat_history=transcript, question=question)
        with map_errors("the chat model"):
            reply = self.llm.invoke([HumanMessage(prompt)])
        text = str(reply.content).strip()
        return text or question

    def messages(self, question: str, hits: Sequence[Hit], history: Sequence[tuple[str, str]]) -> tuple[list[Any], list[Hit]]:
        """Chat messages within the context window, and the hits actually given (in [n] order)."""
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        from .chunking import count_tokens
        from .prompts import render

        lang_name = "Arabic" if question_language(question) == "ar" else "English"
        system = render(
            "system", self.settings.prompts_dir, decline_token=DECLINE_TOKEN, question_language=lang_name
        )
        skeleton = render(
            "answer",
            self.settings.prompts_dir,
            sources="",
            question=question,
            question_language=lang_name,
            decline_token=DECLINE_TOKEN,
        )
        budget = self.settings.context_window - self.settings.answer_tokens - count_tokens(system) - count_tokens(skeleton) - 16
        turns: list[Any] = []
        history_budget = max(0, budget // 4)
        for q, a in reversed(list(history)):
            cost = count_tokens(q) + count_tokens(a) + 8
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
            return render("source", self.settings.prompts_dir, n=n, title=hit.title, source=hit.source, text=text)

        packed = pack_context(hits, budget, one)
        user = render(
            "answer",
            self.settings.prompts_dir,
            sources="\n\n".join(block for _, block in packed),
            question=question,
            question_language=lang_name,
            decline_token=DECLINE_TOKEN,
        )
        return [SystemMessage(system), *turns, HumanMessage(user)], [h for h, _ in packed]

    def stream(
        self, messages: list[Any], given: int, usage: dict[str, int], state: dict[str, Any]
    ) -> Iterator[str]:
        """Answer text as it arrives, markers checked; raises ProviderError on a cut stream.

        Sets state["declined"] when the model answered with the decline token, and
        state["dropped"] to the markers that pointed at no source.
        """
        import openai

        filt = MarkerFilter(given)
        state["dropped"] = filt.dropped
        finished = False
        received = False
        head = ""
        decided = declined = False
        try:
            with map_errors("the chat model"):
                for chunk in self.llm.stream(messages):
                    meta = getattr(chunk, "response_metadata", {}) or {}
                    if meta.get("finish_reason"):
                        finished = True
                    um = getattr(chunk, "usage_metadata", None)
                    if um:
                        usage["prompt_tokens"] = usage.get("prompt_tokens", 0) + int(um.get("input_tokens", 0))
                        usage["completion_tokens"] = usage.get("completion_tokens", 0) + int(
                            um.get("output_tokens", 0)
                        )
                    piece = chunk.content if isinstance(chunk.content, str) else ""
                    if not piece:
                        continue
                    received = True
                    if declined:
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
        except openai.APIConnectionError as exc:  # raised by map_errors' caller only if not mapped
            raise ProviderError("the chat model's answer stream was cut off; try again") from exc
        except ProviderError as exc:
            if received and isinstance(exc.__cause__, openai.APIConnectionError):
                raise ProviderError(
                    "the chat model's answer stream was cut off mid-answer; try again"
                ) from exc.__cause__
            raise
        if not finished:
            raise ProviderError("the chat model's answer stream was cut off before it finished; try again")
        if not decided and head.strip() == DECLINE_TOKEN:
            declined = True
        elif head and not declined:
            yield filt.feed(head)
        rest = filt.flush()
        if rest and not declined:
            yield rest
        state["declined"] = declined
