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

from pgqueuer import AsyncpgDriver, Job, Queries, QueueManager, RetryRequested

from service.jobs.queue import ANALYZE_ARTICLE, RELATE_SIGNAL
from service.related.service import relate_signal
from service.runtime import Runtime
from service.signals.pipeline import process_job

log = logging.getLogger(__name__)

_MAX_INFRA_RETRIES = 8


async def run_worker(rt: Runtime, stop: asyncio.Event) -> None:
    """Process jobs until ``stop`` is set; in-flight jobs finish first."""
    conn = await rt.db.connect()
    qm = QueueManager(Queries(AsyncpgDriver(conn)))

    @qm.entrypoint(ANALYZE_ARTICLE)
    async def analyze_article(job: Job) -> None:
        if job.payload is None or len(job.payload) != 16:
            log.error("queue entry %s has no job id; dropping it", job.id)
            return
        try:
            await process_job(rt, UUID(bytes=job.payload))
        except Exception as exc:
            # process_job records every pipeline failure on the job itself; what escapes is
            # infrastructure (the database went away mid-job). Re-queue with backoff so
            # the job is not left "queued" with no queue entry behind it.
            if job.attempts >= _MAX_INFRA_RETRIES:
                log.exception("job %s: giving up after %d infrastructure failures", job.id, job.attempts)
                raise
            delay = timedelta(seconds=min(300, 2 ** (job.attempts + 1)))
            log.warning("job %s: %s; retrying in %s", job.id, type(exc).__name__, delay)
            raise RetryRequested(delay=delay, reason=type(exc).__name__) from exc

    @qm.entrypoint(RELATE_SIGNAL)
    async def relate_new_signal(job: Job) -> None:
        if job.payload is None or len(job.payload) != 16:
            log.error("queue entry %s has no signal id; dropping it", job.id)
            return
        try:
            await relate_signal(rt, UUID(bytes=job.payload))
        except Exception as exc:
            # Embedding server or database trouble: the signal stands; relate it later.
            if job.attempts >= _MAX_INFRA_RETRIES:
                log.exception("signal %s: giving up relating it", UUID(bytes=job.payload))
                raise
            delay = timedelta(seconds=min(600, 5 * 2**job.attempts))
            log.warning("relating signal failed (%s); retrying in %s", type(exc).__name__, delay)
            raise RetryRequested(delay=delay, reason=type(exc).__name__) from exc

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
