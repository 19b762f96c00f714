"""Rows of analysis jobs (the ``jobs`` table) through the named queries; returns Structs.

A job's life (submitted, joined, started, retried, handed back, finished) is a subject of
its own, read by the routes, the pipeline and the retry logic alike; the articles and
signals a job produces are ``service.signals.repository``'s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from schemas.jobs import Job, JobError, JobLinks, JobLLMUsage, JobRetry
from service.analysis.structured import LLMUsage
from service.db.connections import Connection, Executor
from service.db.queries import queries
from service.errors import PROBLEM_BASE


class JobRecord(msgspec.Struct, kw_only=True, frozen=True):
    """A job row as the service and the pipeline use it."""

    id: UUID
    status: str
    input_kind: str
    url: str | None
    dedupe_url: str | None
    payload: dict[str, Any] | None
    signal_id: UUID | None
    article_id: UUID | None
    reused: bool
    error_code: str | None
    error_reason: str | None
    error_detail: str | None
    api_key_id: UUID | None
    idempotency_key: str | None
    request_fingerprint: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    follows: UUID | None = None
    """The job doing the work, for a submission that joined a URL already in flight."""
    submitter_partner_id: UUID | None = None
    """The partner of the key that submitted the job (read with the job, for access checks)."""
    supplier_id: UUID | None = None
    """Whose content a text or html job supplies: its key's partner, else the key (pipeline)."""
    llm_model: str | None = None
    llm_input_tokens: int | None = None
    llm_output_tokens: int | None = None
    llm_latency_ms: int | None = None
    llm_attempts: int | None = None
    """What a failed job's model calls cost (migration 0022); None: no call recorded."""
    retry_at: datetime | None = None
    retry_code: str | None = None
    retry_detail: str | None = None
    """While the job is retrying: when it runs again and the passing failure (migration 0023)."""
    transient_failures: int = 0
    """Passing model failures so far: how far along SIGNALS_JOB_RETRY_SCHEDULE the job is."""

    def to_wire(self, *, signal_visible: bool = True) -> Job:
        """The job as its reader sees it; ``signal_visible`` False (a topic-restricted reader
        and a signal on none of its topics) leaves the signal's id out."""
        error = None
        if self.error_code is not None:
            error = JobError(
                code=self.error_code,
                reason=self.error_reason,
                detail=self.error_detail or "",
                type=PROBLEM_BASE + self.error_code,
            )
        signal_id = self.signal_id if signal_visible else None
        llm = None
        if self.llm_attempts is not None:
            llm = JobLLMUsage(
                model=self.llm_model or "",
                input_tokens=self.llm_input_tokens,
                output_tokens=self.llm_output_tokens,
                latency_ms=self.llm_latency_ms or 0,
                attempts=self.llm_attempts,
            )
        return Job(
            id=self.id,
            status=self.status,  # type: ignore[arg-type]
            signal_id=signal_id,
            signal_outside_topics=self.signal_id is not None and not signal_visible,
            error=error,
            retry=_retry(self),
            llm=llm,
            links=JobLinks(
                self=f"/v1/jobs/{self.id}",
                signal=f"/v1/signals/{signal_id}" if signal_id else None,
            ),
            input_kind=self.input_kind,  # type: ignore[arg-type]
            url=self.url,
            reused=self.reused,
            attempts=self.attempts,
            created_at=self.created_at,
            updated_at=self.updated_at,
            finished_at=self.finished_at,
        )


def _retry(job: JobRecord) -> JobRetry | None:
    if job.status != "retrying" or job.retry_at is None:
        return None
    return JobRetry(at=job.retry_at, code=job.retry_code or "llm_error", detail=job.retry_detail or "")


def _job(row: Any) -> JobRecord | None:
    if row is None:
        return None
    return JobRecord(**dict(row))


async def insert_job(conn: Executor, **fields: Any) -> JobRecord | None:
    return _job(await queries.insert_job.fetchrow(conn, **fields))


