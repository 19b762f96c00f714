"""Use cases behind briefings: request one, write one (the job), schedule one, follow its job.

Reading stored briefings is ``service.digests.reading``'s.

Writing a briefing (``write_digest_job``, run by the queue worker):

1. the period's current signals, one per story, ranked by significance (selection.py);
2. the first SIGNALS_DIGEST_MAX_SIGNALS, cut further to fit SIGNALS_DIGEST_MAX_INPUT_TOKENS;
3. no signal: nothing is written and no model is called (the job ends ``empty``); one
   signal: a template; more: the plan and write calls (writing.py);
4. stored as the next version of its (period, start, topic), the older versions kept, in one
   transaction with the job's final state and the ``digest.published`` announcement.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec

from schemas.digests import DigestRequest
from service.analysis.client import Analyzer
from service.db.connections import Executor, Pool
from service.digests import repository
from service.digests.periods import Period, PeriodWindow, period_window, previous_period
from service.digests.present import to_item
from service.digests.prompt import PROMPT_VERSION, Scope
from service.digests.queue import enqueue_digest
from service.digests.reading import find_topic
from service.digests.repository import DigestJobRow, DigestRow
from service.digests.selection import rank_stories
from service.digests.writing import card_tokens, fit_signals, write_digest, write_from_template
from service.errors import (
    Forbidden,
    InvalidRequest,
    LLMNotConfigured,
    LLMRateLimited,
    LLMTimeout,
    LLMUnavailable,
    NotFound,
    SignalsError,
)
from service.jobs.retry import RetryLater, Stopping, unless_stopping
from service.jobs.waiter import JobWaiter
from service.keys.repository import StoredKey
from service.keys.service import may_see_submission
from service.settings import Settings
from service.topics.repository import TopicRow
from service.webhooks.events import publish_event

log = logging.getLogger(__name__)

FINAL_STATUSES = frozenset({"done", "failed", "empty"})
TRANSIENT = (LLMUnavailable, LLMRateLimited, LLMTimeout)
"""Model failures that may pass: a scheduled briefing is tried again (digest_retry_schedule)."""
MAX_WAIT_SECONDS = 60


def _now() -> datetime:
    return datetime.now(UTC)


def _check_topic_allowed(topic: TopicRow | None, allowed: tuple[int, ...] | None) -> None:
    """A key restricted to topics may only ask for briefings of those topics (one outside
    them is already an unknown topic): not for a general one."""
    if allowed is not None and topic is None:
        raise Forbidden("this key may only use briefings of its topics: give one of them as topic")


def _empty(window: PeriodWindow, topic: TopicRow | None) -> NotFound:
    about = f" about {topic.label}" if topic else ""
    return NotFound(
        f"no signals{about} entered the service in {window.label()} (UTC); there is nothing to brief",
        reason="no_signals",
    )


# --- requesting and writing -----------------------------------------------------------------------


async def request_digest(
    pool: Pool,
    settings: Settings,
    body: DigestRequest,
    *,
    api_key_id: UUID | None,
    allowed_topics: tuple[int, ...] | None,
) -> DigestJobRow:
    """Queue the writing of a period's briefing (a new version if one exists), or join the
    writing already in flight; 404 when the period has no signals, 422 for a future period."""
    window = period_window(body.period, body.date)
    if window.since > _now():
        raise InvalidRequest(f"{window.label()} has not started yet", reason="future_period")
    async with pool.acquire() as conn:
        topic = await find_topic(conn, body.topic, allowed_topics)
        _check_topic_allowed(topic, allowed_topics)
        topic_id = topic.id if topic else None
        if not await repository.period_has_signals(
            conn, since=window.since, until=window.until, topic_id=topic_id
        ):
            raise _empty(window, topic)
        if not settings.llm_configured:
            missing = settings.llm_missing()
            raise LLMNotConfigured(
                "briefings need a language model: set " + " and ".join(missing), missing=missing
            )
        which: dict[str, Any] = {"period": body.period, "period_start": window.start, "topic_id": topic_id}
        # This requester's own job for the briefing in flight, if it has one: a repeat joins it.
        job = await repository.get_active_digest_job_for_requester(conn, **which, api_key_id=api_key_id)
        if job is None:
            async with conn.transaction():
                job = await repository.insert_digest_job(
                    conn, **which, trigger="request", api_key_id=api_key_id
                )
                if job is not None:
                    await enqueue_digest(conn, job.id)
                else:
                    # Another request's job is writing it: a job of this requester's own follows.
                    job = await repository.insert_follower_digest_job(conn, **which, api_key_id=api_key_id)
    # Outside the block: a request holding its connection while it asks the pool for another
    # deadlocks once as many such requests arrive together as the pool has connections.
    if job is None:  # the one in flight finished between the two statements: ask again
        return await request_digest(
            pool, settings, body, api_key_id=api_key_id, allowed_topics=allowed_topics
        )
    return await get_job(pool, job.id)


async def schedule_digest(pool: Pool, period: Period, slot: datetime) -> DigestJobRow | None:
    """A fired schedule: queue the general briefing of the period before ``slot``, unless the
    schedule already did (the unique scheduled-job rule) or one is being written right now."""
    window = previous_period(period, slot)
    async with pool.acquire() as conn, conn.transaction():
        job = await repository.insert_digest_job(
            conn, period=period, period_start=window.start, topic_id=None, trigger="schedule", api_key_id=None
        )
        if job is not None:
            await enqueue_digest(conn, job.id)
    if job is None:
        log.info(
            "%s briefing of %s (slot %s): already scheduled or being written; nothing to do",
            period, window.start, slot.isoformat(),
        )  # fmt: skip
    else:
        log.info(
            "%s briefing of %s scheduled (slot %s): job %s", period, window.start, slot.isoformat(), job.id
        )
    return job


async def write_digest_job(
    pool: Pool,
    settings: Settings,
    analyzer: Analyzer | None,
    job_id: UUID,
    stopping: asyncio.Event | None = None,
) -> None:
    """The queue worker's part: write the job's briefing and record the outcome on the job.

    Errors of ours (the model failing, no model configured) end the job as failed; anything
    else (the database went away) propagates so the queue retries the job. ``stopping`` set
    while the model is writing: the call is cancelled and the job goes back to ``queued``.
    """
    async with pool.acquire() as conn:
        job = await repository.start_digest_job(conn, job_id)
    if job is None:
        log.info("digest job %s is gone or already final; nothing to do", job_id)
        return
    try:
        digest_id = await _write(pool, settings, analyzer, job, stopping)
    except Stopping:
        async with pool.acquire() as conn:
            await repository.requeue_digest_job(conn, job_id)
        log.info("digest job %s: the worker is stopping; the job goes back to the queue", job_id)
        raise RetryLater(0, "the worker is stopping") from None
    except SignalsError as exc:
        retries = settings.digest_retry_schedule
        if job.trigger == "schedule" and isinstance(exc, TRANSIENT) and job.attempts <= len(retries):
            delay = retries[job.attempts - 1]
            log.warning(
                "scheduled digest job %s: attempt %d failed (%s: %s); next attempt in %.0f s",
                job_id, job.attempts, exc.code, exc.detail, delay,
            )  # fmt: skip
            async with pool.acquire() as conn, conn.transaction():
                await repository.requeue_digest_job(conn, job_id)
                await enqueue_digest(conn, job_id, attempt=job.attempts, after=delay)
            return
        log.warning("digest job %s failed: %s: %s", job_id, exc.code, exc.detail)
        async with pool.acquire() as conn, conn.transaction():
            await repository.finish_digest_job(
                conn,
                job_id,
                status="failed",
                error_code=exc.code,
                error_reason=exc.reason,
                error_detail=exc.detail,
            )
        return
    if digest_id is None:
        async with pool.acquire() as conn, conn.transaction():
            await repository.finish_digest_job(conn, job_id, status="empty")


async def _write(
    pool: Pool,
    settings: Settings,
    analyzer: Analyzer | None,
    job: DigestJobRow,
    stopping: asyncio.Event | None,
) -> UUID | None:
    """Select, write and store the job's briefing; None (nothing stored) for an empty period."""
    period: Period = "weekly" if job.period == "weekly" else "daily"
    window = period_window(period, job.period_start)
    async with pool.acquire() as conn:
        candidates = await repository.list_candidates(
            conn, since=window.since, until=window.until, topic_id=job.topic_id
        )
        if not candidates:
            log.info("%s briefing of %s skipped: no signals entered in the period", period, window.start)
            return None
        ranked = rank_stories(candidates, window.since, window.until)
        chosen = ranked[: settings.digest_max_signals]
        coverage = {r.signal_id: r.coverage for r in chosen}
        signals = await repository.get_source_signals(conn, [r.signal_id for r in chosen], coverage)
    scope = Scope(
        period=period, period_label=window.label(), today=_now().date(), topic_label=job.topic_label
    )
    budget = settings.digest_max_input_tokens
    signals = fit_signals(scope, signals, budget)
    if len(signals) < len(chosen):
        log.info(
            "briefing of %s: %d of %d stories fit the token budget", window.start, len(signals), len(chosen)
        )
    if len(signals) == 1:
        written = write_from_template(scope, signals[0])
    else:
        if analyzer is None:
            raise LLMNotConfigured("briefings of more than one signal need a language model")
        written = await unless_stopping(write_digest(analyzer, scope, signals), stopping)
    written.card_tokens = card_tokens(signals)
    async with pool.acquire() as conn, conn.transaction():
        digest_id = await repository.insert_digest(
            conn,
            period=period,
            period_start=window.start,
            topic_id=job.topic_id,
            digest=written,
            prompt_version=PROMPT_VERSION,
            input_budget=budget,
            signals_considered=len(candidates),
            stories_considered=len(ranked),
            trigger=job.trigger,
        )
        await repository.finish_digest_job(conn, job.id, status="done", digest_id=digest_id)
        stored = await repository.get_digest(conn, digest_id)
        assert stored is not None
        await announce_digest(conn, stored)
    log.info(
        "%s briefing of %s written: version %d, %d signals, %d LLM calls",
        period, window.start, stored.version, len(signals), written.llm_calls,
    )  # fmt: skip
    return digest_id


