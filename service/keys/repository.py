"""API key and partner rows, through the named queries in sql/queries/keys.sql."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from schemas.keys import ApiKey
from service.db.connections import Executor
from service.db.queries import queries


class StoredKey(msgspec.Struct, kw_only=True, frozen=True):
    """What authentication and authorization need to know about a key."""

    id: UUID
    name: str
    prefix: str
    key_hash: bytes
    scopes: list[str]
    revoked: bool
    last_used_at: datetime | None
    partner_id: UUID | None = None
    partner_disabled: bool = False
    allowed_topic_ids: list[int] | None = None
    """None: every topic. Otherwise the key sees only signals carrying one of these topics."""
    rate_per_second: float | None = None
    """The key's (or its partner's) token refill rate; None: the service default."""
    burst: int | None = None


async def insert_api_key(conn: Executor, **fields: Any) -> Any:
    return await queries.insert_api_key.fetchrow(conn, **fields)


async def get_api_key_by_hash(conn: Executor, key_hash: bytes) -> StoredKey | None:
    row = await queries.get_api_key_by_hash.fetchrow(conn, key_hash=key_hash)
    if row is None:
        return None
    return StoredKey(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        key_hash=bytes(row["key_hash"]),
        scopes=list(row["scopes"]),
        revoked=row["revoked_at"] is not None,
        last_used_at=row["last_used_at"],
        partner_id=row["partner_id"],
        partner_disabled=row["partner_disabled_at"] is not None,
        allowed_topic_ids=list(row["topic_ids"]) if row["topic_ids"] is not None else None,
        rate_per_second=row["rate_per_second"],
        burst=row["burst"],
    )


def api_key_from_row(row: Any) -> ApiKey:
    return ApiKey(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        scopes=list(row["scopes"]),
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
        partner_id=row["partner_id"],
        topic_ids=list(row["topic_ids"]) if row["topic_ids"] is not None else None,
        rate_per_second=row["rate_per_second"],
        burst=row["burst"],
    )


async def list_api_keys(conn: Executor) -> list[ApiKey]:
    return [api_key_from_row(row) for row in await queries.list_api_keys.fetch(conn)]


async def revoke_api_key(conn: Executor, ident: str) -> list[ApiKey]:
    return [api_key_from_row(row) for row in await queries.revoke_api_key.fetch(conn, ident=ident)]


async def touch_api_key(conn: Executor, key_id: UUID) -> None:
    await queries.touch_api_key.execute(conn, id=key_id)


async def upsert_partner(conn: Executor, name: str, rate_per_second: float | None, burst: int | None) -> Any:
    return await queries.insert_partner.fetchrow(
        conn, name=name, rate_per_second=rate_per_second, burst=burst
    )
