"""What every feed route shares (signal, briefing and alert feeds): the formats served, who may
read them, their links, and the answer with its validators or a 304.

Route modules import this, never each other; the conditional headers themselves are declared
in service/route_params.py.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.openapi.datastructures import ResponseSpec

from service.feeds.access import FEED_KEY_SCHEME, KEY_PARAMETER
from service.feeds.service import FeedFormat, RenderedFeed, http_date, not_modified
from service.runtime import Runtime

_CACHE_CONTROL = "private, max-age=60"
FEED_SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {FEED_KEY_SCHEME: []}]
"""A bearer key, or ?key= for feed readers that cannot send headers."""

FEED_FORMATS: list[tuple[FeedFormat, str, str]] = [
    ("atom", "an Atom 1.0 feed", "application/atom+xml"),
    ("rss", "an RSS 2.0 feed", "application/rss+xml"),
    ("json", "a JSON Feed 1.1", "application/feed+json"),
]
"""(format, what it is, media type): one route per format, so OpenAPI names each media type."""

FEED_NOT_MODIFIED = {
    304: ResponseSpec(data_container=None, description="Not modified: the client's copy is current")
}
"""The OpenAPI entry of the 304 ``feed_response`` answers."""


def api_base(request: Request[Any, Any, Any]) -> str:
    """What the API's links start with: SIGNALS_PUBLIC_URL, or "" (links relative to the
    host the client reached). Never the request's Host header: a client chooses it, and a
    cache in front may serve what it chose to everyone else."""
    rt: Runtime = request.app.state.runtime
    return rt.settings.public_url or ""


def feed_self_url(request: Request[Any, Any, Any]) -> str:
    """The feed's own URL (absolute with SIGNALS_PUBLIC_URL, else a path), without the key:
    feeds never echo a key."""
    params = [
        (k, v) for k, values in request.query_params.dict().items() if k != KEY_PARAMETER for v in values
    ]
    return f"{api_base(request)}{request.url.path}" + (f"?{urlencode(params)}" if params else "")


def feed_response(
    feed: RenderedFeed, if_none_match: str | None, if_modified_since: str | None
) -> Response[bytes]:
    """A rendered feed with its validators, or 304 when the client's copy is current (signal,
    briefing and alert feeds alike)."""
    headers = {"ETag": feed.etag, "Cache-Control": _CACHE_CONTROL, "Vary": "Authorization"}
    if feed.last_modified is not None:
        headers["Last-Modified"] = http_date(feed.last_modified)
    if not_modified(feed, if_none_match, if_modified_since):
        return Response(b"", status_code=304, headers=headers)
    return Response(feed.body, media_type=feed.media_type, headers=headers)
