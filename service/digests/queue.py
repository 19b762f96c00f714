"""Putting the writing of a briefing on the durable queue (pgqueuer, same database)."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from service.db.connections import Connection
from service.jobs.queue import queue_on

WRITE_DIGEST = "write_digest"
"""Entrypoint name: payload is the digest job id's 16 bytes."""


async def enqueue_digest(conn: Connection, job_id: UUID, *, attempt: int = 0, after: float = 0.0) -> None:
    """Queue the writing of a briefing job; inside the job row's transaction, the two commit
    together or not at all. A retry (``attempt`` > 0) runs ``after`` seconds from now; its
    dedupe key differs, as the attempt queueing it is still in the queue while it runs."""
    await queue_on(conn).enqueue(
        WRITE_DIGEST,
        job_id.bytes,
        execute_after=timedelta(seconds=after) if after else None,
        dedupe_key=f"digest:{job_id}" + (f":{attempt}" if attempt else ""),
    )
