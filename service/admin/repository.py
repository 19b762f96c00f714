"""Partner and partner-key rows for administration, through sql/queries/admin.sql.

Every statement that changes what a cached key means (limits, restriction, revocation, a
disabled partner) sends NOTIFY signals_keys_changed itself, so no caller can forget it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from service.db.connections import Executor
from service.db.queries import queries
from service.errors import Conflict


@dataclass(frozen=True, slots=True)
class PartnerRow:
    id: UUID
    name: str
    rate_per_second: float | None
    burst: int | None
    created_at: datetime
    disabled_at: datetime | None
    active_keys: int
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class PartnerKeyRow:
    id: UUID
    partner_id: UUID
    name: str
    prefix: str
    scopes: list[str]
    topics: list[str] | None
    rate_per_second: float | None
    burst: int | None
    partner_rate_per_second: float | None
    partner_burst: int | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class Change:
    """One field of an update: whether to set it, and to what (None: back to the default)."""

    set: bool = False
    value: Any = None


def _partner(row: Any) -> PartnerRow:
    return PartnerRow(
        id=row["id"],
        name=row["name"],
        rate_per_second=row["rate_per_second"],
        burst=row["burst"],
        created_at=row["created_at"],
        disabled_at=row["disabled_at"],
        active_keys=int(row["active_keys"]),
        last_used_at=row["last_used_at"],
    )


def _key(row: Any) -> PartnerKeyRow:
    return PartnerKeyRow(
        id=row["id"],
        partner_id=row["partner_id"],
        name=row["name"],
        prefix=row["prefix"],
        scopes=list(row["scopes"]),
        topics=list(row["topics"]) if row["restricted"] else None,
        rate_per_second=row["rate_per_second"],
        burst=row["burst"],
        partner_rate_per_second=row["partner_rate_per_second"],
        partner_burst=row["partner_burst"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


async def create_partner(
    conn: Executor, name: str, rate_per_second: float | None, burst: int | None
) -> UUID | None:
    """The new partner's id; None when the name is taken."""
    value: UUID | None = await queries.admin_create_partner.fetchval(
        conn, name=name, rate_per_second=rate_per_second, burst=burst
    )
    return value


async def list_partners(conn: Executor, partner_id: UUID | None = None) -> list[PartnerRow]:
    return [_partner(row) for row in await queries.admin_list_partners.fetch(conn, id=partner_id)]


async def update_partner(
    conn: Executor, partner_id: UUID, *, name: Change, rate_per_second: Change, burst: Change
) -> bool:
    """Apply the changes; False when there is no such partner (409 on a taken name)."""
    try:
        row = await queries.admin_update_partner.fetchrow(
            conn,
            id=partner_id,
            set_name=name.set,
            name=name.value,
            set_rate=rate_per_second.set,
            rate_per_second=rate_per_second.value,
            set_burst=burst.set,
            burst=burst.value,
        )
    except asyncpg.UniqueViolationError:
        raise Conflict("another partner has that name", reason="name_taken") from None
    return row is not None


async def set_partner_disabled(conn: Executor, partner_id: UUID, disabled: bool) -> bool:
    """False when there is no such partner."""
    row = await queries.admin_set_partner_disabled.fetchrow(conn, id=partner_id, disabled=disabled)
    return row is not None


async def list_partner_keys(
    conn: Executor, partner_id: UUID, key_id: UUID | None = None
) -> list[PartnerKeyRow]:
    rows = await queries.admin_list_partner_keys.fetch(conn, partner_id=partner_id, key_id=key_id)
    return [_key(row) for row in rows]


async def update_partner_key(
    conn: Executor,
    partner_id: UUID,
    key_id: UUID,
    *,
    name: Change,
    topic_ids: Change,
    rate_per_second: Change,
    burst: Change,
) -> bool:
    """Apply the changes; False when the partner has no such key."""
    row = await queries.admin_update_partner_key.fetchrow(
        conn,
        partner_id=partner_id,
        key_id=key_id,
        set_name=name.set,
        name=name.value,
        set_topics=topic_ids.set,
        topic_ids=topic_ids.value,
        set_rate=rate_per_second.set,
        rate_per_second=rate_per_second.value,
        set_burst=burst.set,
        burst=burst.value,
    )
    return row is not None


async def revoke_partner_key(conn: Executor, partner_id: UUID, key_id: UUID) -> bool:
    """False when the partner has no such key."""
    row = await queries.admin_revoke_partner_key.fetchrow(conn, partner_id=partner_id, key_id=key_id)
    return row is not None
