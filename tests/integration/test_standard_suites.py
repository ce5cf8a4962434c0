"""LangChain's standard test suites: HybridRetriever as a retriever, LocalE5Embeddings as embeddings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests, RetrieversIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from assistant.config import Settings
from assistant.embeddings import LOCAL_MODEL_ID, LocalE5Embeddings
from assistant.retrieval import HybridRetriever
from assistant.store import Store

pytestmark = pytest.mark.integration

# The suites' async tests carry no marker of their own, and pytest-asyncio runs in strict mode here;
# the class-level mark runs them, and the warning it gives on the suites' sync tests is expected.
_ASYNC = [
    pytest.mark.asyncio,
    pytest.mark.filterwarnings(
        "ignore:The test <Function .*> is marked with '@pytest.mark.asyncio'"
    ),
]


def _apply(marks: list[Any]) -> Any:
    def decorate(cls: type) -> type:
        for mark in marks:
            cls = mark(cls)
        return cls

    return decorate


@_apply(_ASYNC)
class TestHybridRetrieverStandard(RetrieversIntegrationTests):
    """On a private copy of the seeded store, with the real local model."""

    @pytest.fixture(autouse=True)
    def _seeded(self, seeded_data_dir: Path) -> None:
        self.data_dir = seeded_data_dir

    @property
    def retriever_constructor(self) -> type[HybridRetriever]:
        return HybridRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        embeddings = LocalE5Embeddings()
        store = Store(Settings(data_dir=self.data_dir), embeddings.model_id, embeddings.dimension)
        return {"store": store, "embeddings": embeddings, "k": 4}

    @property
    def retriever_query_example(self) -> str:
        return "Which minerals will Japan and Canada mine?"


class TestLocalE5EmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[LocalE5Embeddings]:
        return LocalE5Embeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {}


@_apply(_ASYNC)
class TestLocalE5EmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[LocalE5Embeddings]:
        return LocalE5Embeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {}


def test_local_embeddings_report_the_model_id_recorded_in_the_store() -> None:
    embeddings = LocalE5Embeddings()
    assert embeddings.model_id == LOCAL_MODEL_ID
    assert embeddings.dimension == len(embeddings.embed_query("lithium")) == 384


def test_local_embeddings_of_nothing_is_an_empty_list() -> None:
    assert LocalE5Embeddings().embed_documents([]) == []
