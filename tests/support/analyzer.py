"""What the analysis client's tests share: an article, analyzers on the LLM stub, and what
the stub was sent; and two fixtures, ``analyzer`` (``analyzers`` per test) and ``fresh_stub``
(autouse: the stub's faults and stats cleared before each test), which a module takes by
assignment (``analyzer = support.analyzer``) as if written there."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest

from service.analysis.client import Analyzer
from service.analysis.prompt import ArticleForPrompt
from service.llm_settings import LLMMode
from service.settings import Settings
from tests.support.articles import article_text

TODAY = date(2026, 12, 7)
SHAPES = {LLMMode.tools: "tools", LLMMode.json_schema: "json_schema", LLMMode.json: "json_object"}


def article(seed: int = 70, *, text: str | None = None, language: str = "en") -> ArticleForPrompt:
    title, paragraphs = article_text(seed)
    return ArticleForPrompt(
        text=text if text is not None else "\n".join(paragraphs),
        title=title,
        site_name="Courier",
        url=None,
        published=date(2026, 11, 20),
        language=language,
    )


@asynccontextmanager
async def analyzers(stub: SimpleNamespace) -> AsyncIterator[Callable[..., Analyzer]]:
    """``make(**settings)``: an Analyzer on the stub (json_schema, no HTTP retries); all closed after."""
    made: list[Analyzer] = []

    def make(**overrides: Any) -> Analyzer:
        values: dict[str, Any] = {
            "openai_base_url": f"{stub.base}/v1",
            "openai_api_key": "k",
            "llm_model": "signals-stub",
            "llm_mode": LLMMode.json_schema,
            "llm_http_retries": 0,
            "llm_max_retries": 2,
        }
        values.update(overrides)
        made.append(Analyzer(Settings(**values)))
        return made[-1]

    yield make
    for one in made:
        await one.aclose()


@pytest.fixture(autouse=True)
def fresh_stub(stub: SimpleNamespace) -> None:
    stub.state.reset()


@pytest.fixture
async def analyzer(stub: SimpleNamespace) -> AsyncIterator[Callable[..., Analyzer]]:
    async with analyzers(stub) as make:
        yield make


def requests(stub: SimpleNamespace) -> list[dict[str, Any]]:
    return [
        r for r in stub.state.stats()["requests"] if r["endpoint"] == "chat.completions" and not r["probe"]
    ]


def sent_bodies(client: Analyzer) -> list[dict[str, Any]]:
    """Every chat request body ``client`` sends from now on, as it goes on the wire."""
    bodies: list[dict[str, Any]] = []

    async def record(request: Any) -> None:
        if request.url.path.endswith("/chat/completions"):
            bodies.append(json.loads(request.content))

    client.openai._client.event_hooks["request"].append(record)
    return bodies


def assert_quoted_by_offsets(result: Any, text: str) -> None:
    for detail in result.key_details:
        assert detail.evidence == " … ".join(text[a:b] for a, b in detail.offsets)
        assert detail.sentences and detail.unsupported is not None
