"""Transactions PostgreSQL rolls back to break a deadlock are run again
(service/db/transactions.py), and a request that loses one answers as if nothing happened.

The deadlocks are real: a second connection takes locks in the opposite order. It sets a
long ``deadlock_timeout``, so the backend of the transaction under test (default 1 s) is the
one that detects the cycle and is rolled back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from service.app import create_app
from service.db.transactions import run_in_transaction
from service.errors import Contended
from service.http import _as_signals_error
from tests.support.keys import new_key
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi

PROBE = "SELECT n FROM deadlock_probe ORDER BY id"


@pytest.fixture
async def other(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """The colliding connection: it waits 30 s before looking for deadlocks, so the other
    side of the cycle is always the one PostgreSQL rolls back."""
    conn = await asyncpg.connect(database_url)
    await conn.execute("SET deadlock_timeout = '30s'")
    yield conn
    await conn.close()


async def blocked_by(db: asyncpg.Connection, blocker: int, timeout: float = 10) -> int:
    """The pid of a backend waiting for a lock that ``blocker`` holds."""
    sql = "SELECT pid FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid)) LIMIT 1"
    async with asyncio.timeout(timeout):
        while (pid := await db.fetchval(sql, blocker)) is None:
            await asyncio.sleep(0.02)
    return int(pid)


async def close_the_cycle(
    db: asyncpg.Connection, other: asyncpg.Connection, statement: str, *args: Any
) -> None:
    """Once a backend waits for ``other``, ``other`` runs ``statement``, which waits for that
    backend: a deadlock. When PostgreSQL has rolled the backend back, ``other`` gets its lock
    and ends its transaction."""
    await blocked_by(db, other.get_server_pid())
    await other.execute(statement, *args)
    await other.execute("ROLLBACK")


@pytest.fixture
async def probe(db: asyncpg.Connection) -> None:
    await db.execute(
        "DROP TABLE IF EXISTS deadlock_probe;"
        "CREATE TABLE deadlock_probe (id int PRIMARY KEY, n int NOT NULL);"
        "INSERT INTO deadlock_probe VALUES (1, 0), (2, 0)"
    )


def colliding_work(
    db: asyncpg.Connection, other: asyncpg.Connection, collide_times: int
) -> tuple[Callable[[Any], Awaitable[int]], list[asyncio.Task[None]]]:
    """Work that adds one to both probe rows (row 1, then row 2), while ``other`` holds row 2
    and, on the first ``collide_times`` runs, asks for row 1: a deadlock each time."""
    runs = 0
    collisions: list[asyncio.Task[None]] = []

    async def work(conn: Any) -> int:
        nonlocal runs
        runs += 1
        if runs <= collide_times:
            if collisions:
                await collisions[-1]  # the previous collision has ended its transaction
            await other.execute("BEGIN; UPDATE deadlock_probe SET n = n + 100 WHERE id = 2")
        await conn.execute("UPDATE deadlock_probe SET n = n + 1 WHERE id = 1")
        if runs <= collide_times:
            update = "UPDATE deadlock_probe SET n = n + 100 WHERE id = 1"
            collisions.append(asyncio.create_task(close_the_cycle(db, other, update)))
        await conn.execute("UPDATE deadlock_probe SET n = n + 1 WHERE id = 2")
        return runs

    return work, collisions


async def test_a_transaction_rolled_back_to_break_a_deadlock_runs_again(db, pool, other, probe):
    work, collisions = colliding_work(db, other, collide_times=1)
    runs = await asyncio.wait_for(run_in_transaction(pool, work, what="probe"), 30)
    await asyncio.gather(*collisions)
    assert runs == 2
    # the first run's writes were rolled back, the colliding ones too: the second run's stand
    assert [r["n"] for r in await db.fetch(PROBE)] == [1, 1]


async def test_a_transaction_rolled_back_every_time_gives_up_with_a_retryable_error(db, pool, other, probe):
    work, collisions = colliding_work(db, other, collide_times=2)
    with pytest.raises(Contended) as raised:
        await asyncio.wait_for(run_in_transaction(pool, work, what="probe", attempts=2), 30)
    await asyncio.gather(*collisions)
    assert len(collisions) == 2
    assert isinstance(raised.value.__cause__, asyncpg.DeadlockDetectedError)
    assert raised.value.status == 503
    assert raised.value.headers() == {"Retry-After": "1"}
    assert "probe" in raised.value.detail
    assert [r["n"] for r in await db.fetch(PROBE)] == [0, 0]  # nothing written


async def test_errors_not_meant_for_a_retry_are_raised_at_once(db, pool, probe):
    runs = 0

    async def work(conn: Any) -> None:
        nonlocal runs
        runs += 1
        await conn.execute("UPDATE deadlock_probe SET n = n + 1 WHERE id = 1")
        raise LookupError("not found")

    with pytest.raises(LookupError):
        await run_in_transaction(pool, work, what="probe", retry_on=(KeyError,))
    assert runs == 1
    assert [r["n"] for r in await db.fetch(PROBE)] == [0, 0]


def test_a_rollback_outside_the_retries_is_a_retryable_problem_not_a_500():
    error = _as_signals_error(asyncpg.DeadlockDetectedError("deadlock detected"))
    assert isinstance(error, Contended)
    assert (error.status, error.code, error.headers()) == (503, "contended", {"Retry-After": "1"})
    assert "deadlock" not in error.detail  # the database's own words stay in the log


@pytest.fixture(scope="module")
def api(make_settings: Any) -> Iterator[str]:
    with running_asgi(create_app(make_settings(), worker=False)) as base:
        yield base


async def test_a_deletion_that_loses_a_deadlock_at_commit_is_run_again(db, database_url, api, other):
    """The daily counts are written at commit: a deletion waits there for a day's row that
    another transaction holds, which then asks for the signal's row. The deletion is rolled
    back, runs again once the other transaction is gone, and answers 204."""
    at = datetime(2023, 9, 4, 12, tzinfo=UTC)
    signal_id = await seed_signal(db, SeedSignal("contested", topics=["Omicron Locks"], created_at=at))
    topic_id = await db.fetchval("SELECT id FROM topics WHERE slug = 'omicron-locks'")
    day_row = "SELECT signals FROM topic_days WHERE topic_id = $1 AND day = $2"
    assert await db.fetchval(day_row, topic_id, at.date()) == 1
    admin = await new_key(database_url, name="admin", scopes=["admin"])

    await other.execute("BEGIN")
    await other.execute(day_row + " FOR UPDATE", topic_id, at.date())
    collision = asyncio.create_task(
        close_the_cycle(db, other, "SELECT 1 FROM signals WHERE id = $1 FOR UPDATE", signal_id)
    )
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {admin}"}) as client:
        deleted = await client.delete(f"/v1/signals/{signal_id}", timeout=30)
    await collision
    assert deleted.status_code == 204, deleted.text
    assert not await db.fetchval("SELECT count(*) FROM signals WHERE id = $1", signal_id)
    assert await db.fetchval(day_row, topic_id, at.date()) is None  # its day's count went with it


async def test_a_topic_merge_that_loses_a_deadlock_at_commit_is_run_again(db, database_url, api, other):
    """The merge moves the signal's count to the target's row for its day at commit, which
    another transaction holds while it asks for the target topic the merge has locked."""
    at = datetime(2023, 9, 11, 12, tzinfo=UTC)
    await seed_signal(db, SeedSignal("source side", topics=["Sigma Docks"], created_at=at))
    await seed_signal(db, SeedSignal("target side", topics=["Sigma Harbours"], created_at=at))
    source, target = [
        await db.fetchval("SELECT id FROM topics WHERE slug = $1", slug)
        for slug in ("sigma-docks", "sigma-harbours")
    ]
    day_row = "SELECT signals FROM topic_days WHERE topic_id = $1 AND day = $2"
    admin = await new_key(database_url, name="admin", scopes=["admin"])

    await other.execute("BEGIN")
    await other.execute(day_row + " FOR UPDATE", target, at.date())
    collision = asyncio.create_task(
        close_the_cycle(db, other, "SELECT 1 FROM topics WHERE id = $1 FOR UPDATE", target)
    )
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {admin}"}) as client:
        merged = await client.post(
            "/v1/admin/topics/sigma-docks/merge", json={"into": "sigma-harbours"}, timeout=30
        )
    await collision
    assert merged.status_code == 200, merged.text
    assert merged.json()["signals_moved"] == 1
    assert await db.fetchval(day_row, target, at.date()) == 2
    assert await db.fetchval(day_row, source, at.date()) is None
