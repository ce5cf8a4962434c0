"""Cited question answering over supply-chain news articles: `from assistant import Assistant`.

Nothing happens at import: the embedding model, Chroma and LLM clients are built on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = [
    "Answer",
    "Assistant",
    "AssistantError",
    "ChatSession",
    "Citation",
    "Hit",
    "IngestReport",
    "Settings",
]

if TYPE_CHECKING:
    from .answering import Answer, Citation
    from .assistant import Assistant, ChatSession
    from .config import Settings
    from .errors import AssistantError
    from .ingest import IngestReport
    from .retrieval import Hit

_WHERE = {
    "Answer": "answering",
    "Citation": "answering",
    "Assistant": "assistant",
    "ChatSession": "assistant",
    "Settings": "config",
    "AssistantError": "errors",
    "IngestReport": "ingest",
    "Hit": "retrieval",
}


def __getattr__(name: str) -> Any:
    """Import public names lazily so `import assistant` stays instant."""
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'assistant' has no attribute {name!r}")
