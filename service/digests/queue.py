"""Putting the writing of a briefing on the durable queue (pgqueuer, same database)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pgqueuer import AsyncpgDriver, Queries

WRITE_DIGEST = "write_digest"
"""Entrypoint name: payload is the digest job id's 16 bytes."""


async def enqueue_digest(conn: Any, job_id: UUID) -> None:
    """Queue the writing of a briefing job; inside the job row's transaction, the two commit
    together or not at all."""
    await Queries(AsyncpgDriver(conn)).enqueue(WRITE_DIGEST, job_id.bytes, dedupe_key=f"digest:{job_id}")
