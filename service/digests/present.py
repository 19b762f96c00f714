"""Stored briefing rows as the wire contract (schemas/digests.py)."""

from __future__ import annotations

from typing import Any, Literal, cast
from urllib.parse import urlencode
from uuid import UUID

from schemas.digests import (
    Citation,
    CitationLinks,
    Digest,
    DigestJob,
    DigestJobLinks,
    DigestLinks,
    DigestListItem,
    DigestProvenance,
    DigestSection,
    DigestTopic,
    Period,
    QuickHit,
)
from schemas.jobs import JobError
from service.digests.periods import period_window
from service.digests.repository import DigestJobRow, DigestRow
from service.errors import PROBLEM_BASE


def _topic(slug: str | None, label: str | None) -> DigestTopic | None:
    return DigestTopic(slug=slug, label=label or slug) if slug else None


def digest_links(row: DigestRow) -> DigestLinks:
    window = period_window(cast(Period, row.period), row.period_start)
    latest: dict[str, str] = {"period": row.period}
    signals: dict[str, str] = {
        "since": window.start.isoformat(),
        "until": window.last_day.isoformat(),
        "collapse": "story",
    }
    if row.topic_slug:
        latest["topic"] = signals["topic"] = row.topic_slug
    return DigestLinks(
        self=f"/v1/digests/{row.id}",
        latest=f"/v1/digests/latest?{urlencode(latest)}",
        signals=f"/v1/signals?{urlencode(signals)}",
    )


def to_digest(row: DigestRow) -> Digest:
    """The full briefing: sections, quick hits resolved to titles and URLs, citations."""
    citations = [
        Citation(
            n=int(c["n"]),
            signal_id=UUID(str(c["signal_id"])),
            title=str(c["title"]),
            url=c.get("url"),
            site_name=c.get("site_name"),
            links=CitationLinks(signal=f"/v1/signals/{c['signal_id']}"),
        )
        for c in row.citations
    ]
    by_signal = {c.signal_id: c for c in citations}
    quick_hits = []
    for hit in row.quick_hits:
        signal_id = UUID(str(hit["signal_id"]))
        cited = by_signal.get(signal_id)
        quick_hits.append(
            QuickHit(
                text=str(hit["text"]),
                signal_id=signal_id,
                title=cited.title if cited else "",
                url=cited.url if cited else None,
            )
        )
    window = period_window(cast(Period, row.period), row.period_start)
    return Digest(
        id=row.id,
        period=cast(Period, row.period),
        date=row.period_start,
        last_day=window.last_day,
        topic=_topic(row.topic_slug, row.topic_label),
        version=row.version,
        is_latest=row.is_latest,
        headline=row.headline,
        dek=row.dek,
        reading_minutes=row.reading_minutes,
        word_count=row.word_count,
        opening=row.opening,
        sections=[
            DigestSection(
                title=str(s["title"]),
                body=str(s["body"]),
                signal_ids=[UUID(str(i)) for i in s["signal_ids"]],
            )
            for s in row.sections
        ],
        quick_hits=quick_hits,
        citations=citations,
        provenance=DigestProvenance(
            kind=cast(Literal["llm", "template"], row.kind),
            trigger=cast(Literal["schedule", "request"], row.trigger),
            model=row.model,
            prompt_version=row.prompt_version,
            llm_calls=row.llm_calls,
            input_tokens=row.input_tokens,
            output_tokens=row.output_tokens,
            llm_latency_ms=row.llm_latency_ms,
            input_token_budget=row.input_budget,
            signals_considered=row.signals_considered,
            stories_considered=row.stories_considered,
            signals_included=len(row.signal_ids),
            created_at=row.created_at,
        ),
        links=digest_links(row),
    )


def to_item(row: DigestRow) -> DigestListItem:
    return DigestListItem(
        id=row.id,
        period=cast(Period, row.period),
        date=row.period_start,
        topic=_topic(row.topic_slug, row.topic_label),
        version=row.version,
        is_latest=row.is_latest,
        headline=row.headline,
        dek=row.dek,
        reading_minutes=row.reading_minutes,
        created_at=row.created_at,
        links=digest_links(row),
    )


def to_job(row: DigestJobRow) -> DigestJob:
    error = None
    if row.error_code is not None:
        error = JobError(
            code=row.error_code,
            reason=row.error_reason,
            detail=row.error_detail or "",
            type=PROBLEM_BASE + row.error_code,
        )
    return DigestJob(
        id=row.id,
        status=cast(Any, row.status),
        period=cast(Period, row.period),
        date=row.period_start,
        topic=_topic(row.topic_slug, row.topic_label),
        trigger=cast(Literal["schedule", "request"], row.trigger),
        digest_id=row.digest_id,
        error=error,
        attempts=row.attempts,
        created_at=row.created_at,
        finished_at=row.finished_at,
        links=DigestJobLinks(
            self=f"/v1/digests/jobs/{row.id}",
            digest=f"/v1/digests/{row.digest_id}" if row.digest_id else None,
        ),
    )
