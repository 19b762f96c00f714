"""A worker stopping while the model writes a briefing hands the briefing job back at once
(the queue entry kept), instead of waiting out the model call; the next worker writes it."""

from __future__ import annotations

import asyncio
import time as clock
from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import httpx
import pytest

from service.app import create_app
from service.digests.queue import WRITE_DIGEST
from service.keys import service as keys
from tests.support.clients import connected, keyed_client, stub_llm
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi

pytestmark = pytest.mark.timeout(120)
DAY = (datetime.now(UTC) - timedelta(days=6)).date()


async def _until(http: httpx.AsyncClient, url: str, statuses: tuple[str, ...]) -> dict[str, Any]:
    for _ in range(600):
        job: dict[str, Any] = (await http.get(url)).json()
        if job["status"] in statuses:
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"the briefing job never reached {statuses}")


async def test_a_stopping_worker_hands_its_briefing_job_back(
    make_settings: Any, stub: SimpleNamespace, database_url: str
) -> None:
    async with connected(database_url) as conn:
        for i in range(3):
            created = datetime.combine(DAY, time(9), UTC) + timedelta(minutes=i)
            await seed_signal(
                conn,
                SeedSignal(title=f"Harbour crane order {i}", topics=["Harbour cranes"], created_at=created),
            )
        key = (
            await keys.create_key(conn, name="briefing-stop", scopes=["signals:read", "signals:write"])
        ).key
    settings = make_settings(
        **stub_llm(stub), llm_http_retries=0, llm_timeout_seconds=60, digest_daily_at=None
    )
    body = {"period": "daily", "date": DAY.isoformat(), "topic": "harbour-cranes"}
    stub.state.reset()
    stub.state.push_faults([{"kind": "delay", "seconds": 30}])  # the model would take 30 s
    with running_asgi(create_app(settings, worker=True)) as base:
        async with keyed_client(base, key) as http:
            response = await http.post("/v1/digests", json=body)
            assert response.status_code == 202, response.text
            url = response.headers["location"]
            job = await _until(http, url, ("writing",))
            await asyncio.sleep(0.5)  # inside the model call
        stopping = clock.monotonic()
    stopped_in = clock.monotonic() - stopping
    assert stopped_in < 8, f"shutdown took {stopped_in:.1f} s"
    async with connected(database_url) as conn:
        assert (
            await conn.fetchval("SELECT status FROM digest_jobs WHERE id = $1", UUID(job["id"])) == "queued"
        )
        entries = await conn.fetchval(
            "SELECT count(*) FROM pgqueuer WHERE entrypoint = $1 AND payload = $2",
            WRITE_DIGEST,
            UUID(job["id"]).bytes,
        )
        assert entries == 1
    with running_asgi(create_app(settings, worker=True)) as base:
        async with keyed_client(base, key) as http:
            done = await _until(http, url, ("done", "failed", "empty"))
    assert done["status"] == "done", done
    assert done["attempts"] == 2
