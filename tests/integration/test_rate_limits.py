"""Rate limits: a token bucket per key, shared in PostgreSQL by every API process, as clients
see it. Real servers on loopback sockets and two app instances on one database; how tokens are
taken (beside the handler, leases, the statement) is tests/integration/test_rate_limit_tokens.py's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import httpx
import pytest

from service.app import create_app
from service.keys import service as keys
from tests.support import rate_limits
from tests.support.rate_limits import (
    BURST,
    RATE,
    assert_rate_limited,
    bearer,
    drain,
    limit_of,
    limited_settings,
    new_key,
    policy_of,
)
from tests.support.servers import running_asgi


@pytest.fixture(scope="module")
def settings(make_settings: Any) -> Any:
    return limited_settings(make_settings)


@pytest.fixture(scope="module")
def api(settings: Any) -> Iterator[str]:
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


# A second API process and a connection: tests/support/rate_limits.py's fixtures, this module's own.
api2, conn = rate_limits.api2, rate_limits.conn


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
