"""Alerts: saved searches that announce every new signal matching them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from schemas.base import Request, Response
from schemas.signals import Signal
from schemas.topics import TopicSlug

AlertName = Annotated[str, msgspec.Meta(min_length=1, max_length=200, description="What the alert is for.")]
SearchText = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=500,
        description='Words as on `GET /v1/signals?q=` (web search syntax: "phrase", or, -word).',
    ),
]
EntityId = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1, description="An entity id.")]
Source = Annotated[str, msgspec.Meta(min_length=1, max_length=200, description="A site name, exactly.")]
Language = Annotated[
    str,
    msgspec.Meta(
        min_length=2, max_length=35, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$", description="e.g. en"
    ),
]


class AlertQuery(Request):
    """What a signal must match, every given field (at least one): the same meaning as the
    filters of ``GET /v1/signals`` (``q`` words, ``topic`` slug, ``entity`` id, ``source``
    site name, ``lang`` article language)."""

    q: SearchText | None = None
    topic: TopicSlug | None = None
    entity: EntityId | None = None
    source: Source | None = None
    lang: Language | None = None


class AlertCreate(Request):
    """A new alert. ``webhook_id``: an endpoint of the same key, sent an ``alert.matched``
    event for every match (the endpoint's own event types and topics do not filter them)."""

    name: AlertName
    query: AlertQuery
    webhook_id: UUID | None = None


class AlertUpdate(Request):
    """Fields to change; absent fields stay. ``query`` replaces the whole query;
    ``webhook_id: null`` stops webhook deliveries."""

    name: AlertName | msgspec.UnsetType = msgspec.UNSET
    query: AlertQuery | msgspec.UnsetType = msgspec.UNSET
    webhook_id: UUID | msgspec.UnsetType | None = msgspec.UNSET


class AlertQueryView(Response):
    """The alert's query as it was saved (``topic``: the topic's slug now)."""

    q: str | None
    topic: str | None
    entity: int | None
    source: str | None
    lang: str | None


class AlertLinks(Response):
    self: str
    matches: str
    atom: str
    json: str


class Alert(Response):
    """A saved search, owned by the key that created it (``api_key_id``): what it matches is
    bounded by that key's topics and supplier as the key is when each signal arrives."""

    id: UUID
    api_key_id: UUID
    name: str
    query: AlertQueryView
    webhook_id: UUID | None
    created_at: datetime
    updated_at: datetime
    links: AlertLinks


class AlertPage(Response):
    items: list[Alert]
    next: str | None
    limit: int


class AlertMatch(Response):
    """One signal that matched, with its card as the reader may see it now."""

    id: int
    """Match ids grow in the order matches were made."""
    signal_id: UUID
    matched_at: datetime
    signal: Signal


class AlertMatchPage(Response):
    """Newest first. ``next`` is the URL of the following (older) page (null on the last)."""

    items: list[AlertMatch]
    next: str | None
    limit: int


class AlertRef(Response):
    id: UUID
    name: str


class AlertMatchedData(Response):
    """``data`` of an ``alert.matched`` webhook event: the alert and the signal's card
    (related coverage left out, as in signal events)."""

    alert: AlertRef
    signal: Signal
