"""What the LLM stub's tests share: the stub on loopback and a client of it (fixtures), the
article they send, the prompt built from it, the two ways they ask (instructor's tools mode, or
any mode for a SignalDraft) and how an answer's text is read."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import instructor
import openai
import pytest

from service.analysis.citations import resolve
from service.analysis.model import SignalDraft
from service.analysis.prompt import ArticleForPrompt, build_messages
from service.analysis.sentences import split_sentences
from service.llmstub import StubState, create_stub_app
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


def answer_text(message: Any) -> str:
    """What an answer says: its tool call's arguments, or its content in the JSON modes."""
    text: str = message.tool_calls[0].function.arguments if message.tool_calls else message.content
    return text


# Fixtures: a module takes them by assignment (``stub = llm_stub_calls.stub``); module-scoped
# ones are then that module's own, as if written there (one stub server per module).


@pytest.fixture(scope="module")
def stub() -> StubState:
    """The stub's state, driven directly (this module's, not conftest's ``stub``)."""
    return StubState()


@pytest.fixture(scope="module")
def base_url(stub: StubState) -> Iterator[str]:
    with running_asgi(create_stub_app(stub)) as base:
        yield base


@pytest.fixture(autouse=True)
def fresh_stub(stub: StubState) -> None:
    stub.reset()


@pytest.fixture
async def client(base_url: str) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key="test", max_retries=0) as the_client:
        yield the_client
