"""API key rows, through the named queries in sql/queries/keys.sql."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from schemas.keys import ApiKey
from service.db.queries import queries


class StoredKey(msgspec.Struct, kw_only=True, frozen=True):
    """What authentication needs to know about a key."""

    id: UUID
    name: str
    prefix: str
    key_hash: bytes
    scopes: list[str]
    revoked: bool
    last_used_at: datetime | None


async def insert_api_key(conn: Any, *, name: str, prefix: str, key_hash: bytes, scopes: list[str]) -> Any:
    return await queries.insert_api_key.fetchrow(
        conn, name=name, prefix=prefix, key_hash=key_hash, scopes=scopes
    )


async def get_api_key_by_hash(conn: Any, key_hash: bytes) -> StoredKey | None:
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
    )


def _api_key(row: Any) -> ApiKey:
    return ApiKey(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        scopes=list(row["scopes"]),
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


async def list_api_keys(conn: Any) -> list[ApiKey]:
    return [_api_key(row) for row in await queries.list_api_keys.fetch(conn)]


async def revoke_api_key(conn: Any, ident: str) -> list[ApiKey]:
    return [_api_key(row) for row in await queries.revoke_api_key.fetch(conn, ident=ident)]


async def touch_api_key(conn: Any, key_id: UUID) -> None:
    await queries.touch_api_key.execute(conn, id=key_id)
