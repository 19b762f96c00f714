"""Webhooks end to end over real sockets: the API with its worker (dispatcher and delivery
jobs) on loopback, receivers on loopback that answer as scripted and verify every request with
the ``standardwebhooks`` package, a real PostgreSQL. Retries use a short schedule."""

from __future__ import annotations

import asyncio
import base64
import json
from collections import Counter
from collections.abc import Iterator
from functools import partial
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet
from standardwebhooks import Webhook as Verifier
from standardwebhooks import WebhookVerificationError

from service.app import create_app
from service.db.database import init_connection
from service.keys import service as keys
from service.topics.slugs import topic_ids_for_slugs
from service.webhooks.events import publish_event
from tests.support.clients import keyed_client
from tests.support.receivers import Answer, Receiver, eventually
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi
from tests.support.webhooks import create_webhook, webhook_deliveries

pytestmark = pytest.mark.timeout(120)
SCHEDULE = [0.2, 0.2, 0.5]
FERNET_KEY = Fernet.generate_key().decode()
DISPATCHED_ALL = """SELECT NOT EXISTS (SELECT 1 FROM webhook_events e, webhook_dispatch_cursor c
                                       WHERE (e.xid, e.id) > (c.xid, c.id))"""

client = partial(keyed_client, timeout=30)


@pytest.fixture(scope="module")
def api(make_settings: Any) -> Iterator[str]:
    settings = make_settings(
        rate_limit=False,
        secret_key=FERNET_KEY,
        webhook_retry_schedule=SCHEDULE,
        webhook_timeout_seconds=1.0,
        webhook_poll_seconds=0.5,
        worker_concurrency=8,
        job_heartbeat_seconds=10,
    )
    with running_asgi(create_app(settings, worker=True)) as base:
        yield base


@pytest.fixture(scope="module")
async def world(database_url: str) -> SimpleNamespace:
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        await seed_signal(conn, SeedSignal(title="Rail exists", topics=["Rail"]))
        await seed_signal(conn, SeedSignal(title="Ports exist", topics=["Ports"]))
        acme = await keys.ensure_partner(conn, "Acme")
        other = await keys.ensure_partner(conn, "Other Co")
        scopes = ["webhooks:manage", "signals:read"]
        acme_key = await keys.create_key(conn, name="acme-1", scopes=scopes, partner_id=acme["id"])
        acme_second = await keys.create_key(conn, name="acme-2", scopes=scopes, partner_id=acme["id"])
        other_key = await keys.create_key(conn, name="other", scopes=scopes, partner_id=other["id"])
        rail_only = await keys.create_key(
            conn, name="acme-rail", scopes=scopes, topic_ids=await topic_ids_for_slugs(conn, ["rail"])
        )
        reader = await keys.create_key(conn, name="reader", scopes=["signals:read"])
    finally:
        await conn.close()
    return SimpleNamespace(
        acme=acme_key.key,
        acme_second=acme_second.key,
        other=other_key.key,
        rail_only=rail_only.key,
        reader=reader.key,
    )


def verify(received: Any, secret: str) -> dict[str, Any]:
    payload: dict[str, Any] = Verifier(secret).verify(received.body, received.headers)
    return payload


async def settled(http: httpx.AsyncClient, webhook_id: str, count: int = 1) -> list[dict[str, Any]]:
    """The endpoint's deliveries once ``count`` of them reached delivered or failed."""

    async def check() -> list[dict[str, Any]] | None:
        items = await webhook_deliveries(http, webhook_id)
        done = [d for d in items if d["state"] in ("delivered", "failed")]
        return items if len(done) >= count else None

    result: list[dict[str, Any]] = await eventually(check)
    return result


def assert_once_per_2xx(receiver: Receiver, path: str) -> None:
    """Nothing was delivered twice to a receiver that answered 2xx."""
    answered = Counter(r.headers["webhook-id"] for r in receiver.received(path) if 200 <= r.status < 300)
    assert all(n == 1 for n in answered.values()), answered


