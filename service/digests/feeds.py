"""Briefings as feeds (Atom, RSS, JSON Feed 1.1), through the shared feed renderers
(service/feeds/render.py: cleaning, escaping, stable ``updated``).

Each item is one briefing version; its GUID (``urn:uuid:<digest id>``) never changes, so a
reader shows a regenerated briefing as a new item and never re-shows an old one. Feeds list
latest versions only. Feed content is text, as for signal feeds: the ``[n]`` citation markers
stay in the text and a numbered list of sources (headline and URL) ends each item, so every
claim still leads to its article.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from schemas.digests import Digest
from service.conditional import entity_tag
from service.feeds.render import FeedItem, FeedMeta, clean_text, render_atom, render_json, render_rss
from service.feeds.service import MEDIA_TYPES, FeedFormat, RenderedFeed

FEED_SIZE = 50
_RENDERERS: dict[str, Callable[[FeedMeta, list[FeedItem]], bytes]] = {
    "atom": render_atom,
    "rss": render_rss,
    "json": render_json,
}


def feed_title(period: str | None, topic_label: str | None) -> str:
    kind = {"daily": "Daily briefings", "weekly": "Weekly briefings"}.get(period or "", "Briefings")
    return f"Signals — {kind}" + (f": {topic_label}" if topic_label else "")


def digest_text(digest: Digest, api_base: str) -> str:
    """The briefing as text: dek, reading time, opening, sections, quick hits, then the sources
    each ``[n]`` marker points to."""
    parts = [digest.dek, f"{digest.reading_minutes} min read", digest.opening]
    for section in digest.sections:
        parts += [section.title.upper(), section.body]
    if digest.quick_hits:
        parts.append(
            "QUICK HITS\n" + "\n".join(f"- {h.text} ({h.url or h.title})" for h in digest.quick_hits)
        )
    sources = [f"[{c.n}] {c.title} — {c.url or api_base + c.links.signal}" for c in digest.citations]
    parts.append("SOURCES\n" + "\n".join(sources))
    return "\n\n".join(clean_text(part) for part in parts)


def digest_feed_item(digest: Digest, api_base: str) -> FeedItem:
    tags = [digest.period] + ([digest.topic.label] if digest.topic else [])
    return FeedItem(
        guid=f"urn:uuid:{digest.id}",
        title=clean_text(digest.headline),
        link=f"{api_base}{digest.links.self}",
        summary=clean_text(digest.dek),
        content=digest_text(digest, api_base),
        published=digest.provenance.created_at,
        tags=tags,
        author="Signals",
        language="en",
    )


def render_digest_feed(
    fmt: FeedFormat, digests: list[Digest], *, title: str, self_url: str, api_base: str
) -> RenderedFeed:
    """``digests`` (newest first) as ``fmt``, with its ETag (a hash of the body) and
    Last-Modified (the newest briefing's creation)."""
    meta = FeedMeta(
        title=title,
        description="Daily and weekly briefings written from stored signals; every claim cites its signal.",
        self_url=self_url,
        home_url=f"{api_base}/v1/digests",
        api_base=api_base,
    )
    body = _RENDERERS[fmt](meta, [digest_feed_item(d, api_base) for d in digests])
    newest: datetime | None = max((d.provenance.created_at for d in digests), default=None)
    return RenderedFeed(
        body=body,
        media_type=MEDIA_TYPES[fmt],
        etag=entity_tag(body),
        last_modified=newest.replace(microsecond=0) if newest is not None else None,
    )
