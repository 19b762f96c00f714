"""GET /v1/signals: filters and their combinations, full text, keyset pagination."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from service.app import create_app
from service.db.database import init_connection
from service.keys.service import create_key
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SITES = ["The Harbour Courier", "Northern Ledger", "Valley Times"]


@pytest.fixture(scope="module")
def api(make_settings: Any) -> Iterator[str]:
    with running_asgi(create_app(make_settings(), worker=False)) as base:
        yield base


@pytest.fixture(scope="module")
async def world(database_url: str) -> dict[str, Any]:
    """60 signals over 60 hours: three sites, two languages, topics and entities in a pattern."""
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        ids: list[UUID] = []
        for i in range(60):
            topics = ["Energy policy"] if i % 2 == 0 else ["AI infrastructure"]
            if i % 5 == 0:
                topics.append("Rail")
            entities = (
                [("Northwind Energy", "organization")] if i % 3 == 0 else [("Dana Whitfield", "person")]
            )
            ids.append(
                await seed_signal(
                    conn,
                    SeedSignal(
                        title=f"Story number {i} about {'batteries' if i % 4 == 0 else 'chips'}",
                        summary=f"Summary {i}: the plan <b>matters</b> for the region."
                        + (" Turbines are mentioned here." if i % 10 == 0 else ""),
                        topics=topics,
                        entities=entities,
                        site_name=SITES[i % 3],
                        language="de" if i % 6 == 0 else "en",
                        published=date(2026, 10, 1) + timedelta(days=i % 20),
                        created_at=T0 + timedelta(hours=i),
                        sentiment=0.5 if i % 2 else -0.5,
                    ),
                )
            )
        reader = (await create_key(conn, name="reader", scopes=["signals:read"])).key
        entity_id = await conn.fetchval("SELECT id FROM entities WHERE name = 'Northwind Energy'")
    finally:
        await conn.close()
    return {"ids": ids, "key": reader, "northwind": entity_id}


@pytest.fixture
async def client(api: str, world: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {world['key']}"}) as http:
        yield http


async def ids_of(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get("/v1/signals", params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def expected(world: dict[str, Any], keep: Any) -> list[str]:
    """Ids whose index passes ``keep``, newest first."""
    return [str(world["ids"][i]) for i in reversed(range(60)) if keep(i)]


async def test_default_list_is_newest_first_with_compact_items(client, world):
    response = await client.get("/v1/signals", params={"limit": 5})
    page = response.json()
    assert [item["id"] for item in page["items"]] == expected(world, lambda i: True)[:5]
    item = page["items"][0]
    assert set(item) >= {"id", "title", "summary", "url", "site_name", "topics", "entities", "created_at"}
    assert "analysis" not in item and "eli5" not in item
    assert item["topics"][0]["slug"] in {"energy-policy", "ai-infrastructure"}
    assert page["limit"] == 5 and page["next"].startswith("/v1/signals?")


async def test_filters_and_their_combinations(client, world):
    assert await ids_of(client, topic="rail") == expected(world, lambda i: i % 5 == 0)
    assert await ids_of(client, topic=["rail", "energy-policy"]) == expected(
        world, lambda i: i % 5 == 0 or i % 2 == 0
    )
    assert await ids_of(client, topic=["rail", "energy-policy"], topic_match="all") == expected(
        world, lambda i: i % 10 == 0
    )
    assert await ids_of(client, entity=world["northwind"]) == expected(world, lambda i: i % 3 == 0)
    assert await ids_of(client, source="Valley Times") == expected(world, lambda i: i % 3 == 2)
    assert await ids_of(client, lang="de") == expected(world, lambda i: i % 6 == 0)
    assert await ids_of(client, lang="en", topic="rail", source="The Harbour Courier") == expected(
        world, lambda i: i % 6 != 0 and i % 5 == 0 and i % 3 == 0
    )
    since = (T0 + timedelta(hours=10)).isoformat()
    until = (T0 + timedelta(hours=20)).isoformat()
    assert await ids_of(client, since=since, until=until) == expected(world, lambda i: 10 <= i < 20)
    published = await ids_of(client, since="2026-10-05", until="2026-10-06", date_field="published")
    assert published == expected(world, lambda i: i % 20 in (4, 5))


async def test_full_text_with_ranking_and_safe_snippets(client, world):
    newest = await client.get("/v1/signals", params={"q": "turbines"})
    items = newest.json()["items"]
    assert [i["id"] for i in items] == expected(world, lambda i: i % 10 == 0)
    snippet = items[0]["snippet"]
    assert "<mark>Turbines</mark>" in snippet
    # The only markup in a snippet is ours: the page's own tags never come through.
    assert "<" not in snippet.replace("<mark>", "").replace("</mark>", "") and "matters" in snippet
    ranked = (await client.get("/v1/signals", params={"q": "batteries", "sort": "relevance"})).json()["items"]
    assert {i["id"] for i in ranked} == set(expected(world, lambda i: i % 4 == 0))
    ranks = [i["rank"] for i in ranked]
    assert ranks == sorted(ranks, reverse=True) and ranks[0] > 0
    assert await ids_of(client, q='"story number 7"') == [str(world["ids"][7])]


async def test_include_card_returns_full_cards(client, world):
    page = (await client.get("/v1/signals", params={"limit": 2, "include": "card"})).json()
    assert [card["id"] for card in page["items"]] == expected(world, lambda i: True)[:2]
    assert all("analysis" in card and "key_details" in card for card in page["items"])


async def _walk(client: httpx.AsyncClient, params: dict[str, Any], during: Any = None) -> list[str]:
    seen: list[str] = []
    url, query = "/v1/signals", params
    while True:
        page = (await client.get(url, params=query)).json()
        seen += [item["id"] for item in page["items"]]
        if during is not None:
            await during()
        if page["next"] is None:
            return seen
        url, query = page["next"], None


async def test_pagination_never_repeats_or_skips_while_signals_arrive(client, world, database_url):
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    added = 0

    async def insert_one() -> None:
        nonlocal added
        added += 1
        await seed_signal(conn, SeedSignal(title=f"Breaking {added}", topics=["Energy policy"]))

    try:
        seen = await _walk(client, {"limit": 7}, during=insert_one)
    finally:
        await conn.close()
    assert added >= 8
    original = expected(world, lambda i: True)
    assert len(seen) == len(set(seen))
    assert [s for s in seen if s in set(original)] == original


async def test_relevance_pagination_covers_every_match_once(client, world):
    seen = await _walk(client, {"q": "chips", "sort": "relevance", "limit": 4})
    assert len(seen) == len(set(seen)) == len(expected(world, lambda i: i % 4 != 0))


async def test_topic_aliases_filter_like_their_topic(client, world, database_url):
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "INSERT INTO topic_aliases (alias, topic_id, source) "
            "SELECT 'ai-infra', id, 'admin' FROM topics WHERE slug = 'ai-infrastructure'"
        )
    finally:
        await conn.close()
    assert await ids_of(client, topic="ai-infra") == await ids_of(client, topic="ai-infrastructure")


@pytest.mark.parametrize(
    ("params", "status", "reason"),
    [
        ({"topic": "no-such-topic"}, 404, "unknown_topic"),
        ({"entity": 987654}, 404, "unknown_entity"),
        ({"cursor": "not-a-cursor"}, 400, "bad_cursor"),
        ({"since": "2026-11-05", "until": "2026-11-01"}, 400, "inverted_range"),
        ({"since": "yesterday"}, 400, "bad_parameter"),
        ({"limit": 101}, 400, "bad_parameter"),
        ({"limit": 0}, 400, "bad_parameter"),
        ({"sort": "relevance"}, 400, "bad_parameter"),
        ({"sort": "random"}, 400, None),
        ({"q": "   "}, 400, "bad_parameter"),
    ],
)
async def test_bad_parameters_are_problems_not_500s(client, world, params, status, reason):
    response = await client.get("/v1/signals", params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    if reason:
        assert response.json()["reason"] == reason


async def test_a_cursor_only_serves_the_query_that_made_it(client, world):
    first = (await client.get("/v1/signals", params={"limit": 3, "topic": "rail"})).json()
    token = first["next"].split("cursor=")[1]
    other = await client.get("/v1/signals", params={"limit": 3, "topic": "energy-policy", "cursor": token})
    assert other.status_code == 400 and other.json()["reason"] == "bad_cursor"
    forged = base64.urlsafe_b64encode(json.dumps({"k": "stories"}).encode()).decode()
    assert (await client.get("/v1/signals", params={"cursor": forged})).status_code == 400


async def test_collapse_shows_one_signal_per_story(client, world, database_url):
    conn = await asyncpg.connect(database_url)
    try:
        story = await conn.fetchval(
            "INSERT INTO stories (title, first_seen, last_seen, signal_count) "
            "VALUES ('S', now(), now(), 3) RETURNING id"
        )
        members = world["ids"][40:43]
        await conn.execute(
            "UPDATE signals SET story_id = $1, is_story_lead = (id = $2) WHERE id = ANY($3::uuid[])",
            story,
            members[-1],
            members,
        )
    finally:
        await conn.close()
    collapsed = await ids_of(
        client,
        collapse="story",
        since=(T0 + timedelta(hours=40)).isoformat(),
        until=(T0 + timedelta(hours=43)).isoformat(),
    )
    assert collapsed == [str(members[-1])]
    assert await ids_of(client, story=str(story)) == [str(m) for m in reversed(members)]


async def test_concurrent_reads_are_consistent(client, world):
    pages = await asyncio.gather(*(ids_of(client, topic="rail") for _ in range(10)))
    assert all(page == pages[0] for page in pages)