# --- managing endpoints ---------------------------------------------------------------------------


async def test_endpoints_belong_to_the_partner_and_the_secret_is_shown_once(api, world, receiver, db):
    url = receiver.script("/manage")
    async with (
        client(api, world.acme) as acme,
        client(api, world.acme_second) as colleague,
        client(api, world.other) as other,
    ):
        created = await create_webhook(acme, url, topics=["rail"], description="ops")
        assert created["secret"].startswith("whsec_")
        assert 24 <= len(base64.b64decode(created["secret"].removeprefix("whsec_"))) <= 32
        assert created["topics"] == ["rail"] and created["event_types"] == [
            "signal.created",
            "signal.updated",
        ]
        hook = f"/v1/webhooks/{created['id']}"
        shown = (await colleague.get(hook)).json()
        assert "secret" not in shown and shown["url"] == url and shown["enabled"] is True
        assert created["id"] in [w["id"] for w in (await colleague.get("/v1/webhooks")).json()["items"]]
        # another partner cannot see, change or delete it
        assert (await other.get(hook)).status_code == 404
        assert (await other.patch(hook, json={"enabled": False})).status_code == 404
        assert (await other.delete(hook)).status_code == 404
        assert created["id"] not in [w["id"] for w in (await other.get("/v1/webhooks")).json()["items"]]

        changed = await acme.patch(hook, json={"topics": None, "event_types": ["digest.published"]})
        assert changed.status_code == 200, changed.text
        assert changed.json()["topics"] is None and changed.json()["event_types"] == ["digest.published"]
        assert changed.json()["description"] == "ops"

        # at rest the secret is a Fernet token, never the secret itself
        stored = await db.fetchrow("SELECT * FROM webhooks WHERE id = $1", created["id"])
        assert created["secret"] not in " ".join(str(v) for v in stored.values())
        assert Fernet(FERNET_KEY).decrypt(stored["secret_ciphertext"].encode()).decode() == created["secret"]

        assert (await acme.delete(hook)).status_code == 204
        assert (await acme.get(hook)).status_code == 404


