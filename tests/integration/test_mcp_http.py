"""MCP over streamable HTTP at /mcp, driven by the `mcp` package's own client against the API
on a real socket (real PostgreSQL, the LLM stub, a fake article site): the tools a key is
offered, each tool's answer, scopes, topic restrictions, supplied-content privacy, revoked and
missing keys, resources."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import httpx
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from service.app import create_app
from tests.support.articles import article_page
from tests.support.clients import connected, stub_llm
from tests.support.mcp_world import HARBOUR, RAIL, build_world
from tests.support.servers import running_asgi

READ_TOOLS = {"search_signals", "get_signal", "get_related", "get_story", "list_topics", "get_briefing"}


@pytest.fixture(scope="module")
def api(make_settings: Any, stub: SimpleNamespace) -> Iterator[str]:
    settings = make_settings(**stub_llm(stub), digest_daily_at=None, llm_http_retries=0)
    with running_asgi(create_app(settings, worker=True)) as base:
        yield base


@pytest.fixture(scope="module")
async def world(api: str, database_url: str) -> SimpleNamespace:
    return await build_world(api, database_url)


@asynccontextmanager
async def session_for(api: str, key: str | None) -> AsyncIterator[ClientSession]:
    """An initialised MCP client session on /mcp that sends ``key`` as its bearer token."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(90)) as http,
        streamable_http_client(f"{api}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    """A tool's structured answer; fails the test if the tool reported an error."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def refused(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    """The problem a tool answered with (it must have answered with one)."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def test_a_read_key_is_offered_the_read_tools_with_closed_schemas(api, world):
    async with session_for(api, world.keys["reader"]) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    assert set(tools) == READ_TOOLS  # no analyze_url without signals:write
    for tool in tools.values():
        assert tool.description and len(tool.description) > 60
        assert tool.input_schema["type"] == "object"
        assert tool.input_schema["additionalProperties"] is False
    search = tools["search_signals"].input_schema["properties"]
    assert set(search) == {"q", "topic", "entity", "source", "since", "until", "limit", "cursor"}
    assert search["limit"]["maximum"] == 50 and search["entity"]["type"] == "integer"
    assert tools["get_signal"].input_schema["required"] == ["id"]
    assert tools["get_briefing"].input_schema["properties"]["period"]["enum"] == ["daily", "weekly"]
    assert tools["get_signal"].annotations is not None and tools["get_signal"].annotations.read_only_hint


async def test_every_read_tool_answers_as_the_json_api_does(api, world):
    harbour = {str(i) for i in world.harbour}
    async with session_for(api, world.keys["reader"]) as session:
        found = await call(session, "search_signals", topic=HARBOUR)
        assert {item["id"] for item in found["items"]} == harbour
        assert all(item["topics"] == [HARBOUR] for item in found["items"])
        by_text = await call(session, "search_signals", q="tunnel container")
        assert [item["id"] for item in by_text["items"]] == [str(world.rail[0])]
        by_entity = await call(session, "search_signals", entity=world.entity, limit=1)
        assert len(by_entity["items"]) == 1 and by_entity["next_cursor"]
        rest = await call(
            session, "search_signals", entity=world.entity, limit=1, cursor=by_entity["next_cursor"]
        )
        assert rest["items"][0]["id"] != by_entity["items"][0]["id"]
        by_source = await call(session, "search_signals", source="Rail Weekly", until=world.day.isoformat())
        assert {item["id"] for item in by_source["items"]} == {str(i) for i in world.rail}

        card = await call(session, "get_signal", id=str(world.harbour[0]))
        assert card["id"] == str(world.harbour[0]) and card["title"].startswith("Harbour cranes")
        related = await call(session, "get_related", id=str(world.harbour[0]))
        assert related["signal_id"] == str(world.harbour[0])
        assert [item["id"] for item in related["items"]] == [str(world.harbour[1]), str(world.rail[0])]
        story = await call(session, "get_story", id=str(world.rail_story))
        assert {s["id"] for s in story["signals"]} == {str(i) for i in world.rail}
        topics = await call(session, "list_topics", window="7d")
        counts = {item["slug"]: item["count"] for item in topics["items"]}
        assert counts[HARBOUR] == 2 and counts[RAIL] == 2
        trending = await call(session, "list_topics", trending=True, limit=5)
        assert trending["sort"] == "trending"
        briefing = await call(session, "get_briefing", topic=HARBOUR, date=world.day.isoformat())
        assert briefing["id"] == world.briefings[HARBOUR]["id"]
        general = await call(session, "get_briefing")
        assert general["id"] == world.briefings["general"]["id"]


async def test_bad_arguments_are_problems_naming_the_field(api, world):
    async with session_for(api, world.keys["reader"]) as session:
        too_many = await refused(session, "search_signals", limit=500)
        assert too_many["status"] == 400 and "limit" in too_many["detail"]
        unknown = await refused(session, "get_signal", id=str(world.harbour[0]), extra=1)
        assert unknown["reason"] == "bad_parameter" and "extra" in unknown["detail"]
        missing = await refused(session, "get_signal", id="00000000-0000-0000-0000-000000000000")
        assert missing["status"] == 404
        with pytest.raises(MCPError):
            await session.call_tool("drop_tables", {})


async def test_a_topic_restricted_agent_never_sees_another_topic(api, world):
    rail = [str(i) for i in world.rail]
    async with session_for(api, world.keys["restricted"]) as session:
        everything = await call(session, "search_signals", limit=50)
        assert {item["id"] for item in everything["items"]} == {str(i) for i in world.harbour}
        assert (await call(session, "search_signals", q="tunnel container"))["items"] == []
        assert (await call(session, "search_signals", entity=world.entity))["items"] != []
        related = await call(session, "get_related", id=str(world.harbour[0]))
        assert [item["id"] for item in related["items"]] == [str(world.harbour[1])]
        for tool, arguments in [
            ("get_signal", {"id": rail[0]}),
            ("get_related", {"id": rail[0]}),
            ("get_story", {"id": str(world.rail_story)}),
            ("get_briefing", {"topic": RAIL}),
            ("get_briefing", {}),  # the general briefing covers every topic
        ]:
            problem = await refused(session, tool, **arguments)
            assert problem["status"] in (400, 404), (tool, problem)
        topics = await call(session, "list_topics")
        assert [item["slug"] for item in topics["items"]] == [HARBOUR]
        story = await call(session, "get_story", id=str(world.harbour_story))
        assert {s["id"] for s in story["signals"]} == {str(i) for i in world.harbour}
        mine = await call(session, "get_briefing", topic=HARBOUR)
        assert mine["id"] == world.briefings[HARBOUR]["id"]
        for uri in (f"signals://signal/{rail[0]}", f"signals://briefing/{world.briefings[RAIL]['id']}"):
            with pytest.raises(MCPError):
                await session.read_resource(uri)


async def test_analyze_url_needs_the_write_scope_and_returns_the_signal(api, world, site):
    url = site.set_page("/news/mcp-plant", article_page(62))
    async with session_for(api, world.keys["reader"]) as session:
        problem = await refused(session, "analyze_url", url=url)
        assert problem["status"] == 403 and problem["reason"] == "missing_scope"
    async with session_for(api, world.keys["writer"]) as session:
        tools = {tool.name for tool in (await session.list_tools()).tools}
        assert tools == READ_TOOLS | {"analyze_url"}
        done = await call(session, "analyze_url", url=url, wait_seconds=30)
        assert done["status"] == "done" and done["signal"]["source"]["url"] == url
        bad = await refused(session, "analyze_url", url="ftp://example.test/x")
        assert bad["status"] == 400
    async with session_for(api, world.keys["reader"]) as session:  # a fetched page: public
        assert (await call(session, "get_signal", id=done["signal"]["id"]))["id"] == done["signal"]["id"]


async def test_supplied_content_stays_its_suppliers(api, world):
    supplied = world.supplied["id"]
    title_word = world.supplied["title"].split()[0]
    async with session_for(api, world.keys["writer"]) as session:
        assert (await call(session, "get_signal", id=supplied))["id"] == supplied
        searched = await call(session, "search_signals", q=title_word)
        assert supplied in {item["id"] for item in searched["items"]}
    for outsider in ("other", "reader"):
        async with session_for(api, world.keys[outsider]) as session:
            assert (await refused(session, "get_signal", id=supplied))["status"] == 404
            searched = await call(session, "search_signals", q=title_word)
            assert supplied not in {item["id"] for item in searched["items"]}
            with pytest.raises(MCPError):
                await session.read_resource(f"signals://signal/{supplied}")


async def test_resources_read_a_card_and_a_briefing(api, world):
    async with session_for(api, world.keys["reader"]) as session:
        templates = {t.uri_template for t in (await session.list_resource_templates()).resource_templates}
        assert templates == {"signals://signal/{id}", "signals://briefing/{id}"}
        card = await session.read_resource(f"signals://signal/{world.harbour[1]}")
        assert str(world.harbour[1]) in card.contents[0].text  # type: ignore[union-attr]
        briefing_id = world.briefings["general"]["id"]
        briefing = await session.read_resource(f"signals://briefing/{briefing_id}")
        assert briefing.contents[0].mime_type == "application/json"
        assert world.briefings["general"]["headline"] in briefing.contents[0].text  # type: ignore[union-attr]
        latest = await session.read_resource("signals://briefing/latest/daily")
        assert briefing_id in latest.contents[0].text  # type: ignore[union-attr]
        with pytest.raises(MCPError):
            await session.read_resource("signals://nothing/here")


async def test_missing_revoked_and_scopeless_keys_get_problems(api, world):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    accept = {"Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        for key, status, reason in [
            (None, 401, "missing"),
            (world.keys["revoked"], 401, "revoked"),
            ("sk_live_" + "x" * 43, 401, "unknown"),
            (world.keys["webhooks"], 403, "missing_scope"),
        ]:
            headers = {**accept, **({"Authorization": f"Bearer {key}"} if key else {})}
            answer = await http.post("/mcp", json=body, headers=headers)
            assert answer.status_code == status, answer.text
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert answer.json()["reason"] == reason and answer.json()["instance"] == "/mcp"
    # The client reports the 401 as an MCPError, out of its task groups.
    with pytest.raises(ExceptionGroup) as caught:
        async with session_for(api, world.keys["revoked"]):
            pass
    assert caught.group_contains(MCPError, depth=None)


async def test_the_key_s_rate_limit_applies_to_mcp_requests(api, database_url):
    from service.keys import service as keys

    async with connected(database_url) as conn:
        slow = await keys.create_key(
            conn, name="mcp-slow", scopes=["signals:read"], rate_per_second=0.01, burst=2
        )
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {slow.key}"}
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        answers = [await http.post("/mcp", json=body, headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429], answers[-1].text
    assert answers[0].json()["result"]["tools"]
    assert answers[2].headers["content-type"].startswith("application/problem+json")
    assert int(answers[2].headers["retry-after"]) >= 1


async def test_a_key_revoked_mid_session_stops_working(api, world, database_url):
    from service.keys import service as keys

    async with connected(database_url) as conn:
        late = await keys.create_key(conn, name="mcp-late", scopes=["signals:read"])
    async with session_for(api, late.key) as session:
        await call(session, "get_signal", id=str(world.harbour[0]))
        async with connected(database_url) as conn:
            await keys.revoke_key(conn, str(late.id))

        async def call_until_refused() -> None:
            # The key cache hears of the revocation by LISTEN/NOTIFY, a moment after it commits.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                await session.call_tool("get_signal", {"id": str(world.harbour[0])})
                await asyncio.sleep(0.1)

        with pytest.raises(MCPError):
            await call_until_refused()


async def test_mcp_is_left_out_of_the_openapi_document(api):
    async with httpx.AsyncClient(base_url=api) as http:
        document = (await http.get("/schema/openapi.json")).json()
    assert not any(path.startswith("/mcp") for path in document["paths"])


async def test_with_public_read_a_keyless_agent_reads_public_content_only(make_settings, world):
    with running_asgi(create_app(make_settings(public_read=True), worker=False)) as public_api:
        async with session_for(public_api, None) as session:
            assert {tool.name for tool in (await session.list_tools()).tools} == READ_TOOLS
            found = await call(session, "search_signals", limit=50)
            ids = {item["id"] for item in found["items"]}
            assert {str(i) for i in world.harbour + world.rail} <= ids
            assert world.supplied["id"] not in ids
            assert (await refused(session, "analyze_url", url="http://127.0.0.1:9/x"))["status"] == 403
        async with httpx.AsyncClient(base_url=public_api, timeout=30) as http:
            bad = await http.post(
                "/mcp",
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                headers={"Accept": "application/json", "Authorization": f"Bearer {world.keys['revoked']}"},
            )
        assert bad.status_code == 401 and bad.json()["reason"] == "revoked"
