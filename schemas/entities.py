"""Entities: a searchable directory with counts, and one entity's page with co-occurrences."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from schemas.base import Response
from schemas.signals import SignalListItem
from schemas.topics import TimeWindow

EntityType = Literal["person", "organization", "product", "place"]


class EntityLinks(Response):
    self: str
    signals: str
    """The entity's signals on ``GET /v1/signals``."""


class EntityCount(Response):
    """An entity with its number of current signals in the window."""

    id: int
    name: str
    type: str
    count: int
    links: EntityLinks


class EntityPage(Response):
    """One page of entities. ``next`` is the URL of the following page (null on the last)."""

    items: list[EntityCount]
    next: str | None
    limit: int
    sort: Literal["count", "name", "relevance"]
    window: TimeWindow
    """The window ``count`` is measured in."""


class EntityCounts(Response):
    """Current signals naming the entity created in the last day, 7 days and 30 days (no
    all-time total, for the reason ``TopicCounts`` gives)."""

    last_24h: int
    last_7d: int
    last_30d: int


class CoEntity(Response):
    """Another entity named in the same signals, with how many of them."""

    id: int
    name: str
    type: str
    count: int
    links: EntityLinks


class CoTopic(Response):
    """A topic of the entity's signals, with how many of them."""

    slug: str
    label: str
    count: int


class EntityDetail(Response):
    """An entity: its counts, what it appears with, and its newest signals."""

    id: int
    name: str
    type: str
    created_at: datetime
    counts: EntityCounts
    co_entities: list[CoEntity]
    """Top 10 entities named together with this one, most shared signals first."""
    co_topics: list[CoTopic]
    """Top 10 topics of this entity's signals."""
    cooccurrence_basis: int
    """How many signals the co-occurrences were counted over: the newest current ones, at most 1000."""
    signals: list[SignalListItem]
    """The newest current signals (at most 10); ``links.signals`` pages through all of them."""
    links: EntityLinks
