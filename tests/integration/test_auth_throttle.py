"""Failed authentications are throttled per client address (service.keys.throttle), on the
server as `signals serve` runs it: random well-formed keys stop reaching the database after
the threshold, valid keys are never throttled, and X-Forwarded-For changes nothing."""

from __future__ import annotations

import asyncio
import secrets
import string
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from service.keys.service import KEY_PREFIX
from tests.support.keys import new_key
from tests.support.problems import assert_problem
from tests.support.serving import serving

pytestmark = pytest.mark.timeout(120)

LIMIT = 20
GUESSES = 300
# PostgreSQL backends publish their table statistics when idle, at most PGSTAT_IDLE_INTERVAL
# (10 s) after their last transaction: wait that long before reading the counters.
STATS_FLUSH_SECONDS = 11
_ALPHABET = string.ascii_letters + string.digits


@pytest.fixture(scope="module")
def api(make_settings: Any) -> Iterator[str]:
    # No rate limiting: nothing but authentication reads api_keys.
    with serving(make_settings(rate_limit=False, log_level="WARNING", auth_failure_limit=LIMIT)) as base:
        yield base


def random_key() -> str:
    return KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(43))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def client_from(api: str, address: str) -> httpx.AsyncClient:
    """A client whose connections come from ``address`` (any 127.0.0.0/8 address is loopback)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=api, transport=transport, timeout=10)


async def api_key_lookups(db: asyncpg.Connection) -> int:
    """Scans of api_keys (a key lookup is one; nothing else scans it in this module's server)."""
    await db.execute("SELECT pg_stat_clear_snapshot()")
    value = await db.fetchval(
        "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables"
        " WHERE relname = 'api_keys'"
    )
    return int(value)


async def test_random_keys_stop_reaching_the_database_and_valid_keys_are_served(api, database_url, db):
    valid = await new_key(database_url, name="regular", scopes=["signals:read"])
    before = await api_key_lookups(db)
    async with client_from(api, "127.0.0.1") as http:
        assert (await http.get("/v1/signals", headers=bearer(valid))).status_code == 200
        statuses = []
        for _ in range(GUESSES):
            response = await http.get("/v1/signals", headers=bearer(random_key()))
            statuses.append(response.status_code)
            if response.status_code == 429:
                body = assert_problem(response, 429, "auth_throttled")
                assert int(response.headers["retry-after"]) >= 1 and body["retry_after"] >= 1
        # The bucket holds LIMIT failures and regains one every 60/LIMIT s during the run.
        assert LIMIT <= statuses.count(401) <= LIMIT + 3, statuses[: LIMIT + 5]
        assert statuses[:LIMIT] == [401] * LIMIT
        assert statuses.count(429) == GUESSES - statuses.count(401)

        # Spoofing the address in a header changes nothing: the socket peer counts.
        for i in range(5):
            spoofed = await http.get(
                "/v1/signals", headers={**bearer(random_key()), "X-Forwarded-For": f"203.0.113.{i}"}
            )
            assert_problem(spoofed, 429, "auth_throttled")

        # A key this process has accepted is never throttled, whatever its address did.
        for _ in range(3):
            assert (await http.get("/v1/signals", headers=bearer(valid))).status_code == 200

    await asyncio.sleep(STATS_FLUSH_SECONDS)
    lookups = await api_key_lookups(db) - before
    # One lookup (and one last-used update) for the valid key, one per allowed failure;
    # without the throttle it would be over 300.
    assert LIMIT <= lookups <= LIMIT + 3 + 2 + 5, lookups


async def test_other_addresses_are_not_throttled_and_malformed_keys_count(api, database_url):
    async with client_from(api, "127.0.0.2") as other:
        assert_problem(await other.get("/v1/signals", headers=bearer(random_key())), 401, "unauthorized")
        # Malformed keys cost no lookup but count: after LIMIT of them, a guess is throttled.
        for _ in range(LIMIT):
            assert_problem(await other.get("/v1/signals", headers=bearer("sk_live_short")), 401)
        assert_problem(await other.get("/v1/signals", headers=bearer(random_key())), 429, "auth_throttled")
        # No key at all is no failed authentication: still the usual 401.
        missing = assert_problem(await other.get("/v1/signals"), 401, "unauthorized")
        assert missing["reason"] == "missing"
        # A valid key this process never accepted waits like a guess (documented trade-off) ...
        fresh = await new_key(database_url, name="fresh", scopes=["signals:read"])
        assert_problem(await other.get("/v1/signals", headers=bearer(fresh)), 429, "auth_throttled")
    # ... while from an address in good standing it is served, and then known everywhere.
    async with client_from(api, "127.0.0.3") as third:
        assert (await third.get("/v1/signals", headers=bearer(fresh))).status_code == 200
    async with client_from(api, "127.0.0.2") as other:
        assert (await other.get("/v1/signals", headers=bearer(fresh))).status_code == 200


async def test_feeds_are_throttled_the_same_way(api):
    async with client_from(api, "127.0.0.4") as http:
        for _ in range(LIMIT):
            response = await http.get("/v1/feeds/signals.json", params={"key": random_key()})
            assert_problem(response, 401, "unauthorized")
        response = await http.get("/v1/feeds/signals.json", params={"key": random_key()})
        assert_problem(response, 429, "auth_throttled")
