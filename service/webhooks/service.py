"""Webhook endpoints: create, list, read, change, delete, rotate the secret, list deliveries
and redeliver.

An endpoint is owned by the key that created it (``webhooks.api_key_id``, shown as
``api_key_id``). It is seen and managed (read, list, change, delete, rotate the secret, list
deliveries, redeliver) by that key and by its partner's admin: a key of the same partner
without a topic restriction, which already sees everything the partner may see. Anyone else,
other keys of the partner included, gets 404, as if it did not exist; a key without a
partner manages only its own endpoints.

A key with a topic restriction subscribes only within it, on creation and on change (no
``topics``, or ``topics: null``: exactly its topics); an endpoint's topics also stay within
the restriction of the key that owns it when its partner's admin changes them. What an
endpoint receives is bounded by its owning key as that key is when each event is fanned out
and when each attempt is made (revoked, narrowed, partner disabled: nothing more is sent; see
dispatch.py and delivery.py).

URLs go through the article fetcher's address checks at creation and on every change (and
again at every delivery attempt); a host name must resolve, to allowed addresses only.
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
from service.db.connections import Executor, Pool
from service.errors import FetchFailed, FetchRefused, Forbidden, InvalidRequest, NotFound, WebhookUrlRefused
from service.ingest.addresses import AddressPolicy, resolve_checked
from service.ingest.fetch import check_url
from service.keys.repository import StoredKey
from service.keys.suppliers import supplier_view
from service.pagination import decode_cursor_as, encode_cursor
from service.topics.slugs import topic_ids_for_slugs
from service.webhooks import repository
from service.webhooks.delivery import enqueue_deliveries
from service.webhooks.repository import Owner
from service.webhooks.secrets import SecretBox, new_webhook_secret


class _Position(msgspec.Struct, forbid_unknown_fields=True):
    c: datetime
    i: UUID


MANAGING_SCOPES = frozenset({"webhooks:manage", "admin"})
"""Scopes that make an unrestricted key of a partner its admin: every webhook route needs
one anyway, but an alert needs only signals:read, and a read-only key (one given to a feed
reader, whose URL may leak) must not manage its siblings' alerts."""


def owner_of(key: StoredKey) -> Owner:
    """The caller: a partner's key without a topic restriction and with a managing scope is
    the partner's admin (of its endpoints and alerts)."""
    return Owner(
        api_key_id=key.id,
        partner_id=key.partner_id,
        partner_admin=key.partner_id is not None
        and key.allowed_topic_ids is None
        and not MANAGING_SCOPES.isdisjoint(key.scopes),
    )


async def checked_webhook_url(policy: AddressPolicy, url: str) -> str:
    """``url`` normalised, if deliveries may go there now; 422 ``webhook_url_refused`` if not."""
    try:
        checked = check_url(url, policy)
        parts = urlsplit(checked)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        await resolve_checked(parts.hostname or "", port, policy)
    except FetchRefused as exc:
        raise WebhookUrlRefused(exc.detail, reason=exc.reason) from None
    except FetchFailed:
        raise WebhookUrlRefused("the webhook URL's host name cannot be resolved", reason="dns") from None
    return checked


def _within(*restrictions: list[int] | None) -> set[int] | None:
    """The topics every one of the restrictions allows (None: every topic)."""
    allowed: set[int] | None = None
    for restriction in restrictions:
        if restriction is not None:
            allowed = set(restriction) if allowed is None else allowed & set(restriction)
    return allowed


async def _topic_ids(
    conn: Executor, key: StoredKey, slugs: list[str] | None, *, owner_topics: list[int] | None = None
) -> list[int] | None:
    """Topic ids an endpoint filters on (None: every topic), within the caller's restriction
    and ``owner_topics`` (the restriction of the key that owns the endpoint, as it is now); no
    slugs: exactly what both allow. A topic outside the caller's own restriction is refused as
    an unknown one (the key does not learn that it exists)."""
    allowed = _within(key.allowed_topic_ids, owner_topics)
    refused = InvalidRequest(
        "the key that owns this endpoint may only subscribe to its own topics", reason="topic_not_allowed"
    )
    if slugs is None:
        if allowed is not None and not allowed:
            raise refused  # restrictions that share no topic (a cached key a moment old)
        return sorted(allowed) if allowed is not None else None
    # outside its topics, or only in other suppliers' content: unknown
    ids = await topic_ids_for_slugs(conn, slugs, allowed=key.allowed_topic_ids, suppliers=supplier_view(key))
    if allowed is not None and not set(ids) <= allowed:
        raise refused  # the partner's admin, outside the owning key's topics
    return ids


async def create_webhook(
    pool: Pool, policy: AddressPolicy, secret_box: SecretBox, key: StoredKey, body: WebhookCreate
) -> WebhookCreated:
    """Create an endpoint; the answer carries its secret, the only time it is shown. The key
    must also read signals: every event carries a card or a briefing (fan-out checks it too)."""
    if "admin" not in key.scopes and "signals:read" not in key.scopes:
        raise Forbidden(
            "webhooks deliver signals and briefings: this key also needs the 'signals:read' scope",
            reason="missing_scope",
        )
    url = await checked_webhook_url(policy, body.url)
    secret = new_webhook_secret()
    ciphertext = secret_box.encrypt(secret)  # 503 before anything is stored, if no key
    owner = owner_of(key)
    async with pool.acquire() as conn:
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


