"""Our analysis client against the stub over HTTP: every mode, the auto probe, models and
servers that differ, and the context budget. Weak models' answers and failures are
tests/integration/test_analyzer_weak_models.py's."""

from __future__ import annotations

import json
import re

import pytest
from pydantic import BaseModel, ValidationInfo, model_validator

from service.errors import LLMError
from service.llm_settings import LLMMode
from tests.support import analyzer as support
from tests.support.analyzer import (
    SHAPES,
    TODAY,
    article,
    assert_quoted_by_offsets,
    requests,
    sent_bodies,
)

# The stub cleared before each test, and analyzers on it: tests/support/analyzer.py's fixtures.
fresh_stub, analyzer = support.fresh_stub, support.analyzer


# --- every mode, one call -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [LLMMode.tools, LLMMode.json_schema, LLMMode.json])
async def test_every_mode_yields_key_details_quoted_from_the_cited_sentences(stub, analyzer, mode):
    source = article()
    result = await analyzer(llm_mode=mode).analyze(source, today=TODAY)
    assert_quoted_by_offsets(result, source.text)
    assert result.grounding_checked == result.grounding_grounded == len(result.key_details) >= 3
    assert all(d.unsupported == [] for d in result.key_details)
    assert result.attempts == 1 and result.model == "signals-stub" and result.prompt_version == "2026-12-08.1"
    (only,) = requests(stub)
    assert only["shape"] == SHAPES[mode] and only["schema"] == "SignalDraft"
    assert result.input_tokens == only["prompt_tokens"] and result.output_tokens == only["completion_tokens"]


REFUSED = ("minLength", "maxLength", "pattern", "format", "$ref", "$defs", "allOf", "default")


@pytest.mark.parametrize("mode", [LLMMode.tools, LLMMode.json_schema, LLMMode.json])
async def test_instructor_sends_the_wire_schema_numbering_this_articles_sentences(stub, analyzer, mode):
    client = analyzer(llm_mode=mode)
    bodies = sent_bodies(client)
    await client.analyze(article(), today=TODAY)
    (body,) = bodies
    if mode is LLMMode.tools:
        schema = body["tools"][0]["function"]["parameters"]
        assert body["tool_choice"] == {"type": "function", "function": {"name": "SignalDraft"}}
    elif mode is LLMMode.json_schema:
        shape = body["response_format"]["json_schema"]
        schema, strict = shape["schema"], shape["strict"]
        assert shape["name"] == "SignalDraft" and strict is True  # OpenAI enforces only with strict
    else:  # instructor writes the schema into the system message
        assert body["response_format"] == {"type": "json_object"}
        system = body["messages"][0]["content"]
        schema = json.loads(system[system.index("{") : system.rindex("}") + 1])
    assert not [word for word in REFUSED if f'"{word}"' in json.dumps(schema)]
    numbers = schema["properties"]["key_details"]["items"]["properties"]["sentences"]["items"]
    shown = max(int(n) for n in re.findall(r"^\[S(\d+)\]", body["messages"][1]["content"], re.M))
    if mode is LLMMode.json_schema:  # a constrained decoder cannot cite a sentence not shown
        assert numbers == {"type": "integer", "enum": list(range(1, shown + 1))}
    else:
        assert numbers == {"type": "integer", "minimum": 1, "maximum": shown}


class Echo(BaseModel):
    """An answer whose validation needs the prompt's data."""

    answer: str

    @model_validator(mode="after")
    def _knows_the_refs(self, info: ValidationInfo) -> Echo:
        if not info.context or info.context.get("refs") != ["s1", "s2"]:
            raise ValueError("the validation context did not arrive")
        return self


async def test_a_context_reaches_validators_and_page_text_is_never_rendered_as_a_template(stub, analyzer):
    client = analyzer(llm_mode=LLMMode.tools)
    bodies = sent_bodies(client)
    messages = [
        {"role": "system", "content": "Cite signals as [s1]. Rules end here.\n"},
        {"role": "user", "content": "A signal quoting a template: {{ refs }} and {% if x %} unclosed."},
    ]
    result = await client.complete(messages=messages, response_model=Echo, context={"refs": ["s1", "s2"]})
    assert isinstance(result.value, Echo) and result.attempts == 1
    assert bodies[0]["messages"] == messages  # as written: instructor renders messages with Jinja
    assert result.conversation[:2] == messages


