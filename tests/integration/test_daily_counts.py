"""The daily counts behind the analysts' aggregates (sql/migrations/0017_daily_rollups.sql):
kept equal to a recount of the current signals through every way a signal changes (stored,
re-analysed, moved in time, merged into another topic, deleted, restored), backfilled by the
migration, and read together with the partial days at a window's ends so that topic, entity
and timeline answers equal a count of the signals themselves. Real PostgreSQL, real sockets."""

from __future__ import annotations

import asyncio
import random
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import pytest

from service.app import create_app
from service.db.database import init_connection
from service.db.embedded import with_database
from service.db.migrate import migrate
from service.db.paths import MIGRATIONS_DIR
from service.keys import service as keys_service
from tests.support.keys import new_key
from tests.support.pages import all_pages
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi

# Days of their own: no other module's signals share this test database anyway, and no
# default ("last 7 days") window reaches them.
D0 = datetime(2023, 5, 1, tzinfo=UTC)
DAY = timedelta(days=1)

TOPIC_RECOUNT = """
SELECT t.id, (s.created_at AT TIME ZONE 'UTC')::date AS day, count(*)::int AS signals,
       coalesce(sum(s.sentiment::numeric), 0) AS sentiment_sum, count(s.sentiment)::int AS sentiment_n
FROM signals s CROSS JOIN LATERAL unnest(s.topic_ids) AS t (id)
WHERE s.is_current
GROUP BY 1, 2
"""
# every stored row (one that falls to zero is deleted: none may linger)
TOPIC_STORED = "SELECT topic_id, day, signals, sentiment_sum, sentiment_n FROM topic_days"
ENTITY_RECOUNT = """
SELECT e.id, (s.created_at AT TIME ZONE 'UTC')::date AS day, count(*)::int AS signals
FROM signals s CROSS JOIN LATERAL unnest(s.entity_ids) AS e (id)
WHERE s.is_current
GROUP BY 1, 2
"""
ENTITY_STORED = "SELECT entity_id, day, signals FROM entity_days"


async def counts(db: asyncpg.Connection, sql: str) -> set[tuple[Any, ...]]:
    return {tuple(row) for row in await db.fetch(sql)}


async def assert_counts_match(db: asyncpg.Connection) -> set[tuple[Any, ...]]:
    """The daily counts equal a recount of the current signals; returns the topics' rows."""
    topics = await counts(db, TOPIC_RECOUNT)
    assert await counts(db, TOPIC_STORED) == topics
    assert await counts(db, ENTITY_STORED) == await counts(db, ENTITY_RECOUNT)
    return topics


@pytest.fixture(scope="module")
def api(make_settings: Any) -> Iterator[str]:
    with running_asgi(create_app(make_settings(), worker=False)) as base:
        yield base


@pytest.fixture(scope="module")
async def keys(database_url: str) -> SimpleNamespace:
    return SimpleNamespace(
        reader=await new_key(database_url, name="reader", scopes=["signals:read"]),
        admin=await new_key(database_url, name="admin", scopes=["admin"]),
    )


@pytest.fixture
async def http(api: str, keys: SimpleNamespace) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=api, headers={"Authorization": f"Bearer {keys.reader}"}, timeout=30
    ) as client:
        yield client


async def topic_id(db: asyncpg.Connection, slug: str) -> int:
    value: int = await db.fetchval("SELECT id FROM topics WHERE slug = $1", slug)
    return value


