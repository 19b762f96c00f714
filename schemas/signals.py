"""Signals: the analysis request and the signal card."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar, Literal
from uuid import UUID

import msgspec

from schemas.base import Request, Response

Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2048, description="An http(s) URL.")]


class AnalyzeRequest(Request):
    """What to analyse. Exactly one of these shapes:

    - ``{"url"}``: the service fetches and extracts the page;
    - ``{"html", "url"}``: the page's HTML you already have (``url`` names its address);
    - ``{"text", "title"?, "url"?}``: article text you already have (partners, paywalled sources).
    """

    url: Url | None = None
    html: Annotated[str, msgspec.Meta(min_length=1)] | None = None
    text: Annotated[str, msgspec.Meta(min_length=1)] | None = None
    title: Annotated[str, msgspec.Meta(max_length=1000)] | None = None

    openapi_shapes: ClassVar[tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]] = (
        ("url", ("url",), ()),
        ("html", ("html", "url"), ("title",)),
        ("text", ("text",), ("title", "url")),
    )
    """The shapes above for the OpenAPI document (service/openapi.py): name, required fields,
    optional fields; any other field is absent or null. service/signals/service.py checks
    them (422 otherwise)."""


class KeyDetail(Response):
    """One fact, with the verbatim passage of the article that backs it."""

    text: str
    evidence: str
    """The cited sentences, verbatim from the article's text (passages that are not adjacent
    joined by " … "); in the article's own language."""
    sentences: list[int] = msgspec.field(default_factory=list)
    """The numbers (from 1) of the article sentences the model cited; empty on signals made
    before prompt version 2026-12-07.1, whose evidence the model quoted itself."""
    offsets: list[tuple[int, int]] = msgspec.field(default_factory=list)
    """[start, end) of each passage in the article's ``text`` (GET /v1/articles/{id}), in
    Unicode code points, for highlighting; empty on older signals."""
    unsupported: list[str] | None = None
    """Numbers, names and months in ``text`` that the cited sentences do not contain (names
    only for English articles): empty when all were found; null when not checked (older
    signals). A string match cannot prove support: a flag for readers, not a verdict."""


class Topic(Response):
    """A topic; ``slug`` is normalised (lowercase, hyphenated) and stable across signals."""

    slug: str
    label: str


class Entity(Response):
    """A person, organization, product or place the article is about."""

    name: str
    type: str


class Source(Response):
    """Where the article came from (trafilatura's metadata)."""

    origin: Literal["fetched", "supplied"]
    """fetched: the service fetched the page at ``url`` itself. supplied: a caller sent the text
    or HTML, and ``url`` is only the caller's label for it (never fetched)."""
    url: str | None
    canonical_url: str | None
    site_name: str | None
    author: str | None
    published_date: date | None
    language: str | None
    image: str | None
    word_count: int


class Grounding(Response):
    """How many key details were checked against the article and how many were found in it."""

    checked: int
    grounded: int


class Provenance(Response):
    """How this signal was made."""

    model: str
    prompt_version: str
    input_tokens: int | None
    output_tokens: int | None
    llm_latency_ms: int | None
    llm_attempts: int
    created_at: datetime


class RelatedLink(Response):
    """Another signal on the same thread."""

    id: UUID
    title: str
    url: str | None
    reason: str


class SignalLinks(Response):
    self: str
    article: str


class Signal(Response):
    """The signal card."""

    id: UUID
    title: str
    summary: str
    eli5: str
    analysis: str
    impact: str
    key_details: list[KeyDetail]
    optimistic_outlook: str
    pessimistic_outlook: str
    topics: list[Topic]
    entities: list[Entity]
    sentiment: float | None
    """Tone from -1 (very negative) to 1 (very positive), as the model judged it."""
    source: Source
    grounding: Grounding
    provenance: Provenance
    article_id: UUID
    story_id: UUID | None
    """The story (articles about one event) this signal belongs to."""
    current: bool
    """False when a newer analysis of the same article exists."""
    related: list[RelatedLink]
    links: SignalLinks


class EntityRef(Response):
    """An entity as list items name it."""

    id: int
    name: str
    type: str


class SignalListItem(Response):
    """A signal in a list: what a feed row needs, no long text (``include=card`` for cards)."""

    id: UUID
    title: str
    summary: str
    url: str | None
    site_name: str | None
    language: str | None
    published_date: date | None
    created_at: datetime
    sentiment: float | None
    topics: list[Topic]
    entities: list[EntityRef]
    story_id: UUID | None
    snippet: str | None = None
    """With ``q``: matching fragments, HTML-escaped, matches wrapped in <mark>."""
    rank: float | None = None
    """With ``sort=relevance``: the rank of the card's words (title, summary, key details;
    higher is better) within its group (title matches come first, then other card matches);
    0 for a signal that matches only in its analysis or article text."""
    links: SignalLinks | None = None


class SignalPage(Response):
    """One page of a list. ``next`` is the URL of the following page (null on the last)."""

    items: list[SignalListItem]
    next: str | None
    limit: int


class SignalCardPage(Response):
    """One page of a list with ``include=card``: full signal cards."""

    items: list[Signal]
    next: str | None
    limit: int
