"""Webhook rows, through the named queries in sql/queries/webhooks.sql and webhook_delivery.sql."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec

from schemas.webhooks import Delivery, DeliveryAttempt, Webhook, WebhookLinks
from service.db.connections import Connection, Executor
from service.db.queries import queries


@dataclass(frozen=True, slots=True)
class Owner:
    """Who is asking. A key manages the endpoints it created and, as its partner's admin
    (``partner_admin``: a key of the partner without a topic restriction), all of the partner's."""

    api_key_id: UUID
    partner_id: UUID | None
    partner_admin: bool = False


@dataclass(frozen=True, slots=True)
class OwningKey:
    """The key that created an endpoint, as it is now."""

    id: UUID
    topic_ids: list[int] | None
    """None: every topic."""


def _caller(owner: Owner) -> dict[str, Any]:
    return {
        "api_key_id": owner.api_key_id,
        "partner_id": owner.partner_id,
        "partner_admin": owner.partner_admin and owner.partner_id is not None,
    }


def _webhook(row: Any) -> Webhook:
    return Webhook(
        id=row["id"],
        api_key_id=row["api_key_id"],
        url=row["url"],
        topics=list(row["topic_slugs"]) if row["topic_ids"] is not None and row["topic_slugs"] else None,
        event_types=list(row["event_types"]),
        description=row["description"],
        enabled=row["disabled_at"] is None,
        disabled_reason=row["disabled_reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        secret_rotated_at=row["secret_rotated_at"],
        previous_secret_expires_at=row["previous_secret_expires_at"],
        links=WebhookLinks(
            self=f"/v1/webhooks/{row['id']}", deliveries=f"/v1/webhooks/{row['id']}/deliveries"
        ),
    )


# --- endpoints ----------------------------------------------------------------------------------


async def insert_webhook(conn: Executor, owner: Owner, **fields: Any) -> UUID:
    value: UUID = await queries.insert_webhook.fetchval(
        conn, partner_id=owner.partner_id, api_key_id=owner.api_key_id, **fields
    )
    return value


async def get_owned_webhook(conn: Executor, owner: Owner, webhook_id: UUID) -> Webhook | None:
    row = await queries.get_owned_webhook.fetchrow(conn, id=webhook_id, **_caller(owner))
    return _webhook(row) if row is not None else None


async def get_owning_key(conn: Executor, owner: Owner, webhook_id: UUID) -> OwningKey | None:
    """The key that created the endpoint, if ``owner`` manages it."""
    row = await queries.get_owning_key.fetchrow(conn, id=webhook_id, **_caller(owner))
    if row is None:
        return None
    return OwningKey(id=row["id"], topic_ids=list(row["topic_ids"]) if row["topic_ids"] is not None else None)


async def list_owned_webhooks(
    conn: Executor, owner: Owner, *, after: tuple[datetime, UUID] | None, limit: int
) -> list[Webhook]:
    rows = await queries.list_owned_webhooks.fetch(
        conn,
        **_caller(owner),
        after_created=after[0] if after else None,
        after_id=after[1] if after else None,
        limit=limit,
    )
    return [_webhook(row) for row in rows]


async def update_owned_webhook(conn: Executor, owner: Owner, webhook_id: UUID, **changes: Any) -> bool:
    """Apply ``changes`` (keys: url, description, event_types, topic_ids, enabled)."""
    params: dict[str, Any] = {}
    for name, column in (
        ("url", "url"),
        ("description", "description"),
        ("event_types", "event_types"),
        ("topic_ids", "topics"),
        ("enabled", "enabled"),
    ):
        params[f"set_{column}"] = name in changes
        params["topic_ids" if column == "topics" else column] = changes.get(name)
    row = await queries.update_owned_webhook.fetchrow(conn, id=webhook_id, **_caller(owner), **params)
    return row is not None


async def delete_owned_webhook(conn: Executor, owner: Owner, webhook_id: UUID) -> bool:
    row = await queries.delete_owned_webhook.fetchrow(conn, id=webhook_id, **_caller(owner))
    return row is not None


async def rotate_owned_webhook_secret(
    conn: Executor, owner: Owner, webhook_id: UUID, *, secret_ciphertext: str, overlap_seconds: int
) -> Any:
    return await queries.rotate_owned_webhook_secret.fetchrow(
        conn,
        id=webhook_id,
        **_caller(owner),
        secret_ciphertext=secret_ciphertext,
        overlap_seconds=overlap_seconds,
    )


# --- deliveries as listed -----------------------------------------------------------------------


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row["id"],
        webhook_id=row["webhook_id"],
        message_id=row["message_id"],
        event_type=row["event_type"],
        state=row["state"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"] if row["state"] == "pending" else None,
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        redelivery_of=row["redelivery_of"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
        attempt_log=msgspec.convert(row["attempt_log"], list[DeliveryAttempt], strict=False),
    )


async def list_deliveries(
    conn: Executor,
    webhook_id: UUID,
    *,
    after: tuple[datetime, UUID] | None = None,
    delivery_id: UUID | None = None,
    limit: int,
) -> list[Delivery]:
    rows = await queries.list_webhook_deliveries.fetch(
        conn,
        webhook_id=webhook_id,
        delivery_id=delivery_id,
        after_created=after[0] if after else None,
        after_id=after[1] if after else None,
        limit=limit,
    )
    return [_delivery(row) for row in rows]


async def insert_redelivery(conn: Executor, webhook_id: UUID, delivery_id: UUID) -> UUID | None:
    value: UUID | None = await queries.insert_redelivery.fetchval(
        conn, webhook_id=webhook_id, delivery_id=delivery_id
    )
    return value


async def topic_slugs_by_id(conn: Executor, ids: list[int]) -> dict[int, str]:
    return {row["id"]: row["slug"] for row in await queries.topic_slugs_by_id.fetch(conn, ids=ids)}


# --- dispatching --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PendingEvent:
    id: int
    xid: int
    type: str
    signal_id: UUID | None
    data: dict[str, Any]
    occurred_at: datetime
    subscribers: list[UUID]


async def lock_dispatch_cursor(conn: Connection) -> tuple[int, int] | None:
    """The dispatcher's position, locked to the end of the transaction; None when another
    dispatcher holds it."""
    row = await queries.lock_dispatch_cursor.fetchrow(conn)
    return (int(row["xid"]), int(row["id"])) if row is not None else None


async def pending_events(conn: Executor, after: tuple[int, int], limit: int) -> list[PendingEvent]:
    rows = await queries.pending_webhook_events.fetch(
        conn, after_xid=after[0], after_id=after[1], limit=limit
    )
    return [
        PendingEvent(
            id=row["id"],
            xid=int(row["xid"]),
            type=row["type"],
            signal_id=row["signal_id"],
            data=row["data"],
            occurred_at=row["occurred_at"],
            subscribers=list(row["subscribers"]),
        )
        for row in rows
    ]


async def advance_dispatch_cursor(conn: Executor, xid: int, event_id: int) -> None:
    await queries.advance_dispatch_cursor.execute(conn, xid=xid, id=event_id)


async def insert_messages(
    conn: Executor, *, ids: list[str], events: list[PendingEvent], bodies: list[str]
) -> None:
    """Store one message per event (in the same order as ``ids`` and ``bodies``), with the
    event's topics, while the events are still in the outbox."""
    await queries.insert_webhook_messages.execute(
        conn,
        ids=ids,
        event_xids=[str(e.xid) for e in events],
        event_ids=[e.id for e in events],
        types=[e.type for e in events],
        bodies=bodies,
    )


async def insert_deliveries(conn: Executor, webhook_ids: list[UUID], message_ids: list[str]) -> list[UUID]:
    rows = await queries.insert_webhook_deliveries.fetch(
        conn, webhook_ids=webhook_ids, message_ids=message_ids
    )
    return [row["id"] for row in rows]


# --- attempts -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery this worker holds for one attempt, with what the attempt needs."""

    id: UUID
    attempt: int
    webhook_id: UUID
    url: str
    secret_ciphertext: str
    previous_secret_ciphertext: str | None
    previous_secret_expires_at: datetime | None
    message_id: str
    body: str


async def claim_delivery(conn: Executor, delivery_id: UUID, lease_seconds: float) -> ClaimedDelivery | None:
    row = await queries.claim_delivery.fetchrow(conn, id=delivery_id, lease_seconds=lease_seconds)
    if row is None:
        return None
    return ClaimedDelivery(
        id=row["id"],
        attempt=row["attempts"],
        webhook_id=row["webhook_id"],
        url=row["url"],
        secret_ciphertext=row["secret_ciphertext"],
        previous_secret_ciphertext=row["previous_secret_ciphertext"],
        previous_secret_expires_at=row["previous_secret_expires_at"],
        message_id=row["message_id"],
        body=row["body"],
    )


@dataclass(frozen=True, slots=True)
class DeliveryState:
    state: str
    lease_left: timedelta | None
    endpoint_disabled: bool
    out_of_reach: str | None
    """Why the endpoint's key may no longer deliver the message (revoked, narrowed, ...), if so."""


async def delivery_state(conn: Executor, delivery_id: UUID) -> DeliveryState | None:
    row = await queries.delivery_state.fetchrow(conn, id=delivery_id)
    if row is None:
        return None
    return DeliveryState(
        state=row["state"],
        lease_left=row["lease_left"],
        endpoint_disabled=row["disabled_at"] is not None,
        out_of_reach=row["out_of_reach"],
    )


async def finish_attempt(conn: Executor, **fields: Any) -> bool:
    """Record the attempt and move the delivery on; False when the attempt no longer held it."""
    return await queries.finish_attempt.fetchrow(conn, **fields) is not None


async def fail_undeliverable(conn: Executor, delivery_id: UUID, error: str) -> bool:
    """End a delivery that may not be sent as failed with ``error``; False when it was not
    pending (or left sending by a dead worker) any more."""
    return await queries.fail_undeliverable.fetchrow(conn, id=delivery_id, error=error) is not None


async def disable_webhook(conn: Executor, webhook_id: UUID, reason: str) -> None:
    await queries.disable_webhook.execute(conn, id=webhook_id, reason=reason)


async def insert_event(conn: Executor, event_type: str, data: dict[str, Any], topic_ids: list[int]) -> None:
    await queries.insert_webhook_event.execute(conn, type=event_type, data=data, topic_ids=topic_ids)
