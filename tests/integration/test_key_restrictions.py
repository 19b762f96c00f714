"""Partner keys: a topic-restricted key sees only its topics; a disabled partner's keys stop."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from service.app import create_app
from service.db.database import init_connection
from service.keys import service as keys
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
        topic_ids = await keys.topic_ids_for_slugs(conn, ["rail"])
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
        # asking for another topic explicitly yields nothing, not an error that leaks existence
        other = (await http.get("/v1/signals", params={"topic": "energy"})).json()["items"]
        assert other == []
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
        await keys.topic_ids_for_slugs(db, ["no-such-topic"])
