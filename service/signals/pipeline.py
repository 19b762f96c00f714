"""One job, start to finish: fetch → extract → (dedupe) → analyze → store.

Every stage is recorded on the job. Failures end the job with a typed error; the signal,
its topics, its entities and the job's "done" are written in one transaction, so a crash
or a failure never leaves half a signal behind. Each write is guarded by the attempt
number, so a worker that lost its job (it stalled and another worker took over) cannot
overwrite the newer attempt.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from service.analysis.client import Analysis, Analyzer, usage_of
from service.analysis.prompt import PROMPT_VERSION, ArticleForPrompt
from service.db.connections import Connection, Pool
from service.db.transactions import run_in_transaction
from service.errors import LLMNotConfigured, SignalsError, TopicsChanged
from service.ingest.canonical import canonicalize_url, choose_canonical
from service.ingest.extract import ExtractedArticle, article_from_text
from service.ingest.fetch import Fetcher
from service.ingest.pool import Extractor
from service.jobs.queue import enqueue_relate
from service.jobs.retry import RetryLater, Stopping, unless_stopping
from service.settings import Settings
from service.signals import job_repository, repository
from service.signals.attempts import Stages, hand_back, retry_later
from service.signals.job_repository import JobRecord
from service.signals.linking import link_topics_and_entities, resolve_topics_and_entities
from service.signals.sentiment import sentiment_value

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Obtained:
    article: ExtractedArticle
    canonical_url: str | None
    url: str | None
    fetched_at: datetime | None


async def process_job(
    pool: Pool,
    settings: Settings,
    fetcher: Fetcher,
    extractor: Extractor | None,
    analyzer: Analyzer | None,
    job_id: UUID,
    stopping: asyncio.Event | None = None,
) -> None:
    """Run one job to a final state. Never raises for a pipeline failure; raises ``RetryLater``
    when the job goes back to the queue: a passing model failure (``retrying``), or
    ``stopping`` set while the model is still answering (``queued``, for another worker)."""
    async with pool.acquire() as conn:
        job = await job_repository.start_job_attempt(conn, job_id)
    if job is None:
        log.info("job %s is already finished; nothing to do", job_id)
        return
    stages = Stages(job)
    article_id: UUID | None = None
    try:
        obtained = await _obtain_article(pool, fetcher, extractor, settings.extract_min_words, job, stages)
        article_id, signal_id = await _store_article(pool, job, obtained)
        stages.mark("store")
        if signal_id is not None:
            await _finish_done(pool, job, signal_id, article_id, reused=True)
            return
        if analyzer is None:
            await _set_status(pool, job, "analyzing")
            raise LLMNotConfigured("set " + " and ".join(settings.llm_missing()) + " to enable analysis")
        # The status write overlaps the model call instead of delaying it.
        status = asyncio.ensure_future(_set_status(pool, job, "analyzing"))
        try:
            analysis = await unless_stopping(
                analyzer.analyze(_prompt_input(obtained), today=datetime.now(UTC).date()), stopping
            )
        finally:
            await status
        stages.mark("model")
        signal_id = await _store_signal(pool, job, article_id, obtained.article.content_hash, analysis)
        stages.mark("signal")
        log.info("job %s done: signal %s (%s)", job.id, signal_id, stages)
    except Stopping:
        await hand_back(pool, job)
        raise RetryLater(0, "the worker is stopping") from None
    except SignalsError as exc:
        later = await retry_later(pool, settings.job_retry_schedule, job, exc)
        if later is not None:
            raise later from exc
        await _finish_failed(pool, job, exc, article_id)
    except Exception as exc:
        log.exception("job %s failed unexpectedly", job.id)
        await _finish_failed(pool, job, SignalsError(f"internal error ({type(exc).__name__})"), article_id)


def _running(extractor: Extractor | None) -> Extractor:
    """The extraction pool, asked for only when a job has html to extract."""
    if extractor is None:
        raise RuntimeError("this process runs no extraction pool (API-only)")
    return extractor


async def _set_status(pool: Pool, job: JobRecord, status: str) -> None:
    async with pool.acquire() as conn:
        await job_repository.set_job_status(conn, job.id, job.attempts, status)


async def _obtain_article(
    pool: Pool,
    fetcher: Fetcher,
    extractor: Extractor | None,
    min_words: int,
    job: JobRecord,
    stages: Stages,
) -> _Obtained:
    payload = job.payload or {}
    if job.input_kind == "text":
        url = job.url
        article = article_from_text(payload["text"], title=payload.get("title"), url=url, min_words=min_words)
        await _set_status(pool, job, "extracting")
        stages.mark("extract")
        return _Obtained(article, canonicalize_url(url) if url else None, url, None)
    if job.input_kind == "html":
        assert job.url is not None
        await _set_status(pool, job, "extracting")
        article = await _running(extractor).extract(payload["html"], job.url, min_words=min_words)
        stages.mark("extract")
        return _Obtained(article, choose_canonical(job.url, article.canonical_url), job.url, None)
    assert job.url is not None
    page = await fetcher.fetch_article(job.url)
    fetched_at = datetime.now(UTC)
    stages.mark("fetch")
    # Not awaited before extraction starts: the status write and the extraction overlap.
    status = asyncio.ensure_future(_set_status(pool, job, "extracting"))
    try:
        if page.media_type == "text/plain":
            article = article_from_text(page.text, title=None, url=page.final_url, min_words=min_words)
        else:
            article = await _running(extractor).extract(page.text, page.final_url, min_words=min_words)
    finally:
        await status
    stages.mark("extract")
    canonical = choose_canonical(page.final_url, article.canonical_url)
    return _Obtained(article, canonical, job.url, fetched_at)


async def _store_article(pool: Pool, job: JobRecord, obtained: _Obtained) -> tuple[UUID, UUID | None]:
    """Store the article; return its id and the existing signal for this exact text, if any.

    Fetched pages are stored by canonical URL. Content a caller supplied (text or html) is
    stored as the supplier's own article for that URL: it never replaces a fetched page or
    another supplier's content. When the very same text was already analysed at that URL
    (fetched, or sent by the same supplier), that article and signal answer, with no LLM call.
    """
    a = obtained.article
    supplied = job.input_kind != "url"
    async with pool.acquire() as conn, conn.transaction():
        if supplied and obtained.canonical_url is not None:
            copy = await repository.find_analysed_copy(
                conn,
                canonical_url=obtained.canonical_url,
                content_hash=a.content_hash,
                prompt_version=PROMPT_VERSION,
                supplier_id=job.supplier_id,
            )
            if copy is not None:
                return copy
        article_id, _previous = await repository.upsert_article(
            conn,
            canonical_url=obtained.canonical_url,
            supplier_id=job.supplier_id if supplied else None,
            # shared objects show the canonical URL only: a submitter's own spelling (its query
            # tokens, its fragment) stays on its job
            url=obtained.canonical_url,
            input_kind=job.input_kind,
            content_hash=a.content_hash,
            title=a.title,
            author=a.author,
            site_name=a.site_name,
            published_date=a.published,
            language=a.language,
            image=a.image,
            description=a.description,
            word_count=a.word_count,
            text=a.text,
            fetched_at=obtained.fetched_at,
        )
        existing = await repository.find_signal_for_content(
            conn, article_id=article_id, content_hash=a.content_hash, prompt_version=PROMPT_VERSION
        )
        if existing is not None:
            # The text is back to a version analysed before (A, then B, then A again): its
            # signal is the current one again, as if it had just been made.
            # Triggers: signals_log_restore → signal_changes → webhook_events (README "Architecture").
            for story_id in await repository.make_signal_current(conn, existing):
                await repository.refresh_story(conn, story_id)
    return article_id, existing


def _prompt_input(obtained: _Obtained) -> ArticleForPrompt:
    a = obtained.article
    return ArticleForPrompt(
        text=a.text,
        title=a.title,
        site_name=a.site_name,
        url=obtained.canonical_url or obtained.url,
        published=a.published,
        language=a.language,
    )


async def _store_signal(
    pool: Pool, job: JobRecord, article_id: UUID, content_hash: str, analysis: Analysis
) -> UUID:
    """Store the analysed signal in one transaction (service.db.transactions runs it again
    when PostgreSQL rolls it back to break a deadlock, or when a topic merge committed while
    it linked to the merged-away topic: resolving the labels again finds the surviving topic).
    The LLM is never asked again."""

    async def work(conn: Connection) -> UUID:
        return await _store_signal_once(conn, job, article_id, content_hash, analysis)

    return await run_in_transaction(
        pool, work, what=f"job {job.id}: storing the signal", retry_on=(TopicsChanged,)
    )


async def _store_signal_once(
    conn: Connection, job: JobRecord, article_id: UUID, content_hash: str, analysis: Analysis
) -> UUID:
    """The signal, its links, its relate job and the job's "done", on ``conn`` (in the caller's
    transaction)."""
    draft = analysis.draft
    topic_ids, entity_ids = await resolve_topics_and_entities(
        conn,
        draft.topics,
        [(e.name, e.type) for e in draft.entities],
        public=job.input_kind == "url",  # text and html are supplied content, private to the supplier
    )
    # Triggers at commit: signals_log_insert → signal_changes → webhook_events (README "Architecture").
    signal_id = await repository.insert_signal(
        conn,
        article_id=article_id,
        content_hash=content_hash,
        prompt_version=analysis.prompt_version,
        title=draft.title,
        summary=draft.summary,
        eli5=draft.eli5,
        analysis=draft.analysis,
        impact=draft.impact,
        optimistic_outlook=draft.optimistic_outlook,
        pessimistic_outlook=draft.pessimistic_outlook,
        key_details=[
            {
                "text": d.text,
                "evidence": d.evidence,
                "sentences": d.sentences,
                "offsets": [list(span) for span in d.offsets],
                "unsupported": d.unsupported,
            }
            for d in analysis.key_details
        ],
        grounding_checked=analysis.grounding_checked,
        grounding_grounded=analysis.grounding_grounded,
        model=analysis.model,
        input_tokens=analysis.input_tokens,
        output_tokens=analysis.output_tokens,
        llm_latency_ms=analysis.latency_ms,
        llm_attempts=analysis.attempts,
        sentiment=sentiment_value(draft.sentiment),
        topic_ids=topic_ids,
        entity_ids=entity_ids,
        key_text=" ".join(d.text for d in analysis.key_details),
    )
    reused = False
    if signal_id is None:
        # Another job analysed the same text meanwhile: its signal stands, ours is dropped.
        signal_id = await repository.find_signal_for_content(
            conn, article_id=article_id, content_hash=content_hash, prompt_version=analysis.prompt_version
        )
        assert signal_id is not None
        reused = True
    else:
        await repository.supersede_article_signals(conn, article_id, signal_id)
        await link_topics_and_entities(conn, signal_id, topic_ids, entity_ids)
        await enqueue_relate(conn, signal_id)
    finished = await job_repository.finish_job_done(
        conn, job.id, job.attempts, signal_id=signal_id, article_id=article_id, reused=reused
    )
    if not finished:
        # A newer attempt owns the job: roll back rather than write a signal twice.
        raise _AttemptLost()
    return signal_id


class _AttemptLost(SignalsError):
    code = "attempt_superseded"
    title = "A newer attempt owns this job"


async def _finish_done(
    pool: Pool, job: JobRecord, signal_id: UUID, article_id: UUID, *, reused: bool
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await job_repository.finish_job_done(
            conn, job.id, job.attempts, signal_id=signal_id, article_id=article_id, reused=reused
        )
    log.info("job %s done: existing signal %s (no LLM call)", job.id, signal_id)


async def _finish_failed(pool: Pool, job: JobRecord, exc: SignalsError, article_id: UUID | None) -> None:
    if isinstance(exc, _AttemptLost):
        log.warning("job %s: attempt %d was superseded; leaving the job to it", job.id, job.attempts)
        return
    async with pool.acquire() as conn, conn.transaction():
        await job_repository.finish_job_failed(
            conn,
            job.id,
            job.attempts,
            code=exc.code,
            reason=exc.reason,
            detail=exc.detail,
            article_id=article_id,
            llm_usage=usage_of(exc),  # a failed job shows what its model calls cost
        )
    log.info("job %s failed: %s (%s)", job.id, exc.code, exc.reason or exc.detail)
