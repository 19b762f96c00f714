"""Rate limits: a token bucket per key, shared in PostgreSQL by every API process.

Real servers on loopback sockets, two app instances on one database, and the bucket's SQL
driven directly where time must be exact.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
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
from tests.support.servers import running_asgi

RATE = 0.05  # one token every 20 s: nothing refills during a test unless it waits on purpose
BURST = 5
_LIMIT = re.compile(r'^"(?P<policy>[a-z]+)";r=(?P<r>\d+);t=(?P<t>\d+)$')
_POLICY = re.compile(r'^"(?P<policy>[a-z]+)";q=(?P<q>\d+);w=(?P<w>\d+)$')


@pytest.fixture(scope="module")
def settings(make_settings: Any) -> Any:
    return make_settings(
        rate_per_second=RATE, rate_burst=BURST, public_rate_per_second=RATE, public_rate_burst=3
    )


@pytest.fixture(scope="module")
def api(settings: Any) -> Iterator[str]:
    with running_asgi(create_app(settings, worker=False)) as base:
        yield base


@pytest.fixture(scope="module")
def api2(settings: Any) -> Iterator[str]:
    """A second API process on the same database (its own pool, key cache and clock)."""
    with running_asgi(create_app(settings, worker=False)) as base:
        yield base


@pytest.fixture(scope="module")
def public_api(make_settings: Any) -> Iterator[str]:
    settings = make_settings(
        public_read=True,
        rate_per_second=RATE,
        rate_burst=BURST,
        public_rate_per_second=RATE,
        public_rate_burst=3,
    )
    with running_asgi(create_app(settings, worker=False)) as base:
        yield base


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


async def new_key(conn: asyncpg.Connection, **limits: Any) -> str:
    created = await keys.create_key(conn, name=f"k-{uuid4().hex[:6]}", scopes=["signals:read"], **limits)
    return created.key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def limit_of(response: httpx.Response) -> tuple[str, int, int]:
    match = _LIMIT.match(response.headers["RateLimit"])
    assert match, response.headers["RateLimit"]
    return match["policy"], int(match["r"]), int(match["t"])


def policy_of(response: httpx.Response) -> tuple[str, int, int]:
    match = _POLICY.match(response.headers["RateLimit-Policy"])
    assert match, response.headers["RateLimit-Policy"]
    return match["policy"], int(match["q"]), int(match["w"])


async def drain(client: httpx.AsyncClient, key: str, count: int, **headers: str) -> list[httpx.Response]:
    return [
        await client.get("/v1/signals", params={"limit": 1}, headers={**bearer(key), **headers})
        for _ in range(count)
    ]


def assert_rate_limited(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "rate_limited" and body["type"] == "/problems/rate_limited"
    retry_after = int(response.headers["Retry-After"])
    assert retry_after >= 1 and body["retry_after"] == retry_after
    _, remaining, reset = limit_of(response)
    # the draft: Retry-After never earlier than the end of the effective window
    assert remaining == 0 and reset == retry_after
    return retry_after


async def test_exactly_burst_requests_pass_then_429_with_retry_after(api, conn):
    key = await new_key(conn)
    async with httpx.AsyncClient(base_url=api) as client:
        responses = await drain(client, key, BURST + 2)
    assert [r.status_code for r in responses[:BURST]] == [200] * BURST
    assert [limit_of(r)[1] for r in responses[:BURST]] == list(range(BURST - 1, -1, -1))
    for response in responses[BURST:]:
        retry_after = assert_rate_limited(response)
        assert retry_after <= 1 / RATE  # a token comes back within one refill interval
    assert all(policy_of(r) == ("default", BURST, int(BURST / RATE)) for r in responses)


async def test_forwarded_addresses_change_nothing(api, conn):
    key = await new_key(conn)
    async with httpx.AsyncClient(base_url=api) as client:
        statuses = []
        for i in range(BURST + 3):
            spoof = f"203.0.113.{i + 1}"
            response = await client.get(
                "/v1/signals",
                headers={
                    **bearer(key),
                    "X-Forwarded-For": spoof,
                    "X-Real-IP": spoof,
                    "Forwarded": f"for={spoof}",
                },
            )
            statuses.append(response.status_code)
    assert statuses == [200] * BURST + [429] * 3


async def test_two_api_processes_share_one_bucket(api, api2, conn):
    key = await new_key(conn)
    async with httpx.AsyncClient(base_url=api) as one, httpx.AsyncClient(base_url=api2) as two:
        statuses = [
            (await (one if i % 2 else two).get("/v1/signals", headers=bearer(key))).status_code
            for i in range(BURST + 4)
        ]
    assert statuses == [200] * BURST + [429] * 4


async def test_concurrent_requests_on_two_processes_take_exactly_the_burst(api, api2, conn):
    key = await new_key(conn, burst=10)
    async with httpx.AsyncClient(base_url=api) as one, httpx.AsyncClient(base_url=api2) as two:
        responses = await asyncio.gather(
            *((one if i % 2 else two).get("/v1/signals", headers=bearer(key)) for i in range(40))
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 10 + [429] * 30


async def test_the_bucket_refills_over_time(api, conn):
    key = await new_key(conn, rate_per_second=4.0, burst=2)
    async with httpx.AsyncClient(base_url=api) as client:
        first = await drain(client, key, 3)
        assert [r.status_code for r in first] == [200, 200, 429]
        assert first[2].headers["Retry-After"] == "1"
        await asyncio.sleep(0.6)  # 2.4 tokens at 4/s, capped at the burst of 2
        again = await drain(client, key, 2)
    assert [r.status_code for r in again] == [200, 200]


async def test_partner_limits_apply_to_its_keys_and_a_key_overrides_them(api, conn):
    partner = await keys.ensure_partner(conn, f"Limited {uuid4().hex[:6]}", rate_per_second=0.1, burst=3)
    partner_key = await new_key(conn, partner_id=partner["id"])
    own_key = await new_key(conn, partner_id=partner["id"], burst=2, rate_per_second=0.2)
    async with httpx.AsyncClient(base_url=api) as client:
        by_partner = await drain(client, partner_key, 4)
        by_key = await drain(client, own_key, 3)
        default = await drain(client, await new_key(conn), 1)
    assert [r.status_code for r in by_partner] == [200, 200, 200, 429]
    assert policy_of(by_partner[0]) == ("default", 3, 30)
    assert [r.status_code for r in by_key] == [200, 200, 429]
    assert policy_of(by_key[0]) == ("default", 2, 10)
    assert policy_of(default[0]) == ("default", BURST, 100)


async def test_headers_are_on_every_keyed_answer_and_stay_consistent(api, conn):
    key = await new_key(conn, burst=4)
    async with httpx.AsyncClient(base_url=api) as client:
        ok = await client.get("/v1/signals", headers=bearer(key))
        missing = await client.get(f"/v1/signals/{uuid4()}", headers=bearer(key))  # a 404 problem
        bad = await client.get("/v1/signals", params={"limit": "many"}, headers=bearer(key))  # 400
    for response, remaining in ((ok, 3), (missing, 2), (bad, 1)):
        assert limit_of(response)[:2] == ("default", remaining), response.status_code
        assert limit_of(response)[2] >= 1
        assert policy_of(response) == ("default", 4, 80)
    assert missing.status_code == 404 and bad.status_code == 400


async def test_unauthenticated_and_health_answers_are_not_key_limited(api, conn):
    async with httpx.AsyncClient(base_url=api) as client:
        health = [await client.get("/healthz") for _ in range(BURST + 2)]
        refused = await client.get("/v1/signals")
    assert all(r.status_code == 200 and "RateLimit" not in r.headers for r in health)
    assert refused.status_code == 401 and "RateLimit" not in refused.headers


async def test_keyless_public_reads_share_one_public_bucket(public_api, conn):
    async with httpx.AsyncClient(base_url=public_api) as client:
        anonymous = [
            await client.get("/v1/signals", headers={"X-Forwarded-For": f"198.51.100.{i}"}) for i in range(4)
        ]
        keyed = await client.get("/v1/signals", headers=bearer(await new_key(conn)))
        health = await client.get("/healthz")
    assert [r.status_code for r in anonymous] == [200, 200, 200, 429]
    assert policy_of(anonymous[0]) == ("public", 3, 60)
    assert_rate_limited(anonymous[3])
    # a key sent on a public read is served as that key, from its own bucket
    assert keyed.status_code == 200 and policy_of(keyed) == ("default", BURST, 100)
    assert health.status_code == 200 and "RateLimit" not in health.headers


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


async def test_concurrent_statements_never_take_a_token_twice(database_url):
    pool = await asyncpg.create_pool(database_url, min_size=10, max_size=10)
    try:
        key_id = uuid4()
        results = await asyncio.gather(
            *(buckets.take_token(pool, key_id, rate=0.001, burst=25) for _ in range(200))
        )
    finally:
        await pool.close()
    assert sum(taken for _, taken in results) == 25
    assert min(tokens for tokens, _ in results) >= 0


async def test_concurrent_leases_never_take_a_token_twice(database_url):
    pool = await asyncpg.create_pool(database_url, min_size=10, max_size=10)
    try:
        key_id = uuid4()
        results = await asyncio.gather(
            *(buckets.take_tokens(pool, key_id, rate=0.001, burst=100, want=7) for _ in range(40))
        )
    finally:
        await pool.close()
    assert sum(taken for _, taken in results) == 100
    assert min(tokens for tokens, _ in results) >= 0
