"""Readiness: can this process use its database right now?"""

from __future__ import annotations

import asyncio

from service.db.connections import Pool
from service.db.queries import queries
from service.errors import ServiceUnavailable


async def check_database(pool: Pool, within_seconds: float = 2.0) -> None:
    """Return when the database answers within ``within_seconds``; else 503."""
    try:
        async with asyncio.timeout(within_seconds):
            await queries.ping.fetchval(pool)
    except Exception as exc:  # any failure to answer means "not ready"
        raise ServiceUnavailable(f"database unreachable ({type(exc).__name__})", reason="database") from exc
