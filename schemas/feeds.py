"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1): the wire shape of /v1/feeds/signals.json."""

from __future__ import annotations

from schemas.base import CompactResponse

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"


class JsonFeedAuthor(CompactResponse):
    name: str
    url: str | None = None


class JsonFeedItem(CompactResponse):
    """One signal. ``id`` is ``urn:uuid:<signal id>``, the same GUID as in the Atom and RSS feeds."""

    id: str
    title: str
    content_text: str
    date_published: str
    """RFC 3339."""
    url: str | None = None
    external_url: str | None = None
    summary: str | None = None
    tags: list[str] | None = None
    authors: list[JsonFeedAuthor] | None = None
    language: str | None = None


class JsonFeed(CompactResponse):
    version: str
    """Always JSON_FEED_VERSION (no default: compact responses leave defaults out)."""
    title: str
    items: list[JsonFeedItem]
    home_page_url: str | None = None
    feed_url: str | None = None
    description: str | None = None
    language: str | None = None