async def test_daily_counts_follow_every_change_to_signals(db, api, keys):
    seed = SeedSignal
    mixed = [("Harbour Board", "organization"), ("Mara Quell", "person")]
    await seed_signal(db, seed("one", topics=["Kappa Ports"], entities=mixed, created_at=D0, sentiment=0.5))
    await seed_signal(
        db,
        seed(
            "two", topics=["Kappa Ports", "Kappa Rail"], created_at=D0 + timedelta(hours=23), sentiment=-0.25
        ),
    )
    await seed_signal(
        db, seed("three", topics=["Kappa Rail"], entities=mixed[:1], created_at=D0 + DAY, sentiment=None)
    )
    versioned = await seed_signal(
        db,
        seed(
            "old take",
            topics=["Kappa Ports"],
            entities=mixed[1:],
            created_at=D0 + 2 * DAY,
            sentiment=1.0,
            url="https://courier.example/kappa",
            text="first version " * 40,
        ),
    )
    ports, rail = await topic_id(db, "kappa-ports"), await topic_id(db, "kappa-rail")
    topics = await assert_counts_match(db)
    day0, day2 = D0.date(), (D0 + 2 * DAY).date()
    assert (ports, day0, 2, Decimal("0.25"), 2) in topics  # one and two: mean sentiment 0.125
    assert (ports, day2, 1, Decimal("1"), 1) in topics
    assert (rail, (D0 + DAY).date(), 1, Decimal("0"), 0) in topics  # no sentiment: not averaged

    # Re-analysed: the old version stops counting, the new one counts on its own day.
    current = await seed_signal(
        db,
        seed(
            "new take",
            topics=["Kappa Rail"],
            entities=mixed,
            created_at=D0 + 3 * DAY,
            sentiment=-1.0,
            url="https://courier.example/kappa",
            text="second version " * 40,
        ),
    )
    topics = await assert_counts_match(db)
    assert not any(row[0] == ports and row[1] == day2 for row in topics)

    # Moved in time (the seed does this too, after linking): the count moves with it.
    await db.execute("UPDATE signals SET created_at = created_at + interval '2 hours' WHERE id = $1", current)
    await db.execute("UPDATE signals SET created_at = $1 WHERE title = 'two'", D0 + DAY + timedelta(hours=1))
    await assert_counts_match(db)

    # Merged into another topic: every day's count moves, and the merged topic's rows go.
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {keys.admin}"}) as admin:
        merged = await admin.post("/v1/admin/topics/kappa-rail/merge", json={"into": "kappa-ports"})
        assert merged.status_code == 200, merged.text
        topics = await assert_counts_match(db)
        assert not await db.fetchval("SELECT count(*) FROM topic_days WHERE topic_id = $1", rail)
        assert (ports, day0, 2, Decimal("0.25"), 2) not in topics  # "two" moved to the next day

        # Deleted: the current version's counts go and the older version's come back.
        deleted = await admin.delete(f"/v1/signals/{current}")
        assert deleted.status_code == 204, deleted.text
        topics = await assert_counts_match(db)
        assert (ports, day2, 1, Decimal("1"), 1) in topics
        # a version that is not current never counted: deleting it changes nothing
        newest = await seed_signal(
            db,
            seed(
                "newer take",
                topics=["Kappa Ports"],
                created_at=D0 + 4 * DAY,
                url="https://courier.example/kappa",
                text="third version " * 40,
            ),
        )
        before = await assert_counts_match(db)
        assert (ports, day2, 1, Decimal("1"), 1) not in before
        assert (await admin.delete(f"/v1/signals/{versioned}")).status_code == 204
        assert await assert_counts_match(db) == before
        assert await db.fetchval("SELECT is_current FROM signals WHERE id = $1", newest)


async def test_an_open_transaction_does_not_hold_up_other_writers_of_the_same_day(db, database_url):
    """The counts are written at commit: a writer that stored a signal and has not committed
    yet holds no day's row, so another signal on the same topic and day is stored meanwhile."""
    at = D0 + 30 * DAY
    # the topic exists already (a new topic's name is held by the transaction creating it)
    await seed_signal(db, SeedSignal("earlier", topics=["Nu Ports"], created_at=at - DAY))
    slow = await asyncpg.connect(database_url)
    await init_connection(slow)
    transaction = slow.transaction()
    await transaction.start()
    try:
        await seed_signal(slow, SeedSignal("slow", topics=["Nu Ports"], created_at=at, sentiment=0.5))
        await asyncio.wait_for(
            seed_signal(db, SeedSignal("quick", topics=["Nu Ports"], created_at=at, sentiment=0.25)), 10
        )
        nu = await topic_id(db, "nu-ports")
        day = at.date()
        stored = "SELECT signals FROM topic_days WHERE topic_id = $1 AND day = $2"
        assert await db.fetchval(stored, nu, day) == 1  # the slow one is not counted yet
    finally:
        await transaction.commit()
        await slow.close()
    assert (nu, day, 2, Decimal("0.75"), 2) in await assert_counts_match(db)


def recount_topics(rows: list[asyncpg.Record], since: datetime, until: datetime) -> dict[str, int]:
    found: dict[str, int] = {}
    for row in rows:
        if since <= row["created_at"] < until:
            for slug in row["slugs"]:
                found[slug] = found.get(slug, 0) + 1
    return found


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
async def spread(database_url: str) -> None:
    """120 signals at random minutes over 40 days from D0 + 60 days, on five topics and six
    entities, some re-analysed: windows can end anywhere inside a day."""
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    rng = random.Random(7)
    start = D0 + 60 * DAY
    topics = [f"Lambda {name}" for name in ("Grid", "Mines", "Ports", "Rail", "Water")]
    entities = [(f"Lambda Org {i}", "organization") for i in range(6)]
    try:
        for i in range(120):
            url = f"https://lambda.example/{i % 100}"  # twenty articles analysed twice
            await seed_signal(
                conn,
                SeedSignal(
                    title=f"lambda {i}",
                    topics=rng.sample(topics, rng.randint(1, 3)),
                    entities=rng.sample(entities, rng.randint(0, 3)),
                    created_at=start + timedelta(minutes=rng.randrange(40 * 24 * 60)),
                    sentiment=rng.choice([None, -0.5, 0.0, 0.25, 0.75]),
                    url=url,
                    text=f"lambda article {i} " * 30,
                ),
            )
    finally:
        await conn.close()


