"""An attempt at a job, as the queue sees it: how long each stage took, and the two ways a
job goes back to the queue instead of finishing (service.signals.pipeline runs the stages).

- A passing model failure (429, 5xx, timeout, unreachable, after the client's HTTP retries)
  puts the job in ``retrying`` with its next attempt's time, on SIGNALS_JOB_RETRY_SCHEDULE;
  only permanent failures (schema, ungrounded, refused content) or an exhausted schedule fail it.
- A worker that stops while the model is still answering cancels the call and hands the job
  back (``queued``) for another worker, instead of waiting up to SIGNALS_LLM_TIMEOUT.
"""

from __future__ import annotations

import logging
import random
import time

from service.analysis.client import usage_of
from service.db.connections import Pool
from service.errors import LLMRateLimited, LLMTimeout, LLMUnavailable, SignalsError
from service.jobs.retry import RetryLater
from service.signals import job_repository
from service.signals.job_repository import JobRecord

log = logging.getLogger(__name__)


class Stages:
    """How long each stage of one attempt took, for the job's log line (bench/pipeline.py
    reads it): the wait in the queue, then fetch, extract, store, model, signal."""

    def __init__(self, job: JobRecord) -> None:
        self._last = time.perf_counter()
        self.ms: dict[str, float] = {}
        if job.attempts == 1 and job.started_at is not None:
            self.ms["queue"] = (job.started_at - job.created_at).total_seconds() * 1000

    def mark(self, stage: str) -> None:
        now = time.perf_counter()
        self.ms[stage] = (now - self._last) * 1000
        self._last = now

    def __str__(self) -> str:
        return ", ".join(f"{stage} {ms:.1f} ms" for stage, ms in self.ms.items())


async def hand_back(pool: Pool, job: JobRecord) -> None:
    async with pool.acquire() as conn:
        handed = await job_repository.hand_back_job(conn, job.id, job.attempts)
    if handed:
        log.info("job %s: the worker is stopping; the job goes back to the queue", job.id)


_TRANSIENT = (LLMUnavailable, LLMRateLimited, LLMTimeout)
"""Model failures that pass: the server was unreachable, busy, failing or slow."""


async def retry_later(
    pool: Pool, schedule: list[float], job: JobRecord, exc: SignalsError
) -> RetryLater | None:
    """For a passing model failure with retries left on SIGNALS_JOB_RETRY_SCHEDULE: mark the
    job ``retrying`` (with its next attempt's time) and say when to run it again."""
    if not isinstance(exc, _TRANSIENT) or job.transient_failures >= len(schedule):
        return None
    delay = schedule[job.transient_failures] * random.uniform(0.9, 1.1)  # jitter only
    async with pool.acquire() as conn:
        at = await job_repository.retry_job_later(
            conn, job.id, job.attempts, delay_seconds=delay, error=exc, llm_usage=usage_of(exc)
        )
    if at is None:
        return None  # a newer attempt owns the job
    log.warning("job %s: %s (%s); trying again at %s", job.id, exc.code, exc.detail, at.isoformat())
    return RetryLater(delay, exc.code)
