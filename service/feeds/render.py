"""Rendering signal feeds: Atom 1.0 and RSS 2.0 with feedgen, JSON Feed 1.1 with msgspec.

Everything that reaches a feed goes through ``clean_text`` first: XML 1.0 forbids most C0
control characters (and lxml refuses them), so one stray byte in an article would otherwise
break the whole feed. Each format then escapes by its own rules:

- Atom: titles, summaries and content are ``type="text"``; lxml escapes them once for XML,
  so a ``<script>`` in a title reaches the reader as text;
- RSS: ``description`` and ``content:encoded`` are HTML by convention, so the text is
  HTML-escaped first (and XML-escaped again by lxml) and laid out as ``<p>`` paragraphs;
- JSON Feed: ``content_text`` only (no ``content_html``), encoded by msgspec.

GUIDs are ``urn:uuid:<signal id>`` in all three, so a signal is one item everywhere and never
two. Links start with SIGNALS_PUBLIC_URL, or are relative (``/v1/...``) without it, never with
the request's Host. Titles are cut to ``TITLE_MAX`` characters: feed readers show a line, not
an essay.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit
from uuid import NAMESPACE_URL, uuid5

from feedgen.feed import FeedGenerator  # type: ignore[import-untyped]  # no type information

from schemas.base import json_encoder
from schemas.feeds import JSON_FEED_VERSION, JsonFeed, JsonFeedAuthor, JsonFeedItem
from schemas.signals import Signal

TITLE_MAX = 300
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""``updated`` of an empty feed: a fixed time keeps its ETag stable."""
# Characters XML 1.0 does not allow (C0 controls except tab, LF and CR; lone surrogates;
# U+FFFE and U+FFFF) and C1 controls, which it discourages and no reader displays.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")


def clean_text(value: str | None) -> str:
    """``value`` without the characters a feed must not carry ('' for None)."""
    return _FORBIDDEN.sub("", value) if value else ""


def _title(value: str) -> str:
    text = " ".join(clean_text(value).split())
    return text if len(text) <= TITLE_MAX else text[: TITLE_MAX - 1].rstrip() + "…"


@dataclass(frozen=True, slots=True)
class FeedMeta:
    """What the feed says about itself. ``self_url`` never carries the ``key`` parameter."""

    title: str
    description: str
    self_url: str
    home_url: str
    api_base: str


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One signal as every format needs it, already cleaned."""

    guid: str
    title: str
    link: str
    summary: str
    content: str
    published: datetime
    tags: list[str]
    author: str | None
    language: str | None


def feed_item(card: Signal, api_base: str) -> FeedItem:
    """The feed view of a signal card: the article's link (the API's when there is none)."""
    article = card.source.canonical_url or card.source.url
    details = "\n".join(f"- {clean_text(d.text)}" for d in card.key_details)
    content = "\n\n".join(
        part for part in (clean_text(card.summary), clean_text(card.impact), details) if part
    )
    return FeedItem(
        guid=f"urn:uuid:{card.id}",
        title=_title(card.title),
        link=clean_text(article) or f"{api_base}/v1/signals/{card.id}",
        summary=clean_text(card.summary),
        content=content,
        published=card.provenance.created_at,
        tags=[clean_text(t.label) for t in card.topics],
        author=clean_text(card.source.site_name) or None,
        language=clean_text(card.source.language) or None,
    )


def feed_id(self_url: str) -> str:
    """The feed's Atom id, which must be an absolute IRI: its own URL when that is absolute
    (SIGNALS_PUBLIC_URL set), else a ``urn:uuid:`` name derived from its path and query, the
    same for every host the feed is reached by."""
    if urlsplit(self_url).scheme in ("http", "https"):
        return self_url
    return f"urn:uuid:{uuid5(NAMESPACE_URL, self_url)}"


def _paragraphs_html(text: str) -> str:
    return "".join(f"<p>{html.escape(part)}</p>" for part in text.split("\n\n") if part)


def _generator(meta: FeedMeta, items: list[FeedItem]) -> FeedGenerator:
    updated = max((item.published for item in items), default=EPOCH)
    fg = FeedGenerator()
    fg.id(feed_id(meta.self_url))
    fg.title(clean_text(meta.title))
    fg.description(clean_text(meta.description))
    fg.author({"name": "Signals"})
    fg.link(href=meta.self_url, rel="self")
    fg.link(href=meta.home_url, rel="alternate")
    # Set explicitly: feedgen would stamp "now", and the body (and ETag) would change every time.
    fg.updated(updated)
    fg.lastBuildDate(updated)
    for item in items:
        entry = fg.add_entry(order="append")
        entry.id(item.guid)
        entry.guid(item.guid, permalink=False)
        entry.title(item.title)
        entry.link(href=item.link, rel="alternate")
        entry.published(item.published)
        entry.updated(item.published)
        if item.author:
            entry.author({"name": item.author})
        for tag in item.tags:
            entry.category(term=tag)
    return fg


def render_atom(meta: FeedMeta, items: list[FeedItem]) -> bytes:
    """Atom 1.0; text constructs are ``type="text"``."""
    fg = _generator(meta, items)
    for entry, item in zip(fg.entry(), items, strict=True):
        entry.summary(item.summary, type="text")
        entry.content(item.content, type="text")
    body: bytes = fg.atom_str(pretty=False)
    return body


def render_rss(meta: FeedMeta, items: list[FeedItem]) -> bytes:
    """RSS 2.0; description and content:encoded are escaped HTML paragraphs."""
    fg = _generator(meta, items)
    for entry, item in zip(fg.entry(), items, strict=True):
        entry.description(_paragraphs_html(item.summary))
        entry.content(_paragraphs_html(item.content))
    body: bytes = fg.rss_str(pretty=False)
    return body


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def render_json(meta: FeedMeta, items: list[FeedItem]) -> bytes:
    """JSON Feed 1.1 with plain-text content."""
    feed = JsonFeed(
        version=JSON_FEED_VERSION,
        title=clean_text(meta.title),
        home_page_url=meta.home_url,
        feed_url=meta.self_url,
        description=clean_text(meta.description),
        items=[
            JsonFeedItem(
                id=item.guid,
                url=item.link,
                title=item.title,
                content_text=item.content,
                summary=item.summary or None,
                date_published=_rfc3339(item.published),
                tags=item.tags or None,
                authors=[JsonFeedAuthor(name=item.author)] if item.author else None,
                language=item.language,
            )
            for item in items
        ],
    )
    return json_encoder.encode(feed)