async def get_active_job_for_submitter(
    conn: Executor, dedupe_url: str, api_key_id: UUID | None
) -> JobRecord | None:
    row = await queries.get_active_job_for_submitter.fetchrow(
        conn, dedupe_url=dedupe_url, api_key_id=api_key_id
    )
    return _job(row)


async def insert_follower_job(conn: Connection, **fields: Any) -> JobRecord | None:
    return _job(await queries.insert_follower_job.fetchrow(conn, **fields))


async def get_job_by_idempotency_key(conn: Executor, api_key_id: UUID | None, key: str) -> JobRecord | None:
    row = await queries.get_job_by_idempotency_key.fetchrow(conn, api_key_id=api_key_id, idempotency_key=key)
    return _job(row)


async def get_job_by_id(conn: Executor, job_id: UUID) -> JobRecord | None:
    return _job(await queries.get_job_by_id.fetchrow(conn, id=job_id))


async def start_job_attempt(conn: Executor, job_id: UUID) -> JobRecord | None:
    return _job(await queries.start_job_attempt.fetchrow(conn, id=job_id))


async def set_job_status(conn: Executor, job_id: UUID, attempt: int, status: str) -> None:
    await queries.set_job_status.execute(conn, id=job_id, attempt=attempt, status=status)


async def finish_job_done(
    conn: Executor, job_id: UUID, attempt: int, *, signal_id: UUID, article_id: UUID, reused: bool
) -> bool:
    """Mark the job done and copy that onto its followers (call inside a transaction)."""
    # Triggers: jobs_notify_finished → NOTIFY signals_job_finished (README "Architecture").
    row = await queries.finish_job_done.fetchrow(
        conn, id=job_id, attempt=attempt, signal_id=signal_id, article_id=article_id, reused=reused
    )
    if row is not None:
        await queries.finish_followers.execute(conn, id=job_id)
    return row is not None


async def finish_job_failed(
    conn: Executor,
    job_id: UUID,
    attempt: int,
    *,
    code: str,
    reason: str | None,
    detail: str,
    article_id: UUID | None,
    llm_usage: LLMUsage | None = None,
) -> bool:
    """Mark the job failed (adding what its model calls cost) and copy that onto its followers."""
    # Triggers: jobs_notify_finished → NOTIFY signals_job_finished (README "Architecture").
    row = await queries.finish_job_failed.fetchrow(
        conn,
        id=job_id,
        attempt=attempt,
        error_code=code,
        error_reason=reason,
        error_detail=detail,
        article_id=article_id,
        llm_model=llm_usage.model if llm_usage else None,
        llm_input_tokens=llm_usage.input_tokens if llm_usage else None,
        llm_output_tokens=llm_usage.output_tokens if llm_usage else None,
        llm_latency_ms=llm_usage.latency_ms if llm_usage else None,
        llm_attempts=llm_usage.attempts if llm_usage else None,
    )
    if row is not None:
        await queries.finish_followers.execute(conn, id=job_id)
    return row is not None


async def retry_job_later(
    conn: Executor, job_id: UUID, attempt: int, *, delay_seconds: float, error: Any, llm_usage: Any | None
) -> datetime | None:
    """Put a running job back to wait ``delay_seconds`` for another attempt (``error``: the
    passing failure, a SignalsError); the next attempt's time, or None if the attempt lost it."""
    at: datetime | None = await queries.retry_job_later.fetchval(
        conn,
        id=job_id,
        attempt=attempt,
        delay_seconds=delay_seconds,
        retry_code=error.code,
        retry_detail=error.detail,
        llm_model=llm_usage.model if llm_usage else None,
        llm_input_tokens=llm_usage.input_tokens if llm_usage else None,
        llm_output_tokens=llm_usage.output_tokens if llm_usage else None,
        llm_latency_ms=llm_usage.latency_ms if llm_usage else None,
        llm_attempts=llm_usage.attempts if llm_usage else None,
    )
    return at


async def hand_back_job(conn: Executor, job_id: UUID, attempt: int) -> bool:
    """A stopping worker's running job goes back to ``queued`` (False: the attempt lost it)."""
    return await queries.hand_back_job.fetchval(conn, id=job_id, attempt=attempt) is not None
