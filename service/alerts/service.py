"""Alerts: create, list, read, change, delete, and list what each matched.

An alert is owned by the key that created it (``alerts.api_key_id``) and managed by that key
and by its partner's admin, as webhook endpoints are (service/webhooks/service.py
``owner_of``: a key of the same partner without a topic restriction that holds
``webhooks:manage`` or ``admin``); anyone else gets 404. A topic the alert names must be one
the caller may see (else 422 ``unknown_topic``, as for an unknown one), and so must an
entity; a topic-restricted key's alerts match only signals on its topics whatever they name
(service/alerts/matching.py). ``webhook_id`` must be an endpoint created by the key that
owns the alert.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from schemas.alerts import Alert, AlertCreate, AlertMatch, AlertMatchPage, AlertPage, AlertQuery, AlertUpdate
from service.alerts import repository
from service.alerts.repository import SavedQuery
from service.db.connections import Executor, Pool
from service.errors import InvalidRequest, NotFound
from service.keys.repository import StoredKey
from service.keys.suppliers import supplier_view
from service.pagination import decode_cursor_as, encode_cursor
from service.signals.repository import existing_entity_ids, get_signal_cards
from service.topics.slugs import topic_ids_for_slugs
from service.webhooks.service import owner_of


class _Position(msgspec.Struct, forbid_unknown_fields=True):
    c: datetime
    i: UUID


class _MatchPosition(msgspec.Struct, forbid_unknown_fields=True):
    m: int


async def _saved_query(conn: Executor, key: StoredKey, query: AlertQuery) -> SavedQuery:
    """``query`` checked for ``key`` and resolved to ids; 422 when it cannot match anything
    the key may see."""
    if all(v is None for v in (query.q, query.topic, query.entity, query.source, query.lang)):
        raise InvalidRequest(
            "an alert needs at least one of q, topic, entity, source, lang", reason="empty_query"
        )
    if query.q is not None and not await repository.has_search_words(conn, query.q):
        raise InvalidRequest(
            "q has no words to search for (only stop words or symbols)", reason="no_search_words"
        )
    suppliers = supplier_view(key)
    topic_id = None
    if query.topic is not None:
        # outside the key's topics, or only in other suppliers' content: unknown (422)
        (topic_id,) = await topic_ids_for_slugs(
            conn, [query.topic], allowed=key.allowed_topic_ids, suppliers=suppliers
        )
    if query.entity is not None:
        known = await existing_entity_ids(conn, [query.entity], key.allowed_topic_ids, suppliers=suppliers)
        if query.entity not in known:
            raise InvalidRequest(f"unknown entity {query.entity}", reason="unknown_entity")
    return SavedQuery(
        q=query.q,
        topic_id=topic_id,
        topic_slug=query.topic,
        entity_id=query.entity,
        source=query.source,
        lang=query.lang,
    )


async def _check_webhook(conn: Executor, webhook_id: UUID, api_key_id: UUID) -> None:
    if not await repository.webhook_of_key(conn, webhook_id, api_key_id):
        raise InvalidRequest(
            f"no webhook {webhook_id} of the key that owns the alert", reason="unknown_webhook"
        )


async def create_alert(pool: Pool, key: StoredKey, body: AlertCreate) -> Alert:
    owner = owner_of(key)
    async with pool.acquire() as conn:
        query = await _saved_query(conn, key, body.query)
        if body.webhook_id is not None:
            await _check_webhook(conn, body.webhook_id, key.id)
        alert_id = await repository.insert_alert(
            conn, owner, name=body.name, query=query, webhook_id=body.webhook_id
        )
        alert = await repository.get_owned_alert(conn, owner, alert_id)
    assert alert is not None
    return alert


async def get_alert(pool: Pool, key: StoredKey, alert_id: UUID) -> Alert:
    async with pool.acquire() as conn:
        alert = await repository.get_owned_alert(conn, owner_of(key), alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    return alert


async def list_alerts(pool: Pool, key: StoredKey, *, limit: int, cursor: str | None) -> AlertPage:
    """The caller's alerts, oldest first; ``next`` is a cursor token or None."""
    after = None
    if cursor is not None:
        position = decode_cursor_as(cursor, "alerts", _Position)
        after = (position.c, position.i)
    async with pool.acquire() as conn:
        items = await repository.list_owned_alerts(conn, owner_of(key), after=after, limit=limit + 1)
    token = None
    if len(items) > limit:
        items = items[:limit]
        token = encode_cursor("alerts", {"c": items[-1].created_at, "i": items[-1].id})
    return AlertPage(items=items, next=token, limit=limit)