WINDOWS = [  # (since, until) after D0 + 60 days: mid-day ends, midnight ends, within one day
    (timedelta(days=9, hours=5, minutes=17), timedelta(days=23, hours=19, minutes=3)),
    (timedelta(days=10), timedelta(days=20)),
    (timedelta(days=14, hours=2), timedelta(days=14, hours=22)),
    (timedelta(days=3, hours=12), timedelta(days=39, hours=1)),
]


@pytest.mark.parametrize(("since", "until"), WINDOWS)
async def test_topic_and_entity_counts_equal_a_recount_of_the_signals(http, db, spread, since, until):
    start = D0 + 60 * DAY
    since_at, until_at = start + since, start + until
    previous_since = since_at - (until_at - since_at)
    rows = await db.fetch(
        """SELECT s.created_at,
                  array(SELECT t.slug FROM topics t WHERE t.id = ANY(s.topic_ids)) AS slugs,
                  array(SELECT e.name FROM entities e WHERE e.id = ANY(s.entity_ids)) AS names
           FROM signals s WHERE s.is_current"""
    )
    now_counts = recount_topics(rows, since_at, until_at)
    before_counts = recount_topics(rows, previous_since, since_at)
    assert now_counts  # the window holds signals
    for sort in ("count", "trending"):
        items = await all_pages(
            http, f"/v1/topics?since={iso(since_at)}&until={iso(until_at)}&sort={sort}&limit=2"
        )
        assert {i["slug"]: (i["count"], i["previous_count"]) for i in items} == {
            slug: (n, before_counts.get(slug, 0)) for slug, n in now_counts.items()
        }
    names: dict[str, int] = {}
    for row in rows:
        if since_at <= row["created_at"] < until_at:
            for name in row["names"]:
                names[name] = names.get(name, 0) + 1
    items = await all_pages(http, f"/v1/entities?since={iso(since_at)}&until={iso(until_at)}&limit=4")
    assert {i["name"]: i["count"] for i in items} == names


ON_TOPICS = [  # (topics asked for, the key's topics): entity counts over signals on one of each
    (["lambda-ports", "lambda-rail"], None),
    (None, ["lambda-ports", "lambda-rail"]),
    (["lambda-rail"], ["lambda-ports", "lambda-rail"]),
    # (asking for a topic outside the key's is answered as an unknown topic: test_restricted_existence)
]


@pytest.mark.parametrize(("asked", "allowed"), ON_TOPICS)
@pytest.mark.parametrize(("since", "until"), WINDOWS)
async def test_entity_counts_on_topics_equal_a_recount_of_their_signals(
    api, db, spread, since, until, asked, allowed
):
    """?topic= and a topic-restricted key count only the signals carrying one of the topics
    (read from the signals, not the daily counts), over the same windows; both together count
    the signals on one of each, as GET /v1/signals combines them."""
    start = D0 + 60 * DAY
    since_at, until_at = start + since, start + until
    asked_ids = await keys_service.topic_ids_for_slugs(db, asked) if asked else None
    allowed_ids = await keys_service.topic_ids_for_slugs(db, allowed) if allowed else None
    key = (
        await keys_service.create_key(db, name="lambda", scopes=["signals:read"], topic_ids=allowed_ids)
    ).key
    rows = await db.fetch(
        """SELECT array(SELECT e.name FROM entities e WHERE e.id = ANY(s.entity_ids)) AS names
           FROM signals s
           WHERE s.is_current AND s.created_at >= $1 AND s.created_at < $2
             AND ($3::bigint[] IS NULL OR s.topic_ids && $3)
             AND ($4::bigint[] IS NULL OR s.topic_ids && $4)""",
        since_at,
        until_at,
        asked_ids,
        allowed_ids,
    )
    names: dict[str, int] = {}
    for row in rows:
        for name in row["names"]:
            names[name] = names.get(name, 0) + 1
    assert names
    topics = "".join(f"&topic={slug}" for slug in asked or ())
    window = f"since={iso(since_at)}&until={iso(until_at)}"
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {key}"}) as http:
        items = await all_pages(http, f"/v1/entities?{window}&limit=4{topics}")
        assert {i["name"]: i["count"] for i in items} == names
        # by name: the entities named on the topics at any time, each with its window count
        named = await all_pages(http, f"/v1/entities?{window}&sort=name&limit=4{topics}")
    ever = await db.fetch(
        """SELECT DISTINCT e.name FROM signals s JOIN entities e ON e.id = ANY(s.entity_ids)
           WHERE s.is_current
             AND ($1::bigint[] IS NULL OR s.topic_ids && $1)
             AND ($2::bigint[] IS NULL OR s.topic_ids && $2)""",
        asked_ids,
        allowed_ids,
    )
    assert [i["name"] for i in named] == sorted(r["name"] for r in ever)
    assert {i["name"]: i["count"] for i in named if i["count"]} == names


