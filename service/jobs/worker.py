"""The queue worker: `signals worker`, or inside `signals serve`.

Any number of workers on any machine that reaches the database share the queue. A job is
picked by one worker at a time (row locks); a worker that dies stops heart-beating and
its job is picked again by another after SIGNALS_JOB_HEARTBEAT_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from uuid import UUID

from pgqueuer import AsyncpgDriver, Job, Queries, QueueManager

from service.jobs.queue import ANALYZE_ARTICLE
from service.runtime import Runtime
from service.signals.pipeline import process_job

log = logging.getLogger(__name__)


async def run_worker(rt: Runtime, stop: asyncio.Event) -> None:
    """Process jobs until ``stop`` is set; in-flight jobs finish first."""
    conn = await rt.db.connect()
    qm = QueueManager(Queries(AsyncpgDriver(conn)))

    @qm.entrypoint(ANALYZE_ARTICLE)
    async def analyze_article(job: Job) -> None:
        if job.payload is None or len(job.payload) != 16:
            log.error("queue entry %s has no job id; dropping it", job.id)
            return
        await process_job(rt, UUID(bytes=job.payload))

    concurrency = max(2, rt.settings.worker_concurrency)
    runner = asyncio.create_task(
        qm.run(
            dequeue_timeout=timedelta(seconds=5),
            batch_size=max(1, concurrency // 2),
            max_concurrent_tasks=concurrency,
            heartbeat_timeout=timedelta(seconds=rt.settings.job_heartbeat_seconds),
        ),
        name="signals-worker",
    )
    log.info("worker running (%d jobs at once)", concurrency)
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if runner.done():
            runner.result()  # surface a crash of the queue manager
    finally:
        qm.shutdown.set()
        stopper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await conn.close()
        log.info("worker stopped")
