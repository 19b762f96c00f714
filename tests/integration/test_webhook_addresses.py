"""Webhook URLs go through the fetcher's address checks: at creation, and again at every
delivery attempt, so a changed allow-list stops deliveries. Refused addresses are never
connected to: TCP listeners on them count every connection they accept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from ipaddress import ip_network
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet

from service.app import create_app
from service.db.database import init_connection
from service.jobs.worker import run_worker
from service.keys import service as keys
from service.runtime import open_runtime
from tests.support.receivers import counting_listener, eventually, running_receiver
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi

pytestmark = pytest.mark.timeout(120)
FERNET_KEY = Fernet.generate_key().decode()
SCHEDULE = [0.1, 0.1, 0.1]


def webhook_settings(make_settings: Any, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "rate_limit": False,
        "secret_key": FERNET_KEY,
        "webhook_retry_schedule": SCHEDULE,
        "webhook_timeout_seconds": 1.0,
        "webhook_poll_seconds": 0.3,
        "digest_daily_at": None,
    }
    values.update(overrides)
    return make_settings(**values)


@pytest.fixture(scope="module")
def api(make_settings: Any) -> Iterator[str]:
    # Only 127.0.0.1 is allowed (as in every test); this API runs no worker.
    with running_asgi(create_app(webhook_settings(make_settings), worker=False)) as base:
        yield base


@pytest.fixture(scope="module")
async def key(database_url: str) -> str:
    conn = await asyncpg.connect(database_url)
    try:
        partner = await keys.ensure_partner(conn, "Address Co")
        created = await keys.create_key(
            conn, name="hooks", scopes=["webhooks:manage", "signals:read"], partner_id=partner["id"]
        )
    finally:
        await conn.close()
    return created.key


@asynccontextmanager
async def worker(settings: Any) -> AsyncIterator[None]:
    """A queue worker (dispatcher and deliveries) with these settings, until the block ends."""
    async with open_runtime(settings, extraction=False) as rt:
        stop = asyncio.Event()
        task = asyncio.create_task(run_worker(rt, stop))
        try:
            yield
        finally:
            stop.set()
            await task


@pytest.mark.parametrize(
    "spelling",
    [
        "http://127.0.0.2:{port}/hook",
        "http://2130706434:{port}/hook",  # 127.0.0.2 as one number
        "http://0x7f000002:{port}/hook",  # ... in hexadecimal
        "http://127.2:{port}/hook",  # ... in inet_aton's short form
        "http://[::ffff:127.0.0.2]:{port}/hook",  # ... IPv4-mapped
        "http://[::1]:{port}/hook",  # IPv6 loopback, not in the allowed list
    ],
)
async def test_refused_addresses_are_refused_at_creation_without_a_connection(api, key, spelling):
    async with counting_listener("127.0.0.2") as counter:
        async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {key}"}) as http:
            response = await http.post("/v1/webhooks", json={"url": spelling.format(port=counter.port)})
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["code"] == "webhook_url_refused" and problem["reason"] in (
            "address_not_allowed",
            "invalid_url",
        )
        assert response.headers["content-type"].startswith("application/problem+json")
        await asyncio.sleep(0.1)
        assert counter.accepted == 0


async def test_a_changed_allow_list_refuses_delivery_without_connecting(
    api, key, make_settings, database_url
):
    async with counting_listener("127.0.0.1") as counter:
        async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {key}"}) as http:
            created = await http.post("/v1/webhooks", json={"url": f"http://127.0.0.1:{counter.port}/hook"})
            assert created.status_code == 201, created.text
            hook = created.json()

            # The operator removes 127.0.0.1 from SIGNALS_FETCH_ALLOWED_NETWORKS and restarts workers.
            async with worker(webhook_settings(make_settings, fetch_allowed_networks=[])):
                conn = await asyncpg.connect(database_url)
                await init_connection(conn)
                try:
                    await seed_signal(conn, SeedSignal(title="Refused at delivery"))
                finally:
                    await conn.close()

                async def failed() -> Any:
                    items = (await http.get(f"/v1/webhooks/{hook['id']}/deliveries")).json()["items"]
                    return items if items and items[0]["state"] == "failed" else None

                [delivery] = await eventually(failed)
            assert (await http.delete(f"/v1/webhooks/{hook['id']}")).status_code == 204
        assert delivery["attempts"] == len(SCHEDULE) + 1
        for attempt in delivery["attempt_log"]:
            assert attempt["status_code"] is None
            assert attempt["error"] == (
                "refused: 127.0.0.1 is not a public address (loopback); "
                "SIGNALS_FETCH_ALLOWED_NETWORKS can allow it"
            )
        assert counter.accepted == 0


async def test_an_allowed_receiver_gets_the_redelivery_once_the_list_allows_it_again(
    api, key, make_settings, database_url
):
    with running_receiver() as receiver:
        url = receiver.script("/back")
        async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {key}"}) as http:
            hook = (await http.post("/v1/webhooks", json={"url": url})).json()
            async with worker(webhook_settings(make_settings, fetch_allowed_networks=[])):
                conn = await asyncpg.connect(database_url)
                await init_connection(conn)
                try:
                    await seed_signal(conn, SeedSignal(title="Refused, then allowed"))
                finally:
                    await conn.close()

                async def failed() -> Any:
                    items = (await http.get(f"/v1/webhooks/{hook['id']}/deliveries")).json()["items"]
                    return items if items and items[0]["state"] == "failed" else None

                [refused] = await eventually(failed)
            assert receiver.received("/back") == []
            allowed = webhook_settings(make_settings, fetch_allowed_networks=[ip_network("127.0.0.1/32")])
            async with worker(allowed):
                again = await http.post(f"/v1/webhooks/{hook['id']}/deliveries/{refused['id']}/redeliver")
                assert again.status_code == 202
                await eventually(lambda: receiver.received("/back"))
        [request] = receiver.received("/back")
        assert request.headers["webhook-id"] == refused["message_id"]