async def get_webhook(pool: Pool, key: StoredKey, webhook_id: UUID) -> Webhook:
    async with pool.acquire() as conn:
        webhook = await repository.get_owned_webhook(conn, owner_of(key), webhook_id)
    if webhook is None:
        raise NotFound(f"no webhook {webhook_id}")
    return webhook


async def list_webhooks(pool: Pool, key: StoredKey, *, limit: int, cursor: str | None) -> WebhookPage:
    """The caller's endpoints, oldest first; ``next`` is a cursor token or None."""
    after = None
    if cursor is not None:
        position = decode_cursor_as(cursor, "webhooks", _Position)
        after = (position.c, position.i)
    async with pool.acquire() as conn:
        items = await repository.list_owned_webhooks(conn, owner_of(key), after=after, limit=limit + 1)
    token = None
    if len(items) > limit:
        items = items[:limit]
        token = encode_cursor("webhooks", {"c": items[-1].created_at, "i": items[-1].id})
    return WebhookPage(items=items, next=token, limit=limit)


async def update_webhook(
    pool: Pool, policy: AddressPolicy, key: StoredKey, webhook_id: UUID, body: WebhookUpdate
) -> Webhook:
    """Change what ``body`` sends (404 unless the caller manages the endpoint); new topics stay
    within the caller's restriction and the owning key's."""
    changes: dict[str, Any] = {}
    if body.url is not msgspec.UNSET:
        changes["url"] = await checked_webhook_url(policy, body.url)
    if body.description is not msgspec.UNSET:
        changes["description"] = body.description
    if body.event_types is not msgspec.UNSET:
        changes["event_types"] = sorted(set(body.event_types))
    if body.enabled is not msgspec.UNSET:
        changes["enabled"] = body.enabled
    owner = owner_of(key)
    async with pool.acquire() as conn:
        if body.topics is not msgspec.UNSET:
            owning = await repository.get_owning_key(conn, owner, webhook_id)
            if owning is None:
                raise NotFound(f"no webhook {webhook_id}")
            # The caller is that key, or the partner's admin changing a restricted key's endpoint.
            changes["topic_ids"] = await _topic_ids(conn, key, body.topics, owner_topics=owning.topic_ids)
        if not await repository.update_owned_webhook(conn, owner, webhook_id, **changes):
            raise NotFound(f"no webhook {webhook_id}")
        webhook = await repository.get_owned_webhook(conn, owner, webhook_id)
    assert webhook is not None
    return webhook


async def delete_webhook(pool: Pool, key: StoredKey, webhook_id: UUID) -> None:
    async with pool.acquire() as conn:
        if not await repository.delete_owned_webhook(conn, owner_of(key), webhook_id):
            raise NotFound(f"no webhook {webhook_id}")


async def rotate_secret(
    pool: Pool, secret_box: SecretBox, key: StoredKey, webhook_id: UUID, body: SecretRotation
) -> SecretRotated:
    """A new secret (shown once); the old one also signs until the overlap ends."""
    secret = new_webhook_secret()
    ciphertext = secret_box.encrypt(secret)
    async with pool.acquire() as conn:
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
    pool: Pool, key: StoredKey, webhook_id: UUID, *, limit: int, cursor: str | None
) -> DeliveryPage:
    """An endpoint's deliveries, newest first, each with every attempt."""
    query = {"w": str(webhook_id)}
    after = None
    if cursor is not None:
        position = decode_cursor_as(cursor, "webhook-deliveries", _Position, query=query)
        after = (position.c, position.i)
    await get_webhook(pool, key, webhook_id)
    async with pool.acquire() as conn:
        items = await repository.list_deliveries(conn, webhook_id, after=after, limit=limit + 1)
    token = None
    if len(items) > limit:
        items = items[:limit]
        token = encode_cursor(
            "webhook-deliveries", {"c": items[-1].created_at, "i": items[-1].id}, query=query
        )
    return DeliveryPage(items=items, next=token, limit=limit)


async def redeliver(pool: Pool, key: StoredKey, webhook_id: UUID, delivery_id: UUID) -> Delivery:
    """Send a delivery's message again as a new delivery (the same ``webhook-id``)."""
    await get_webhook(pool, key, webhook_id)
    async with pool.acquire() as conn:
        async with conn.transaction():
            new_id = await repository.insert_redelivery(conn, webhook_id, delivery_id)
            if new_id is None:
                raise NotFound(f"no delivery {delivery_id} of webhook {webhook_id}")
            await enqueue_deliveries(conn, [new_id])
        found = await repository.list_deliveries(conn, webhook_id, delivery_id=new_id, limit=1)
    return found[0]