async def announce_digest(conn: Executor, digest: DigestRow) -> None:
    """Record the ``digest.published`` webhook event (the list item's fields) in the
    transaction that stores the briefing: the event exists exactly when the briefing does.
    A topic briefing reaches endpoints filtered on its topic; a general one, unfiltered ones."""
    data = msgspec.to_builtins(to_item(digest))
    await publish_event(conn, "digest.published", data, [digest.topic_id] if digest.topic_id else [])


# --- jobs -------------------------------------------------------------------------------------------


async def get_job(pool: Pool, job_id: UUID) -> DigestJobRow:
    """A briefing job, whoever asked for it (the service's own use: waiting)."""
    async with pool.acquire() as conn:
        job = await repository.get_digest_job(conn, job_id)
    if job is None:
        raise NotFound(f"no digest job {job_id}")
    return job


async def get_job_for(pool: Pool, job_id: UUID, reader: StoredKey | None) -> DigestJobRow:
    """A briefing job as ``reader`` may see it: one it asked for, one a key of its partner asked
    for, or any for an admin key (scheduled jobs: admins only); and for a topic-restricted key
    only a job of a briefing on its topics. 404 otherwise, as for an unknown id."""
    job = await get_job(pool, job_id)
    allowed = reader.allowed_topic_ids if reader is not None else None
    if (
        reader is None
        or not may_see_submission(reader, job.api_key_id, job.requester_partner_id)
        or (allowed is not None and job.topic_id not in allowed)
    ):
        raise NotFound(f"no digest job {job_id}")
    return job


async def wait_for_job(
    pool: Pool, waiter: JobWaiter | None, job: DigestJobRow, seconds: float
) -> DigestJobRow:
    """The job once final, or as it stands after ``seconds`` (at most 60)."""
    if waiter is None:
        return job
    seconds = min(seconds, MAX_WAIT_SECONDS)
    return await waiter.until_final(job, seconds, lambda: get_job(pool, job.id), FINAL_STATUSES)
