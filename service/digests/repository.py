"""Rows for briefings and briefing jobs, through named queries (sql/queries/digests.sql)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import msgspec

from service.db.connections import Connection, Executor
from service.db.queries import queries
from service.digests.selection import Candidate
from service.digests.writing import SourceSignal, WrittenDigest


class DigestRow(msgspec.Struct, kw_only=True, frozen=True):
    """One stored briefing version, with its topic's slug and label."""

    id: UUID
    period: str
    period_start: date
    topic_id: int | None
    topic_slug: str | None
    topic_label: str | None
    version: int
    is_latest: bool
    headline: str
    dek: str
    opening: str
    sections: list[dict[str, Any]]
    quick_hits: list[dict[str, Any]]
    citations: list[dict[str, Any]]
    signal_ids: list[UUID]
    word_count: int
    reading_minutes: int
    kind: str
    model: str | None
    prompt_version: str
    llm_calls: int
    input_tokens: int | None
    output_tokens: int | None
    llm_latency_ms: int | None
    input_budget: int
    signals_considered: int
    stories_considered: int
    trigger: str
    created_at: datetime


class DigestJobRow(msgspec.Struct, kw_only=True, frozen=True):
    """One request to write a briefing."""

    id: UUID
    period: str
    period_start: date
    topic_id: int | None
    topic_slug: str | None = None
    topic_label: str | None = None
    trigger: str
    status: str
    digest_id: UUID | None
    error_code: str | None
    error_reason: str | None
    error_detail: str | None
    api_key_id: UUID | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    follows: UUID | None = None
    """The job doing the work, for a request that joined a briefing already being written."""
    requester_partner_id: UUID | None = None
    """The partner of the key that asked for the job (read with the job, for access checks)."""


def _digest(row: Any) -> DigestRow | None:
    return None if row is None else msgspec.convert(dict(row), DigestRow)


def _job(row: Any) -> DigestJobRow | None:
    return None if row is None else msgspec.convert(dict(row), DigestJobRow)


# --- selection ------------------------------------------------------------------------------------


async def list_candidates(
    conn: Executor, *, since: datetime, until: datetime, topic_id: int | None
) -> list[Candidate]:
    rows = await queries.digest_candidates.fetch(conn, since=since, until=until, topic_id=topic_id)
    return [
        Candidate(
            id=row["id"],
            story_id=row["story_id"],
            is_story_lead=row["is_story_lead"],
            created_at=row["created_at"],
            entity_ids=tuple(row["entity_ids"]),
        )
        for row in rows
    ]


async def period_has_signals(
    conn: Executor, *, since: datetime, until: datetime, topic_id: int | None
) -> bool:
    return bool(await queries.period_has_signals.fetchval(conn, since=since, until=until, topic_id=topic_id))


async def get_source_signals(
    conn: Executor, ids: list[UUID], coverage: dict[UUID, int]
) -> list[SourceSignal]:
    """The card fields of ``ids``, in the order given."""
    rows = {row["id"]: row for row in await queries.digest_cards.fetch(conn, ids=ids)}
    return [
        SourceSignal(
            id=row["id"],
            title=row["title"],
            summary=row["summary"],
            key_details=tuple(str(d.get("text", "")) for d in row["key_details"] or []),
            topics=tuple(row["topics"]),
            entities=tuple(row["entities"]),
            site_name=row["site_name"],
            url=row["url"],
            published=row["published_date"],
            coverage=coverage.get(row["id"], 1),
        )
        for signal_id in ids
        if (row := rows.get(signal_id)) is not None
    ]


# --- briefings ------------------------------------------------------------------------------------


async def insert_digest(
    conn: Connection,
    *,
    period: str,
    period_start: date,
    topic_id: int | None,
    digest: WrittenDigest,
    prompt_version: str,
    input_budget: int,
    signals_considered: int,
    stories_considered: int,
    trigger: str,
) -> UUID:
    """Store a briefing as the latest version of its (period, start, topic); call in a transaction."""
    key = f"{period}:{period_start.isoformat()}:{topic_id or 0}"
    await queries.lock_digest_versions.fetchval(conn, key=key)
    scope = {"period": period, "period_start": period_start, "topic_id": topic_id}
    version = await queries.next_digest_version.fetchval(conn, **scope)
    await queries.unmark_latest_digest.execute(conn, **scope)
    digest_id: UUID = await queries.insert_digest.fetchval(
        conn,
        **scope,
        version=version,
        headline=digest.headline,
        dek=digest.dek,
        opening=digest.opening,
        sections=digest.sections,
        quick_hits=digest.quick_hits,
        citations=digest.citations,
        signal_ids=digest.signal_ids,
        word_count=digest.word_count,
        reading_minutes=digest.reading_minutes,
        kind=digest.kind,
        model=digest.model,
        prompt_version=prompt_version,
        llm_calls=digest.llm_calls,
        input_tokens=digest.input_tokens,
        output_tokens=digest.output_tokens,
        llm_latency_ms=digest.latency_ms,
        input_budget=input_budget,
        signals_considered=signals_considered,
        stories_considered=stories_considered,
        trigger=trigger,
    )
    return digest_id


