"""Use cases behind the signals API: submit an analysis, read jobs, signals and articles."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from schemas.articles import Article
from schemas.base import json_encoder
from schemas.jobs import Job
from schemas.signals import AnalyzeRequest, Signal
from service.db.connections import Pool
from service.errors import (
    IdempotencyKeyReused,
    InvalidRequest,
    LLMNotConfigured,
    NotFound,
)
from service.ingest.addresses import AddressPolicy
from service.ingest.canonical import canonicalize_url
from service.ingest.fetch import check_url
from service.jobs.queue import enqueue_analysis
from service.jobs.waiter import JobWaiter
from service.keys.repository import StoredKey
from service.keys.service import may_see_submission
from service.keys.suppliers import EVERY_SUPPLIER, SupplierView, supplier_view
from service.settings import Settings
from service.signals import job_repository, repository
from service.signals.job_repository import JobRecord

FINAL_STATUSES = frozenset({"done", "failed"})
MAX_WAIT_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Submission:
    """The job a submission created or joined."""

    job: JobRecord
    created: bool


@dataclass(frozen=True, slots=True)
class _Prepared:
    input_kind: str
    url: str | None
    dedupe_url: str | None
    payload: dict[str, str] | None
    fingerprint: str


def _prepare(policy: AddressPolicy, body: AnalyzeRequest) -> _Prepared:
    """Check the request's shape and its URL; raise 422 problems for what cannot work."""
    fingerprint = hashlib.sha256(json_encoder.encode(body)).hexdigest()
    if body.html is not None and body.text is not None:
        raise InvalidRequest("send either html or text, not both", reason="ambiguous_body")
    if body.html is not None:
        if body.url is None:
            raise InvalidRequest("an html body needs the page's url", reason="missing_url")
        html_url = check_url(body.url, policy, resolve_policy=False)
        return _Prepared("html", html_url, None, {"html": body.html}, fingerprint)
    if body.text is not None:
        url = check_url(body.url, policy, resolve_policy=False) if body.url is not None else None
        payload: dict[str, str] = {"text": body.text}
        if body.title is not None:
            payload["title"] = body.title
        return _Prepared("text", url, None, payload, fingerprint)
    if body.url is None:
        raise InvalidRequest("send a url, {html, url} or {text}", reason="empty_body")
    if body.title is not None:
        raise InvalidRequest("title belongs with a text body", reason="unexpected_title")
    url = check_url(body.url, policy)
    return _Prepared("url", url, canonicalize_url(url), None, fingerprint)


async def submit_analysis(
    pool: Pool,
    settings: Settings,
    policy: AddressPolicy,
    body: AnalyzeRequest,
    *,
    api_key_id: UUID | None,
    idempotency_key: str | None,
) -> Submission:
    """Create a queued job for the request, or return the job it repeats.

    - the same Idempotency-Key with the same body returns its earlier job (a different
      body with that key is a 422);
    - a URL this submitter (its key) already has in flight returns that job;
    - a URL another submitter has in flight gets a new job that follows that one (the work is
      done once; each submitter sees its own job id and its own URL);
    - everything else is a new job, committed together with its queue entry.
    """
    if not settings.llm_configured:
        missing = settings.llm_missing()
        raise LLMNotConfigured(
            "analysis needs a language model: set "
            + " and ".join(missing)
            + " (any OpenAI-compatible server; `signals llm-stub` serves a development one)",
            missing=missing,
        )
    prepared = _prepare(policy, body)
    for _ in range(5):
        async with pool.acquire() as conn:
            if idempotency_key is not None:
                earlier = await job_repository.get_job_by_idempotency_key(conn, api_key_id, idempotency_key)
                if earlier is not None:
                    if earlier.request_fingerprint != prepared.fingerprint:
                        raise IdempotencyKeyReused(
                            "this Idempotency-Key was already used with a different request body"
                        )
                    return Submission(earlier, created=False)
            if prepared.dedupe_url is not None:
                # This submitter's own unfinished job for the URL, if it has one: a repeat joins it.
                mine = await job_repository.get_active_job_for_submitter(
                    conn, prepared.dedupe_url, api_key_id
                )
                if mine is not None:
                    return Submission(mine, created=False)
            try:
                async with conn.transaction():
                    job = await job_repository.insert_job(
                        conn,
                        input_kind=prepared.input_kind,
                        url=prepared.url,
                        dedupe_url=prepared.dedupe_url,
                        payload=prepared.payload,
                        api_key_id=api_key_id,
                        idempotency_key=idempotency_key,
                        request_fingerprint=prepared.fingerprint,
                    )
                    if job is not None:
                        await enqueue_analysis(conn, job.id)
                    else:
                        # Another submitter's job is working on this URL: this submitter gets a
                        # job of its own that follows it (its own id and URL, the same outcome).
                        assert prepared.dedupe_url is not None
                        job = await job_repository.insert_follower_job(
                            conn,
                            input_kind=prepared.input_kind,
                            url=prepared.url,
                            dedupe_url=prepared.dedupe_url,
                            api_key_id=api_key_id,
                            idempotency_key=idempotency_key,
                            request_fingerprint=prepared.fingerprint,
                        )
            except asyncpg.UniqueViolationError:
                continue  # a concurrent request with the same Idempotency-Key won: read its job
            if job is not None:
                return Submission(job, created=True)
            # The job in flight finished between our insert and our follow: try again.
    raise RuntimeError("could not create or find a job after 5 tries")


