"""The daily counts behind the analysts' aggregates (sql/migrations/0017_daily_rollups.sql):
kept equal to a recount of the current signals through every way a signal changes (stored,
re-analysed, moved in time, merged into another topic, deleted, restored), backfilled by the
migration. Reading them (topic, entity and timeline answers equal to a recount) is
tests/integration/test_daily_count_reads.py's. Real PostgreSQL, real sockets."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from service.db.database import init_connection
from service.db.embedded import with_database
from service.db.migrate import migrate
from service.db.paths import MIGRATIONS_DIR
from tests.support import daily_counts, reads_api
from tests.support.daily_counts import D0, DAY
from tests.support.seeding import SeedSignal, seed_signal

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


# The API without its worker, the module's keys (fixtures of
# tests/support/reads_api.py and daily_counts.py), this module's own.
api, keys = reads_api.api, daily_counts.keys


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
