"""Fanning events out to endpoints: the outbox (``webhook_events``) becomes one delivery per
subscribed endpoint and event, each with its queue job.

Events are read the way sync reads the change log: only rows whose writing transaction id
is below the snapshot's xmin (nothing earlier can still appear), in (xid, id) order, after
the dispatcher's stored position. The position moves in the same transaction that inserts
the deliveries and their jobs, so every event is fanned out exactly once: a crash before the
commit leaves both undone, and the next run does them. One dispatcher runs at a time (the
position's row lock; others skip), woken by a NOTIFY from the outbox and by a periodic poll.

An endpoint subscribes to an event when its own filters match and the key that created it
may still have it, as that key is at fan-out time: not revoked, partner not disabled, and the
event's topics within the key's current topic restriction (an event without topics, a
general briefing, reaches unrestricted keys only, as on ``GET /v1/digests``). An event about
a signal made of supplied content reaches only endpoints whose key is of that supplier
(service/keys/suppliers.py). Each message keeps its event's topics and supplier so every
later attempt checks the key again (delivery.py).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec

from schemas.base import json_encoder
from service.db.connections import Executor, Pool
from service.db.database import Database
from service.keys.suppliers import EVERY_SUPPLIER
from service.signals.repository import get_signal_cards
from service.webhooks import repository
from service.webhooks.delivery import enqueue_deliveries
from service.webhooks.follow import drain, follow_outbox
from service.webhooks.repository import PendingEvent

log = logging.getLogger(__name__)

BATCH = 200


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def _bodies(conn: Executor, events: list[PendingEvent]) -> dict[int, str]:
    """The JSON body of every event that has subscribers (signal events: the card as it is now;
    a signal deleted since is not announced)."""
    wanted = [e.signal_id for e in events if e.subscribers and e.signal_id is not None]
    # every card: each event goes only to endpoints that may see it (pending_webhook_events)
    found = await get_signal_cards(conn, wanted, suppliers=EVERY_SUPPLIER) if wanted else []
    cards = {card.id: card for card in found}
    bodies: dict[int, str] = {}
    for event in events:
        if not event.subscribers:
            continue
        data: dict[str, Any]
        if event.signal_id is not None:
            card = cards.get(event.signal_id)
            if card is None:
                continue
            # Related coverage is linked after the signal is stored (and may name signals
            # outside an endpoint's topics): payloads leave it out; the card URL has it.
            data = {
                "signal": msgspec.structs.replace(card, related=[]),
                "replaces": event.data.get("replaces"),
            }
        else:
            data = event.data
        envelope = {"type": event.type, "timestamp": _timestamp(event.occurred_at), "data": data}
        bodies[event.id] = json_encoder.encode(envelope).decode()
    return bodies


async def dispatch_batch(pool: Pool, batch: int = BATCH) -> int | None:
    """Fan out the next ``batch`` ready events; how many were handled (None: another
    dispatcher is running)."""
    async with pool.acquire() as conn, conn.transaction():
        position = await repository.lock_dispatch_cursor(conn)
        if position is None:
            return None
        events = await repository.pending_events(conn, position, batch)
        if not events:
            return 0
        bodies = await _bodies(conn, events)
        message_ids = {event_id: f"msg_{uuid.uuid4().hex}" for event_id in bodies}
        by_id = {event.id: event for event in events}
        if bodies:
            await repository.insert_messages(
                conn,
                ids=[message_ids[e] for e in bodies],
                events=[by_id[e] for e in bodies],
                bodies=list(bodies.values()),
            )
            pairs = [(w, message_ids[e]) for e in bodies for w in by_id[e].subscribers]
            delivery_ids = await repository.insert_deliveries(
                conn, [w for w, _ in pairs], [m for _, m in pairs]
            )
            await enqueue_deliveries(conn, delivery_ids)
        last = events[-1]
        await repository.advance_dispatch_cursor(conn, last.xid, last.id)
    return len(events)


async def dispatch_pending(pool: Pool) -> int:
    """Fan out every ready event; how many were handled by this call."""
    return await drain(lambda: dispatch_batch(pool), BATCH)


async def run_dispatcher(db: Database, poll_seconds: float, stop: asyncio.Event) -> None:
    """Dispatch until ``stop`` is set (service.webhooks.follow: on each outbox NOTIFY, and every
    SIGNALS_WEBHOOK_POLL_SECONDS without one)."""
    await follow_outbox(db, poll_seconds, stop, lambda: dispatch_pending(db.pool), "webhook dispatch")