async def get_digest(conn: Executor, digest_id: UUID) -> DigestRow | None:
    return _digest(await queries.get_digest.fetchrow(conn, id=digest_id))


async def latest_digest(
    conn: Executor, *, period: str, topic_id: int | None, period_start: date | None
) -> DigestRow | None:
    row = await queries.latest_digest.fetchrow(
        conn, period=period, topic_id=topic_id, period_start=period_start
    )
    return _digest(row)


async def list_digests_page(
    conn: Executor,
    *,
    period: str | None,
    topic_id: int | None,
    latest_only: bool,
    restrict_topics: list[int] | None,
    after: tuple[date, datetime, UUID] | None,
    limit: int,
) -> list[DigestRow]:
    rows = await queries.list_digests_page.fetch(
        conn,
        period=period,
        topic_id=topic_id,
        latest_only=latest_only,
        restrict_topics=restrict_topics,
        after_start=after[0] if after else None,
        after_created=after[1] if after else None,
        after_id=after[2] if after else None,
        limit=limit,
    )
    return [msgspec.convert(dict(row), DigestRow) for row in rows]


# --- jobs -------------------------------------------------------------------------------------------


async def insert_digest_job(
    conn: Executor,
    *,
    period: str,
    period_start: date,
    topic_id: int | None,
    trigger: str,
    api_key_id: UUID | None,
) -> DigestJobRow | None:
    """The new job, or None when a unique rule stopped it (scheduled already, or in flight)."""
    row = await queries.insert_digest_job.fetchrow(
        conn,
        period=period,
        period_start=period_start,
        topic_id=topic_id,
        trigger=trigger,
        api_key_id=api_key_id,
    )
    return _job(row)


async def get_active_digest_job_for_requester(
    conn: Executor, *, period: str, period_start: date, topic_id: int | None, api_key_id: UUID | None
) -> DigestJobRow | None:
    row = await queries.get_active_digest_job_for_requester.fetchrow(
        conn, period=period, period_start=period_start, topic_id=topic_id, api_key_id=api_key_id
    )
    return _job(row)


async def insert_follower_digest_job(
    conn: Connection, *, period: str, period_start: date, topic_id: int | None, api_key_id: UUID | None
) -> DigestJobRow | None:
    """A job following the one writing this briefing; None when none is in flight any more."""
    row = await queries.insert_follower_digest_job.fetchrow(
        conn, period=period, period_start=period_start, topic_id=topic_id, api_key_id=api_key_id
    )
    return _job(row)


async def get_digest_job(conn: Executor, job_id: UUID) -> DigestJobRow | None:
    return _job(await queries.get_digest_job.fetchrow(conn, id=job_id))


async def start_digest_job(conn: Executor, job_id: UUID) -> DigestJobRow | None:
    """The job, now writing, with its attempt counted; None if it is already final."""
    return _job(await queries.start_digest_job.fetchrow(conn, id=job_id))


async def finish_digest_job(
    conn: Executor,
    job_id: UUID,
    *,
    status: str,
    digest_id: UUID | None = None,
    error_code: str | None = None,
    error_reason: str | None = None,
    error_detail: str | None = None,
) -> None:
    """The job's final state, copied onto its followers (call inside a transaction)."""
    # Triggers: digest_jobs_notify_finished → NOTIFY signals_job_finished (README "Architecture").
    await queries.finish_digest_job.execute(
        conn,
        id=job_id,
        status=status,
        digest_id=digest_id,
        error_code=error_code,
        error_reason=error_reason,
        error_detail=error_detail,
    )
    await queries.finish_digest_followers.execute(conn, id=job_id)


async def requeue_digest_job(conn: Executor, job_id: UUID) -> None:
    await queries.requeue_digest_job.execute(conn, id=job_id)