async def test_bad_requests_are_problems(api, world, receiver):
    url = receiver.script("/bad")
    async with (
        client(api, world.acme) as acme,
        client(api, world.rail_only) as rail,
        client(api, world.reader) as reader,
    ):
        for body, status in (
            ({"url": url, "event_types": ["signal.deleted"]}, 400),
            ({"url": url, "extra": 1}, 400),
            ({"url": url, "topics": ["no-such-topic"]}, 422),
            ({"url": "ftp://127.0.0.1/x"}, 422),
            ({"url": "http://user:pw@127.0.0.1/x"}, 422),
        ):
            response = await acme.post("/v1/webhooks", json=body)
            assert response.status_code == status, (body, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
        # a topic outside a restricted key's topics is refused as an unknown one (it exists)
        outside = await rail.post("/v1/webhooks", json={"url": url, "topics": ["ports"]})
        assert outside.status_code == 422 and outside.json()["reason"] == "unknown_topic"
        assert outside.json()["detail"] == "unknown topics: ports"
        # no topics from a restricted key: exactly its topics
        assert (await create_webhook(rail, url))["topics"] == ["rail"]
        assert (await reader.post("/v1/webhooks", json={"url": url})).status_code == 403


# --- delivery ----------------------------------------------------------------------------------------


async def test_a_new_signal_is_delivered_once_signed_and_recorded(api, world, receiver, db):
    url = receiver.script("/created")
    filtered = receiver.script("/only-rail")
    updates_only = receiver.script("/updates-only")
    async with client(api, world.acme) as acme:
        hook = await create_webhook(acme, url)
        rail_hook = await create_webhook(acme, filtered, topics=["rail"])
        update_hook = await create_webhook(acme, updates_only, event_types=["signal.updated"])
        signal_id = str(await seed_signal(db, SeedSignal(title="Harbour cranes", topics=["Ports"])))
        items = await settled(acme, hook["id"])
    [request] = receiver.received("/created")
    payload = verify(request, hook["secret"])
    assert payload["type"] == "signal.created" and payload["data"]["signal"]["id"] == signal_id
    assert payload["data"]["replaces"] is None and payload["timestamp"].endswith("Z")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"].startswith("msg_")
    [delivery] = items
    assert delivery["state"] == "delivered" and delivery["attempts"] == 1
    assert (
        delivery["message_id"] == request.headers["webhook-id"] and delivery["event_type"] == "signal.created"
    )
    [attempt] = delivery["attempt_log"]
    assert attempt["status_code"] == 200 and attempt["error"] is None and attempt["next_retry_at"] is None
    assert attempt["attempt"] == 1 and attempt["duration_ms"] >= 0
    # topic and event-type filters: nothing for those endpoints
    assert receiver.received("/only-rail") == [] and receiver.received("/updates-only") == []
    async with client(api, world.acme) as acme:
        assert await webhook_deliveries(acme, rail_hook["id"]) == []
        assert await webhook_deliveries(acme, update_hook["id"]) == []
    assert_once_per_2xx(receiver, "/created")


async def test_an_event_of_a_transaction_that_commits_late_is_not_lost(
    api, world, receiver, db, database_url
):
    url = receiver.script("/late")
    async with client(api, world.acme) as acme:
        hook = await create_webhook(acme, url, topics=["rail"])
        slow = await asyncpg.connect(database_url)
        await init_connection(slow)
        try:
            async with slow.transaction():
                late = str(await seed_signal(slow, SeedSignal(title="Late event", topics=["Rail"])))
                early = str(await seed_signal(db, SeedSignal(title="Early event", topics=["Rail"])))
                await asyncio.sleep(1.0)  # the dispatcher polls meanwhile; the early event waits
                assert receiver.received("/late") == []
        finally:
            await slow.close()
        items = await settled(acme, hook["id"], 2)
    assert {d["state"] for d in items} == {"delivered"}
    delivered = [json.loads(r.body)["data"]["signal"]["id"] for r in receiver.received("/late")]
    assert sorted(delivered) == sorted([late, early])  # each once; the late one was not skipped
    assert await db.fetchval(DISPATCHED_ALL)
    assert await db.fetchval("SELECT count(*) FROM webhook_events") == 0  # the outbox is emptied


async def test_a_failing_receiver_is_retried_until_it_answers_2xx(api, world, receiver, db):
    url = receiver.script("/flaky", Answer(500), Answer(502))
    async with client(api, world.acme) as acme:
        hook = await create_webhook(acme, url, topics=["ports"])
        await seed_signal(db, SeedSignal(title="Flaky receiver", topics=["Ports"]))
        [delivery] = await settled(acme, hook["id"])
    assert delivery["state"] == "delivered" and delivery["attempts"] == 3
    log = delivery["attempt_log"]
    assert [a["status_code"] for a in log] == [500, 502, 200]
    assert all(a["next_retry_at"] for a in log[:2]) and log[2]["next_retry_at"] is None
    assert "500" in log[0]["error"]
    requests = receiver.received("/flaky")
    assert len(requests) == 3 and len({r.headers["webhook-id"] for r in requests}) == 1
    assert len({r.headers["webhook-timestamp"] for r in requests}) >= 1
    for request in requests:
        verify(request, hook["secret"])
    assert_once_per_2xx(receiver, "/flaky")


async def test_410_gone_disables_the_endpoint(api, world, receiver, db):
    url = receiver.script("/gone", Answer(410))
    async with client(api, world.acme) as acme:
        hook = await create_webhook(acme, url, topics=["ports"])
        await seed_signal(db, SeedSignal(title="Receiver is gone", topics=["Ports"]))
        [delivery] = await settled(acme, hook["id"])
        assert delivery["state"] == "failed" and delivery["attempts"] == 1
        shown = (await acme.get(f"/v1/webhooks/{hook['id']}")).json()
        assert shown["enabled"] is False and shown["disabled_reason"] == "gone"
        await seed_signal(db, SeedSignal(title="Nobody listens", topics=["Ports"]))
        await eventually(lambda: db.fetchval(DISPATCHED_ALL))
        assert len(receiver.received("/gone")) == 1
        again = await acme.patch(f"/v1/webhooks/{hook['id']}", json={"enabled": True})
        assert again.json()["enabled"] is True and again.json()["disabled_reason"] is None


async def test_429_retry_after_is_honoured(api, world, receiver, db):
    url = receiver.script("/busy", Answer(429, {"Retry-After": "1"}))
    async with client(api, world.acme) as acme:
        hook = await create_webhook(acme, url, topics=["ports"])
        await seed_signal(db, SeedSignal(title="Busy receiver", topics=["Ports"]))
        [delivery] = await settled(acme, hook["id"])
    assert delivery["state"] == "delivered"
    first, second = receiver.received("/busy")
    # the schedule says 0.2 s; the receiver asked for 1 s
    assert second.at - first.at >= 0.95, second.at - first.at
    assert delivery["attempt_log"][0]["status_code"] == 429


async def test_a_receiver_that_times_out_is_retried(api, world, receiver, db):
    url = receiver.script("/slow", Answer(503, delay=2.5))
    async with client(api, world.acme) as acme:
        hook = await create_webhook(acme, url, topics=["ports"])
        await seed_signal(db, SeedSignal(title="Slow receiver", topics=["Ports"]))
        [delivery] = await settled(acme, hook["id"])
    assert delivery["state"] == "delivered" and delivery["attempts"] == 2
    timed_out = delivery["attempt_log"][0]
    assert timed_out["status_code"] is None and "did not answer within 1 s" in timed_out["error"]
    assert 900 <= timed_out["duration_ms"] < 5000
    await eventually(lambda: len(receiver.received("/slow")) == 2, timeout=5)
    assert_once_per_2xx(receiver, "/slow")


async def test_redirects_are_not_followed(api, world, receiver, db):
    url = receiver.script("/moved", *[Answer(302, {"Location": "/elsewhere"})] * 4)
    receiver.script("/elsewhere")
    async with client(api, world.acme) as acme:
        hook = await create_webhook(acme, url, topics=["ports"])
        await seed_signal(db, SeedSignal(title="Moved receiver", topics=["Ports"]))
        [delivery] = await settled(acme, hook["id"])
    assert delivery["state"] == "failed" and delivery["attempts"] == len(SCHEDULE) + 1
    assert all(a["status_code"] == 302 and "not followed" in a["error"] for a in delivery["attempt_log"])
    assert delivery["attempt_log"][-1]["next_retry_at"] is None
    assert receiver.received("/elsewhere") == []


async def test_secret_rotation_signs_with_both_secrets_during_the_overlap(api, world, receiver, db):
    url = receiver.script("/rotating")
    async with client(api, world.acme) as acme:
        hook = await create_webhook(acme, url, topics=["rail"])
        rotated = await acme.post(f"/v1/webhooks/{hook['id']}/rotate-secret", json={"overlap_seconds": 60})
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["secret"]
        assert new_secret != hook["secret"] and rotated.json()["previous_secret_expires_at"]
        await seed_signal(db, SeedSignal(title="During the overlap", topics=["Rail"]))
        await settled(acme, hook["id"], 1)
        during = receiver.received("/rotating")[-1]
        assert len(during.headers["webhook-signature"].split(" ")) == 2
        verify(during, hook["secret"])
        verify(during, new_secret)

        # overlap 0: the previous secret stops at once
        rotated = await acme.post(f"/v1/webhooks/{hook['id']}/rotate-secret", json={"overlap_seconds": 0})
        newest = rotated.json()["secret"]
        assert rotated.json()["previous_secret_expires_at"] is None
        await seed_signal(db, SeedSignal(title="After the overlap", topics=["Rail"]))
        await settled(acme, hook["id"], 2)
        after = receiver.received("/rotating")[-1]
        assert len(after.headers["webhook-signature"].split(" ")) == 1
        verify(after, newest)
        for old in (hook["secret"], new_secret):
            with pytest.raises(WebhookVerificationError):
                verify(after, old)
        # and without a body, the default overlap (24 h)
        default = await acme.post(f"/v1/webhooks/{hook['id']}/rotate-secret")
        assert default.status_code == 200 and default.json()["previous_secret_expires_at"]


async def test_redelivery_sends_the_same_message_again(api, world, receiver, db):
    url = receiver.script("/again")
    async with client(api, world.acme) as acme:
        hook = await create_webhook(acme, url, topics=["rail"])
        await seed_signal(db, SeedSignal(title="Deliver me twice", topics=["Rail"]))
        [original] = await settled(acme, hook["id"])
        response = await acme.post(f"/v1/webhooks/{hook['id']}/deliveries/{original['id']}/redeliver")
        assert response.status_code == 202, response.text
        again = response.json()
        assert again["redelivery_of"] == original["id"] and again["message_id"] == original["message_id"]
        items = await settled(acme, hook["id"], 2)
        assert {d["state"] for d in items} == {"delivered"}
        page = (await acme.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"limit": 1})).json()
        assert len(page["items"]) == 1 and page["next"]
        rest = (await acme.get(page["next"])).json()
        assert [d["id"] for d in page["items"] + rest["items"]] == [d["id"] for d in items]
        missing = await acme.post(f"/v1/webhooks/{hook['id']}/deliveries/{hook['id']}/redeliver")
        assert missing.status_code == 404
    requests = receiver.received("/again")
    assert [r.headers["webhook-id"] for r in requests] == [original["message_id"]] * 2


