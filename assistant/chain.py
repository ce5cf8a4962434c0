"""The LCEL chain: {"question", "chat_history"} -> standalone question -> context -> streamed cited answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import Runnable, RunnableGenerator
from langchain_core.runnables.utils import AddableDict

if TYPE_CHECKING:
    from .assistant import Assistant

_DONE = object()


def normalize_history(history: Any) -> list[tuple[str, str]]:
    """Accept (question, answer) pairs, LangChain messages, or role dicts; return pairs."""
    if not history:
        return []
    pairs: list[tuple[str, str]] = []
    pending: str | None = None
    for item in history:
        if isinstance(item, (tuple, list)) and len(item) == 2 and all(isinstance(x, str) for x in item):
            pairs.append((item[0], item[1]))
            continue
        role = getattr(item, "type", None) or (item.get("role") if isinstance(item, dict) else None)
        content = getattr(item, "content", None) or (item.get("content") if isinstance(item, dict) else "")
        if role in ("human", "user"):
            pending = str(content)
        elif role in ("ai", "assistant") and pending is not None:
            pairs.append((pending, str(content)))
            pending = None
    return pairs


def build_chain(assistant: Assistant, **ask_options: Any) -> Runnable:
    """A Runnable (invoke, stream, batch, ainvoke, astream) over the assistant's pipeline.

    Streaming yields {"answer": piece} chunks as the answer arrives, then one chunk with
    "context" (LangChain Documents), "citations", "answered", "provider", "model" and the rest.
    """

    def run(inputs: dict[str, Any]) -> Iterator[AddableDict]:
        question = inputs["question"] if isinstance(inputs, dict) else str(inputs)
        history = normalize_history(inputs.get("chat_history") if isinstance(inputs, dict) else None)
        yield AddableDict(question=question)
        for item in assistant.stream(question, history=history, **ask_options):
            if isinstance(item, str):
                yield AddableDict(answer=item)
            else:
                yield AddableDict(
                    standalone_question=item.standalone_question,
                    context=[h.to_document() for h in item.context],
                    citations=[c.to_dict() for c in item.citations],
                    answered=item.answered,
                    provider=item.provider,
                    model=item.model,
                    usage=item.usage,
                    timings_ms=item.timings_ms,
                    decline_reason=item.decline_reason,
                    language=item.language,
                    evidence=item.evidence,
                    truncated=item.truncated,
                    fallback=item.fallback,
                )

    def transform(inputs: Iterator[dict[str, Any]]) -> Iterator[AddableDict]:
        for x in inputs:
            yield from run(x)

    async def atransform(inputs: AsyncIterator[dict[str, Any]]) -> AsyncIterator[AddableDict]:
        async for x in inputs:
            it = run(x)
            while True:
                item = await asyncio.to_thread(next, it, _DONE)
                if item is _DONE:
                    break
                yield item  # type: ignore[misc]

    return RunnableGenerator(transform, atransform, name="assistant_chain")


def answer_text(result: dict[str, Any]) -> str:
    """The answer from a chain result (invoke's output)."""
    return str(result.get("answer", ""))


__all__: Sequence[str] = ["build_chain", "normalize_history", "answer_text"]
