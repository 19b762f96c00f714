"""The LLM stub's faults over real HTTP, driven by the real openai client and instructor:
each fault (429, server errors, delays, truncation, invalid, ungrounded and malformed
answers) reaches the client as a real server's would, in order, once each."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import instructor
import openai
import pytest
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException

from service.llmstub import StubState
from tests.support import llm_stub_calls as calls
from tests.support.llm_stub_calls import (
    MODE_SHAPES,
    SENTENCES,
    analyse,
    answer_text,
    grounded,
)

# The stub and its client: tests/support/llm_stub_calls.py's fixtures, this module's own.
stub, base_url, fresh_stub, client = calls.stub, calls.base_url, calls.fresh_stub, calls.client


# --- faults -----------------------------------------------------------------------------------


def failure_cause(caught: pytest.ExceptionInfo[InstructorRetryException]) -> BaseException:
    """instructor wraps the openai error; the cause is what the client raised."""
    cause = caught.value.__cause__
    assert cause is not None
    return cause


async def test_429_fault_carries_retry_after_and_the_client_waits_for_it(base_url: str, stub: StubState):
    stub.push_faults([{"kind": "status", "status": 429, "retry_after": 1}])
    async with openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key="t", max_retries=0) as c:
        with pytest.raises(InstructorRetryException) as caught:
            await analyse(c)
    error = failure_cause(caught)
    assert isinstance(error, openai.RateLimitError)
    assert error.response.headers["retry-after"] == "1"
    assert error.code == "rate_limit_exceeded"

    stub.push_faults([{"kind": "status", "status": 429, "retry_after": 1}])
    async with openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key="t", max_retries=1) as c:
        started = time.monotonic()
        draft = await analyse(c)
    assert time.monotonic() - started >= 0.9  # the client honoured Retry-After
    assert draft.title.startswith("[stub] ")
    assert stub.stats()["chat_completions"] == 3


@pytest.mark.parametrize("status", [500, 503])
async def test_server_error_fault_fails_one_request_only(
    client: openai.AsyncOpenAI, stub: StubState, status: int
):
    stub.push_faults([{"kind": "status", "status": status}])
    with pytest.raises(InstructorRetryException) as caught:
        await analyse(client)
    error = failure_cause(caught)
    assert isinstance(error, openai.InternalServerError)
    assert error.status_code == status
    assert error.type == "server_error"
    assert (await analyse(client)).title.startswith("[stub] ")


async def test_delay_fault_trips_the_client_timeout(base_url: str, stub: StubState):
    stub.push_faults([{"kind": "delay", "seconds": 5}])
    async with openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key="t", max_retries=0, timeout=0.3) as c:
        started = time.monotonic()
        with pytest.raises(InstructorRetryException) as caught:
            await analyse(c)
    assert isinstance(failure_cause(caught), openai.APITimeoutError)
    assert time.monotonic() - started < 3
    # The stub notices the hang-up and stops waiting, instead of sleeping out the 5 s.
    deadline = time.monotonic() + 2
    while not stub.stats()["requests"] and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert stub.stats()["requests"][-1]["status"] == 499
    assert time.monotonic() - started < 3


async def test_short_delay_fault_answers_late_but_normally(client: openai.AsyncOpenAI, stub: StubState):
    stub.push_faults([{"kind": "delay", "seconds": 0.4}])
    started = time.monotonic()
    draft = await analyse(client)
    assert time.monotonic() - started >= 0.4
    assert draft.title.startswith("[stub] ")


@pytest.mark.parametrize("mode", [instructor.Mode.TOOLS, instructor.Mode.JSON_SCHEMA])
async def test_truncate_fault_stops_at_the_length_limit(
    client: openai.AsyncOpenAI, stub: StubState, mode: instructor.Mode
):
    stub.push_faults([{"kind": "truncate"}])
    with pytest.raises(IncompleteOutputException) as caught:
        await analyse(client, mode, max_retries=2, max_tokens=700)
    completion = caught.value.last_completion
    choice = completion.choices[0]
    assert choice.finish_reason == "length"
    assert completion.usage.completion_tokens == 700
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer_text(choice.message))
    assert stub.stats()["chat_completions"] == 1  # a cut-off answer is not re-asked


async def test_invalid_schema_fault_is_valid_json_that_fails_validation_then_reask_succeeds(
    client: openai.AsyncOpenAI, stub: StubState
):
    stub.push_faults([{"kind": "invalid_schema"}])
    with pytest.raises(InstructorRetryException) as caught:
        await analyse(client)
    arguments = caught.value.last_completion.choices[0].message.tool_calls[0].function.arguments
    assert json.loads(arguments)["key_details"] == []
    assert "key_details" in str(caught.value)

    stub.push_faults([{"kind": "invalid_schema"}])
    draft = await analyse(client, max_retries=1)
    assert all(grounded(draft))
    reask = stub.stats()["requests"][-1]
    # The re-ask carries the previous answer and the tool message with the error.
    assert reask["messages"] == 4
    assert reask["fault"] is None


@pytest.mark.parametrize("mode", list(MODE_SHAPES), ids=lambda m: m.value)
async def test_ungrounded_fault_cites_sentences_past_the_article_once(
    client: openai.AsyncOpenAI, stub: StubState, mode: instructor.Mode
):
    stub.push_faults([{"kind": "ungrounded"}])
    draft = await analyse(client, mode)
    assert draft.key_details
    assert not any(grounded(draft))
    assert all(n > len(SENTENCES) for d in draft.key_details for n in d.sentences)

    # The fault is used up: the next answer cites the article's own sentences again.
    assert all(grounded(await analyse(client, mode)))
    assert stub.stats()["chat_completions"] == 2


async def test_ungrounded_one_fault_invents_exactly_one_citation(client: openai.AsyncOpenAI, stub: StubState):
    stub.push_faults([{"kind": "ungrounded_one"}])
    draft = await analyse(client)
    cited = grounded(draft)
    assert cited.count(False) == 1 and cited[-1] is False
    assert len(cited) >= 3


@pytest.mark.parametrize("mode", [instructor.Mode.TOOLS, instructor.Mode.JSON])
async def test_malformed_json_fault_cannot_be_parsed(
    client: openai.AsyncOpenAI, stub: StubState, mode: instructor.Mode
):
    stub.push_faults([{"kind": "malformed_json"}])
    with pytest.raises(InstructorRetryException) as caught:
        await analyse(client, mode)
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer_text(caught.value.last_completion.choices[0].message))


async def test_faults_over_http_are_consumed_in_order_and_can_be_cleared(
    base_url: str, client: openai.AsyncOpenAI, stub: StubState
):
    async with httpx.AsyncClient(base_url=base_url) as http:
        queued = await http.post(
            "/_stub/faults", json=[{"kind": "status", "status": 503}, {"kind": "truncate"}]
        )
        assert queued.json() == {"queued": 2, "pending": 2}
        assert [f["kind"] for f in (await http.get("/_stub/faults")).json()["pending"]] == [
            "status",
            "truncate",
        ]
        with pytest.raises(InstructorRetryException):
            await analyse(client)
        with pytest.raises(IncompleteOutputException):
            await analyse(client)
        assert (await analyse(client)).title.startswith("[stub] ")

        await http.post("/_stub/faults", json=[{"kind": "malformed_json"}])
        assert (await http.delete("/_stub/faults")).json() == {"cleared": 1}
        assert (await analyse(client)).title.startswith("[stub] ")

        rejected = await http.post("/_stub/faults", json=[{"kind": "status", "status": 200}])
        unknown = await http.post("/_stub/faults", json=[{"kind": "explode"}])
    assert rejected.status_code == 400
    assert "between 400 and 599" in rejected.json()["error"]["message"]
    assert unknown.status_code == 400
    assert [r["fault"] for r in stub.stats()["requests"]] == ["status", "truncate", None, None]
    assert [r["status"] for r in stub.stats()["requests"]] == [503, 200, 200, 200]
