"""When briefings are written by themselves: pgqueuer schedules, run by every worker.

Every worker process runs one ``SchedulerManager`` with two crontabs: the previous UTC day's
briefing daily at SIGNALS_DIGEST_DAILY_AT, and the previous week's on Mondays at the same
time. Running it in every worker is safe, and "fires once" rests on two things:

1. **pgqueuer coordinates through the database.** Each (entrypoint, cron) is one row of
   ``pgqueuer_schedules``. A scheduler claims a due row with ``SELECT … FOR UPDATE SKIP LOCKED``
   and, in the same statement, marks it picked and moves ``next_run`` to the next slot; a
   second scheduler either skips the locked row or sees it no longer due. (A run whose
   scheduler died stops heart-beating and is re-picked after 30 s: at-least-once, by design.)
2. **Our own guard.** A fired schedule only inserts a ``digest_jobs`` row with
   ``trigger='schedule'``; a unique index allows one such row per (period, start, topic), so a
   re-picked or repeated firing for the same period inserts nothing and queues nothing.

The job row and its queue entry commit together; the queue worker writes the briefing.
A slot missed while no worker ran fires once when one starts (for the latest missed period).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from croniter import croniter  # type: ignore[import-untyped]  # pgqueuer's dependency
from pgqueuer import AsyncpgDriver, Queries, SchedulerManager
from pgqueuer.models import Schedule

from service.db.database import Database
from service.digests.periods import Period
from service.digests.service import schedule_digest

log = logging.getLogger(__name__)

SCHEDULE_ENTRYPOINT = {"daily": "digest_daily", "weekly": "digest_weekly"}


def digest_crons(daily_at: str | None) -> dict[Period, str]:
    """The crontabs for SIGNALS_DIGEST_DAILY_AT (``HH:MM`` UTC); none when it is off."""
    if daily_at is None:
        return {}
    hours, minutes = (int(part) for part in daily_at.split(":"))
    return {"daily": f"{minutes} {hours} * * *", "weekly": f"{minutes} {hours} * * 1"}


def fired_slot(schedule: Schedule) -> datetime:
    """The slot a claimed schedule fired for: the cron time just before its new ``next_run``
    (a late or catching-up run still targets the slot it stands for, not the clock)."""
    previous = croniter(schedule.expression, schedule.next_run).get_prev(datetime)
    return previous.astimezone(UTC) if isinstance(previous, datetime) else schedule.next_run


async def run_digest_scheduler(
    db: Database, daily_at: str | None, stop: asyncio.Event, *, crons: dict[Period, str] | None = None
) -> None:
    """Run the briefing schedules (``daily_at``: SIGNALS_DIGEST_DAILY_AT) until ``stop`` is set
    (``crons`` overrides them)."""
    chosen = digest_crons(daily_at) if crons is None else crons
    if not chosen:
        log.info("briefing schedule off (SIGNALS_DIGEST_DAILY_AT=off)")
        return
    conn = await db.connect()
    sm = SchedulerManager(Queries(AsyncpgDriver(conn)))

    def register(period: Period, expression: str) -> None:
        @sm.schedule(SCHEDULE_ENTRYPOINT[period], expression)
        async def fire(schedule: Schedule) -> None:
            await schedule_digest(db.pool, period, fired_slot(schedule))

    for period, expression in chosen.items():
        register(period, expression)
    runner = asyncio.create_task(sm.run(), name="signals-digest-scheduler")
    stopper = asyncio.create_task(stop.wait())
    log.info("briefing schedule: %s", ", ".join(f"{p} '{e}' UTC" for p, e in chosen.items()))
    try:
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if runner.done():
            runner.result()
    finally:
        sm.shutdown.set()
        stopper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await conn.close()
