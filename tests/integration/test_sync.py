"""GET /v1/sync/signals over real sockets against a real PostgreSQL: exactly once, in log
order, under concurrent writers and a transaction that commits late; tombstones; topic
restrictions; DELETE /v1/signals/{id}."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from service.app import create_app
from service.db.database import init_connection
from service.keys import service as keys
from service.signals.repository import make_signal_current
from service.topics.slugs import topic_ids_for_slugs
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def api(make_settings: Any) -> Iterator[str]:
    with running_asgi(create_app(make_settings(rate_limit=False), worker=False)) as base:
        yield base


@pytest.fixture(scope="module")
async def world(database_url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        # Topics must exist before a key can be restricted to them.
        await seed_signal(conn, SeedSignal(title="Seed rail", topics=["Rail"]))
        await seed_signal(conn, SeedSignal(title="Seed energy", topics=["Energy"]))
        reader = await keys.create_key(conn, name="reader", scopes=["signals:read"])
        admin = await keys.create_key(conn, name="admin", scopes=["admin"])
        rail_ids = await topic_ids_for_slugs(conn, ["rail"])
        rail = await keys.create_key(conn, name="rail", scopes=["signals:read"], topic_ids=rail_ids)
    finally:
        await conn.close()
    return {"reader": reader.key, "admin": admin.key, "rail": rail.key}


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    await init_connection(connection)
    try:
        yield connection
    finally:
        await connection.close()


def client(api: str, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=30)


async def pull_all(
    http: httpx.AsyncClient, cursor: str | None, limit: int = 100
) -> tuple[list[dict[str, Any]], str]:
    """Every change ready now after ``cursor``, following has_more; the cursor to store."""
    items: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        response = await http.get("/v1/sync/signals", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["cursor"]
        assert page["next"].startswith("/v1/sync/signals?") and f"cursor={cursor}" in page["next"].replace(
            "%3D", "="
        )
        if not page["has_more"]:
            return items, cursor


async def head_cursor(http: httpx.AsyncClient) -> str:
    _, cursor = await pull_all(http, None, limit=1000)
    return cursor


async def test_first_sync_returns_every_signal_with_its_card(api, world, conn):
    async with client(api, world["reader"]) as http:
        start = await head_cursor(http)
        ids = [
            str(await seed_signal(conn, SeedSignal(title=f"Card {i}", topics=["Ports"]))) for i in range(3)
        ]
        items, cursor = await pull_all(http, start, limit=2)
        assert [item["signal_id"] for item in items] == ids
        for item in items:
            assert item["kind"] == "created" and item["replaces"] is None and item["changed_at"]
            assert (
                item["signal"]["id"] == item["signal_id"] and item["signal"]["topics"][0]["slug"] == "ports"
            )
        # an idle poll: no items, the cursor stays usable
        again, cursor_after = await pull_all(http, cursor)
        assert again == [] and cursor_after
        everything, _ = await pull_all(http, None, limit=1000)
        assert set(ids) <= {item["signal_id"] for item in everything}


async def test_a_transaction_that_commits_late_is_delivered_once_and_not_skipped(
    api, world, conn, database_url
):
    async with client(api, world["reader"]) as http:
        cursor = await head_cursor(http)
        before = [str(await seed_signal(conn, SeedSignal(title=f"Before {i}"))) for i in range(3)]

        slow = await asyncpg.connect(database_url)
        await init_connection(slow)
        transaction = slow.transaction()
        await transaction.start()
        try:
            # The slow writer takes its transaction id now and commits only at the end.
            late = str(await seed_signal(slow, SeedSignal(title="Committed late")))
            after = [str(await seed_signal(conn, SeedSignal(title=f"After {i}"))) for i in range(3)]
            seen, cursor = await pull_all(http, cursor)
            # Everything after the open transaction waits for it; nothing is handed out past it.
            assert [item["signal_id"] for item in seen] == before
            seen_again, cursor = await pull_all(http, cursor)
            assert seen_again == []
            await asyncio.sleep(0.3)
        finally:
            await transaction.commit()
            await slow.close()
        rest, cursor = await pull_all(http, cursor)
        assert [item["signal_id"] for item in rest] == [late, *after]
        assert (await pull_all(http, cursor))[0] == []


async def test_concurrent_writers_and_a_polling_client_see_everything_exactly_once(api, world, database_url):
    created: list[str] = []
    rng = random.Random(4)

    async def writer(n: int) -> None:
        connection = await asyncpg.connect(database_url)
        await init_connection(connection)
        try:
            for i in range(8):
                async with connection.transaction():
                    signal_id = await seed_signal(connection, SeedSignal(title=f"Writer {n} item {i}"))
                    # Some transactions stay open a while after taking their id.
                    await asyncio.sleep(rng.choice([0, 0, 0.01, 0.05, 0.2]))
                created.append(str(signal_id))
        finally:
            await connection.close()

    async with client(api, world["reader"]) as http:
        cursor = await head_cursor(http)
        delivered: list[str] = []
        done = asyncio.Event()

        async def poller() -> None:
            nonlocal cursor
            while not done.is_set():
                items, cursor = await pull_all(http, cursor, limit=3)
                delivered.extend(item["signal_id"] for item in items)
                await asyncio.sleep(0.01)

        polling = asyncio.create_task(poller())
        await asyncio.gather(*(writer(n) for n in range(6)))
        done.set()
        await polling
        items, cursor = await pull_all(http, cursor, limit=3)
        delivered.extend(item["signal_id"] for item in items)
    assert len(delivered) == len(set(delivered)), "a change was delivered twice"
    assert sorted(delivered) == sorted(created), "a change was skipped"


async def test_deletion_leaves_a_tombstone_and_restores_the_older_version(api, world, conn):
    async with client(api, world["admin"]) as admin, client(api, world["reader"]) as http:
        cursor = await head_cursor(http)
        url = "https://the-harbour-courier.example/versioned"
        first = str(
            await seed_signal(conn, SeedSignal(title="Version one", url=url, text="First text. " * 40))
        )
        second = str(
            await seed_signal(conn, SeedSignal(title="Version two", url=url, text="Second text. " * 40))
        )
        items, cursor = await pull_all(http, cursor)
        assert [(i["kind"], i["signal_id"], i["replaces"]) for i in items] == [
            ("created", first, None),
            ("updated", second, first),
        ]
        assert items[1]["signal"]["current"] is True

        response = await admin.delete(f"/v1/signals/{second}")
        assert response.status_code == 204, response.text
        assert (await admin.get(f"/v1/signals/{second}")).status_code == 404
        assert (await admin.delete(f"/v1/signals/{second}")).status_code == 404

        items, cursor = await pull_all(http, cursor)
        assert [(i["kind"], i["signal_id"]) for i in items] == [("deleted", second), ("updated", first)]
        assert items[0]["signal"] is None
        assert items[1]["signal"]["current"] is True
        restored = (await http.get(f"/v1/signals/{first}")).json()
        assert restored["current"] is True

        # deleting needs the admin scope
        forbidden = await http.delete(f"/v1/signals/{first}")
        assert forbidden.status_code == 403 and forbidden.headers["content-type"].startswith(
            "application/problem+json"
        )


async def test_a_job_whose_signal_was_deleted_stays_done(api, world, conn):
    signal_id = await seed_signal(conn, SeedSignal(title="Made by a job"))
    job_id = await conn.fetchval(
        "INSERT INTO jobs (status, input_kind, signal_id) VALUES ('done', 'text', $1) RETURNING id", signal_id
    )
    async with client(api, world["admin"]) as admin:
        assert (await admin.delete(f"/v1/signals/{signal_id}")).status_code == 204
        job = (await admin.get(f"/v1/jobs/{job_id}")).json()
    assert job["status"] == "done" and job["signal_id"] is None


async def test_a_topic_restricted_key_syncs_only_its_topics_and_their_tombstones(api, world, conn):
    async with client(api, world["rail"]) as rail, client(api, world["admin"]) as admin:
        cursor = await head_cursor(rail)
        on_rail = [
            str(await seed_signal(conn, SeedSignal(title=f"Rail {i}", topics=["Rail"]))) for i in range(2)
        ]
        # many changes outside the key's topics between its own: the scan passes them by
        others = [
            str(await seed_signal(conn, SeedSignal(title=f"Energy {i}", topics=["Energy"])))
            for i in range(25)
        ]
        last_rail = str(await seed_signal(conn, SeedSignal(title="Rail last", topics=["Rail", "Energy"])))
        assert (await admin.delete(f"/v1/signals/{others[0]}")).status_code == 204
        assert (await admin.delete(f"/v1/signals/{on_rail[0]}")).status_code == 204
        items, _ = await pull_all(rail, cursor, limit=1)
    assert [(i["kind"], i["signal_id"]) for i in items] == [
        ("created", on_rail[0]),
        ("created", on_rail[1]),
        ("created", last_rail),
        ("deleted", on_rail[0]),
    ]


async def test_bad_cursors_and_limits_are_problems(api, world):
    async with client(api, world["reader"]) as http:
        for params in ({"cursor": "garbage"}, {"limit": 0}, {"limit": 1001}, {"cursor": "eyJrIjoieCJ9"}):
            response = await http.get("/v1/sync/signals", params=params)
            assert response.status_code == 400, params
            assert response.headers["content-type"].startswith("application/problem+json")
        # another endpoint's cursor is refused
        page = (await http.get("/v1/signals", params={"limit": 1})).json()
        if page["next"]:
            token = page["next"].split("cursor=")[1]
            assert (await http.get("/v1/sync/signals", params={"cursor": token})).status_code == 400
    async with httpx.AsyncClient(base_url=api) as anonymous:
        assert (await anonymous.get("/v1/sync/signals")).status_code == 401


async def test_the_page_query_reads_the_log_by_its_primary_key(conn):
    # The (xid, id) row comparison must be an index range, not a scan of the whole log.
    await conn.execute("SET enable_seqscan = off; SET enable_bitmapscan = off")
    rows = await conn.fetch(
        """EXPLAIN SELECT id FROM signal_changes
           WHERE (xid, id) > ('1'::xid8, 0) AND xid < pg_snapshot_xmin(pg_current_snapshot())
           ORDER BY xid, id LIMIT 100"""
    )
    plan = "\n".join(row[0] for row in rows)
    assert "Index" in plan and "signal_changes_pkey" in plan and "Sort" not in plan, plan


async def test_a_version_replaced_outside_a_key_s_topics_reaches_it_as_a_tombstone(api, world, conn):
    """A restricted key holds version one (its topics); version two is outside them: the key's
    mirror must drop version one, not keep it as current forever. When the page changes back,
    version one returns to both mirrors, naming the version it replaces."""
    url = "https://the-harbour-courier.example/changes-topic"
    async with client(api, world["rail"]) as rail, client(api, world["reader"]) as reader:
        rail_cursor, reader_cursor = await head_cursor(rail), await head_cursor(reader)
        one = str(await seed_signal(conn, SeedSignal(title="Line reopens", url=url, topics=["Rail"])))
        two = str(
            await seed_signal(
                conn,
                SeedSignal(title="Line reopens, grid pays", url=url, text="Other. " * 60, topics=["Energy"]),
            )
        )
        items, rail_cursor = await pull_all(rail, rail_cursor)
        assert [(i["kind"], i["signal_id"], i["replaces"]) for i in items] == [
            ("created", one, None),
            ("deleted", one, None),
        ]
        assert items[1]["signal"] is None
        assert (await rail.get(f"/v1/signals/{two}")).status_code == 404  # still hidden

        await make_signal_current(conn, UUID(one))  # the page changed back
        items, rail_cursor = await pull_all(rail, rail_cursor)
        assert [(i["kind"], i["signal_id"], i["replaces"]) for i in items] == [("updated", one, two)]
        assert items[0]["signal"]["current"] is True
        everything, _ = await pull_all(reader, reader_cursor)
    assert [(i["kind"], i["signal_id"], i["replaces"]) for i in everything] == [
        ("created", one, None),
        ("updated", two, one),
        ("updated", one, two),  # an unrestricted mirror drops version two
    ]