async def test_a_topic_filter_is_checked_and_binds_the_cursor(http, spread):
    unknown = await http.get("/v1/entities", params={"topic": ["lambda-ports", "no-such-topic"]})
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["reason"] == "unknown_topic" and "no-such-topic" in unknown.json()["detail"]
    window = {"since": iso(D0 + 60 * DAY), "until": iso(D0 + 100 * DAY), "limit": 1}
    first = (await http.get("/v1/entities", params={**window, "topic": "lambda-ports"})).json()
    cursor = first["next"].split("cursor=")[1].split("&")[0]
    moved = await http.get("/v1/entities", params={**window, "topic": "lambda-rail", "cursor": cursor})
    assert moved.status_code == 400 and moved.json()["reason"] == "bad_cursor", moved.text
    followed = await http.get(first["next"])
    assert followed.status_code == 200 and followed.json()["items"][0]["id"] != first["items"][0]["id"]


@pytest.mark.parametrize("interval", ["day", "week"])
async def test_timelines_equal_a_recount_of_the_signals(http, db, spread, interval):
    start = D0 + 60 * DAY
    slug = "lambda-rail"
    body = (
        await http.get(
            f"/v1/topics/{slug}/timeline?interval={interval}&since={(start + 2 * DAY).date()}"
            f"&until={(start + 38 * DAY).date()}"
        )
    ).json()
    rows = await db.fetch(
        """SELECT s.created_at, s.sentiment FROM signals s JOIN topics t ON s.topic_ids @> ARRAY[t.id]
           WHERE s.is_current AND t.slug = $1""",
        slug,
    )
    assert body["buckets"]
    seen = 0
    for bucket in body["buckets"]:
        begin = datetime.fromisoformat(bucket["start"])
        end = begin + (DAY if interval == "day" else 7 * DAY)
        inside = [r["sentiment"] for r in rows if begin <= r["created_at"] < end]
        rated = [s for s in inside if s is not None]
        assert bucket["count"] == len(inside), bucket
        # rounded to 4 places by PostgreSQL (half away from zero), hence the tolerance
        expected = pytest.approx(sum(rated) / len(rated), abs=0.51e-4) if rated else None
        assert bucket["mean_sentiment"] == expected, bucket
        seen += len(inside)
    assert seen > 10


async def test_the_migration_counts_the_signals_already_stored(pg_maintenance_dsn: str, tmp_path: Path):
    """A database with signals migrated to 0016, then to 0017: the backfill equals a recount."""
    name = f"roll_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(pg_maintenance_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    conn = await asyncpg.connect(with_database(pg_maintenance_dsn, name))
    try:
        folder = tmp_path / "migrations"
        shutil.copytree(MIGRATIONS_DIR, folder)
        later = sorted(path.name for path in folder.glob("*.sql") if path.name >= "0017")
        for file in later:
            (folder / file).rename(tmp_path / file)
        await migrate(conn, folder)
        await init_connection(conn)
        for i in range(30):
            await seed_signal(
                conn,
                SeedSignal(
                    title=f"backfill {i}",
                    topics=[f"Mu {i % 4}", "Mu All"],
                    entities=[(f"Mu Org {i % 3}", "organization")],
                    created_at=D0 + timedelta(hours=7 * i),
                    sentiment=None if i % 5 == 0 else (i % 7) / 7,
                    url=f"https://mu.example/{i % 20}",  # ten articles analysed twice
                    text=f"mu article {i} " * 30,
                ),
                before_0019=True,
            )
        assert not await conn.fetchval("SELECT to_regclass('topic_days') IS NOT NULL")
        for file in later:
            (tmp_path / file).rename(folder / file)
        await migrate(conn, folder)
        topics = await assert_counts_match(conn)
        assert sum(row[2] for row in topics) == 2 * 20  # twenty current signals, two topics each
        # and from here on the triggers keep them
        await seed_signal(conn, SeedSignal(title="after", topics=["Mu All"], created_at=D0, sentiment=0.5))
        await assert_counts_match(conn)
    finally:
        await conn.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
