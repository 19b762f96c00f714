"""Webhook endpoints are owned by the key that created them: other keys of the partner do not
see them (only the partner's admin, its key without a topic restriction, does), a restricted
key subscribes within its topics only, and what an endpoint receives follows its key as the
key is at fan-out and at every attempt (narrowed, revoked). The API with its worker on
loopback, receivers on loopback, a real PostgreSQL; retries wait long enough to act between
two attempts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet

from service.app import create_app
from service.keys import service as keys
from service.topics.slugs import topic_ids_for_slugs
from service.webhooks.events import publish_event
from tests.support.clients import connected, keyed_client
from tests.support.problems import assert_problem
from tests.support.receivers import Answer, eventually
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi
from tests.support.webhooks import create_webhook, webhook_deliveries

pytestmark = pytest.mark.timeout(120)
RETRY_AFTER_SECONDS = 2.0
"""Time to change the key between a failed attempt and its retry."""
DISPATCHED_ALL = """SELECT NOT EXISTS (SELECT 1 FROM webhook_events e, webhook_dispatch_cursor c
                                       WHERE (e.xid, e.id) > (c.xid, c.id))"""
SCOPES = ["webhooks:manage", "signals:read"]

client = partial(keyed_client, timeout=30)


@pytest.fixture(scope="module")
def api(make_settings: Any) -> Iterator[str]:
    settings = make_settings(
        rate_limit=False,
        secret_key=Fernet.generate_key().decode(),
        webhook_retry_schedule=[RETRY_AFTER_SECONDS, RETRY_AFTER_SECONDS],
        webhook_timeout_seconds=1.0,
        webhook_poll_seconds=0.5,
        worker_concurrency=8,
        job_heartbeat_seconds=10,
    )
    with running_asgi(create_app(settings, worker=True)) as base:
        yield base


@pytest.fixture(scope="module")
async def world(database_url: str) -> SimpleNamespace:
    async with connected(database_url) as conn:
        await seed_signal(conn, SeedSignal(title="Rail exists", topics=["Rail"]))
        await seed_signal(conn, SeedSignal(title="Ports exist", topics=["Ports"]))
        acme = await keys.ensure_partner(conn, "Acme Hooks")
        rail_ids = await topic_ids_for_slugs(conn, ["rail"])
        ports_ids = await topic_ids_for_slugs(conn, ["ports"])
        partner_admin = await keys.create_key(conn, name="acme-all", scopes=SCOPES, partner_id=acme["id"])
        rail = await keys.create_key(
            conn, name="acme-rail", scopes=SCOPES, partner_id=acme["id"], topic_ids=rail_ids
        )
        ports = await keys.create_key(
            conn, name="acme-ports", scopes=SCOPES, partner_id=acme["id"], topic_ids=ports_ids
        )
        other = await keys.ensure_partner(conn, "Other Hooks")
        stranger = await keys.create_key(conn, name="other-all", scopes=SCOPES, partner_id=other["id"])
        operator = await keys.create_key(conn, name="ops", scopes=["admin"])
    return SimpleNamespace(
        partner_id=str(acme["id"]),
        partner_admin=partner_admin.key,
        rail=rail.key,
        rail_id=str(rail.id),
        ports=ports.key,
        stranger=stranger.key,
        operator=operator.key,
    )


async def new_partner_key(conn: asyncpg.Connection, world: SimpleNamespace, name: str) -> Any:
    """A fresh unrestricted key of the partner, for a test that narrows or revokes it."""
    return await keys.create_key(conn, name=name, scopes=SCOPES, partner_id=world.partner_id)


def key_path(world: SimpleNamespace, key_id: Any) -> str:
    return f"/v1/admin/partners/{world.partner_id}/keys/{key_id}"


async def first_attempt_failed(http: httpx.AsyncClient, webhook_id: str) -> dict[str, Any]:
    """The endpoint's only delivery once its first attempt failed and a retry is due."""

    async def check() -> dict[str, Any] | None:
        items = await webhook_deliveries(http, webhook_id)
        if len(items) == 1 and items[0]["state"] == "pending" and items[0]["attempts"] == 1:
            return items[0]
        return None

    found: dict[str, Any] = await eventually(check)
    return found


async def final(http: httpx.AsyncClient, webhook_id: str, delivery_id: str) -> dict[str, Any]:
    """That delivery once it is delivered or failed."""

    async def check() -> dict[str, Any] | None:
        for item in await webhook_deliveries(http, webhook_id):
            if item["id"] == delivery_id and item["state"] in ("delivered", "failed"):
                return item
        return None

    found: dict[str, Any] = await eventually(check)
    return found


async def all_final(http: httpx.AsyncClient, webhook_id: str) -> list[dict[str, Any]] | None:
    """The endpoint's deliveries once there are some and every one is delivered or failed."""
    items = await webhook_deliveries(http, webhook_id)
    return items if items and all(d["state"] in ("delivered", "failed") for d in items) else None


