"""The LLM stub over real HTTP, driven by the real openai client and instructor."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any, Literal

import httpx
import instructor
import openai
import pytest
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException
from pydantic import BaseModel, Field

from service.analysis.citations import resolve
from service.analysis.model import SignalDraft
from service.analysis.prompt import ArticleForPrompt, build_messages
from service.analysis.sentences import split_sentences
from service.llmstub import GenerationContext, StubState, create_stub_app, register_generator
from tests.support.servers import running_asgi

ARTICLE = """\
Northwind Energy will build a 400-megawatt battery storage plant on the site of the former \
Callowmere coal station, the company said on Tuesday.
The project, which the company values at £310m, is due to start construction in the spring of \
2027 and to connect to the grid in late 2028.
Chief executive Dana Whitfield said the batteries would store surplus wind power from the North \
Sea and release it during the evening peak.
"This site powered the region for sixty years, and it can do so again without burning anything," \
Whitfield told reporters at the plant gates.
The Callowmere Borough Council approved the planning application last month by nine votes to \
two, after a public consultation that drew more than 1,400 responses.
Opponents on the council argued that the plant would bring heavy traffic to residential streets \
during the two-year construction period.
Northwind Energy has promised to route lorries along the harbour road and to fund a new \
footbridge over the railway line.
The National Grid said the plant would be among the five largest battery storage sites in \
Britain when it opens.
Analysts at Harbour Capital estimated that battery storage capacity in the country could triple \
by 2030 as more wind farms come online.
They warned, however, that delays in grid connections remain the main obstacle for battery \
storage developers.
Around 250 people are expected to work on the site during construction, and about 30 permanent \
jobs will remain once the plant is running.
Local union representative Priya Natarajan welcomed the jobs but said the company should commit \
to hiring apprentices from the town.
Northwind Energy said it would publish a skills plan before construction begins.
The company operates two smaller battery storage plants in Wales and plans to list its shares on \
the London Stock Exchange next year.
"""
SENTENCES = split_sentences(ARTICLE)
PROSE_FIELDS = ("title", "summary", "eli5", "analysis", "impact")
MODE_SHAPES = {
    instructor.Mode.TOOLS: "tools",
    instructor.Mode.JSON_SCHEMA: "json_schema",
    instructor.Mode.JSON: "json_object",
    instructor.Mode.MD_JSON: "json_prompt",
}


def messages() -> list[dict[str, str]]:
    article = ArticleForPrompt(
        text=ARTICLE,
        title="Battery plant for old coal site",
        site_name="The Harbour Gazette",
        url="https://www.harbourgazette.example/news/battery",
        published=date(2026, 3, 17),
        language="en",
    )
    return build_messages(article, today=date(2026, 3, 18), max_chars=60_000)


def grounded(draft: SignalDraft) -> list[bool]:
    """For each key detail: does it cite sentences the prompt numbered (and no one else's)?"""
    found = resolve(draft.key_details, SENTENCES, ARTICLE, names_comparable=True)
    usable = {tuple(d.sentences) for d in found.usable}
    return [tuple(sorted(d.sentences)) in usable for d in draft.key_details]


@pytest.fixture(scope="module")
def stub() -> StubState:
    return StubState()


@pytest.fixture(scope="module")
def base_url(stub: StubState) -> Iterator[str]:
    with running_asgi(create_stub_app(stub)) as base:
        yield base


@pytest.fixture(autouse=True)
def _fresh_stub(stub: StubState) -> None:
    stub.reset()


@pytest.fixture
async def client(base_url: str) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key="test", max_retries=0) as the_client:
        yield the_client


def tools(client: openai.AsyncOpenAI) -> Any:
    return instructor.from_openai(client, mode=instructor.Mode.TOOLS)


async def analyse(
    client: openai.AsyncOpenAI, mode: instructor.Mode = instructor.Mode.TOOLS, **kwargs: Any
) -> SignalDraft:
    options: dict[str, Any] = {"max_retries": 0, "max_tokens": 4096, **kwargs}
    patched = instructor.from_openai(client, mode=mode)
    result: SignalDraft = await patched.chat.completions.create(
        model="signals-stub", messages=messages(), response_model=SignalDraft, **options
    )
    return result


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
        await instructor.from_openai(client, mode=mode).chat.completions.create(
            model="signals-stub",
            messages=messages(),
            response_model=SignalDraft,
            max_retries=2,
            max_tokens=700,
        )
    completion = caught.value.last_completion
    choice = completion.choices[0]
    assert choice.finish_reason == "length"
    assert completion.usage.completion_tokens == 700
    message = choice.message
    text = message.tool_calls[0].function.arguments if message.tool_calls else message.content
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
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
        await instructor.from_openai(client, mode=mode).chat.completions.create(
            model="signals-stub", messages=messages(), response_model=SignalDraft, max_retries=0
        )
    message = caught.value.last_completion.choices[0].message
    text = message.tool_calls[0].function.arguments if message.tool_calls else message.content
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


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
