"""Webhook endpoints: create, list, read, change, delete, rotate the secret, list deliveries
and redeliver.

Endpoints belong to the caller's partner (every key of the partner manages them) or, for a key
without a partner, to that key; anyone else gets 404, as if they did not exist. A key with a
topic restriction can only subscribe within it (no ``topics``: exactly its topics). URLs go
through the article fetcher's address checks at creation and on every change (and again at
every delivery attempt); a host name must resolve, to allowed addresses only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import msgspec

from schemas.webhooks import (
    Delivery,
    DeliveryPage,
    SecretRotated,
    SecretRotation,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookPage,
    WebhookUpdate,
)
from service.errors import FetchFailed, FetchRefused, InvalidRequest, NotFound, WebhookUrlRefused
from service.ingest.addresses import resolve_checked
from service.ingest.fetch import check_url
from service.keys.repository import StoredKey
from service.keys.service import topic_ids_for_slugs
from service.pagination import decode_cursor_as, encode_cursor
from service.runtime import Runtime
from service.webhooks import repository
from service.webhooks.delivery import enqueue_deliveries
from service.webhooks.repository import Owner
from service.webhooks.secrets import new_webhook_secret

MAX_LIMIT = 100


class _Position(msgspec.Struct, forbid_unknown_fields=True):
    c: datetime
    i: UUID


def owner_of(key: StoredKey) -> Owner:
    return Owner(api_key_id=key.id, partner_id=key.partner_id)


async def checked_webhook_url(rt: Runtime, url: str) -> str:
    """``url`` normalised, if deliveries may go there now; 422 ``webhook_url_refused`` if not."""
    try:
        checked = check_url(url, rt.policy)
        parts = urlsplit(checked)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        await resolve_checked(parts.hostname or "", port, rt.policy)
    except FetchRefused as exc:
        raise WebhookUrlRefused(exc.detail, reason=exc.reason) from None
    except FetchFailed:
        raise WebhookUrlRefused("the webhook URL's host name cannot be resolved", reason="dns") from None
    return checked


async def _topic_ids(conn: Any, key: StoredKey, slugs: list[str] | None) -> list[int] | None:
    """Topic ids an endpoint filters on, within the key's restriction (None: every topic)."""
    allowed = set(key.allowed_topic_ids) if key.allowed_topic_ids is not None else None
    if slugs is None:
        return sorted(allowed) if allowed is not None else None
    ids = await topic_ids_for_slugs(conn, slugs)
    if allowed is not None and not set(ids) <= allowed:
        raise InvalidRequest("this key may only subscribe to its own topics", reason="topic_not_allowed")
    return ids


async def create_webhook(rt: Runtime, key: StoredKey, body: WebhookCreate) -> WebhookCreated:
    """Create an endpoint; the answer carries its secret, the only time it is shown."""
    url = await checked_webhook_url(rt, body.url)
    secret = new_webhook_secret()
    ciphertext = rt.secret_box.encrypt(secret)  # 503 before anything is stored, if no key
    owner = owner_of(key)
    async with rt.db.pool.acquire() as conn:
        topic_ids = await _topic_ids(conn, key, body.topics)
        webhook_id = await repository.insert_webhook(
            conn,
            owner,
            url=url,
            description=body.description,
            event_types=sorted(set(body.event_types)),
            topic_ids=topic_ids,
            secret_ciphertext=ciphertext,
        )
        webhook = await repository.get_owned_webhook(conn, owner, webhook_id)
    assert webhook is not None
    return WebhookCreated(**msgspec.structs.asdict(webhook), secret=secret)


async def get_webhook(rt: Runtime, key: StoredKey, webhook_id: UUID) -> Webhook:
    async with rt.db.pool.acquire() as conn:
        webhook = await repository.get_owned_webhook(conn, owner_of(key), webhook_id)
    if webhook is None:
        raise NotFound(f"no webhook {webhook_id}")
    return webhook