# --- SIGNALS_LLM_MODE=auto ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("enforcement", "chosen"), [("enforced", "json_schema"), ("rejected", "tools"), ("ignored", "tools")]
)
async def test_auto_asks_the_server_once_whether_it_enforces_a_schema(stub, analyzer, enforcement, chosen):
    stub.state.set_behaviour({"json_schema": enforcement})
    client = analyzer(llm_mode=LLMMode.auto)
    assert client.describe() == (None, None)
    await client.prepare()
    assert client.describe() == (chosen, 32_768)
    result = await client.analyze(article(), today=TODAY)
    await client.analyze(article(71), today=TODAY)
    stats = stub.state.stats()
    assert stats["probes"] == 1 and stats["chat_completions"] == 2
    assert {r["shape"] for r in requests(stub)} == {"tools" if chosen == "tools" else "json_schema"}
    assert result.grounding_grounded >= 3


async def test_a_server_that_cannot_be_reached_is_asked_again_later(stub, analyzer):
    client = analyzer(llm_mode=LLMMode.auto, openai_base_url="http://127.0.0.1:9/v1")
    await client.prepare()
    assert client.describe() == (None, None)
    client.settings = client.settings.model_copy(update={"openai_base_url": f"{stub.base}/v1"})
    client._openai = client._openai.with_options(base_url=f"{stub.base}/v1")
    await client.prepare()
    assert client.describe()[0] == "json_schema"


# --- models and servers that differ ---------------------------------------------------------------


async def test_a_reasoning_model_gets_max_completion_tokens_and_no_temperature(stub, analyzer):
    stub.state.set_behaviour({"reasoning": True})
    result = await analyzer().analyze(article(), today=TODAY)
    assert result.attempts == 1 and result.grounding_grounded >= 3
    answered = [r for r in requests(stub) if r.get("status") == 200]
    assert len(answered) == 1
    assert answered[0]["token_limit"] == "max_completion_tokens" and answered[0]["temperature"] is None
    assert [r["status"] for r in requests(stub)] == [400, 400, 200]  # learnt once, then kept


async def test_a_model_named_like_a_reasoning_model_is_asked_right_the_first_time(stub, analyzer):
    stub.state.set_behaviour({"reasoning": True})
    await analyzer(llm_model="o4-mini").analyze(article(), today=TODAY)
    assert [r["status"] for r in requests(stub)] == [200]


async def test_a_server_ignoring_a_named_tool_choice_is_asked_with_required(stub, analyzer):
    stub.state.set_behaviour({"named_tool_choice": False})
    client = analyzer(llm_mode=LLMMode.tools)
    first = await client.analyze(article(), today=TODAY)  # the call written as text is read anyway
    await client.analyze(article(71), today=TODAY)
    assert first.attempts == 1 and first.grounding_grounded >= 3
    assert [r["tool_choice"] for r in requests(stub)] == ["named", "required"]


async def test_llama_cpp_gets_its_repeat_penalty_and_others_none(stub, analyzer):
    await analyzer().analyze(article(), today=TODAY)
    stub.state.set_behaviour({"context_tokens": 16_384})  # the stub now answers /props like llama.cpp
    await analyzer().analyze(article(), today=TODAY)
    assert [r["repeat_penalty"] for r in requests(stub)] == [None, 1.1]


# --- the context budget ---------------------------------------------------------------------------


def long_article(paragraphs: int = 60) -> str:
    return "\n".join(
        f"In part {p} of the report, the council of Callowmere described the harbour plan in detail. "
        f"Officials said phase {p} would cost {10 + p} million pounds and take {p + 2} months."
        for p in range(paragraphs)
    )


async def test_the_prompt_and_answer_fit_the_context_the_server_reports(stub, analyzer):
    stub.state.set_behaviour({"context_tokens": 4096})
    client = analyzer()
    source = article(text=long_article())
    result = await client.analyze(source, today=TODAY)
    assert client.describe() == ("json_schema", 4096)
    (sent,) = requests(stub)
    assert sent["status"] == 200  # the stub refuses what does not fit, as llama.cpp does
    cited = max(n for d in result.key_details for n in d.sentences)
    assert cited < 120  # sentences past the cut were never numbered
    assert_quoted_by_offsets(result, source.text)


async def test_the_configured_context_wins_over_the_reported_one(stub, analyzer):
    stub.state.set_behaviour({"context_tokens": 4096})
    await analyzer().analyze(article(text=long_article()), today=TODAY)
    client = analyzer(llm_context_tokens=3000)
    await client.analyze(article(text=long_article()), today=TODAY)
    assert client.describe() == ("json_schema", 3000)
    reported, configured = requests(stub)
    assert configured["prompt_tokens"] < reported["prompt_tokens"] - 300  # 548 fewer by our estimate


async def test_a_context_too_small_for_any_prompt_fails_before_calling_the_model(stub, analyzer):
    with pytest.raises(LLMError) as info:
        await analyzer(llm_context_tokens=1024).analyze(article(text=long_article()), today=TODAY)
    assert info.value.reason == "context_too_small" and "1024" in info.value.detail
    assert requests(stub) == []