# --- who sees and manages an endpoint ---------------------------------------------------------------


async def test_a_restricted_key_cannot_reach_another_key_s_endpoint(api, world, receiver, db):
    url = receiver.script("/all-topics")
    async with (
        client(api, world.partner_admin) as admin,
        client(api, world.rail) as rail,
        client(api, world.ports) as ports,
    ):
        hook = await create_webhook(admin, url)
        assert hook["topics"] is None
        await seed_signal(db, SeedSignal(title="Rail for the admin's endpoint", topics=["Rail"]))
        [delivery] = await eventually(lambda: webhook_deliveries(admin, hook["id"]))
        path = f"/v1/webhooks/{hook['id']}"
        for response in (
            await rail.get(path),
            await rail.patch(path, json={"url": receiver.script("/stolen")}),
            await rail.post(f"{path}/rotate-secret"),
            await rail.get(f"{path}/deliveries"),
            await rail.post(f"{path}/deliveries/{delivery['id']}/redeliver"),
            await rail.delete(path),
        ):
            assert response.status_code == 404, response.text
            assert response.json()["code"] == "not_found"
        assert hook["id"] not in [w["id"] for w in (await rail.get("/v1/webhooks")).json()["items"]]
        # nothing changed: the URL, the secret and the endpoint itself are as they were
        shown = (await admin.get(path)).json()
        assert shown["url"] == url and shown["secret_rotated_at"] is None
        assert len(await webhook_deliveries(admin, hook["id"])) == 1

        # a restricted key's own endpoint stays within its topics, and another restricted key
        # of the partner does not see it either
        mine = await create_webhook(rail, receiver.script("/rail-own"))
        assert mine["topics"] == ["rail"]
        for topics in (["ports"], ["rail", "ports"]):
            refused = await rail.patch(f"/v1/webhooks/{mine['id']}", json={"topics": topics})
            assert refused.status_code == 422, refused.text
            assert refused.json()["reason"] == "unknown_topic"  # ports is hidden from this key
        reset = await rail.patch(f"/v1/webhooks/{mine['id']}", json={"topics": None})
        assert reset.status_code == 200 and reset.json()["topics"] == ["rail"]
        stored = await db.fetchval("SELECT topic_ids FROM webhooks WHERE id = $1", mine["id"])
        assert stored == await topic_ids_for_slugs(db, ["rail"])
        assert (await ports.get(f"/v1/webhooks/{mine['id']}")).status_code == 404
        assert (await ports.patch(f"/v1/webhooks/{mine['id']}", json={"enabled": False})).status_code == 404


async def test_the_partner_s_unrestricted_key_manages_a_restricted_key_s_endpoint(api, world, receiver):
    async with (
        client(api, world.partner_admin) as admin,
        client(api, world.rail) as rail,
        client(api, world.stranger) as stranger,
    ):
        mine = await create_webhook(rail, receiver.script("/rail-managed"), description="rail desk")
        assert mine["api_key_id"] == world.rail_id
        path = f"/v1/webhooks/{mine['id']}"
        shown = await admin.get(path)
        assert shown.status_code == 200 and shown.json()["api_key_id"] == world.rail_id
        listed = (await admin.get("/v1/webhooks", params={"limit": 100})).json()["items"]
        assert world.rail_id in [w["api_key_id"] for w in listed if w["id"] == mine["id"]]
        changed = await admin.patch(path, json={"description": "moved", "url": receiver.script("/moved")})
        assert changed.status_code == 200, changed.text
        assert changed.json()["description"] == "moved" and changed.json()["api_key_id"] == world.rail_id
        # the owning key's topics bound the endpoint, whoever changes it
        outside = await admin.patch(path, json={"topics": ["ports"]})
        assert outside.status_code == 422 and outside.json()["reason"] == "topic_not_allowed"
        assert (await admin.get(path)).json()["topics"] == ["rail"]
        assert (await admin.post(f"{path}/rotate-secret")).status_code == 200
        assert (await admin.get(f"{path}/deliveries")).status_code == 200
        # another partner's unrestricted key is no admin of this partner
        assert (await stranger.get(path)).status_code == 404
        assert (await admin.delete(path)).status_code == 204
        assert (await rail.get(path)).status_code == 404


# --- what an endpoint receives follows its key ---------------------------------------------------


