"""GET /v1/stories for a topic-restricted key: every story with a signal the key may see,
each summarised from those signals alone, in (last_seen, id) order, paged without repeats or
gaps, whatever the page size. Checked against a recount of the stored signals.

The page is found by walking the key's signals newest first (sql/queries/stories.sql); the
fixture makes that walk hard: a story of 30 signals (a first walk meets nothing else, so it
must walk further), stories whose newest signals share one instant (ties at the point where
a walk stops, and at a cursor's position), signals off the key's topics that are newer than
the visible ones (they must not move a story), older versions of an article (not current),
and a story with no visible signal at all."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from service.app import create_app
from service.db.database import init_connection
from service.keys import service as keys
from service.signals import repository as signals_repository
from service.stories import repository as stories
from service.topics.slugs import topic_ids_for_slugs
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi

T0 = datetime(2022, 3, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
SHARED = T0 + 500 * MINUTE  # the instant several stories' newest signals share
CROWD = T0 + 1100 * MINUTE  # the instant of 40 one-signal stories, the newest of all


@pytest.fixture(scope="module")
def api(make_settings: Any) -> Iterator[str]:
    with running_asgi(create_app(make_settings(), worker=False)) as base:
        yield base


async def _story(conn: asyncpg.Connection, members: list[UUID]) -> UUID:
    """A story of ``members``, as relate steps leave it."""
    story_id = await stories.create_story(conn, members[0])
    for member in members:
        await stories.set_signal_story(conn, member, story_id)
    await signals_repository.refresh_story(conn, story_id)
    return story_id


@pytest.fixture(scope="module")
async def world(database_url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    n = 0

    async def signal(topics: list[str], at: datetime, url: str | None = None) -> UUID:
        nonlocal n
        n += 1
        return await seed_signal(
            conn, SeedSignal(f"Walk {n}", topics=topics, created_at=at, url=url, text=f"walk text {n} " * 30)
        )

    try:
        # 40 stories at one instant: a first walk stops among them, and the stories it did
        # not reach may come first by id (the order is last_seen, then story id)
        for _ in range(40):
            await _story(conn, [await signal(["Walk Quays"], CROWD)])
        # next: a story of 30 visible signals, one every minute
        big = [await signal(["Walk Quays"], T0 + (1000 - i) * MINUTE) for i in range(30)]
        await _story(conn, big)
        # 12 stories of 1-3 visible signals, their newest at the same instant for 6 of them
        for k in range(12):
            newest = SHARED if k % 2 == 0 else SHARED - (k + 1) * 7 * MINUTE
            members = [await signal(["Walk Quays"], newest - j * 13 * MINUTE) for j in range(1 + k % 3)]
            if k % 4 == 1:  # a newer signal off the key's topics: not visible, must not count
                members.append(await signal(["Walk Sheds"], T0 + 2000 * MINUTE))
            if k % 4 == 3:  # a signal on both topics: visible
                members.append(await signal(["Walk Sheds", "Walk Quays"], newest - 3 * MINUTE))
            await _story(conn, members)
        # an article analysed twice: only its current version counts
        url = "https://walk.example/versions"
        old = await signal(["Walk Quays"], T0 + 1500 * MINUTE, url=url)
        new = await signal(["Walk Quays"], T0 + 200 * MINUTE, url=url)
        await _story(conn, [old, new])
        # a story the key sees nothing of
        hidden = await _story(conn, [await signal(["Walk Sheds"], T0 + 1800 * MINUTE)])
        partner = await keys.ensure_partner(conn, "Walkers")
        key = await keys.create_key(
            conn,
            name="walk-quays",
            scopes=["signals:read"],
            partner_id=partner["id"],
            topic_ids=await topic_ids_for_slugs(conn, ["walk-quays"]),
        )
        return {"key": key.key, "hidden": hidden}
    finally:
        await conn.close()


RECOUNT = """
SELECT s.story_id AS id, max(s.created_at) AS last_seen, min(s.created_at) AS first_seen,
       count(*) AS signal_count,
       (array_agg(s.id ORDER BY s.created_at DESC, s.id DESC))[1] AS lead_signal_id,
       (array_agg(s.title ORDER BY s.created_at DESC, s.id DESC))[1] AS title
FROM signals s JOIN topics t ON t.id = ANY (s.topic_ids)
WHERE s.is_current AND s.story_id IS NOT NULL AND t.slug = 'walk-quays'
GROUP BY s.story_id
"""


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def walk_pages(http: httpx.AsyncClient, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    response = await http.get("/v1/stories", params={"limit": limit})
    while True:
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        items += page["items"]
        if page["next"] is None:
            return items
        assert len(page["items"]) == limit  # a short page is the last one
        response = await http.get(page["next"])


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 7, 100])
async def test_pages_hold_every_visible_story_once_in_order_as_the_key_sees_it(api, world, db, limit):
    expected = sorted(await db.fetch(RECOUNT), key=lambda r: (r["last_seen"], r["id"]), reverse=True)
    assert len(expected) == 54
    assert sum(r["last_seen"] == SHARED for r in expected) == 6  # the ties are there
    assert sum(r["last_seen"] == CROWD for r in expected) == 40
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {world['key']}"}) as http:
        items = await walk_pages(http, limit)
    assert [item["id"] for item in items] == [str(r["id"]) for r in expected]
    for item, row in zip(items, expected, strict=True):
        assert item["last_seen"] == iso(row["last_seen"])
        assert item["first_seen"] == iso(row["first_seen"])
        assert item["signal_count"] == row["signal_count"]
        assert item["lead_signal_id"] == str(row["lead_signal_id"])
        assert item["title"] == row["title"]
    assert str(world["hidden"]) not in {item["id"] for item in items}


async def test_a_story_that_gains_a_signal_meanwhile_is_not_listed_twice(api, world, db, database_url):
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {world['key']}"}) as http:
        first = (await http.get("/v1/stories", params={"limit": 3})).json()
        seen = [item["id"] for item in first["items"]]
        # a story of the first page gets a newer signal (and moves to the front)
        conn = await asyncpg.connect(database_url)
        await init_connection(conn)
        try:
            fresh = await seed_signal(
                conn, SeedSignal("Walk fresh", topics=["Walk Quays"], created_at=T0 + 3000 * MINUTE)
            )
            story_id = UUID(seen[-1])
            await stories.set_signal_story(conn, fresh, story_id)
            await signals_repository.refresh_story(conn, story_id)
        finally:
            await conn.close()
        rest: list[dict[str, Any]] = []
        response = await http.get(first["next"])
        while True:
            page = response.json()
            rest += page["items"]
            if page["next"] is None:
                break
            response = await http.get(page["next"])
    ids = seen + [item["id"] for item in rest]
    assert len(ids) == len(set(ids)) == 54
    top = (await db.fetch(RECOUNT + " ORDER BY last_seen DESC LIMIT 1"))[0]
    assert str(top["id"]) == seen[-1]
