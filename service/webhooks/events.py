"""Publishing webhook events from other features (``digest.published``, ...).

``publish_event`` writes to the outbox on the caller's connection, inside the caller's
transaction: the event exists if and only if what it announces was committed, and the
dispatcher fans it out to every subscribed endpoint exactly once after that commit.
Signal events (``signal.created``, ``signal.updated``) are not published here: a trigger on
the signal change log writes them.
"""

from __future__ import annotations

from typing import Any

from schemas.webhooks import EVENT_TYPES
from service.db.connections import Executor
from service.webhooks import repository

PUBLISHABLE = frozenset(EVENT_TYPES) - {"signal.created", "signal.updated"}


async def publish_event(conn: Executor, event_type: str, data: dict[str, Any], topic_ids: list[int]) -> None:
    """Record ``event_type`` with ``data`` (the body's ``data``, JSON-encodable) for the
    endpoints subscribed to it; ``topic_ids`` are the topics it concerns (an endpoint with a
    topic filter gets it only when one matches; an empty list reaches unfiltered endpoints only).
    Call it inside the transaction that commits what the event announces."""
    if event_type not in PUBLISHABLE:
        raise ValueError(f"{event_type!r} cannot be published; choose from {sorted(PUBLISHABLE)}")
    # Triggers: webhook_events_notify → NOTIFY signals_webhook_events (README "Architecture").
    await repository.insert_event(conn, event_type, data, sorted(set(topic_ids)))
