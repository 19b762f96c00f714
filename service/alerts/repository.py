"""Alert rows and matches, through the named queries in sql/queries/alerts.sql."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from schemas.alerts import Alert, AlertLinks, AlertQueryView
from service.db.connections import Connection, Executor
from service.db.queries import queries
from service.keys.suppliers import SupplierView
from service.webhooks.repository import Owner


@dataclass(frozen=True, slots=True)
class SavedQuery:
    """An alert's query as stored: the topic resolved to its id."""

    q: str | None
    topic_id: int | None
    topic_slug: str | None
    entity_id: int | None
    source: str | None
    lang: str | None


@dataclass(frozen=True, slots=True)
class MatchRow:
    id: int
    signal_id: UUID
    matched_at: datetime


@dataclass(frozen=True, slots=True)
class PendingChange:
    """One row of signal_changes as the matcher reads it."""

    xid: int
    id: int
    kind: str
    signal_id: UUID
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class NewMatch:
    """A match just stored, with where it is delivered (``webhook_id``: an enabled endpoint)."""

    id: int
    alert_id: UUID
    alert_name: str
    signal_id: UUID
    matched_at: datetime
    topic_ids: list[int]
    supplier_id: UUID | None
    webhook_id: UUID | None


def _caller(owner: Owner) -> dict[str, Any]:
    return {
        "api_key_id": owner.api_key_id,
        "partner_id": owner.partner_id,
        "partner_admin": owner.partner_admin and owner.partner_id is not None,
    }


def _query_params(query: SavedQuery) -> dict[str, Any]:
    return {
        "q": query.q,
        "topic_id": query.topic_id,
        "topic_slug": query.topic_slug,
        "entity_id": query.entity_id,
        "source": query.source,
        "lang": query.lang,
    }


def _alert(row: Any) -> Alert:
    base = f"/v1/alerts/{row['id']}"
    return Alert(
        id=row["id"],
        api_key_id=row["api_key_id"],
        name=row["name"],
        query=AlertQueryView(
            q=row["q"], topic=row["topic"], entity=row["entity_id"], source=row["source"], lang=row["lang"]
        ),
        webhook_id=row["webhook_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        links=AlertLinks(
            self=base,
            matches=f"{base}/matches",
            atom=f"/v1/feeds/alerts/{row['id']}.atom",
            json=f"/v1/feeds/alerts/{row['id']}.json",
        ),
    )


# --- alerts ---------------------------------------------------------------------------------------


async def has_search_words(conn: Executor, q: str) -> bool:
    """Whether ``q`` leaves words to look for once parsed (not only stop words)."""
    return bool(await queries.search_words_of.fetchval(conn, q=q))


async def insert_alert(
    conn: Executor, owner: Owner, *, name: str, query: SavedQuery, webhook_id: UUID | None
) -> UUID:
    # Triggers: alerts_index_anchors → alert_anchors, the matcher's index (README "Architecture").
    value: UUID = await queries.insert_alert.fetchval(
        conn,
        partner_id=owner.partner_id,
        api_key_id=owner.api_key_id,
        name=name,
        webhook_id=webhook_id,
        **_query_params(query),
    )
    return value


async def get_owned_alert(conn: Executor, owner: Owner, alert_id: UUID) -> Alert | None:
    row = await queries.get_owned_alert.fetchrow(conn, id=alert_id, **_caller(owner))
    return _alert(row) if row is not None else None


async def list_owned_alerts(
    conn: Executor, owner: Owner, *, after: tuple[datetime, UUID] | None, limit: int
) -> list[Alert]:
    rows = await queries.list_owned_alerts.fetch(
        conn,
        **_caller(owner),
        after_created=after[0] if after else None,
        after_id=after[1] if after else None,
        limit=limit,
    )
    return [_alert(row) for row in rows]


async def update_owned_alert(
    conn: Executor,
    owner: Owner,
    alert_id: UUID,
    *,
    name: str | None,
    query: SavedQuery | None,
    set_webhook: bool,
    webhook_id: UUID | None,
) -> bool:
    """Change the name (unless None), the whole query (unless None) and, with ``set_webhook``,
    the endpoint; False when the caller manages no such alert."""
    empty = SavedQuery(None, None, None, None, None, None)
    # Triggers: alerts_index_anchors → alert_anchors, the matcher's index (README "Architecture").
    row = await queries.update_owned_alert.fetchrow(
        conn,
        id=alert_id,
        **_caller(owner),
        set_name=name is not None,
        name=name,
        set_query=query is not None,
        **_query_params(query or empty),
        set_webhook=set_webhook,
        webhook_id=webhook_id,
    )
    return row is not None


