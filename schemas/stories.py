"""Stories: signals from any number of outlets that report one event."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from schemas.base import Response


class StoryLinks(Response):
    self: str
    signals: str
    """The story's signals as a signal list (GET /v1/signals?story=…)."""


class StoryListItem(Response):
    """A story in a list."""

    id: UUID
    title: str
    """The headline of its lead (most recent) signal."""
    lead_signal_id: UUID | None
    signal_count: int
    """Current signals in the story (one per article version in force)."""
    first_seen: datetime
    last_seen: datetime
    links: StoryLinks


class StoryPage(Response):
    """One page of stories, most recently active first. ``next`` is the following page's URL
    (null on the last). A story that gains a signal while you page moves to the front: it
    is not repeated, and a fresh first page shows it."""

    items: list[StoryListItem]
    next: str | None
    limit: int


class StorySignalLinks(Response):
    self: str


class StorySignal(Response):
    """One report of the story."""

    id: UUID
    title: str
    summary: str
    url: str | None
    site_name: str | None
    published_date: date | None
    created_at: datetime
    is_lead: bool
    links: StorySignalLinks


class StorySource(Response):
    """An outlet that reported the story."""

    site_name: str | None
    signal_count: int
    first_seen: datetime


class Story(Response):
    """A story with its signals (newest first, at most 100) and its sources."""

    id: UUID
    title: str
    lead_signal_id: UUID | None
    signal_count: int
    first_seen: datetime
    last_seen: datetime
    sources: list[StorySource]
    signals: list[StorySignal]
    links: StoryLinks
