"""Signal feeds (Atom, RSS, JSON Feed): the newest signals matching a filter, with
conditional GET.

The items come from ``list_signals`` (the same filters, topic restriction and order as
``GET /v1/signals``), as full cards. The ETag is a hash of the rendered body, so it changes
exactly when the feed does; Last-Modified is the newest item's creation time. A request whose
``If-None-Match`` matches (or, without one, whose ``If-Modified-Since`` is not older than
Last-Modified) is answered 304 with no body, as RFC 9110 section 13.2.2 orders the checks.

Feeds have no repository of their own: they read through the signals listing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Literal

from schemas.signals import SignalCardPage
from service.db.connections import Pool
from service.feeds.render import FeedItem, FeedMeta, feed_item, render_atom, render_json, render_rss
from service.keys.suppliers import SupplierView
from service.signals.listing import SignalQuery, list_signals
from service.topics.cache import TopicCache

FeedFormat = Literal["atom", "rss", "json"]
FEED_ITEMS = 50
MEDIA_TYPES: dict[str, str] = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
_RENDERERS: dict[str, Callable[[FeedMeta, list[FeedItem]], bytes]] = {
    "atom": render_atom,
    "rss": render_rss,
    "json": render_json,
}


@dataclass(frozen=True, slots=True)
class FeedFilter:
    """The listing filters a feed accepts (the same meaning as on GET /v1/signals)."""

    topics: tuple[str, ...] = ()
    topic_match: Literal["any", "all"] = "any"
    entities: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class RenderedFeed:
    body: bytes
    media_type: str
    etag: str
    last_modified: datetime | None


def _title(feed_filter: FeedFilter) -> str:
    parts = []
    if feed_filter.topics:
        joiner = " and " if feed_filter.topic_match == "all" else " or "
        parts.append("topic " + joiner.join(feed_filter.topics))
    if feed_filter.entities:
        parts.append("entities " + ", ".join(str(e) for e in feed_filter.entities))
    return "Signals" + (f": {'; '.join(parts)}" if parts else "")


async def build_feed(
    pool: Pool,
    topic_cache: TopicCache,
    fmt: FeedFormat,
    feed_filter: FeedFilter,
    *,
    restrict: tuple[int, ...] | None,
    suppliers: SupplierView,
    self_url: str,
    api_base: str,
) -> RenderedFeed:
    """The newest ``FEED_ITEMS`` current signals matching ``feed_filter``, rendered as ``fmt``.
    Unknown topics or entities are 404 problems, as on GET /v1/signals."""
    page = await list_signals(
        pool,
        topic_cache,
        SignalQuery(
            topics=feed_filter.topics,
            topic_match=feed_filter.topic_match,
            entities=feed_filter.entities,
            limit=FEED_ITEMS,
            include_card=True,
            restrict_topics=restrict,
            suppliers=suppliers,
        ),
    )
    assert isinstance(page, SignalCardPage)
    items = [feed_item(card, api_base) for card in page.items]
    meta = FeedMeta(
        title=_title(feed_filter),
        description="Signals: articles analysed into headline, summary, impact and outlooks.",
        self_url=self_url,
        home_url=f"{api_base}/v1/signals",
        api_base=api_base,
    )
    body = _RENDERERS[fmt](meta, items)
    newest = max((item.published for item in items), default=None)
    return RenderedFeed(
        body=body,
        media_type=MEDIA_TYPES[fmt],
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        last_modified=newest.replace(microsecond=0) if newest is not None else None,
    )


def http_date(moment: datetime) -> str:
    """An IMF-fixdate (``Sun, 06 Nov 1994 08:49:37 GMT``)."""
    return format_datetime(moment, usegmt=True)


def _etag_matches(header: str, etag: str) -> bool:
    # Weak comparison (RFC 9110 13.1.2): W/ prefixes do not matter for If-None-Match.
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


def not_modified(feed: RenderedFeed, if_none_match: str | None, if_modified_since: str | None) -> bool:
    """Whether a GET with these conditional headers gets 304 Not Modified."""
    if if_none_match is not None:
        return _etag_matches(if_none_match, feed.etag)
    if if_modified_since is None or feed.last_modified is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError, IndexError):
        return False  # an unparsable date is ignored (RFC 9110 13.1.3)
    if since.tzinfo is None:
        return False
    return feed.last_modified <= since
