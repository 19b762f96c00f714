"""What the rate-limit tests share: a small bucket, keys to spend it, how a limited answer
reads (RateLimit, RateLimit-Policy, Retry-After and the problem body), and two fixtures: a
second API process (``api2``) and a connection (``conn``). A module takes those by assignment
(``conn = rate_limits.conn``); ``api2`` is then that module's own, as if written there."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest

from service.app import create_app
from service.keys import service as keys
from service.settings import Settings
from tests.support.servers import running_asgi

RATE = 0.05  # one token every 20 s: nothing refills during a test unless it waits on purpose
BURST = 5
_LIMIT = re.compile(r'^"(?P<policy>[a-z]+)";r=(?P<r>\d+);t=(?P<t>\d+)$')
_POLICY = re.compile(r'^"(?P<policy>[a-z]+)";q=(?P<q>\d+);w=(?P<w>\d+)$')


def limited_settings(make_settings: Callable[..., Settings]) -> Settings:
    """Every key's bucket (and the keyless one) at RATE and BURST."""
    return make_settings(
        rate_per_second=RATE, rate_burst=BURST, public_rate_per_second=RATE, public_rate_burst=3
    )


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


@pytest.fixture(scope="module")
def api2(make_settings: Callable[..., Settings]) -> Iterator[str]:
    """A second API process on the same database (its own pool, key cache and clock)."""
    with running_asgi(create_app(limited_settings(make_settings), worker=False)) as base:
        yield base


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()
