"""Briefings (digests): daily and weekly write-ups of stored signals, and the jobs writing them."""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import Literal
from uuid import UUID

from schemas.base import CompactResponse, Request, Response
from schemas.jobs import JobError

Period = Literal["daily", "weekly"]
DigestJobStatus = Literal["queued", "writing", "done", "failed", "empty"]


class DigestRequest(Request):
    """Write (or write again) the briefing of one period."""

    period: Period
    date: dt.date
    """Any day of the period: the day itself (daily) or a day of the week (weekly, Monday-based)."""
    topic: str | None = None
    """A topic slug or alias: a briefing of that topic's signals only."""


class DigestTopic(Response):
    slug: str
    label: str


class DigestSection(Response):
    """One themed section. ``body`` is paragraphs separated by blank lines; ``[n]`` markers
    cite ``citations[n-1]``."""

    title: str
    body: str
    signal_ids: list[UUID]
    """The signals the section cites, in order of first citation."""


class QuickHit(Response):
    """One line about one signal."""

    text: str
    signal_id: UUID
    title: str
    url: str | None


class CitationLinks(Response):
    signal: str


class Citation(Response):
    """What the marker ``[n]`` links to: a signal, its headline and its article."""

    n: int
    signal_id: UUID
    title: str
    url: str | None
    site_name: str | None
    links: CitationLinks


class DigestProvenance(Response):
    """How the briefing was written and what it cost."""

    kind: Literal["llm", "template"]
    """llm: planned and written by the model; template: one signal, no model call."""
    trigger: Literal["schedule", "request"]
    model: str | None
    prompt_version: str
    llm_calls: int
    """Completions requested, re-asks included (0 for a template)."""
    input_tokens: int | None
    output_tokens: int | None
    llm_latency_ms: int | None
    input_token_budget: int
    signals_considered: int
    """Current signals that entered the service in the period."""
    stories_considered: int
    """The same, one per story."""
    signals_included: int
    created_at: datetime


class DigestLinks(Response):
    self: str
    latest: str
    signals: str
    """The period's signals as a signal list."""


class Digest(Response):
    """One version of a briefing."""

    id: UUID
    period: Period
    date: dt.date
    """The period's first day (a Monday for weekly)."""
    last_day: dt.date
    topic: DigestTopic | None
    version: int
    is_latest: bool
    headline: str
    dek: str
    reading_minutes: int
    word_count: int
    opening: str
    sections: list[DigestSection]
    quick_hits: list[QuickHit]
    citations: list[Citation]
    provenance: DigestProvenance
    links: DigestLinks


class DigestListItem(Response):
    """A briefing in a list."""

    id: UUID
    period: Period
    date: dt.date
    topic: DigestTopic | None
    version: int
    is_latest: bool
    headline: str
    dek: str
    reading_minutes: int
    created_at: datetime
    links: DigestLinks


class DigestPage(Response):
    """Briefings, newest period first. ``next`` is the following page's URL (null on the last)."""

    items: list[DigestListItem]
    next: str | None
    limit: int


class DigestJobLinks(CompactResponse):
    self: str
    digest: str | None = None


class DigestJob(Response):
    """A request to write a briefing and where it stands. ``empty``: the period had no signals."""

    id: UUID
    status: DigestJobStatus
    period: Period
    date: dt.date
    topic: DigestTopic | None
    trigger: Literal["schedule", "request"]
    digest_id: UUID | None
    error: JobError | None
    attempts: int
    created_at: datetime
    finished_at: datetime | None
    links: DigestJobLinks
