"""Partner keys: a topic-restricted key sees only its topics; a disabled partner's keys stop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from service.app import create_app
from service.db.database import init_connection
from service.keys import service as keys
from service.topics.slugs import topic_ids_for_slugs
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi


@pytest.fixture(scope="module")
def api(make_settings: Any) -> Iterator[str]:
    with running_asgi(create_app(make_settings(), worker=False)) as base:
        yield base


@pytest.fixture(scope="module")
async def world(database_url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        rail = [await seed_signal(conn, SeedSignal(title=f"Rail {i}", topics=["Rail"])) for i in range(3)]
        energy = [
            await seed_signal(conn, SeedSignal(title=f"Energy {i}", topics=["Energy"])) for i in range(3)
        ]
        partner = await keys.ensure_partner(conn, "Acme Media")
        topic_ids = await topic_ids_for_slugs(conn, ["rail"])
        restricted = await keys.create_key(
            conn, name="acme-rail", scopes=["signals:read"], partner_id=partner["id"], topic_ids=topic_ids
        )
        other_partner = await keys.ensure_partner(conn, "Gone Ltd")
        disabled = await keys.create_key(
            conn, name="gone", scopes=["signals:read"], partner_id=other_partner["id"]
        )
        await conn.execute("UPDATE partners SET disabled_at = now() WHERE id = $1", other_partner["id"])
        unrestricted = await keys.create_key(conn, name="all", scopes=["signals:read"])
    finally:
        await conn.close()
    return {
        "rail": rail,
        "energy": energy,
        "restricted": restricted.key,
        "disabled": disabled.key,
        "all": unrestricted.key,
    }


def client(api: str, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {key}"})


async def test_a_topic_restricted_key_lists_only_its_topics(api, world):
    async with client(api, world["restricted"]) as http:
        ids = {item["id"] for item in (await http.get("/v1/signals", params={"limit": 100})).json()["items"]}
        assert ids == {str(i) for i in world["rail"]}
        # another topic is answered as an unknown one: 404, worded from what was asked
        # (tests/integration/test_restricted_existence.py compares the two answers whole)
        other = await http.get("/v1/signals", params={"topic": "energy"})
        unknown = await http.get("/v1/signals", params={"topic": "nobody"})
        assert other.status_code == unknown.status_code == 404
        assert other.json()["detail"] == "unknown topic 'energy'"
        assert unknown.json()["detail"] == "unknown topic 'nobody'"
        assert other.json()["code"] == unknown.json()["code"] == "not_found"
    async with client(api, world["all"]) as http:
        ids = {item["id"] for item in (await http.get("/v1/signals", params={"limit": 100})).json()["items"]}
        assert {str(i) for i in world["rail"] + world["energy"]} <= ids


async def test_a_topic_restricted_key_gets_404_outside_its_topics(api, world):
    async with client(api, world["restricted"]) as http:
        assert (await http.get(f"/v1/signals/{world['rail'][0]}")).status_code == 200
        response = await http.get(f"/v1/signals/{world['energy'][0]}")
        assert response.status_code == 404 and response.json()["code"] == "not_found"


async def test_a_disabled_partner_s_keys_are_refused(api, world):
    async with client(api, world["disabled"]) as http:
        response = await http.get("/v1/signals")
        assert response.status_code == 401 and response.json()["reason"] == "partner_disabled"


async def test_restrictions_need_known_topics(db):
    from service.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match="unknown topics"):
        await topic_ids_for_slugs(db, ["no-such-topic"])


# --- every read endpoint keeps a topic-restricted key to its topics --------------------------------


@pytest.fixture(scope="module")
async def ports(database_url: str) -> dict[str, Any]:
    """Signals on Ports (the key's topic) and on Mining (not), linked as related coverage and
    stories across the two, naming entities on either side."""
    from datetime import UTC, datetime, timedelta

    from service.signals import repository as signals_repository
    from service.stories import repository as stories

    now = datetime.now(UTC)
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:

        async def seed(
            title: str, topics: list[str], entities: list[tuple[str, str]], minutes_ago: int
        ) -> Any:
            seed_ = SeedSignal(
                title=title, topics=topics, entities=entities, created_at=now - timedelta(minutes=minutes_ago)
            )
            return await seed_signal(conn, seed_)

        p1 = await seed(
            "Port expansion", ["Ports"], [("Harbor Group", "organization"), ("Mine Corp", "organization")], 50
        )
        p2 = await seed("Port strike", ["Ports"], [("Harbor Group", "organization")], 40)
        m1 = await seed(
            "Mine opens", ["Mining"], [("Mine Corp", "organization"), ("Secret Holdings", "organization")], 30
        )
        m2 = await seed("Mine closes", ["Mining"], [("Secret Holdings", "organization")], 20)
        both = await seed("Ore ships", ["Mining", "Ports"], [("Harbor Group", "organization")], 10)
        await conn.execute(
            "INSERT INTO signal_related (signal_id, related_id, score, reason) VALUES"
            " ($1, $3, 0.9, 'same names'), ($1, $2, 0.8, 'same topic'), ($3, $1, 0.9, 'same names')",
            p1,
            p2,
            m1,
        )
        mixed = await stories.create_story(conn, p1)
        for member in (p1, m1):
            await stories.set_signal_story(conn, member, mixed)
        await signals_repository.refresh_story(conn, mixed)
        hidden = await stories.create_story(conn, m2)
        await stories.set_signal_story(conn, m2, hidden)
        await signals_repository.refresh_story(conn, hidden)
        articles = {
            name: await conn.fetchval("SELECT article_id FROM signals WHERE id = $1", sid)
            for name, sid in (("p1", p1), ("m1", m1))
        }
        entity = {
            row["name"]: row["id"]
            for row in await conn.fetch(
                "SELECT id, name FROM entities WHERE name IN ('Harbor Group', 'Mine Corp', 'Secret Holdings')"
            )
        }
        key = await keys.create_key(
            conn,
            name="ports-only",
            scopes=["signals:read"],
            topic_ids=await topic_ids_for_slugs(conn, ["ports"]),
        )
        everything = await keys.create_key(conn, name="everything", scopes=["signals:read"])
    finally:
        await conn.close()
    return {
        "p1": str(p1),
        "p2": str(p2),
        "m1": str(m1),
        "m2": str(m2),
        "both": str(both),
        "mixed_story": str(mixed),
        "hidden_story": str(hidden),
        "articles": {k: str(v) for k, v in articles.items()},
        "entity": entity,
        "key": key.key,
        "everything": everything.key,
    }


async def test_related_coverage_shows_only_the_key_s_topics(api, ports):
    async with client(api, ports["key"]) as http:
        related = (await http.get(f"/v1/signals/{ports['p1']}/related")).json()["items"]
        assert [item["id"] for item in related] == [ports["p2"]]
        assert (await http.get(f"/v1/signals/{ports['m1']}/related")).status_code == 404
        card = (await http.get(f"/v1/signals/{ports['p1']}")).json()
        assert [link["id"] for link in card["related"]] == [ports["p2"]]
        cards = (await http.get("/v1/signals", params={"include": "card", "limit": 100})).json()["items"]
        p1_card = next(c for c in cards if c["id"] == ports["p1"])
        assert [link["id"] for link in p1_card["related"]] == [ports["p2"]]
    async with client(api, ports["everything"]) as http:
        related = (await http.get(f"/v1/signals/{ports['p1']}/related")).json()["items"]
        assert [item["id"] for item in related] == [ports["m1"], ports["p2"]]


async def test_export_holds_only_the_key_s_topics(api, ports):
    async with client(api, ports["key"]) as http:
        ndjson = await http.get("/v1/signals/export", params={"format": "ndjson"})
        csv_text = (await http.get("/v1/signals/export", params={"format": "csv"})).text
        filtered = await http.get("/v1/signals/export", params={"topic": "mining"})
    exported = {line.split('"id":"')[1].split('"')[0] for line in ndjson.text.splitlines()}
    assert exported == {ports["p1"], ports["p2"], ports["both"]}
    rows = {line.split(",")[0] for line in csv_text.splitlines()[1:]}
    assert rows == exported
    # the other topic is unknown to the key, although a signal it sees also carries it
    assert filtered.status_code == 404 and filtered.json()["reason"] == "unknown_topic"


async def test_stories_show_only_the_key_s_signals_and_hide_stories_without_any(api, ports):
    async with client(api, ports["key"]) as http:
        listed = (await http.get("/v1/stories", params={"limit": 100})).json()["items"]
        story = (await http.get(f"/v1/stories/{ports['mixed_story']}")).json()
        hidden = await http.get(f"/v1/stories/{ports['hidden_story']}")
    by_id = {item["id"]: item for item in listed}
    assert ports["hidden_story"] not in by_id
    mixed = by_id[ports["mixed_story"]]
    # counted, dated and titled from the Ports signal alone (the Mining one is newer and leads otherwise)
    assert (mixed["signal_count"], mixed["title"], mixed["lead_signal_id"]) == (
        1,
        "Port expansion",
        ports["p1"],
    )
    assert [s["id"] for s in story["signals"]] == [ports["p1"]] and story["signals"][0]["is_lead"]
    assert story["signal_count"] == 1 and sum(s["signal_count"] for s in story["sources"]) == 1
    assert story["title"] == "Port expansion"
    assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"
    async with client(api, ports["everything"]) as http:
        full = (await http.get(f"/v1/stories/{ports['mixed_story']}")).json()
    assert full["signal_count"] == 2 and full["title"] == "Mine opens"


async def test_topics_list_only_the_key_s_topics(api, ports):
    async with client(api, ports["key"]) as http:
        listed = (await http.get("/v1/topics", params={"limit": 100})).json()["items"]
        assert {item["slug"] for item in listed} == {"ports"}
        assert next(i for i in listed if i["slug"] == "ports")["count"] == 3
        assert (await http.get("/v1/topics/ports")).status_code == 200
        for path in ("/v1/topics/mining", "/v1/topics/mining/timeline", "/v1/topics/rail"):
            response = await http.get(path)
            assert response.status_code == 404 and response.json()["reason"] == "unknown_topic", path
        trending = (await http.get("/v1/topics", params={"sort": "trending"})).json()["items"]
        assert {item["slug"] for item in trending} == {"ports"}


async def test_entities_count_and_show_only_the_key_s_signals(api, ports):
    entity = ports["entity"]
    async with client(api, ports["key"]) as http:
        by_count = (await http.get("/v1/entities", params={"limit": 100})).json()["items"]
        counts = {item["name"]: item["count"] for item in by_count}
        assert counts == {"Harbor Group": 3, "Mine Corp": 1}
        by_name = (await http.get("/v1/entities", params={"sort": "name", "limit": 100})).json()["items"]
        assert "Secret Holdings" not in {item["name"] for item in by_name}
        assert (await http.get("/v1/entities", params={"q": "Secret"})).json()["items"] == []
        found = (await http.get("/v1/entities", params={"q": "Mine", "sort": "relevance"})).json()["items"]
        assert [(i["name"], i["count"]) for i in found] == [("Mine Corp", 1)]
        assert (await http.get(f"/v1/entities/{entity['Secret Holdings']}")).status_code == 404
        mine = (await http.get(f"/v1/entities/{entity['Mine Corp']}")).json()
    assert mine["counts"]["last_7d"] == 1 and [s["id"] for s in mine["signals"]] == [ports["p1"]]
    assert {c["name"] for c in mine["co_entities"]} == {"Harbor Group"}
    assert mine["cooccurrence_basis"] == 1
    async with client(api, ports["everything"]) as http:
        full = (await http.get(f"/v1/entities/{entity['Mine Corp']}")).json()
    assert full["counts"]["last_7d"] == 2 and "Secret Holdings" in {c["name"] for c in full["co_entities"]}


async def test_articles_are_readable_only_behind_the_key_s_signals(api, ports):
    async with client(api, ports["key"]) as http:
        assert (await http.get(f"/v1/articles/{ports['articles']['p1']}")).status_code == 200
        hidden = await http.get(f"/v1/articles/{ports['articles']['m1']}")
    assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"


async def test_a_topic_merge_carries_key_restrictions_along(api, database_url):
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        docks = await seed_signal(conn, SeedSignal(title="Docks news", topics=["Docks"]))
        await seed_signal(conn, SeedSignal(title="Quay news", topics=["Quays"]))
        key = await keys.create_key(
            conn,
            name="docks",
            scopes=["signals:read"],
            topic_ids=await topic_ids_for_slugs(conn, ["docks"]),
        )
        admin = await keys.create_key(conn, name="admin", scopes=["admin"])
    finally:
        await conn.close()
    async with client(api, key.key) as http:
        assert {i["id"] for i in (await http.get("/v1/signals")).json()["items"]} == {str(docks)}
        async with client(api, admin.key) as ops:
            merged = await ops.post("/v1/admin/topics/docks/merge", json={"into": "quays"})
            assert merged.status_code == 200, merged.text
        # the key now follows the merged topic: it sees every signal of "quays", docks' included
        for _ in range(100):
            items = (await http.get("/v1/signals")).json()["items"]
            if len(items) == 2:
                break
            await asyncio.sleep(0.02)
        assert {i["title"] for i in items} == {"Docks news", "Quay news"}
