"""Briefing jobs belong to whoever asked: another partner's key cannot read them, and a second
partner asking for a briefing already being written gets a job of its own that follows it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from service.app import create_app
from service.keys import service as keys
from tests.support.clients import connected, keyed_client, stub_llm
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi

pytestmark = pytest.mark.timeout(120)
DAY = (datetime.now(UTC) - timedelta(days=3)).date()


@pytest.fixture(scope="module")
def api(make_settings: Any, stub: SimpleNamespace) -> Iterator[str]:
    settings = make_settings(
        **stub_llm(stub),
        llm_http_retries=0,
        llm_timeout_seconds=10,
        digest_daily_at=None,
    )
    with running_asgi(create_app(settings, worker=True)) as base:
        yield base


@pytest.fixture(scope="module")
async def world(database_url: str) -> SimpleNamespace:
    async with connected(database_url) as conn:
        for i in range(4):
            created = datetime.combine(DAY, time(12), UTC) + timedelta(minutes=i)
            await seed_signal(conn, SeedSignal(title=f"Port news {i}", topics=["Ports"], created_at=created))
        scopes = ["signals:read", "signals:write"]
        one = await keys.ensure_partner(conn, "Briefing One")
        two = await keys.ensure_partner(conn, "Briefing Two")
        made = {
            "asker": await keys.create_key(conn, name="asker", scopes=scopes, partner_id=one["id"]),
            "colleague": await keys.create_key(
                conn, name="colleague", scopes=["signals:read"], partner_id=one["id"]
            ),
            "other": await keys.create_key(conn, name="other", scopes=scopes, partner_id=two["id"]),
            "admin": await keys.create_key(conn, name="admin", scopes=["admin"]),
        }
    return SimpleNamespace(**{name: key.key for name, key in made.items()})


async def finished(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    for _ in range(600):
        job: dict[str, Any] = (await http.get(url)).json()
        if job["status"] in ("done", "failed", "empty"):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError("the briefing job did not finish")


async def test_a_briefing_job_is_visible_to_its_partner_and_admins_only(api, world):
    async with keyed_client(api, world.asker) as asker:
        response = await asker.post("/v1/digests", json={"period": "daily", "date": DAY.isoformat()})
        assert response.status_code == 202, response.text
        url = response.headers["location"]
        await finished(asker, url)
    for name, status in (("asker", 200), ("colleague", 200), ("admin", 200), ("other", 404)):
        async with keyed_client(api, getattr(world, name)) as http:
            answer = await http.get(url)
        assert answer.status_code == status, (name, answer.text)


async def test_a_second_partner_gets_its_own_job_following_the_writing(api, world, stub):
    stub.state.push_faults([{"kind": "delay", "seconds": 1.5}])
    body = {"period": "daily", "date": DAY.isoformat(), "topic": "ports"}
    async with keyed_client(api, world.asker) as asker, keyed_client(api, world.other) as other:
        first = await asker.post("/v1/digests", json=body)
        second = await other.post("/v1/digests", json=body)
        again = await other.post("/v1/digests", json=body)
        assert first.status_code == second.status_code == 202
        assert first.json()["id"] != second.json()["id"] == again.json()["id"]
        assert (await other.get(first.headers["location"])).status_code == 404
        leader = await finished(asker, first.headers["location"])
        follower = await finished(other, second.headers["location"])
        versions = await other.get("/v1/digests", params={"topic": "ports", "versions": "all"})
    assert leader["status"] == follower["status"] == "done"
    assert leader["digest_id"] == follower["digest_id"]
    assert [d["id"] for d in versions.json()["items"]] == [leader["digest_id"]]  # written once
