"""Putting work on the durable queue (pgqueuer, same database)."""

from __future__ import annotations

from typing import cast
from uuid import UUID

import asyncpg
from pgqueuer import AsyncpgDriver, Queries

from service.db.connections import Connection

ANALYZE_ARTICLE = "analyze_article"
"""Entrypoint name: payload is the job id's 16 bytes."""


ANALYSIS_PRIORITY = 10
"""Analyses are dequeued before relate steps and other background work (pgqueuer takes the
highest priority first): a caller waits on an analysis, nobody waits on a relate step."""


RELATE_SIGNAL = "relate_signal"
"""Entrypoint name: payload is the signal id's 16 bytes (embedding, story, related links)."""


def queue_on(conn: Connection) -> Queries:
    """pgqueuer's queries on ``conn``, so what they queue commits with the caller's transaction.
    AsyncpgDriver is typed for a plain asyncpg Connection; a pooled connection is a proxy that
    forwards every call to one, hence the cast."""
    return Queries(AsyncpgDriver(cast(asyncpg.Connection, conn)))


async def enqueue_analysis(conn: Connection, job_id: UUID) -> None:
    """Queue a job on ``conn``; inside the caller's transaction the job row and its queue
    entry commit together or not at all."""
    await queue_on(conn).enqueue(
        ANALYZE_ARTICLE, job_id.bytes, priority=ANALYSIS_PRIORITY, dedupe_key=str(job_id)
    )


async def enqueue_relate(conn: Connection, signal_id: UUID) -> None:
    """Queue the follow-up that embeds a new signal, places it in a story and links related
    coverage; in the signal's transaction, so no stored signal is ever left unrelated."""
    await queue_on(conn).enqueue(RELATE_SIGNAL, signal_id.bytes, dedupe_key=f"relate:{signal_id}")
