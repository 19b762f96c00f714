"""The LLM stub behaving like other servers and weak models, over real HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from service.analysis.probe import PROBE_MESSAGES, PROBE_SCHEMA, PROBE_SCHEMA_NAME, PROBE_VALUE
from service.llmstub import StubState
from tests.support import llm_stub_calls as calls

SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string", "description": "At most 20 characters."}},
    "required": ["answer"],
    "additionalProperties": False,
    "title": "Answer",
}
TOOL = [{"type": "function", "function": {"name": "Answer", "parameters": SCHEMA}}]
ASK = [{"role": "user", "content": "Say something."}]


# The stub and its client: tests/support/llm_stub_calls.py's fixtures, this module's own.
stub, base_url, fresh_stub, client = calls.stub, calls.base_url, calls.fresh_stub, calls.client


async def test_behaviour_is_set_over_http_read_back_and_reset(base_url: str, stub: StubState):
    async with httpx.AsyncClient(base_url=base_url) as http:
        assert (await http.get("/props")).status_code == 404  # an OpenAI-like server by default
        changed = (await http.post("/_stub/behaviour", json={"context_tokens": 8192})).json()
        assert changed["context_tokens"] == 8192 and changed["json_schema"] == "enforced"
        assert (await http.get("/props")).json()["default_generation_settings"]["n_ctx"] == 8192
        refused = await http.post("/_stub/behaviour", json={"json_schema": "sometimes"})
        assert refused.status_code == 400 and "invalid behaviour" in refused.json()["error"]["message"]
        await http.post("/_stub/reset")
        assert (await http.get("/_stub/behaviour")).json()["context_tokens"] is None


async def test_a_reasoning_model_refuses_max_tokens_and_temperature(
    client: openai.AsyncOpenAI, stub: StubState
):
    stub.set_behaviour({"reasoning": True})
    with pytest.raises(openai.BadRequestError, match="max_completion_tokens"):
        await client.chat.completions.create(model="o3", messages=ASK, max_tokens=50)  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError, match="temperature"):
        await client.chat.completions.create(
            model="o3",
            messages=ASK,
            max_completion_tokens=50,
            temperature=0.2,  # type: ignore[arg-type]
        )
    answer = await client.chat.completions.create(model="o3", messages=ASK, max_completion_tokens=50)  # type: ignore[arg-type]
    assert answer.choices[0].message.content


async def test_a_named_tool_choice_can_be_ignored_while_required_is_honoured(
    client: openai.AsyncOpenAI, stub: StubState
):
    stub.set_behaviour({"named_tool_choice": False})
    named = {"type": "function", "function": {"name": "Answer"}}
    ignored = await client.chat.completions.create(model="m", messages=ASK, tools=TOOL, tool_choice=named)  # type: ignore[arg-type]
    message = ignored.choices[0].message
    assert message.tool_calls is None and len(json.loads(message.content or "")["answer"]) <= 20
    forced = await client.chat.completions.create(model="m", messages=ASK, tools=TOOL, tool_choice="required")  # type: ignore[arg-type]
    assert forced.choices[0].message.tool_calls[0].function.name == "Answer"  # type: ignore[index]


@pytest.mark.parametrize(("enforcement", "parses"), [("enforced", True), ("ignored", False)])
async def test_json_schema_support_can_be_switched_off(
    client: openai.AsyncOpenAI, stub: StubState, enforcement: str, parses: bool
):
    stub.set_behaviour({"json_schema": enforcement})
    answer = await client.chat.completions.create(
        model="m", messages=ASK,  # type: ignore[arg-type]
        response_format={"type": "json_schema", "json_schema": {"name": "Answer", "schema": SCHEMA}},
    )  # fmt: skip
    text = answer.choices[0].message.content or ""
    assert text.startswith("{") is parses
    stub.set_behaviour({"json_schema": "rejected"})
    with pytest.raises(openai.BadRequestError, match="json_schema"):
        await client.chat.completions.create(
            model="m", messages=ASK,  # type: ignore[arg-type]
            response_format={"type": "json_schema", "json_schema": {"name": "Answer", "schema": SCHEMA}},
        )  # fmt: skip


async def test_a_request_over_the_llama_cpp_context_is_refused(client: openai.AsyncOpenAI, stub: StubState):
    stub.set_behaviour({"context_tokens": 300})
    await client.chat.completions.create(model="m", messages=ASK, max_tokens=200)  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError, match="exceeds the available context size"):
        await client.chat.completions.create(model="m", messages=ASK, max_tokens=400)  # type: ignore[arg-type]


async def test_the_probe_is_counted_apart_and_never_takes_a_fault(
    client: openai.AsyncOpenAI, stub: StubState
):
    stub.push_faults([{"kind": "status", "status": 503}])
    probe: Any = {"type": "json_schema", "json_schema": {"name": PROBE_SCHEMA_NAME, "schema": PROBE_SCHEMA}}
    answer = await client.chat.completions.create(model="m", messages=PROBE_MESSAGES, response_format=probe)  # type: ignore[arg-type]
    assert json.loads(answer.choices[0].message.content or "") == {"probe": PROBE_VALUE}
    stats = stub.stats()
    assert (stats["probes"], stats["chat_completions"], stats["pending_faults"]) == (1, 0, 1)
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(model="m", messages=ASK)  # type: ignore[arg-type]
