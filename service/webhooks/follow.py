"""Following the outbox: a loop that drains ready work at once on each NOTIFY, and every
SIGNALS_WEBHOOK_POLL_SECONDS without one (a lost notification costs one poll interval).

The webhook dispatcher and the alert matcher both read a log in transaction order below the
oldest running writer, so a notified row may still sit behind an older open transaction:
after a notification, while nothing is ready, the loop looks again every RECHECK_SECONDS for
RECHECK_WINDOW_SECONDS before falling back to the poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from service.db.database import Database

log = logging.getLogger(__name__)

CHANNEL = "signals_webhook_events"
"""NOTIFY channel of the outbox: every signal change and briefing writes an event."""
RECHECK_SECONDS = 0.2
RECHECK_WINDOW_SECONDS = 3.0


async def drain(batch: Callable[[], Awaitable[int | None]], size: int) -> int:
    """Run ``batch`` (it handles up to ``size`` rows; None: another process holds the work)
    until it finds less than a full batch; how many rows were handled."""
    total = 0
    while True:
        handled = await batch()
        if not handled:
            return total
        total += handled
        if handled < size:
            return total


async def follow_outbox(
    db: Database,
    poll_seconds: float,
    stop: asyncio.Event,
    work: Callable[[], Awaitable[int]],
    what: str,
    *,
    gather_seconds: float = 0.0,
) -> None:
    """Call ``work`` (returns how many rows it handled) until ``stop`` is set. ``gather_seconds``:
    after a notification, wait this long first, so the commits of the next moment are handled
    together (one batch for several, not one each)."""
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    conn = None
    recheck_until = 0.0
    woken = False
    while not stop.is_set():
        if conn is None or conn.is_closed():
            with contextlib.suppress(Exception):
                conn = await db.connect()
                await conn.add_listener(CHANNEL, lambda *_args: wake.set())
        wake.clear()  # before reading: a NOTIFY that arrives meanwhile wakes the next wait
        if woken and gather_seconds:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), gather_seconds)
        try:
            handled = await work()
        except Exception:
            log.exception("%s failed; retrying at the next poll", what)
            handled = 0
        soon = handled == 0 and loop.time() < recheck_until
        timeout = RECHECK_SECONDS if soon else poll_seconds
        stopper = asyncio.create_task(stop.wait())
        waker = asyncio.create_task(wake.wait())
        done, pending = await asyncio.wait(
            {stopper, waker}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
        woken = waker in done
        if woken:
            recheck_until = loop.time() + RECHECK_WINDOW_SECONDS
    if conn is not None:
        with contextlib.suppress(Exception):
            await conn.close()
