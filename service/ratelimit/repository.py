"""The token bucket's one statement, through the named query in sql/queries/ratelimit.sql."""

from __future__ import annotations

from uuid import UUID

from service.db.connections import Executor
from service.db.queries import queries


async def take_tokens(
    db: Executor, key_id: UUID, *, rate: float, burst: int, want: int = 1
) -> tuple[float, int]:
    """Refill the bucket and take up to ``want`` whole tokens: (tokens left, tokens taken).

    ``db`` is a pool or a connection; the statement runs on its own (autocommit).
    """
    row = await queries.take_rate_tokens.fetchrow(db, key_id=key_id, rate=rate, burst=burst, want=want)
    assert row is not None  # an upsert always returns its row
    return float(row["tokens"]), int(row["taken"])


async def take_token(db: Executor, key_id: UUID, *, rate: float, burst: int) -> tuple[float, bool]:
    """Take one token if one is there: (tokens left, taken)."""
    tokens, taken = await take_tokens(db, key_id, rate=rate, burst=burst)
    return tokens, taken > 0
