"""Webhook history is kept for SIGNALS_WEBHOOK_RETENTION_DAYS, then pruned.

Every message, delivery and attempt is a row, and so is every outbox event: a thousand
subscribers and a thousand signals a day make a million delivery rows a day. Each worker
prunes once an hour, in batches (short transactions, SKIP LOCKED so two workers share the
work instead of queueing on it): messages older than the window whose deliveries are all
final (with their deliveries and attempts), and outbox events the dispatcher has passed.
A delivery still pending or being retried keeps its message, however old.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from service.db.connections import Pool
from service.db.queries import queries

log = logging.getLogger(__name__)

BATCH = 1000
INTERVAL_SECONDS = 3600.0


def _deleted(status: str) -> int:
    """The row count of a ``DELETE n`` command status."""
    return int(status.rsplit(" ", 1)[-1])


async def prune_webhook_history(
    pool: Pool, *, keep: timedelta, now: datetime | None = None, batch: int = BATCH
) -> tuple[int, int]:
    """Delete webhook history older than ``keep``; return (messages, events) deleted."""
    before = (now or datetime.now(UTC)) - keep
    totals = [0, 0]
    for index, query in enumerate((queries.prune_webhook_messages, queries.prune_webhook_events)):
        while True:
            async with pool.acquire() as conn:
                deleted = _deleted(await query.execute(conn, before=before, batch=batch))
            totals[index] += deleted
            if deleted < batch:
                break
    return totals[0], totals[1]


async def run_pruner(
    pool: Pool, days: int, stop: asyncio.Event, *, interval: float = INTERVAL_SECONDS
) -> None:
    """Prune history older than ``days`` (0: keep it forever) at start and then every
    ``interval`` seconds until ``stop`` is set."""
    if days == 0:
        log.info("webhook history is kept forever (SIGNALS_WEBHOOK_RETENTION_DAYS=0)")
        return
    while not stop.is_set():
        try:
            messages, events = await prune_webhook_history(pool, keep=timedelta(days=days))
            if messages or events:
                log.info(
                    "webhook history older than %d days pruned: %d messages, %d outbox events",
                    days, messages, events,
                )  # fmt: skip
        except Exception:
            log.exception("pruning webhook history failed; trying again in %.0f s", interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
