"""The token bucket's one statement, through the named query in sql/queries/ratelimit.sql."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from service.db.queries import queries


async def take_token(db: Any, key_id: UUID, *, rate: float, burst: int) -> tuple[float, bool]:
    """Refill the bucket and take a token if one is there: (tokens left, taken).

    ``db`` is a pool or a connection; the statement runs on its own (autocommit).
    """
    row = await queries.take_rate_token.fetchrow(db, key_id=key_id, rate=rate, burst=burst)
    assert row is not None  # an upsert always returns its row
    return float(row["tokens"]), bool(row["allowed"])
