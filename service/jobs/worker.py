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

from service.digests.queue import WRITE_DIGEST
from service.digests.schedule import run_digest_scheduler
from service.digests.service import write_digest_job
from service.jobs.queue import ANALYZE_ARTICLE, RELATE_SIGNAL
from service.related.service import relate_signal
from service.runtime import Runtime
from service.signals.pipeline import process_job
from service.webhooks.delivery import DELIVER_WEBHOOK, DeliveryBusy, deliver_webhook
from service.webhooks.dispatch import run_dispatcher

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

    @qm.entrypoint(WRITE_DIGEST)
    async def write_digest(job: Job) -> None:
        if job.payload is None or len(job.payload) != 16:
            log.error("queue entry %s has no digest job id; dropping it", job.id)
            return
        try:
            await write_digest_job(rt, UUID(bytes=job.payload))
        except Exception as exc:
            # Model failures end the digest job as failed; what escapes is infrastructure.
            if job.attempts >= _MAX_INFRA_RETRIES:
                log.exception("digest job %s: giving up after %d failures", job.id, job.attempts)
                raise
            delay = timedelta(seconds=min(300, 2 ** (job.attempts + 1)))
            log.warning("digest job %s: %s; retrying in %s", job.id, type(exc).__name__, delay)
            raise RetryRequested(delay=delay, reason=type(exc).__name__) from exc

    @qm.entrypoint(DELIVER_WEBHOOK)
    async def deliver_webhook_attempt(job: Job) -> None:
        if job.payload is None or len(job.payload) != 16:
            log.error("queue entry %s has no delivery id; dropping it", job.id)
            return
        try:
            await deliver_webhook(rt, UUID(bytes=job.payload))
        except DeliveryBusy as exc:
            # Another worker is mid-attempt (or died mid-attempt): look again when its lease ends.
            raise RetryRequested(delay=timedelta(seconds=exc.seconds), reason="delivery busy") from exc
        except Exception as exc:
            # Attempts are recorded by deliver_webhook; what escapes is the database going away.
            if job.attempts >= _MAX_INFRA_RETRIES:
                log.exception("delivery job %s: giving up after %d failures", job.id, job.attempts)
                raise
            delay = timedelta(seconds=min(300, 2 ** (job.attempts + 1)))
            log.warning("delivery job %s: %s; retrying in %s", job.id, type(exc).__name__, delay)
            raise RetryRequested(delay=delay, reason=type(exc).__name__) from exc

    concurrency = max(2, rt.settings.worker_concurrency)
    # Every worker runs the briefing schedules; pgqueuer lets one of them fire each slot.
    scheduler = asyncio.create_task(run_digest_scheduler(rt, stop), name="signals-digest-schedule")
    # Every worker runs a webhook dispatcher; a row lock lets one of them fan out at a time.
    dispatcher = asyncio.create_task(run_dispatcher(rt, stop), name="signals-webhook-dispatch")
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
        try:
            await scheduler
        except Exception:
            log.exception("the briefing schedule failed")
        try:
            await dispatcher
        except Exception:
            log.exception("the webhook dispatcher failed")
        await conn.close()
        log.info("worker stopped")
