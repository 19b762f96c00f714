"""Putting work on the durable queue (pgqueuer, same database)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pgqueuer import AsyncpgDriver, Queries

ANALYZE_ARTICLE = "analyze_article"
"""Entrypoint name: payload is the job id's 16 bytes."""


async def enqueue_analysis(conn: Any, job_id: UUID) -> None:
    """Queue a job on ``conn``; inside the caller's transaction the job row and its queue
    entry commit together or not at all."""
    await Queries(AsyncpgDriver(conn)).enqueue(ANALYZE_ARTICLE, job_id.bytes, dedupe_key=str(job_id))