async def test_published_events_reach_their_subscribers_after_commit_only(api, world, receiver, db):
    url = receiver.script("/digests")
    async with client(api, world.acme) as acme:
        hook = await create_webhook(acme, url, event_types=["digest.published"], topics=["rail"])
        rail_id = (await topic_ids_for_slugs(db, ["rail"]))[0]
        async with db.transaction():
            await publish_event(db, "digest.published", {"digest_id": "d-0"}, [rail_id])
        try:
            async with db.transaction():
                await publish_event(db, "digest.published", {"digest_id": "never"}, [rail_id])
                raise RuntimeError("abort")
        except RuntimeError:
            pass
        async with db.transaction():
            await publish_event(db, "digest.published", {"digest_id": "d-1"}, [rail_id])
        await settled(acme, hook["id"], 2)
    bodies = [json.loads(r.body) for r in receiver.received("/digests")]
    # both committed events, never the rolled-back one (deliveries run at once: any order)
    assert sorted(b["data"]["digest_id"] for b in bodies) == ["d-0", "d-1"]
    assert {b["type"] for b in bodies} == {"digest.published"}
    with pytest.raises(ValueError, match="cannot be published"):
        await publish_event(db, "signal.created", {}, [])


async def test_without_a_secret_key_on_a_shared_database_creation_is_503(make_settings, world, receiver):
    settings = make_settings(rate_limit=False, secret_key=None)
    with running_asgi(create_app(settings, worker=False)) as base:
        async with client(base, world.acme) as acme:
            response = await acme.post("/v1/webhooks", json={"url": receiver.script("/never")})
    assert response.status_code == 503
    problem = response.json()
    assert problem["code"] == "secret_key_missing" and problem["missing"] == ["SIGNALS_SECRET_KEY"]
