"""The LLM stub over real HTTP, driven by the real openai client and instructor: answers,
embeddings, stats and logs. Its faults are tests/integration/test_llm_stub_faults.py's."""

from __future__ import annotations

import json
import logging
import math
from typing import Literal

import httpx
import instructor
import openai
import pytest
from pydantic import BaseModel, Field

from service.analysis.model import SignalDraft
from service.llmstub import GenerationContext, StubState, register_generator
from tests.support import llm_stub_calls as calls
from tests.support.llm_stub_calls import (
    MODE_SHAPES,
    PROSE_FIELDS,
    analyse,
    grounded,
    messages,
    tools,
)

# The stub and its client: tests/support/llm_stub_calls.py's fixtures, this module's own.
stub, base_url, fresh_stub, client = calls.stub, calls.base_url, calls.fresh_stub, calls.client


# --- answers ----------------------------------------------------------------------------------


async def test_models_lists_the_stub_model_and_accepts_any_name(client: openai.AsyncOpenAI):
    listed = await client.models.list()
    assert [m.id for m in listed.data] == ["signals-stub"]
    assert (await client.models.retrieve("gpt-anything")).id == "gpt-anything"


@pytest.mark.parametrize("mode", list(MODE_SHAPES), ids=lambda m: m.value)
async def test_each_instructor_mode_gets_a_valid_grounded_labelled_signal(
    client: openai.AsyncOpenAI, stub: StubState, mode: instructor.Mode
):
    patched = instructor.from_openai(client, mode=mode)
    draft, completion = await patched.chat.completions.create_with_completion(
        model="signals-stub",
        messages=messages(),
        response_model=SignalDraft,
        max_retries=1,
        max_tokens=4096,
        context={},
    )

    assert SignalDraft.model_validate(draft.model_dump()).model_dump() == draft.model_dump()
    assert 3 <= len(draft.key_details) <= 7
    assert all(grounded(draft))
    assert draft.title.startswith("[stub] ")
    assert all(getattr(draft, f).startswith("[stub]") for f in PROSE_FIELDS)
    assert all(d.text.startswith("[stub]") for d in draft.key_details)
    assert "(stub output)" in draft.optimistic_outlook
    assert "(stub output)" in draft.pessimistic_outlook
    assert len(draft.analysis.split("\n\n")) in (2, 3)
    assert 1 <= len(draft.topics) <= 5
    assert {"name": "Dana Whitfield", "type": "person"} in [e.model_dump() for e in draft.entities]
    assert completion.usage.prompt_tokens > 1000
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    assert completion.model == "signals-stub"
    assert completion.object == "chat.completion"
    expected_finish = "tool_calls" if mode is instructor.Mode.TOOLS else "stop"
    assert completion.choices[0].finish_reason == expected_finish
    stats = stub.stats()
    assert stats["chat_completions"] == 1  # grounded on the first attempt: no re-ask
    assert stats["requests"][0]["shape"] == MODE_SHAPES[mode]
    assert stats["requests"][0]["schema"] == "SignalDraft"


async def test_tools_mode_answers_with_a_tool_call_named_after_the_model(
    client: openai.AsyncOpenAI,
):
    _, completion = await tools(client).chat.completions.create_with_completion(
        model="signals-stub", messages=messages(), response_model=SignalDraft, max_retries=0
    )
    message = completion.choices[0].message
    assert message.content is None
    assert message.tool_calls[0].function.name == "SignalDraft"
    assert json.loads(message.tool_calls[0].function.arguments)["title"].startswith("[stub] ")


async def test_same_article_gives_the_same_answer(client: openai.AsyncOpenAI):
    # build_messages draws a new random boundary each time; the answer must not change.
    first = await analyse(client)
    second = await analyse(client)
    assert first.model_dump() == second.model_dump()


class Headline(BaseModel):
    text: str = Field(min_length=3, max_length=40)
    rank: int = Field(ge=1, le=10)


class DigestDraft(BaseModel):
    """A response model the stub has no generator for."""

    title: str = Field(min_length=30, max_length=60)
    tone: Literal["calm", "urgent"]
    headlines: list[Headline] = Field(min_length=2, max_length=4)
    score: float = Field(gt=0.5, le=1.0)
    note: str | None = None
    tags: list[str] = Field(default_factory=list)


async def test_an_unknown_response_model_still_gets_a_schema_valid_answer(
    client: openai.AsyncOpenAI,
):
    for mode in MODE_SHAPES:
        digest = await instructor.from_openai(client, mode=mode).chat.completions.create(
            model="signals-stub",
            messages=[{"role": "user", "content": "Summarise today's news."}],
            response_model=DigestDraft,
            max_retries=0,
        )
        assert DigestDraft.model_validate(digest.model_dump()).model_dump() == digest.model_dump()
        assert digest.title.startswith("[stub]")
        assert len(digest.headlines) == 2


