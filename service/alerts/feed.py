"""An alert's matches as a feed (Atom 1.0 or JSON Feed 1.1), rendered as the signal feeds are
(service/feeds/render.py): the newest ``FEED_ITEMS`` matches, each the signal's card as the
reader may see it now. The ETag hashes the body; Last-Modified is the newest match's time."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Literal
from uuid import UUID

from service.alerts.service import get_alert, list_matches
from service.db.connections import Pool
from service.feeds.render import FeedMeta, feed_item, render_atom, render_json
from service.feeds.service import FEED_ITEMS, MEDIA_TYPES, RenderedFeed
from service.keys.repository import StoredKey

AlertFeedFormat = Literal["atom", "json"]


async def build_alert_feed(
    pool: Pool, key: StoredKey, alert_id: UUID, fmt: AlertFeedFormat, *, self_url: str, api_base: str
) -> RenderedFeed:
    """The alert's newest matches as ``fmt``; 404 unless the key manages the alert."""
    alert = await get_alert(pool, key, alert_id)
    page = await list_matches(pool, key, alert_id, limit=FEED_ITEMS, cursor=None)
    items = [feed_item(match.signal, api_base) for match in page.items]
    # the feed's entries are in match order: an item's time is when it matched
    items = [replace(item, published=match.matched_at) for item, match in zip(items, page.items, strict=True)]
    meta = FeedMeta(
        title=f"Signals alert: {alert.name}",
        description="New signals matching a saved search, newest first.",
        self_url=self_url,
        home_url=f"{api_base}/v1/alerts/{alert_id}/matches",
        api_base=api_base,
    )
    body = render_atom(meta, items) if fmt == "atom" else render_json(meta, items)
    newest = page.items[0].matched_at if page.items else None
    return RenderedFeed(
        body=body,
        media_type=MEDIA_TYPES[fmt],
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        last_modified=newest.replace(microsecond=0) if newest is not None else None,
    )
