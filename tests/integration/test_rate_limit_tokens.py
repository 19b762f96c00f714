"""How a request's token is taken: beside the handler for reads from a well-stocked bucket,
by leases a well-stocked bucket lends a process, and the bucket's statement itself, driven
directly where time must be exact. Real servers on loopback sockets, real PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet

from service.app import create_app
from service.keys import service as keys
from service.ratelimit import repository as buckets
from service.ratelimit import service as ratelimit
from tests.support import rate_limits
from tests.support.rate_limits import (
    BURST,
    RATE,
    assert_rate_limited,
    bearer,
    drain,
    limit_of,
    new_key,
)
from tests.support.servers import running_asgi

# A second API process and a connection: tests/support/rate_limits.py's fixtures, this module's own.
api2, conn = rate_limits.api2, rate_limits.conn


# --- reads that take their token beside the handler ------------------------------------------------

OVERLAP_BURST = 40  # well above service.ratelimit.service.OVERLAP_FROM


@pytest.fixture(scope="module")
def overlap_app(make_settings: Any) -> Any:
    return create_app(
        make_settings(
            rate_per_second=RATE,
            rate_burst=BURST,
            cors_origins=["https://app.example"],
            secret_key=Fernet.generate_key().decode(),
        ),
        worker=False,
    )


@pytest.fixture(scope="module")
def overlap_api(overlap_app: Any) -> Iterator[str]:
    with running_asgi(overlap_app) as base:
        yield base


async def test_well_stocked_reads_still_take_exactly_the_burst(overlap_api, conn):
    """The first read waits for its token; the next ones take theirs beside the handler until
    the bucket runs low: the same count, the same headers, token by token."""
    key = await new_key(conn, burst=OVERLAP_BURST)
    async with httpx.AsyncClient(base_url=overlap_api) as client:
        responses = await drain(client, key, OVERLAP_BURST + 2)
    assert [r.status_code for r in responses] == [200] * OVERLAP_BURST + [429] * 2
    assert [limit_of(r)[1] for r in responses[:OVERLAP_BURST]] == list(range(OVERLAP_BURST - 1, -1, -1))
    for response in responses[OVERLAP_BURST:]:
        assert_rate_limited(response)


async def test_a_read_refused_beside_the_handler_is_the_same_429(overlap_app, overlap_api, conn):
    created = await keys.create_key(
        conn, name=f"o-{uuid4().hex[:6]}", scopes=["signals:read"], burst=OVERLAP_BURST
    )
    key_id = created.id
    headers = {**bearer(created.key), "Origin": "https://app.example"}
    async with httpx.AsyncClient(base_url=overlap_api) as client:
        first = await client.get("/v1/signals", params={"limit": 1}, headers=headers)
        assert first.status_code == 200
        levels = overlap_app.state.runtime.rate_levels
        assert levels.plenty(key_id)  # this process saw 39 tokens: the next read overlaps
        # another replica empties the bucket meanwhile
        await set_bucket(conn, key_id, tokens=0.0, seconds_ago=0.0)
        overlapped = await client.get("/v1/signals", params={"limit": 1}, headers=headers)
        assert not levels.plenty(key_id)  # ...and the process has learned it
        waited = await client.get("/v1/signals", params={"limit": 1}, headers=headers)
    for response in (overlapped, waited):
        assert_rate_limited(response)
        assert response.headers["access-control-allow-origin"] == "https://app.example"
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
        assert response.json()["request_id"] == response.headers["X-Request-ID"]
        assert "etag" not in response.headers  # nothing of the dropped answer leaks
    strip = {"request_id"}
    assert {k: v for k, v in overlapped.json().items() if k not in strip} == {
        k: v for k, v in waited.json().items() if k not in strip
    }
    assert int(overlapped.headers["content-length"]) == len(overlapped.content)


async def test_a_streamed_read_refused_beside_the_handler_is_a_429_and_stops(overlap_app, overlap_api, conn):
    created = await keys.create_key(
        conn, name=f"s-{uuid4().hex[:6]}", scopes=["signals:read"], burst=OVERLAP_BURST
    )
    async with httpx.AsyncClient(base_url=overlap_api, headers=bearer(created.key)) as client:
        assert (await client.get("/v1/signals", params={"limit": 1})).status_code == 200
        assert overlap_app.state.runtime.rate_levels.plenty(created.id)
        await set_bucket(conn, created.id, tokens=0.0, seconds_ago=0.0)
        refused = await client.get("/v1/signals/export", params={"format": "ndjson"})
        assert_rate_limited(refused)
        await set_bucket(conn, created.id, tokens=20.0, seconds_ago=0.0)
        again = await client.get("/v1/signals/export", params={"format": "ndjson"})
    assert again.status_code == 200  # the process kept serving; the stream is whole again
    assert again.headers["content-type"].startswith("application/x-ndjson")


async def test_a_write_never_runs_before_its_token(overlap_api, conn):
    """Writes wait for the decision even when the bucket was well stocked: a refused write
    changes nothing."""
    created = await keys.create_key(
        conn, name=f"w-{uuid4().hex[:6]}", scopes=["signals:read", "webhooks:manage"], burst=OVERLAP_BURST
    )
    key, key_id = created.key, created.id
    body = {"url": "http://127.0.0.1:9/hook"}
    async with httpx.AsyncClient(base_url=overlap_api, headers=bearer(key)) as client:
        assert (await client.get("/v1/signals", params={"limit": 1})).status_code == 200
        accepted = await client.post("/v1/webhooks", json=body)
        assert accepted.status_code == 201, accepted.text
        await set_bucket(conn, key_id, tokens=0.0, seconds_ago=0.0)
        refused = await client.post("/v1/webhooks", json=body)
    assert_rate_limited(refused)
    assert await conn.fetchval("SELECT count(*) FROM webhooks WHERE api_key_id = $1", key_id) == 1


# --- leases: a well-stocked bucket lends a process a batch of tokens ----------------------------

LEASE_BURST = 300  # well above service.ratelimit.service.LEASE_FROM


async def bucket_row(conn: asyncpg.Connection, key_id: UUID) -> tuple[float, int]:
    row = await conn.fetchrow("SELECT tokens, taken FROM rate_limit_buckets WHERE key_id = $1", key_id)
    return float(row["tokens"]), int(row["taken"])


async def test_a_well_stocked_bucket_lends_a_batch_and_still_counts_request_by_request(
    overlap_app, overlap_api, conn
):
    created = await keys.create_key(
        conn, name=f"l-{uuid4().hex[:6]}", scopes=["signals:read"], burst=LEASE_BURST
    )
    async with httpx.AsyncClient(base_url=overlap_api, headers=bearer(created.key)) as client:
        first = await drain(client, created.key, 2)
        # the second request's statement took 16 tokens (an eighth of what was seen, capped):
        # one for itself, 15 this process holds
        tokens, taken = await bucket_row(conn, created.id)
        assert taken == 16 and int(tokens) == LEASE_BURST - 17
        rest = await drain(client, created.key, LEASE_BURST)
        # spending the lease asked the database nothing: the row is as the lease left it...
    responses = first + rest
    statuses = [r.status_code for r in responses]
    # ...and the key got exactly its burst, with the RateLimit field counting down one by one
    assert statuses == [200] * LEASE_BURST + [429] * 2
    assert [limit_of(r)[1] for r in responses[:LEASE_BURST]] == list(range(LEASE_BURST - 1, -1, -1))
    for response in responses[LEASE_BURST:]:
        assert_rate_limited(response)


async def test_leases_on_two_processes_never_exceed_the_burst(overlap_api, api2, conn):
    """Each process holds its own lease; together they still serve exactly the burst."""
    key = await new_key(conn, burst=LEASE_BURST)
    async with httpx.AsyncClient(base_url=overlap_api) as one, httpx.AsyncClient(base_url=api2) as two:
        await one.get("/v1/signals", params={"limit": 1}, headers=bearer(key))
        await two.get("/v1/signals", params={"limit": 1}, headers=bearer(key))
        responses = []
        for _ in range(LEASE_BURST // 20 + 1):  # waves of concurrent requests on both
            responses += await asyncio.gather(
                *(
                    (one if i % 2 else two).get("/v1/signals", params={"limit": 1}, headers=bearer(key))
                    for i in range(24)
                )
            )
    served = sum(r.status_code == 200 for r in responses) + 2
    assert served == LEASE_BURST
    assert {r.status_code for r in responses} == {200, 429}


async def test_requests_arriving_together_lease_one_batch(overlap_api, conn):
    """A wave of concurrent reads on a process that holds nothing leases one batch, not one
    per request: the process never holds more than it spends before the lease lapses."""
    created = await keys.create_key(
        conn, name=f"c-{uuid4().hex[:6]}", scopes=["signals:read"], burst=LEASE_BURST
    )
    wave = 24
    async with httpx.AsyncClient(base_url=overlap_api, headers=bearer(created.key)) as client:
        await drain(client, created.key, 1)  # the process learns the bucket is well stocked
        started = time.monotonic()
        responses = await asyncio.gather(
            *(client.get("/v1/signals", params={"limit": 1}) for _ in range(wave))
        )
        elapsed = time.monotonic() - started
    assert [r.status_code for r in responses] == [200] * wave
    tokens, _ = await bucket_row(conn, created.id)
    # the bucket gave each request its token and this process one batch at a time; on a slow
    # machine a batch may lapse (a second after it was taken) and another follow it
    batches = 1 + int(elapsed / ratelimit.LEASE_SECONDS)
    assert int(tokens) >= LEASE_BURST - 1 - wave - batches * (ratelimit.LEASE_MAX - 1)


async def test_a_lapsed_lease_is_dropped(overlap_api, conn):
    created = await keys.create_key(
        conn, name=f"x-{uuid4().hex[:6]}", scopes=["signals:read"], burst=LEASE_BURST
    )
    async with httpx.AsyncClient(base_url=overlap_api) as client:
        held = await drain(client, created.key, 2)
        assert limit_of(held[-1])[1] == LEASE_BURST - 2  # 15 of them held by this process
        await asyncio.sleep(ratelimit.LEASE_SECONDS + 0.2)
        after = await drain(client, created.key, 1)
    # the 15 unspent tokens lapsed; the request took a new lease of 16 from what was left
    tokens, taken = await bucket_row(conn, created.id)
    assert taken == 16 and int(tokens) == LEASE_BURST - 17 - 16
    assert limit_of(after[0])[1] == LEASE_BURST - 17 - 1


# --- the statement itself, with time set exactly ---------------------------------------------------


async def set_bucket(conn: asyncpg.Connection, key_id: UUID, tokens: float, seconds_ago: float) -> None:
    await conn.execute(
        "UPDATE rate_limit_buckets SET tokens = $2,"
        " updated_at = clock_timestamp() - make_interval(secs => $3) WHERE key_id = $1",
        key_id,
        tokens,
        seconds_ago,
    )


def refilled_from(expected: float, rate: float, since: float) -> tuple[float, float]:
    """The range a bucket set to hold ``expected`` (after the take) at monotonic time ``since``
    may show now: the statement reads the database clock, so time the machine spent between
    setting the bucket and taking from it refilled it a little."""
    return expected - 1e-6, expected + rate * (time.monotonic() - since) + 1e-6


async def test_refill_is_continuous_capped_and_never_negative(conn):
    key_id = uuid4()
    tokens, taken = await buckets.take_token(conn, key_id, rate=2.0, burst=10)
    assert taken and tokens == 9
    since = time.monotonic()
    await set_bucket(conn, key_id, 0.0, 1.25)  # 2.5 tokens have accrued
    tokens, taken = await buckets.take_token(conn, key_id, rate=2.0, burst=10)
    low, high = refilled_from(1.5, 2.0, since)
    assert taken and low <= tokens <= high
    await set_bucket(conn, key_id, 0.0, 3600)  # an hour idle fills the bucket, no more
    tokens, taken = await buckets.take_token(conn, key_id, rate=2.0, burst=10)
    assert taken and tokens == pytest.approx(9, abs=0.001)
    await set_bucket(conn, key_id, 0.5, -3600)  # the clock went back an hour: no refill, no debt
    tokens, taken = await buckets.take_token(conn, key_id, rate=2.0, burst=10)
    assert not taken and tokens == pytest.approx(0.5, abs=0.001)
    # a lowered burst applies at once
    await set_bucket(conn, key_id, 9.0, 0)
    tokens, taken = await buckets.take_token(conn, key_id, rate=2.0, burst=3)
    assert taken and tokens == pytest.approx(2, abs=0.01)


async def test_a_statement_takes_as_many_whole_tokens_as_it_wants_and_finds(conn):
    key_id = uuid4()
    assert await buckets.take_tokens(conn, key_id, rate=2.0, burst=100, want=16) == (84.0, 16)
    since = time.monotonic()
    await set_bucket(conn, key_id, 5.5, 0)
    # a slow rate: half a token would take 50 s to refill, whatever the machine does meanwhile
    tokens, taken = await buckets.take_tokens(conn, key_id, rate=0.01, burst=100, want=16)
    low, high = refilled_from(0.5, 0.01, since)
    assert taken == 5 and low <= tokens <= high
    since = time.monotonic()
    await set_bucket(conn, key_id, 0.5, 0)
    tokens, taken = await buckets.take_tokens(conn, key_id, rate=0.01, burst=100, want=16)
    low, high = refilled_from(0.5, 0.01, since)
    assert taken == 0 and low <= tokens <= high
    # a new bucket lends no more than it holds
    assert await buckets.take_tokens(conn, uuid4(), rate=2.0, burst=3, want=16) == (0.0, 3)


async def all_at_once(
    database_url: str, take: Callable[[asyncpg.Pool], Awaitable[tuple[float, int]]], times: int
) -> list[tuple[float, int]]:
    """``take`` run ``times`` at once on a pool of ten connections: what each call returned."""
    pool = await asyncpg.create_pool(database_url, min_size=10, max_size=10)
    try:
        return list(await asyncio.gather(*(take(pool) for _ in range(times))))
    finally:
        await pool.close()


async def test_concurrent_statements_never_take_a_token_twice(database_url):
    key_id = uuid4()
    results = await all_at_once(
        database_url, lambda pool: buckets.take_token(pool, key_id, rate=0.001, burst=25), 200
    )
    assert sum(taken for _, taken in results) == 25
    assert min(tokens for tokens, _ in results) >= 0


async def test_concurrent_leases_never_take_a_token_twice(database_url):
    key_id = uuid4()
    results = await all_at_once(
        database_url, lambda pool: buckets.take_tokens(pool, key_id, rate=0.001, burst=100, want=7), 40
    )
    assert sum(taken for _, taken in results) == 100
    assert min(tokens for tokens, _ in results) >= 0
