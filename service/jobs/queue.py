"""Putting work on the durable queue (pgqueuer, same database)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pgqueuer import AsyncpgDriver, Queries

ANALYZE_ARTICLE = "analyze_article"
"""Entrypoint name: payload is the job id's 16 bytes."""


ANALYSIS_PRIORITY = 10
"""Analyses are dequeued before relate steps and other background work (pgqueuer takes the
highest priority first): a caller waits on an analysis, nobody waits on a relate step."""


RELATE_SIGNAL = "relate_signal"
"""Entrypoint name: payload is the signal id's 16 bytes (embedding, story, related links)."""


async def enqueue_analysis(conn: Any, job_id: UUID) -> None:
    """Queue a job on ``conn``; inside the caller's transaction the job row and its queue
    entry commit together or not at all."""
    await Queries(AsyncpgDriver(conn)).enqueue(
        ANALYZE_ARTICLE, job_id.bytes, priority=ANALYSIS_PRIORITY, dedupe_key=str(job_id)
    )


async def enqueue_relate(conn: Any, signal_id: UUID) -> None:
    """Queue the follow-up that embeds a new signal, places it in a story and links related
    coverage; in the signal's transaction, so no stored signal is ever left unrelated."""
    await Queries(AsyncpgDriver(conn)).enqueue(
        RELATE_SIGNAL, signal_id.bytes, dedupe_key=f"relate:{signal_id}"
    )