async def test_after_the_key_is_narrowed_its_endpoint_gets_only_the_remaining_topics(
    api, world, receiver, db
):
    owner = await new_partner_key(db, world, "acme-narrowed")
    rail_id = (await topic_ids_for_slugs(db, ["rail"]))[0]
    async with client(api, owner.key) as mine, client(api, world.operator) as operator:
        hook = await create_webhook(
            mine, receiver.script("/narrowed"), event_types=["signal.created", "digest.published"]
        )
        assert hook["topics"] is None  # every topic the key may see
        narrowed = await operator.patch(key_path(world, owner.id), json={"topics": ["rail"]})
        assert narrowed.status_code == 200, narrowed.text
        await seed_signal(db, SeedSignal(title="Harbour after narrowing", topics=["Ports"]))
        kept = str(await seed_signal(db, SeedSignal(title="Rail after narrowing", topics=["Rail"])))
        async with db.transaction():
            # a general briefing: a restricted key cannot read it on GET /v1/digests either
            await publish_event(db, "digest.published", {"digest_id": "general"}, [])
            await publish_event(db, "digest.published", {"digest_id": "rail"}, [rail_id])
        # every event fanned out: each delivery the endpoint will ever get for them exists
        await eventually(lambda: db.fetchval(DISPATCHED_ALL))
        # the key, narrowed, still manages its own endpoint
        items = await eventually(lambda: all_final(mine, hook["id"]))
    assert len(items) == 2 and {d["state"] for d in items} == {"delivered"}
    bodies = [json.loads(r.body) for r in receiver.received("/narrowed")]
    assert sorted(b["type"] for b in bodies) == ["digest.published", "signal.created"]
    signal_body = next(b for b in bodies if b["type"] == "signal.created")
    assert signal_body["data"]["signal"]["id"] == kept
    assert [b["data"]["digest_id"] for b in bodies if b["type"] == "digest.published"] == ["rail"]


async def test_a_retry_is_not_sent_once_the_key_no_longer_has_the_event_s_topic(api, world, receiver, db):
    owner = await new_partner_key(db, world, "acme-narrowed-later")
    path = "/narrowed-later"
    async with client(api, owner.key) as mine, client(api, world.operator) as operator:
        hook = await create_webhook(mine, receiver.script(path, Answer(500)))
        await seed_signal(db, SeedSignal(title="Harbour before narrowing", topics=["Ports"]))
        pending = await first_attempt_failed(mine, hook["id"])
        narrowed = await operator.patch(key_path(world, owner.id), json={"topics": ["rail"]})
        assert narrowed.status_code == 200, narrowed.text
        ended = await final(mine, hook["id"], pending["id"])
    assert ended["state"] == "failed" and ended["attempts"] == 1
    assert ended["last_error"] == "the event is outside the topics of the key that owns the endpoint"
    assert [r.status for r in receiver.received(path)] == [500]  # the retry was never sent


async def test_a_revoked_key_s_endpoint_receives_nothing_more(api, world, receiver, db):
    owner = await new_partner_key(db, world, "acme-revoked")
    path = "/revoked"
    async with (
        client(api, owner.key) as mine,
        client(api, world.partner_admin) as admin,
        client(api, world.operator) as operator,
    ):
        hook = await create_webhook(mine, receiver.script(path, Answer(500)))
        await seed_signal(db, SeedSignal(title="Rail before revocation", topics=["Rail"]))
        pending = await first_attempt_failed(mine, hook["id"])
        revoked = await operator.delete(key_path(world, owner.id))
        assert revoked.status_code == 200 and revoked.json()["revoked_at"], revoked.text
        await seed_signal(db, SeedSignal(title="Rail after revocation", topics=["Rail"]))
        await eventually(lambda: db.fetchval(DISPATCHED_ALL))
        # the partner's admin still sees the endpoint, and what became of its deliveries
        ended = await final(admin, hook["id"], pending["id"])
        assert ended["state"] == "failed" and ended["attempts"] == 1
        assert ended["last_error"] == "the key that owns the endpoint was revoked"
        assert [d["id"] for d in await webhook_deliveries(admin, hook["id"])] == [pending["id"]]
    assert [r.status for r in receiver.received(path)] == [500]


async def test_a_key_that_cannot_read_signals_receives_none(api, world, receiver, db):
    """Every event carries a card or a briefing: a key without signals:read can create no
    endpoint, and an endpoint whose key no longer reads signals receives nothing."""
    hooks_only = await keys.create_key(
        db, name="hooks-only", scopes=["webhooks:manage"], partner_id=world.partner_id
    )
    async with client(api, hooks_only.key) as http:
        refused = await http.post("/v1/webhooks", json={"url": receiver.script("/never")})
    assert_problem(refused, 403, "forbidden", "missing_scope")
    owner = await new_partner_key(db, world, "acme-reader-once")
    path = "/unread"
    async with client(api, owner.key) as mine, client(api, world.partner_admin) as admin:
        hook = await create_webhook(mine, receiver.script(path))
        # no route changes a key's scopes; an operator could in the database
        await db.execute("UPDATE api_keys SET scopes = '{webhooks:manage}' WHERE id = $1", owner.id)
        await seed_signal(db, SeedSignal(title="Rail for nobody", topics=["Rail"]))
        await eventually(lambda: db.fetchval(DISPATCHED_ALL))
        assert await webhook_deliveries(admin, hook["id"]) == []
    assert receiver.received(path) == []