async def update_alert(pool: Pool, key: StoredKey, alert_id: UUID, body: AlertUpdate) -> Alert:
    """Change what ``body`` sends (404 unless the caller manages the alert)."""
    owner = owner_of(key)
    async with pool.acquire() as conn:
        owning = await repository.owning_key_of_alert(conn, owner, alert_id)
        if owning is None:
            raise NotFound(f"no alert {alert_id}")
        query = None
        if body.query is not msgspec.UNSET:
            query = await _saved_query(conn, key, body.query)
            owner_topics = owning[1]
            if query.topic_id is not None and owner_topics is not None and query.topic_id not in owner_topics:
                # the partner's admin, naming a topic outside the owning key's restriction
                raise InvalidRequest(
                    "the key that owns this alert may only watch its own topics", reason="topic_not_allowed"
                )
        set_webhook = body.webhook_id is not msgspec.UNSET
        webhook_id = body.webhook_id if isinstance(body.webhook_id, UUID) else None
        if webhook_id is not None:
            await _check_webhook(conn, webhook_id, owning[0])
        name = body.name if isinstance(body.name, str) else None
        if not await repository.update_owned_alert(
            conn, owner, alert_id, name=name, query=query, set_webhook=set_webhook, webhook_id=webhook_id
        ):
            raise NotFound(f"no alert {alert_id}")
        alert = await repository.get_owned_alert(conn, owner, alert_id)
    assert alert is not None
    return alert


async def delete_alert(pool: Pool, key: StoredKey, alert_id: UUID) -> None:
    async with pool.acquire() as conn:
        if not await repository.delete_owned_alert(conn, owner_of(key), alert_id):
            raise NotFound(f"no alert {alert_id}")


async def list_matches(
    pool: Pool, key: StoredKey, alert_id: UUID, *, limit: int, cursor: str | None
) -> AlertMatchPage:
    """The alert's matches, newest first, each with the signal's card as the caller may see it
    now (its topic restriction and supplier); ``next`` is a cursor token or None."""
    query = {"a": str(alert_id)}
    after = None
    if cursor is not None:
        after = decode_cursor_as(cursor, "alert-matches", _MatchPosition, query=query).m
    restrict = key.allowed_topic_ids
    suppliers = supplier_view(key)
    async with pool.acquire() as conn:
        if await repository.get_owned_alert(conn, owner_of(key), alert_id) is None:
            raise NotFound(f"no alert {alert_id}")
        rows = await repository.list_matches(
            conn, alert_id, after_id=after, limit=limit + 1, restrict=restrict, suppliers=suppliers
        )
        more = len(rows) > limit
        rows = rows[:limit]
        cards = await get_signal_cards(conn, [r.signal_id for r in rows], restrict, suppliers=suppliers)
    by_id = {card.id: card for card in cards}
    items = [
        AlertMatch(id=r.id, signal_id=r.signal_id, matched_at=r.matched_at, signal=by_id[r.signal_id])
        for r in rows
        if r.signal_id in by_id
    ]
    token = encode_cursor("alert-matches", {"m": rows[-1].id}, query=query) if more else None
    return AlertMatchPage(items=items, next=token, limit=limit)
