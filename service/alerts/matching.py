"""The matcher: every new or re-analysed current signal is matched against every alert once.

It reads the signal change log (``signal_changes``) as sync does: only rows whose writing
transaction id is below the snapshot's xmin (every transaction that could still add an
earlier row has ended), in (xid, id) order, after its own stored position. The position
moves in the same transaction that stores the batch's matches and queues their webhook
deliveries, so no change is matched twice or skipped, a crash before the commit leaves both
undone, and a transaction that commits late (a smaller xid than rows already committed)
holds the horizon back until it ends and is then matched like the rest. One matcher runs at
a time (the position's row lock; others skip), woken by the outbox's NOTIFY (every signal
change writes a webhook event; it then gathers a quarter of a second of changes into one
batch) and by a periodic poll.

Matching is one statement per batch in PostgreSQL (sql/queries/alerts.sql,
``insert_alert_matches``): each signal's candidate alerts come from a GIN index over the
alerts' anchor keys (an entity, the words of the query, a topic, ...; migration 0027), and
only those are checked in full (``search @@ query``, topic, entity, source, language, and the
owning key's topics and supplier as the key is now). A signal already superseded or deleted
when its change is read is not matched (its successor's change is); one that becomes current
again is matched again, and its earlier matches stay single (one row per alert and signal).

A match whose alert names an enabled endpoint becomes an ``alert.matched`` message and a
delivery, sent and signed by the webhook sender (service/webhooks/delivery.py), which checks
the endpoint's key again at every attempt.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime

import msgspec

from schemas.alerts import AlertMatchedData, AlertRef
from schemas.base import json_encoder
from service.alerts import repository
from service.alerts.repository import NewMatch
from service.db.connections import Connection, Pool
from service.db.database import Database
from service.keys.suppliers import EVERY_SUPPLIER
from service.signals.repository import get_signal_cards
from service.webhooks.delivery import enqueue_deliveries
from service.webhooks.follow import drain, follow_outbox
from service.webhooks.repository import insert_deliveries

log = logging.getLogger(__name__)

EVENT_TYPE = "alert.matched"
BATCH = 200
_GATHER_SECONDS = 0.25
"""After a notification, how long to wait for more changes before matching them together."""


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def _queue_deliveries(conn: Connection, matches: list[NewMatch]) -> int:
    """One ``alert.matched`` message and delivery per match bound for an endpoint; how many."""
    bound = [m for m in matches if m.webhook_id is not None]
    if not bound:
        return 0
    # every card: the endpoint's key was checked by the match, and is again at each attempt
    found = await get_signal_cards(conn, list({m.signal_id for m in bound}), suppliers=EVERY_SUPPLIER)
    cards = {card.id: card for card in found}
    sent = [m for m in bound if m.signal_id in cards]
    bodies = [
        json_encoder.encode(
            {
                "type": EVENT_TYPE,
                "timestamp": _timestamp(m.matched_at),
                "data": AlertMatchedData(
                    alert=AlertRef(id=m.alert_id, name=m.alert_name),
                    # related coverage may name signals outside the key's topics: left out
                    signal=msgspec.structs.replace(cards[m.signal_id], related=[]),
                ),
            }
        ).decode()
        for m in sent
    ]
    ids = [f"msg_{uuid.uuid4().hex}" for _ in sent]
    await repository.insert_messages(
        conn, ids, bodies, [m.topic_ids for m in sent], [m.supplier_id for m in sent]
    )
    delivery_ids = await insert_deliveries(conn, [m.webhook_id for m in sent if m.webhook_id], ids)
    await enqueue_deliveries(conn, delivery_ids)
    return len(delivery_ids)


async def match_batch(pool: Pool, batch: int = BATCH) -> int | None:
    """Match the next ``batch`` ready changes; how many changes were handled (None: another
    matcher is running)."""
    async with pool.acquire() as conn, conn.transaction():
        position = await repository.lock_match_cursor(conn)
        if position is None:
            return None
        changes = await repository.pending_changes(conn, position, batch)
        if not changes:
            return 0
        live = [c for c in changes if c.kind != "deleted"]
        matches = await repository.insert_matches(conn, live) if live else []
        await _queue_deliveries(conn, matches)
        last = changes[-1]
        await repository.advance_match_cursor(conn, last.xid, last.id)
    return len(changes)


async def match_pending(pool: Pool) -> int:
    """Match every ready change; how many were handled by this call."""
    return await drain(lambda: match_batch(pool), BATCH)


async def run_matcher(db: Database, poll_seconds: float, stop: asyncio.Event) -> None:
    """Match until ``stop`` is set (service.webhooks.follow: on each outbox NOTIFY, and every
    SIGNALS_WEBHOOK_POLL_SECONDS without one). Signals arrive one commit at a time: after a
    notification the matcher waits _GATHER_SECONDS, to match those of the next moment in one
    batch (one statement and transaction for several, not one each)."""
    await follow_outbox(
        db,
        poll_seconds,
        stop,
        lambda: match_pending(db.pool),
        "alert matching",
        gather_seconds=_GATHER_SECONDS,
    )
