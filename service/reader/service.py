"""What each reader page shows, gathered through the same service functions as the JSON reads,
with the reader's own topic restriction and supplier view, so a page never shows what the
same key could not fetch as JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from schemas.digests import Digest
from schemas.related import RelatedSignal
from schemas.signals import Signal, SignalListItem, SignalPage
from schemas.stories import Story
from schemas.topics import TopicCount, TopicDetail, TopicTimeline
from service.db.connections import Pool
from service.digests import reading as digests
from service.digests.periods import Period
from service.errors import NotFound
from service.keys.suppliers import SupplierView
from service.related import service as related
from service.signals import service as signals
from service.signals.listing import SignalQuery, list_signals
from service.stories import service as stories
from service.topics import service as topics
from service.topics.cache import TopicCache

NEWEST = 15
"""Signals listed on the front page and a search's answer."""
RELATED = 6
NEIGHBOURS = 8


@dataclass(frozen=True, slots=True)
class Reader:
    """Who is reading: the key's topic restriction (None: none) and supplier view."""

    allowed_topics: tuple[int, ...] | None
    suppliers: SupplierView


@dataclass(frozen=True, slots=True)
class FrontPage:
    briefing: Digest | None
    signals: list[SignalListItem]
    query: str | None = None


@dataclass(frozen=True, slots=True)
class SignalView:
    signal: Signal
    related: list[RelatedSignal]


@dataclass(frozen=True, slots=True)
class TopicView:
    topic: TopicDetail
    timeline: TopicTimeline
    neighbours: list[TopicCount] = field(default_factory=list)


async def front_page(pool: Pool, topic_cache: TopicCache, reader: Reader, query: str | None) -> FrontPage:
    """The newest daily briefing (if one was written and the reader may see it) and the newest
    signals; with ``query``, the signals matching it instead (full text, by relevance)."""
    if query:
        found = await list_signals(
            pool,
            topic_cache,
            SignalQuery(
                q=query,
                sort="relevance",
                limit=NEWEST,
                restrict_topics=reader.allowed_topics,
                suppliers=reader.suppliers,
            ),
        )
        return FrontPage(briefing=None, signals=_items(found), query=query)
    try:
        briefing: Digest | None = await digests.latest_digest(
            pool, period="daily", topic=None, day=None, allowed_topics=reader.allowed_topics
        )
    except NotFound:
        briefing = None
    newest = await list_signals(
        pool,
        topic_cache,
        SignalQuery(limit=NEWEST, restrict_topics=reader.allowed_topics, suppliers=reader.suppliers),
    )
    return FrontPage(briefing=briefing, signals=_items(newest))


def _items(page: object) -> list[SignalListItem]:
    # Without include_card a list answers compact items.
    assert isinstance(page, SignalPage)
    return list(page.items)


async def signal_page(pool: Pool, reader: Reader, signal_id: UUID) -> SignalView:
    """A signal card and its related coverage (404 as GET /v1/signals/{id} answers it)."""
    card = await signals.get_signal(
        pool, signal_id, allowed_topics=reader.allowed_topics, suppliers=reader.suppliers
    )
    coverage = await related.get_related(
        pool, signal_id, RELATED, allowed_topics=reader.allowed_topics, suppliers=reader.suppliers
    )
    return SignalView(signal=card, related=list(coverage.items))


async def topic_page(pool: Pool, topic_cache: TopicCache, reader: Reader, slug: str) -> TopicView:
    """A topic's newest signals, its last 30 days per day, and the trending topics its newest
    signals also carry (its neighbours)."""
    detail = await topics.get_topic(pool, topic_cache, slug, reader.allowed_topics, reader.suppliers)
    timeline = await topics.get_timeline(
        pool,
        detail.slug,
        interval="day",
        since=None,
        until=None,
        window=None,
        allowed_topics=reader.allowed_topics,
        suppliers=reader.suppliers,
    )
    carried = {t.slug for item in detail.signals for t in item.topics} - {detail.slug}
    trending = await topics.list_topics(
        pool,
        since=None,
        until=None,
        window="7d",
        sort="trending",
        limit=100,
        cursor=None,
        allowed_topics=reader.allowed_topics,
    )
    neighbours = [t for t in trending.items if t.slug in carried][:NEIGHBOURS]
    return TopicView(topic=detail, timeline=timeline, neighbours=neighbours)


async def story_page(pool: Pool, reader: Reader, story_id: UUID) -> Story:
    """Every outlet's signal on one event (as GET /v1/stories/{id})."""
    return await stories.get_story(pool, story_id, allowed_topics=reader.allowed_topics)


async def briefing_page(pool: Pool, reader: Reader, digest_id: UUID) -> Digest:
    """One briefing version (as GET /v1/digests/{id})."""
    return await digests.get_digest(pool, digest_id, allowed_topics=reader.allowed_topics)


async def latest_briefing(pool: Pool, reader: Reader, period: Period) -> Digest:
    """The newest general briefing of ``period`` (as GET /v1/digests/latest)."""
    return await digests.latest_digest(
        pool, period=period, topic=None, day=None, allowed_topics=reader.allowed_topics
    )
