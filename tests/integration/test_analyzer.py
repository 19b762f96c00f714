"""Our analysis client against the stub over HTTP, in every instructor mode."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from service.analysis.client import Analyzer
from service.analysis.grounding import is_grounded, normalize_text
from service.analysis.prompt import ArticleForPrompt
from service.errors import LLMNotConfigured
from service.settings import LLMMode, Settings
from tests.support.articles import article_text


def _settings(stub: SimpleNamespace, mode: LLMMode) -> Settings:
    return Settings(
        openai_base_url=f"{stub.base}/v1",
        openai_api_key="k",
        llm_model="signals-stub",
        llm_mode=mode,
        llm_http_retries=0,
        llm_max_retries=2,
    )


def _article(seed: int) -> ArticleForPrompt:
    title, paragraphs = article_text(seed)
    return ArticleForPrompt(
        text="\n".join(paragraphs),
        title=title,
        site_name="Courier",
        url=None,
        published=date(2026, 11, 20),
        language="en",
    )


@pytest.mark.parametrize("mode", list(LLMMode))
async def test_every_mode_yields_a_grounded_analysis(stub, mode):
    stub.state.reset()
    analyzer = Analyzer(_settings(stub, mode))
    try:
        article = _article(70)
        result = await analyzer.analyze(article, today=date(2026, 11, 23))
    finally:
        await analyzer.aclose()
    normalized = normalize_text(article.text)
    assert all(is_grounded(d.evidence, normalized) for d in result.draft.key_details)
    assert result.grounding_checked == result.grounding_grounded == len(result.draft.key_details)
    assert result.attempts == 1 and result.model == "signals-stub"
    shapes = {LLMMode.tools: "tools", LLMMode.json_schema: "json_schema", LLMMode.json: "json_object"}
    assert stub.state.stats()["requests"][-1]["shape"] == shapes[mode]


async def test_tokens_of_every_attempt_are_counted(stub):
    stub.state.reset()
    stub.state.push_faults([{"kind": "ungrounded_one"}])
    analyzer = Analyzer(_settings(stub, LLMMode.tools))
    try:
        result = await analyzer.analyze(_article(71), today=date(2026, 11, 23))
    finally:
        await analyzer.aclose()
    requests = stub.state.stats()["requests"]
    assert result.attempts == 2 and len(requests) == 2
    assert result.input_tokens == sum(r["prompt_tokens"] for r in requests)
    assert result.output_tokens == sum(r["completion_tokens"] for r in requests)


def test_an_unconfigured_analyzer_names_what_to_set():
    with pytest.raises(LLMNotConfigured) as info:
        Analyzer(Settings(openai_base_url=None, llm_model=None))
    assert info.value.extra["missing"] == ["OPENAI_BASE_URL", "SIGNALS_LLM_MODEL"]