class ProbeAnswer(BaseModel):
    echo: str = Field(max_length=30)


async def test_a_registered_generator_answers_for_its_schema(client: openai.AsyncOpenAI):
    def echo_prompt(context: GenerationContext) -> dict[str, str]:
        return {"echo": f"[stub] {context.prompt.upper()} and far too long to fit"}

    register_generator("ProbeAnswer", echo_prompt)
    answer = await tools(client).chat.completions.create(
        model="signals-stub",
        messages=[{"role": "user", "content": "hello"}],
        response_model=ProbeAnswer,
        max_retries=0,
    )
    # The generator's text, cut at a word boundary to the schema's maxLength.
    assert answer.echo == "[stub] HELLO and far too long"


# --- embeddings -------------------------------------------------------------------------------


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


async def test_embeddings_put_texts_sharing_words_closer_than_unrelated_ones(
    client: openai.AsyncOpenAI, stub: StubState
):
    texts = [
        "Battery storage plant approved at the old coal station",
        "Council approves battery storage plant on coal station site",
        "Football club signs a new goalkeeper before the derby",
    ]
    result = await client.embeddings.create(model="signals-stub-embed", input=texts)

    vectors = [item.embedding for item in result.data]
    assert [len(v) for v in vectors] == [384, 384, 384]
    assert all(math.isclose(cosine(v, v), 1.0, rel_tol=1e-5) for v in vectors)
    assert cosine(vectors[0], vectors[1]) > 0.4
    assert abs(cosine(vectors[0], vectors[2])) < 0.15
    assert result.usage.prompt_tokens > 0
    assert result.usage.total_tokens == result.usage.prompt_tokens
    assert stub.stats()["embeddings"] == 1


async def test_embeddings_are_base64_by_default_and_floats_on_request(client: openai.AsyncOpenAI):
    raw = await client.embeddings.with_raw_response.create(model="m", input="wind power")
    assert raw.http_response.json()["data"][0]["embedding"].isascii()  # base64 text on the wire
    decoded = raw.parse().data[0].embedding

    floats = await client.embeddings.create(
        model="m", input="wind power", encoding_format="float", dimensions=64
    )
    as_floats = await client.embeddings.create(model="m", input="wind power", encoding_format="float")
    assert len(floats.data[0].embedding) == 64
    assert all(
        math.isclose(a, b, abs_tol=1e-6) for a, b in zip(decoded, as_floats.data[0].embedding, strict=True)
    )


async def test_token_array_input_is_rejected_in_openai_error_shape(client: openai.AsyncOpenAI):
    with pytest.raises(openai.BadRequestError) as caught:
        await client.embeddings.create(model="m", input=[[1, 2, 3]])
    assert caught.value.type == "invalid_request_error"
    assert "token arrays" in caught.value.message


async def test_errors_use_openai_error_shape(base_url: str):
    async with httpx.AsyncClient(base_url=base_url) as http:
        unknown = await http.get("/v1/nothing-here")
        bad = await http.post("/v1/chat/completions", content=b'{"model": 3}')
    assert unknown.status_code == 404
    assert set(unknown.json()["error"]) >= {"message", "type", "code"}
    assert bad.status_code == 400
    assert bad.json()["error"]["type"] == "invalid_request_error"


# --- stats and logs ---------------------------------------------------------------------------


async def test_stats_count_requests_and_reset_zeroes_them(base_url: str, client: openai.AsyncOpenAI):
    await analyse(client)
    await client.embeddings.create(model="m", input=["a text", "another text"])
    async with httpx.AsyncClient(base_url=base_url) as http:
        stats = (await http.get("/_stub/stats")).json()
        assert stats["chat_completions"] == 1
        assert stats["embeddings"] == 1
        chat, embed = stats["requests"]
        assert chat["model"] == "signals-stub"
        assert chat["shape"] == "tools"
        assert chat["messages"] == 2
        assert embed["inputs"] == 2
        await http.post("/_stub/faults", json=[{"kind": "truncate"}])
        assert (await http.post("/_stub/reset")).status_code == 200
        after = (await http.get("/_stub/stats")).json()
    assert after == {"chat_completions": 0, "probes": 0, "embeddings": 0, "pending_faults": 0, "requests": []}


async def test_each_request_logs_one_line_without_the_api_key(
    base_url: str, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="service.llmstub")
    secret = "sk-do-not-log-this-0123456789"
    async with openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key=secret, max_retries=0) as c:
        await analyse(c)
    lines = [r.getMessage() for r in caplog.records if r.name == "service.llmstub"]
    chat_lines = [line for line in lines if line.startswith("chat.completions")]
    assert len(chat_lines) == 1
    assert "model=signals-stub" in chat_lines[0]
    assert "shape=tools" in chat_lines[0]
    assert "prompt_tokens=" in chat_lines[0]
    assert secret not in caplog.text
