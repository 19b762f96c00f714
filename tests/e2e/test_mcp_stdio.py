"""`signals mcp` as an agent runs it: a subprocess speaking MCP on stdin/stdout, driven by the
`mcp` package's own stdio client, on the module's PostgreSQL and the LLM stub."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from service.app import create_app
from tests.e2e.conftest import ROOT, run_signals
from tests.support.articles import article_page
from tests.support.clients import connected, stub_llm
from tests.support.mcp_world import HARBOUR, RAIL, build_world
from tests.support.servers import running_asgi

READ_TOOLS = {"search_signals", "get_signal", "get_related", "get_story", "list_topics", "get_briefing"}


@pytest.fixture(scope="module")
def api(make_settings: Any, stub: SimpleNamespace) -> Iterator[str]:
    """The API, only to build the world (briefings and supplied text go through it)."""
    settings = make_settings(**stub_llm(stub), digest_daily_at=None, llm_http_retries=0)
    with running_asgi(create_app(settings, worker=True)) as base:
        yield base


@pytest.fixture(scope="module")
async def world(api: str, database_url: str) -> SimpleNamespace:
    return await build_world(api, database_url)


@asynccontextmanager
async def stdio_session(env: dict[str, str], *args: str) -> AsyncIterator[ClientSession]:
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "service.cli", "mcp", *args], env=env, cwd=ROOT
    )
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def problem(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments)
    assert result.is_error and isinstance(result.structured_content, dict), result.content
    return result.structured_content


async def test_a_restricted_key_over_stdio_sees_its_topics_only(signals_env, world):
    env = {**signals_env, "SIGNALS_MCP_KEY": world.keys["restricted"]}
    async with stdio_session(env) as session:
        tools = {tool.name for tool in (await session.list_tools()).tools}
        assert tools == READ_TOOLS | {"analyze_url"}  # the key holds signals:write
        found = await call(session, "search_signals", limit=50)
        assert {item["id"] for item in found["items"]} == {str(i) for i in world.harbour}
        assert (await problem(session, "get_signal", id=str(world.rail[0])))["status"] == 404
        assert (await problem(session, "get_story", id=str(world.rail_story)))["status"] == 404
        assert (await problem(session, "get_briefing"))["status"] == 404
        assert (await problem(session, "get_briefing", topic=RAIL))["status"] in (400, 404)
        topics = await call(session, "list_topics")
        assert [item["slug"] for item in topics["items"]] == [HARBOUR]
        briefing = await session.read_resource(f"signals://briefing/{world.briefings[HARBOUR]['id']}")
        assert world.briefings[HARBOUR]["headline"] in briefing.contents[0].text  # type: ignore[union-attr]


async def test_a_read_key_has_no_analyze_url_and_supplied_text_stays_private(signals_env, world):
    env = {**signals_env, "SIGNALS_MCP_KEY": world.keys["other"]}  # read+write, another partner
    async with stdio_session(env) as session:
        assert (await problem(session, "get_signal", id=world.supplied["id"]))["status"] == 404
        card = await call(session, "get_signal", id=str(world.rail[1]))
        assert card["title"].startswith("Rail freight tariffs")
    env = {**signals_env, "SIGNALS_MCP_KEY": world.keys["reader"]}
    async with stdio_session(env) as session:
        assert {tool.name for tool in (await session.list_tools()).tools} == READ_TOOLS
        refused = await problem(session, "analyze_url", url="http://127.0.0.1:9/x")
        assert refused["status"] == 403 and refused["reason"] == "missing_scope"


async def test_analyze_url_over_stdio_with_a_worker_returns_the_signal(signals_env, world, site):
    url = site.set_page("/news/mcp-stdio", article_page(63))
    async with stdio_session({**signals_env, "SIGNALS_MCP_KEY": world.keys["writer"]}, "--worker") as session:
        done = await call(session, "analyze_url", url=url, wait_seconds=60)
        assert done["status"] == "done" and done["signal"]["source"]["url"] == url
        assert (await call(session, "get_signal", id=world.supplied["id"]))["id"] == world.supplied["id"]


async def test_a_key_revoked_while_serving_is_refused_on_the_next_call(signals_env, world, database_url):
    from service.keys import service as keys

    async with connected(database_url) as conn:
        late = await keys.create_key(conn, name="stdio-late", scopes=["signals:read"])
    async with stdio_session({**signals_env, "SIGNALS_MCP_KEY": late.key}) as session:
        await call(session, "get_signal", id=str(world.harbour[0]))
        async with connected(database_url) as conn:
            await keys.revoke_key(conn, str(late.id))
        # The server's key cache hears of the revocation by LISTEN/NOTIFY, a moment later.
        for _ in range(100):
            result = await session.call_tool("get_signal", {"id": str(world.harbour[0])})
            if result.is_error:
                break
        assert result.is_error and result.structured_content is not None
        assert result.structured_content["status"] == 401
        assert result.structured_content["reason"] == "revoked"


def test_without_a_valid_key_it_refuses_to_start(signals_env, world):
    revoked = run_signals("mcp", env={**signals_env, "SIGNALS_MCP_KEY": world.keys["revoked"]})
    assert revoked.returncode == 1 and "revoked" in revoked.stderr and revoked.stdout == ""
    missing = run_signals("mcp", env=signals_env)
    assert missing.returncode == 2 and "SIGNALS_MCP_KEY" in missing.stderr
    malformed = run_signals("mcp", "--key", "not-a-key", env=signals_env)
    assert malformed.returncode == 1 and "not a Signals API key" in malformed.stderr
    scopeless = run_signals("mcp", env={**signals_env, "SIGNALS_MCP_KEY": world.keys["webhooks"]})
    assert scopeless.returncode == 1 and "signals:read" in scopeless.stderr


async def test_public_read_serves_keyless_agents_public_content_only(signals_env, world):
    async with stdio_session({**signals_env, "SIGNALS_PUBLIC_READ": "true"}) as session:
        assert {tool.name for tool in (await session.list_tools()).tools} == READ_TOOLS
        found = await call(session, "search_signals", limit=50)
        ids = {item["id"] for item in found["items"]}
        assert {str(i) for i in world.harbour + world.rail} <= ids
        assert world.supplied["id"] not in ids
        assert (await problem(session, "analyze_url", url="http://127.0.0.1:9/x"))["status"] == 403