async def get_job(pool: Pool, job_id: UUID) -> JobRecord:
    """One job, whoever submitted it (the service's own use: waiting, the CLI)."""
    async with pool.acquire() as conn:
        job = await job_repository.get_job_by_id(conn, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job


async def get_job_for(pool: Pool, job_id: UUID, reader: StoredKey | None) -> JobRecord:
    """One job as ``reader`` may see it: one it submitted, one a key of its partner submitted,
    or any job for an admin key; 404 otherwise, as if there were none. Jobs are never public:
    a keyless read (SIGNALS_PUBLIC_READ) finds none."""
    job = await get_job(pool, job_id)
    if reader is None or not may_see_submission(reader, job.api_key_id, job.submitter_partner_id):
        raise NotFound(f"no job {job_id}")
    return job


async def job_for_reader(pool: Pool, job: JobRecord, reader: StoredKey | None) -> Job:
    """The job on the wire for ``reader``: a topic-restricted key does not see the id of a
    signal that carries none of its topics (``signal_outside_topics`` says so instead)."""
    if job.signal_id is None or reader is None or reader.allowed_topic_ids is None:
        return job.to_wire()
    visible = await _signal_visible(pool, job.signal_id, reader.allowed_topic_ids, supplier_view(reader))
    return job.to_wire(signal_visible=visible)


async def _signal_visible(
    pool: Pool, signal_id: UUID, allowed_topics: list[int], suppliers: SupplierView
) -> bool:
    async with pool.acquire() as conn:
        return await repository.signal_has_any_topic(
            conn, signal_id, list(allowed_topics), suppliers=suppliers
        )


async def wait_for_job(pool: Pool, waiter: JobWaiter | None, job: JobRecord, seconds: float) -> JobRecord:
    """The job once final, or as it stands after ``seconds`` (at most 60); at once without a
    ``waiter`` (a process that listens for no job changes)."""
    if waiter is None:
        return job
    seconds = min(seconds, MAX_WAIT_SECONDS)
    return await waiter.until_final(job, seconds, lambda: get_job(pool, job.id), FINAL_STATUSES)


async def get_signal(
    pool: Pool,
    signal_id: UUID,
    *,
    allowed_topics: tuple[int, ...] | None = None,
    suppliers: SupplierView = EVERY_SUPPLIER,
) -> Signal:
    """One card; a key restricted to topics gets 404 for signals outside them (not 403:
    it does not learn that the signal exists), and any reader for a signal made of content
    another supplier sent (``suppliers``: what the reader sees; by default everything, for
    the service's own use)."""
    restrict = sorted(allowed_topics) if allowed_topics is not None else None
    async with pool.acquire() as conn:
        signal = await repository.get_signal(conn, signal_id, restrict, suppliers=suppliers)
        if (
            signal is not None
            and allowed_topics is not None
            and not await repository.signal_has_any_topic(
                conn, signal_id, list(allowed_topics), suppliers=suppliers
            )
        ):
            signal = None
    if signal is None:
        raise NotFound(f"no signal {signal_id}")
    return signal


async def get_article(
    pool: Pool, article_id: UUID, *, allowed_topics: tuple[int, ...] | None, suppliers: SupplierView
) -> Article:
    """One extracted article; a key restricted to topics reads only articles with a signal
    on one of them, and a reader only fetched articles and its own supplier's (404 otherwise,
    as for signals)."""
    async with pool.acquire() as conn:
        restrict = sorted(allowed_topics) if allowed_topics is not None else None
        article = await repository.get_article(conn, article_id, restrict, suppliers=suppliers)
        if (
            article is not None
            and allowed_topics is not None
            and not await repository.article_has_signal_on_topics(conn, article_id, sorted(allowed_topics))
        ):
            article = None
    if article is None:
        raise NotFound(f"no article {article_id}")
    return article
