"""Old webhook history is pruned in batches; nothing still being delivered is touched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.keys.service import create_key
from service.webhooks.retention import prune_webhook_history

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
KEEP = timedelta(days=30)


async def _message(db, webhook_id, name: str, age_days: float, states: list[str]) -> None:
    created = NOW - timedelta(days=age_days)
    await db.execute(
        "INSERT INTO webhook_messages (id, type, body, created_at) VALUES ($1, 'signal.created', '{}', $2)",
        name,
        created,
    )
    first = None
    for state in states:
        delivery = await db.fetchval(
            "INSERT INTO webhook_deliveries"
            " (webhook_id, message_id, state, attempts, redelivery_of, created_at)"
            " VALUES ($1, $2, $3, 1, $4, $5) RETURNING id",
            webhook_id,
            name,
            state,
            first,  # the second delivery of a message is a redelivery of the first
            created,
        )
        first = first or delivery
        await db.execute(
            "INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms, status_code)"
            " VALUES ($1, 1, $2, 5, 500)",
            delivery,
            created,
        )


async def test_old_final_history_goes_and_the_rest_stays(db, pool):
    key = await create_key(db, name="hooks", scopes=["webhooks:manage", "signals:read"])
    webhook_id = await db.fetchval(
        "INSERT INTO webhooks (api_key_id, url, event_types, secret_ciphertext)"
        " VALUES ($1, 'https://receiver.example/hook', '{signal.created}', 'x') RETURNING id",
        key.id,
    )
    await _message(db, webhook_id, "msg_old_delivered", 45, ["delivered", "delivered"])
    await _message(db, webhook_id, "msg_old_failed", 31, ["failed"])
    await _message(db, webhook_id, "msg_old_but_retrying", 60, ["failed", "pending"])
    await _message(db, webhook_id, "msg_recent", 10, ["delivered"])
    for i in range(5):  # more old messages than one batch
        await _message(db, webhook_id, f"msg_batch_{i}", 40 + i, ["delivered"])
    # outbox: two old events behind the dispatcher's cursor, one old event ahead of it, one new
    ids = [
        await db.fetchval(
            "INSERT INTO webhook_events (type, occurred_at) VALUES ('digest.published', $1) RETURNING id",
            NOW - timedelta(days=age),
        )
        for age in (50, 40, 35, 1)
    ]
    cursor_xid = await db.fetchval("SELECT xid FROM webhook_events WHERE id = $1", ids[2])
    await db.execute(
        "UPDATE webhook_dispatch_cursor SET xid = $1, id = $2 WHERE name = 'events'", cursor_xid, ids[2]
    )

    messages, events = await prune_webhook_history(pool, keep=KEEP, now=NOW, batch=2)

    assert (messages, events) == (7, 2)
    left = {r["id"] for r in await db.fetch("SELECT id FROM webhook_messages")}
    assert left == {"msg_old_but_retrying", "msg_recent"}
    # deliveries and attempts went with their messages; the kept ones are whole
    assert await db.fetchval("SELECT count(*) FROM webhook_deliveries") == 3
    assert await db.fetchval("SELECT count(*) FROM webhook_attempts") == 3
    assert sorted(r["id"] for r in await db.fetch("SELECT id FROM webhook_events")) == sorted(ids[2:])
    # a second run finds nothing more
    assert await prune_webhook_history(pool, keep=KEEP, now=NOW) == (0, 0)
