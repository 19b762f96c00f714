"""Topics: counts and trends over time windows, one topic's page, its timeline, merging."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from schemas.base import Request, Response
from schemas.signals import SignalListItem

TopicSlug = Annotated[
    str,
    msgspec.Meta(
        min_length=1, max_length=64, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", description="A topic slug."
    ),
]


class TimeWindow(Response):
    """A half-open UTC interval: ``since <= created_at < until``."""

    since: datetime
    until: datetime


class TopicLinks(Response):
    self: str
    timeline: str
    signals: str
    """The topic's signals on ``GET /v1/signals``."""


class TopicCount(Response):
    """A topic with its number of current signals in the window and the window before it."""

    slug: str
    label: str
    count: int
    previous_count: int
    """Current signals in the previous window of equal length."""
    trending: float
    """Growth against the previous window: ``(count - previous_count) / max(previous_count, 1)``."""
    links: TopicLinks


class TopicPage(Response):
    """One page of topics. ``next`` is the URL of the following page (null on the last)."""

    items: list[TopicCount]
    next: str | None
    limit: int
    sort: Literal["count", "trending"]
    window: TimeWindow
    previous_window: TimeWindow


class TopicCounts(Response):
    """Current signals of a topic created in the last day, 7 days and 30 days.

    No all-time total: for a topic on a quarter of all signals that is a scan of a quarter of
    the table on every page view; the timeline (interval=week) shows the longer history."""

    last_24h: int
    last_7d: int
    last_30d: int


class TopicDetail(Response):
    """A topic: its stable slug, label, other spellings, counts and newest signals."""

    slug: str
    label: str
    aliases: list[str]
    """Other slugs that resolve to this topic (earlier spellings, merged topics)."""
    created_at: datetime
    counts: TopicCounts
    signals: list[SignalListItem]
    """The newest current signals (at most 10); ``links.signals`` pages through all of them."""
    links: TopicLinks


class TopicRef(Response):
    slug: str
    label: str


class TimelineBucket(Response):
    """One bucket: ``[start, start + interval)``, UTC."""

    start: datetime
    count: int
    mean_sentiment: float | None
    """Mean sentiment of the bucket's signals (-1 to 1); null when it has none."""


class TopicTimeline(Response):
    """Counts and mean sentiment per day or week (weeks start on Monday), zero-filled."""

    topic: TopicRef
    interval: Literal["day", "week"]
    window: TimeWindow
    """``since`` is the start of the first bucket; the last bucket may end after ``until``."""
    buckets: list[TimelineBucket]
    links: TopicLinks


class TopicMergeRequest(Request):
    """Merge the topic in the path into ``into``."""

    into: TopicSlug


class TopicMerge(Response):
    """What a merge did."""

    merged: str
    """The slug that was merged (now an alias of ``into``)."""
    into: TopicRef
    signals_moved: int
    """Signals that carried the merged topic (all versions, current or not)."""
    aliases: list[str]
    """Every alias of ``into`` after the merge."""
    links: TopicLinks
