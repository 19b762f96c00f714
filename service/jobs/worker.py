"""The queue worker: `signals worker`, or inside `signals serve`. The composition layer, beside
``app.py``: it imports every feature's queue handler; nothing below it imports it.

Any number of workers on any machine that reaches the database share the queue. A job is
picked by one worker at a time (row locks); a worker that dies stops heart-beating and
its job is picked again by another after SIGNALS_JOB_HEARTBEAT_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from uuid import UUID

from pgqueuer import AsyncpgDriver, Job, Queries, QueueManager, RetryRequested

from service.alerts.matching import run_matcher
from service.digests.queue import WRITE_DIGEST
from service.digests.schedule import run_digest_scheduler
from service.digests.service import write_digest_job
from service.jobs.queue import ANALYZE_ARTICLE, RELATE_SIGNAL
from service.jobs.retry import RetryLater
from service.related.service import relate_signal
from service.runtime import Runtime
from service.signals.pipeline import process_job
from service.webhooks.delivery import DELIVER_WEBHOOK, DeliveryBusy, deliver_webhook
from service.webhooks.dispatch import run_dispatcher
from service.webhooks.retention import run_pruner

log = logging.getLogger(__name__)

_MAX_INFRA_RETRIES = 8

RELATE_AT_ONCE = 4
"""Relate steps running at once across all workers (pgqueuer counts them in the database).
Their writes are serialised by advisory locks anyway (stories, related lists): more of them
at once only wait on those locks, each holding a pooled connection that analysis jobs then
queue for (bench/pipeline.py: 32 relate steps queued behind the story lock starved a pool of
10). Relate is not on a request's path; a burst drains after it."""


Handler = Callable[[Runtime, UUID], Awaitable[None]]


def _register(
    qm: QueueManager,
    rt: Runtime,
    entrypoint: str,
    handler: Handler,
    what: str,
    max_delay: int,
    concurrency_limit: int = 0,
) -> None:
    """Run ``handler(rt, id)`` for queue entries whose payload is a 16-byte id.

    Handlers record their own domain failures (a failed job, a failed delivery attempt);
    what escapes is infrastructure (the database or a server went away). Those re-queue
    with exponential backoff rather than leave the work with no queue entry behind it.
    """

    @qm.entrypoint(entrypoint, concurrency_limit=concurrency_limit)
    async def run(job: Job) -> None:
        if job.payload is None or len(job.payload) != 16:
            log.error("queue entry %s has no %s id; dropping it", job.id, what)
            return
        item = UUID(bytes=job.payload)
        try:
            await handler(rt, item)
        except DeliveryBusy as exc:
            # Another worker is mid-attempt (or died mid-attempt): look again when its lease ends.
            raise RetryRequested(delay=timedelta(seconds=exc.seconds), reason="busy") from exc
        except RetryLater as exc:
            # The handler recorded why (a job ``retrying``, or handed back by a stopping worker).
            raise RetryRequested(delay=timedelta(seconds=exc.seconds), reason=exc.reason) from exc
        except Exception as exc:
            if job.attempts >= _MAX_INFRA_RETRIES:
                log.exception("%s %s: giving up after %d failures", what, item, job.attempts)
                raise
            delay = timedelta(seconds=min(max_delay, 2 ** (job.attempts + 1)))
            log.warning("%s %s: %s; retrying in %s", what, item, type(exc).__name__, delay)
            raise RetryRequested(delay=delay, reason=type(exc).__name__) from exc


async def run_worker(rt: Runtime, stop: asyncio.Event) -> None:
    """Process jobs until ``stop`` is set; in-flight jobs finish first."""
    conn = await rt.db.connect()
    qm = QueueManager(Queries(AsyncpgDriver(conn)))
    stopping = asyncio.Event()  # set first on stop: a job mid model call is handed back, not waited for
    # (analyses and briefings alike)

    async def analyze(runtime: Runtime, job_id: UUID) -> None:
        await process_job(
            runtime.db.pool,
            runtime.settings,
            runtime.fetcher,
            runtime.extractor_pool,
            runtime.analyzer,
            job_id,
            stopping,
        )

    _register(qm, rt, ANALYZE_ARTICLE, analyze, "job", 300)

    async def relate(runtime: Runtime, signal_id: UUID) -> None:
        await relate_signal(runtime.db.pool, runtime.embedder, runtime.settings, signal_id)

    _register(qm, rt, RELATE_SIGNAL, relate, "signal", 600, RELATE_AT_ONCE)

    async def write_digest(runtime: Runtime, job_id: UUID) -> None:
        await write_digest_job(runtime.db.pool, runtime.settings, runtime.analyzer, job_id, stopping)

    _register(qm, rt, WRITE_DIGEST, write_digest, "digest job", 300)

    async def deliver(runtime: Runtime, delivery_id: UUID) -> None:
        await deliver_webhook(
            runtime.db.pool, runtime.settings, runtime.secret_box, runtime.webhook_sender, delivery_id
        )

    _register(qm, rt, DELIVER_WEBHOOK, deliver, "webhook delivery", 300)

    concurrency = max(2, rt.settings.worker_concurrency)
    # Every worker runs the briefing schedules; pgqueuer lets one of them fire each slot.
    scheduler = asyncio.create_task(
        run_digest_scheduler(rt.db, rt.settings.digest_daily_at, stop), name="signals-digest-schedule"
    )
    # Every worker runs a webhook dispatcher; a row lock lets one of them fan out at a time.
    dispatcher = asyncio.create_task(
        run_dispatcher(rt.db, rt.settings.webhook_poll_seconds, stop), name="signals-webhook-dispatch"
    )
    # Every worker runs an alert matcher; a row lock lets one of them match at a time.
    matcher = asyncio.create_task(
        run_matcher(rt.db, rt.settings.webhook_poll_seconds, stop), name="signals-alert-match"
    )
    # Every worker prunes old webhook history hourly; batches skip rows another one holds.
    pruner = asyncio.create_task(
        run_pruner(rt.db.pool, rt.settings.webhook_retention_days, stop), name="signals-webhook-prune"
    )
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
        stopping.set()
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
        try:
            await matcher
        except Exception:
            log.exception("the alert matcher failed")
        pruner.cancel()  # between batches or asleep: nothing half-done to wait for
        with contextlib.suppress(asyncio.CancelledError):
            await pruner
        await conn.close()
        log.info("worker stopped")
