"""Transactions that PostgreSQL may roll back to break a deadlock, run again.

PostgreSQL ends one transaction of a deadlock (or of a serialization conflict) with
SQLSTATE class 40, *transaction rollback*: nothing it wrote remains, and running the same work
again normally succeeds, because the transaction it collided with has moved on. The daily
counts (migration 0017) are written when a transaction commits, so a writer that changes many
signals (a topic merge, a deletion restoring an older version) can collide with ingest at
commit time; such a loss must not answer 500.

``run_in_transaction`` runs the work in a fresh transaction up to ``ATTEMPTS`` times, with
a short random pause between attempts so that the colliding writers do not meet again in
step. A transaction still rolled back after the last attempt raises ``Contended``: a 503
problem with ``Retry-After`` in a request, a failed job with that typed reason in a worker.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from service.db.connections import Connection, Pool
from service.errors import Contended

log = logging.getLogger(__name__)

T = TypeVar("T")

ATTEMPTS = 3
"""Transactions run before giving up with ``Contended``."""
PAUSE_SECONDS = (0.05, 0.25)
"""Random pause before a retry, multiplied by the attempt number."""


async def run_in_transaction(
    pool: Pool,
    work: Callable[[Connection], Awaitable[T]],
    *,
    what: str,
    retry_on: tuple[type[Exception], ...] = (),
    attempts: int = ATTEMPTS,
) -> T:
    """``await work(conn)`` inside one transaction on a pooled connection; again (in a new
    transaction) when PostgreSQL rolled it back, or when it raised one of ``retry_on`` (errors
    of ours that mean the same: run the whole transaction again). ``what`` names the work in
    logs and in the final error."""
    for attempt in range(1, attempts + 1):
        try:
            async with pool.acquire() as conn, conn.transaction():
                return await work(conn)
        except asyncpg.TransactionRollbackError as exc:
            if attempt == attempts:
                log.error("%s: rolled back %d times by PostgreSQL (%s); giving up", what, attempts, exc)
                raise Contended(
                    f"{what} collided with concurrent changes {attempts} times; try again",
                    retry_after=1,
                ) from exc
            log.warning("%s: rolled back by PostgreSQL (%s); running it again", what, exc)
        except retry_on as exc:
            if attempt == attempts:
                raise
            log.info("%s: %s; running it again", what, exc)
        await asyncio.sleep(random.uniform(*PAUSE_SECONDS) * attempt)
    raise AssertionError("unreachable: the last attempt returns or raises")
