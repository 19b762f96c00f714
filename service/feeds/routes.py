"""GET /v1/feeds/signals.{atom,rss,json} over HTTP. Thin: parse, build the feed, answer it
(or 304 when the client's copy is current)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, QueryParameter

from service.feeds.access import FEED_KEY_SCHEME, KEY_PARAMETER, authorize_feed
from service.feeds.service import (
    FEED_ITEMS,
    FeedFilter,
    FeedFormat,
    RenderedFeed,
    build_feed,
    http_date,
    not_modified,
)
from service.hostile_input import BigInt
from service.http import AUTH_ERRORS, allowed_topics, problem_spec, provide_runtime, suppliers_seen
from service.runtime import Runtime

_CACHE_CONTROL = "private, max-age=60"
FEED_SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {FEED_KEY_SCHEME: []}]
"""A bearer key, or ?key= for feed readers that cannot send headers."""
_DESCRIPTION = (
    f"The newest {FEED_ITEMS} current signals matching the filters (the same meaning as on "
    "`GET /v1/signals`), newest first. Item GUIDs are `urn:uuid:<signal id>` in every format. "
    "Conditional GET: send the `ETag` back as `If-None-Match` (or `Last-Modified` as "
    "`If-Modified-Since`) to get 304 when nothing changed. Feed readers that cannot send an "
    "Authorization header may pass the key as `?key=` (it then sits in URLs and logs: use a "
    "key with only signals:read for it)."
)
_ERRORS = {
    304: ResponseSpec(data_container=None, description="Not modified: the client's copy is current"),
    400: problem_spec("Bad parameter"),
    404: problem_spec("Unknown topic or entity"),
    429: problem_spec("The key's rate limit is reached; Retry-After says when to try again"),
    **AUTH_ERRORS,
}
FEED_PATHS = ["/v1/feeds/signals.atom", "/v1/feeds/signals.rss", "/v1/feeds/signals.json"]
"""Documented by ``service.feeds.access.document_feed_security`` (bearer or ?key=)."""


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
    """A rendered feed with its validators, or 304 when the client's copy is current (signal
    and briefing feeds alike)."""
    headers = {"ETag": feed.etag, "Cache-Control": _CACHE_CONTROL, "Vary": "Authorization"}
    if feed.last_modified is not None:
        headers["Last-Modified"] = http_date(feed.last_modified)
    if not_modified(feed, if_none_match, if_modified_since):
        return Response(b"", status_code=304, headers=headers)
    return Response(feed.body, media_type=feed.media_type, headers=headers)


async def _answer(
    rt: Runtime,
    request: Request[Any, Any, Any],
    fmt: FeedFormat,
    feed_filter: FeedFilter,
    if_none_match: str | None,
    if_modified_since: str | None,
) -> Response[bytes]:
    feed = await build_feed(
        rt,
        fmt,
        feed_filter,
        restrict=allowed_topics(request),
        suppliers=suppliers_seen(request),
        self_url=feed_self_url(request),
        api_base=api_base(request),
    )
    return feed_response(feed, if_none_match, if_modified_since)


Topic = Annotated[list[str] | None, QueryParameter(description="Topic slug; repeat for several")]
TopicMatch = Annotated[Literal["any", "all"], QueryParameter(description="Several topics: any or all")]
Entity = Annotated[list[BigInt] | None, QueryParameter(description="Entity id; repeat: all of them")]
IfNoneMatch = Annotated[str | None, HeaderParameter(name="If-None-Match", required=False)]
IfModifiedSince = Annotated[str | None, HeaderParameter(name="If-Modified-Since", required=False)]


FEED_FORMATS: list[tuple[FeedFormat, str, str]] = [
    ("atom", "an Atom 1.0 feed", "application/atom+xml"),
    ("rss", "an RSS 2.0 feed", "application/rss+xml"),
    ("json", "a JSON Feed 1.1", "application/feed+json"),
]
"""(format, what it is, media type): one route per format, so OpenAPI names each media type."""


def _signal_feed_route(fmt: FeedFormat, what: str, media_type: str) -> Any:
    async def feed(
        self: Controller,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        topic: Topic = None,
        topic_match: TopicMatch = "any",
        entity: Entity = None,
        if_none_match: IfNoneMatch = None,
        if_modified_since: IfModifiedSince = None,
    ) -> Response[bytes]:
        feed_filter = FeedFilter(tuple(topic or ()), topic_match, tuple(entity or ()))
        return await _answer(rt, request, fmt, feed_filter, if_none_match, if_modified_since)

    feed.__name__ = feed.__qualname__ = fmt  # Litestar's operationId comes from it
    return get(
        f"/signals.{fmt}",
        summary=f"Signals as {what}",
        description=_DESCRIPTION,
        security=FEED_SECURITY,
        responses=_ERRORS,
        media_type=media_type,
    )(feed)


class FeedsController(Controller):
    path = "/v1/feeds"
    tags = ["feeds"]
    dependencies = {"rt": Provide(provide_runtime, sync_to_thread=False)}
    guards = [authorize_feed]

    atom, rss, json = (_signal_feed_route(*spec) for spec in FEED_FORMATS)