async def delete_owned_alert(conn: Executor, owner: Owner, alert_id: UUID) -> bool:
    row = await queries.delete_owned_alert.fetchrow(conn, id=alert_id, **_caller(owner))
    return row is not None


async def webhook_of_key(conn: Executor, webhook_id: UUID, api_key_id: UUID) -> bool:
    """Whether the key created that endpoint."""
    return (
        await queries.webhook_of_key.fetchval(conn, webhook_id=webhook_id, api_key_id=api_key_id) is not None
    )


async def owning_key_of_alert(
    conn: Executor, owner: Owner, alert_id: UUID
) -> tuple[UUID, list[int] | None] | None:
    """The alert's key and its topic restriction now, if ``owner`` manages the alert."""
    row = await queries.owning_key_of_alert.fetchrow(conn, id=alert_id, **_caller(owner))
    if row is None:
        return None
    return row["id"], list(row["topic_ids"]) if row["topic_ids"] is not None else None


async def list_matches(
    conn: Executor,
    alert_id: UUID,
    *,
    after_id: int | None,
    limit: int,
    restrict: list[int] | None,
    suppliers: SupplierView,
) -> list[MatchRow]:
    rows = await queries.list_alert_matches.fetch(
        conn,
        alert_id=alert_id,
        after_id=after_id,
        limit=limit,
        restrict_topics=restrict,
        **suppliers.params(),
    )
    return [MatchRow(id=r["id"], signal_id=r["signal_id"], matched_at=r["matched_at"]) for r in rows]


# --- the matcher ----------------------------------------------------------------------------------


async def lock_match_cursor(conn: Connection) -> tuple[int, int] | None:
    """The matcher's position, locked until the transaction ends (None: another holds it)."""
    row = await queries.lock_alert_match_cursor.fetchrow(conn)
    return (int(row["xid"]), int(row["id"])) if row is not None else None


async def advance_match_cursor(conn: Executor, xid: int, change_id: int) -> None:
    await queries.advance_alert_match_cursor.execute(conn, xid=xid, id=change_id)


async def pending_changes(conn: Executor, after: tuple[int, int], limit: int) -> list[PendingChange]:
    rows = await queries.pending_signal_changes.fetch(
        conn, after_xid=after[0], after_id=after[1], limit=limit
    )
    return [
        PendingChange(
            xid=int(r["xid"]),
            id=r["id"],
            kind=r["kind"],
            signal_id=r["signal_id"],
            changed_at=r["changed_at"],
        )
        for r in rows
    ]


async def insert_matches(conn: Executor, changes: list[PendingChange]) -> list[NewMatch]:
    """Match the changed signals against every alert; the matches that are new."""
    rows = await queries.insert_alert_matches.fetch(
        conn, signal_ids=[c.signal_id for c in changes], changed_at=[c.changed_at for c in changes]
    )
    return [
        NewMatch(
            id=r["id"],
            alert_id=r["alert_id"],
            alert_name=r["alert_name"],
            signal_id=r["signal_id"],
            matched_at=r["matched_at"],
            topic_ids=list(r["topic_ids"]),
            supplier_id=r["supplier_id"],
            webhook_id=r["webhook_id"],
        )
        for r in rows
    ]


async def percolate_signal(conn: Executor, signal_id: UUID) -> list[UUID]:
    """The alerts a current signal matches now (nothing is stored)."""
    return [r["id"] for r in await queries.percolate_signal.fetch(conn, signal_id=signal_id)]


async def insert_messages(
    conn: Executor,
    ids: list[str],
    bodies: list[str],
    topic_ids: list[list[int]],
    supplier_ids: list[UUID | None],
) -> None:
    await queries.insert_alert_messages.execute(
        conn,
        ids=ids,
        bodies=bodies,
        topic_ids=["{" + ",".join(str(t) for t in topics) + "}" for topics in topic_ids],
        supplier_ids=supplier_ids,
    )
