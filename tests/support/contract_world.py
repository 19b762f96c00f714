"""A small world for tests that read only the OpenAPI document (schemathesis, generated clients):
something behind every kind of id a path can name, so that no operation only ever answers 404.

Signals with topics, entities, related rows and a story are stored through the repository; a
submission goes through the API and the worker (a done job, its article and signal), an endpoint
receives its deliveries, a daily briefing is written, and a partner has a key.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx

from service.keys import service as keys
from service.signals import repository as signals_repository
from service.stories import repository as stories
from tests.support.clients import connected, keyed_client
from tests.support.db_snapshot import settle
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.webhooks import create_webhook

TOPIC = "Harbour ports"
ENTITY = "Harbour Authority"
TEXT = "\n".join(
    [
        "The Harbour Authority approved a new container terminal on Monday after a long review.",
        "Harbour ports along the coast expect the terminal to shorten queues for cargo ships.",
        "Officials said construction would start in spring and take about two years to finish.",
        "Local residents asked for limits on night traffic, and the authority agreed to study them.",
        "Shipping lines welcomed the decision, citing delays that cost them money each winter.",
        "Engineers will dredge the channel so that larger vessels can reach the new berths safely.",
        "Harbour ports further north said they would watch the project closely before deciding on plans.",
        "The authority estimated that the terminal would create several hundred jobs once it opened.",
        "Environmental groups asked for a survey of the seabed, and the authority promised to publish one.",
        "Trade unions said they would negotiate shift patterns for dock workers before the opening day.",
    ]
)


async def _wait_done(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    for _ in range(600):
        body: dict[str, Any] = (await http.get(url)).json()
        if body.get("status") in {"done", "failed", "empty"}:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} did not finish")


async def build_contract_world(base: str, database_url: str, receiver_url: str) -> SimpleNamespace:
    """Seed the database behind the API at ``base`` (which runs a worker); the ids it made.

    ``receiver_url``: a loopback address the webhook endpoint delivers to."""
    w = SimpleNamespace(today=datetime.now(UTC).date().isoformat())
    async with connected(database_url) as conn:
        seeded = [
            await seed_signal(conn, SeedSignal(
                title=title, topics=[TOPIC], entities=[(ENTITY, "organization")],
                created_at=datetime.now(UTC)))
            for title in ("Harbour terminal approved", "Harbour dredging starts", "Harbour tolls rise")
        ]  # fmt: skip
        for other in seeded[1:]:
            await conn.execute(
                "INSERT INTO signal_related (signal_id, related_id, score, reason)"
                " VALUES ($1, $2, 0.8, 'entities')",
                seeded[0],
                other,
            )
        story = await stories.create_story(conn, seeded[0])
        for signal_id in seeded:
            await stories.set_signal_story(conn, signal_id, story)
        await signals_repository.refresh_story(conn, story)
        admin = await keys.create_key(conn, name="contract-admin", scopes=["admin"])
        partner = await keys.ensure_partner(conn, "Contract Media")
        partner_key = await keys.create_key(
            conn, name="contract-partner", scopes=["signals:read"], partner_id=partner["id"]
        )
        w.admin_key, w.partner_id, w.partner_key_id = admin.key, str(partner["id"]), str(partner_key.id)
        w.seeded = [str(s) for s in seeded]
        w.story_id = str(story)
        async with keyed_client(base, admin.key) as http:
            w.webhook_id = (await create_webhook(http, receiver_url + "/hooks/contract"))["id"]
            submitted = await http.post(
                "/v1/signals", json={"text": TEXT, "title": "Harbour terminal approved by the authority"}
            )
            assert submitted.status_code == 202, submitted.text
            job = await _wait_done(http, submitted.headers["location"])
            assert job["status"] == "done", job
            w.job_id, w.signal_id = job["id"], job["signal_id"]
            queued = await http.post("/v1/digests", json={"period": "daily", "date": w.today})
            assert queued.status_code == 202, queued.text
            w.digest_job = await _wait_done(http, queued.headers["location"])
        await settle(conn)
        w.article_id = str(
            await conn.fetchval("SELECT article_id FROM signals WHERE id = $1::uuid", w.signal_id)
        )
        w.entity_id = await conn.fetchval("SELECT id FROM entities WHERE name = $1", ENTITY)
        w.deliveries = await conn.fetchval(
            "SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1::uuid", w.webhook_id
        )
    return w