async def list_webhooks(rt: Runtime, key: StoredKey, *, limit: int, cursor: str | None) -> WebhookPage:
    """The caller's endpoints, oldest first; ``next`` is a cursor token or None."""
    after = None
    if cursor is not None:
        position = decode_cursor_as(cursor, "webhooks", _Position)
        after = (position.c, position.i)
    async with rt.db.pool.acquire() as conn:
        items = await repository.list_owned_webhooks(conn, owner_of(key), after=after, limit=limit + 1)
    token = None
    if len(items) > limit:
        items = items[:limit]
        token = encode_cursor("webhooks", {"c": items[-1].created_at, "i": items[-1].id})
    return WebhookPage(items=items, next=token, limit=limit)


async def update_webhook(rt: Runtime, key: StoredKey, webhook_id: UUID, body: WebhookUpdate) -> Webhook:
    changes: dict[str, Any] = {}
    if body.url is not msgspec.UNSET:
        changes["url"] = await checked_webhook_url(rt, body.url)
    if body.description is not msgspec.UNSET:
        changes["description"] = body.description
    if body.event_types is not msgspec.UNSET:
        changes["event_types"] = sorted(set(body.event_types))
    if body.enabled is not msgspec.UNSET:
        changes["enabled"] = body.enabled
    owner = owner_of(key)
    async with rt.db.pool.acquire() as conn:
        if body.topics is not msgspec.UNSET:
            changes["topic_ids"] = await _topic_ids(conn, key, body.topics)
        if not await repository.update_owned_webhook(conn, owner, webhook_id, **changes):
            raise NotFound(f"no webhook {webhook_id}")
        webhook = await repository.get_owned_webhook(conn, owner, webhook_id)
    assert webhook is not None
    return webhook


async def delete_webhook(rt: Runtime, key: StoredKey, webhook_id: UUID) -> None:
    async with rt.db.pool.acquire() as conn:
        if not await repository.delete_owned_webhook(conn, owner_of(key), webhook_id):
            raise NotFound(f"no webhook {webhook_id}")


async def rotate_secret(rt: Runtime, key: StoredKey, webhook_id: UUID, body: SecretRotation) -> SecretRotated:
    """A new secret (shown once); the old one also signs until the overlap ends."""
    secret = new_webhook_secret()
    ciphertext = rt.secret_box.encrypt(secret)
    async with rt.db.pool.acquire() as conn:
        row = await repository.rotate_owned_webhook_secret(
            conn,
            owner_of(key),
            webhook_id,
            secret_ciphertext=ciphertext,
            overlap_seconds=body.overlap_seconds,
        )
    if row is None:
        raise NotFound(f"no webhook {webhook_id}")
    return SecretRotated(
        id=webhook_id, secret=secret, previous_secret_expires_at=row["previous_secret_expires_at"]
    )


async def list_deliveries(
    rt: Runtime, key: StoredKey, webhook_id: UUID, *, limit: int, cursor: str | None
) -> DeliveryPage:
    """An endpoint's deliveries, newest first, each with every attempt."""
    query = {"w": str(webhook_id)}
    after = None
    if cursor is not None:
        position = decode_cursor_as(cursor, "webhook-deliveries", _Position, query=query)
        after = (position.c, position.i)
    await get_webhook(rt, key, webhook_id)
    async with rt.db.pool.acquire() as conn:
        items = await repository.list_deliveries(conn, webhook_id, after=after, limit=limit + 1)
    token = None
    if len(items) > limit:
        items = items[:limit]
        token = encode_cursor(
            "webhook-deliveries", {"c": items[-1].created_at, "i": items[-1].id}, query=query
        )
    return DeliveryPage(items=items, next=token, limit=limit)


async def redeliver(rt: Runtime, key: StoredKey, webhook_id: UUID, delivery_id: UUID) -> Delivery:
    """Send a delivery's message again as a new delivery (the same ``webhook-id``)."""
    await get_webhook(rt, key, webhook_id)
    async with rt.db.pool.acquire() as conn:
        async with conn.transaction():
            new_id = await repository.insert_redelivery(conn, webhook_id, delivery_id)
            if new_id is None:
                raise NotFound(f"no delivery {delivery_id} of webhook {webhook_id}")
            await enqueue_deliveries(conn, [new_id])
        found = await repository.list_deliveries(conn, webhook_id, delivery_id=new_id, limit=1)
    return found[0]
