"""GET /v1/feeds/signals.{atom,rss,json} over HTTP. Thin: parse, build the feed, answer it
(or 304 when the client's copy is current)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency, Provide

from service.feeds.access import authorize_feed
from service.feeds.http import (
    FEED_FORMATS,
    FEED_NOT_MODIFIED,
    FEED_SECURITY,
    api_base,
    feed_response,
    feed_self_url,
)
from service.feeds.service import FEED_ITEMS, FeedFilter, FeedFormat, build_feed
from service.http import AUTH_ERRORS, allowed_topics, problem_spec, provide_runtime, suppliers_seen
from service.route_params import EntityFilter, IfModifiedSince, IfNoneMatch, TopicFilter, TopicMatch
from service.runtime import Runtime

_DESCRIPTION = (
    f"The newest {FEED_ITEMS} current signals matching the filters (the same meaning as on "
    "`GET /v1/signals`), newest first. Item GUIDs are `urn:uuid:<signal id>` in every format. "
    "Conditional GET: send the `ETag` back as `If-None-Match` (or `Last-Modified` as "
    "`If-Modified-Since`) to get 304 when nothing changed. Feed readers that cannot send an "
    "Authorization header may pass the key as `?key=` (it then sits in URLs and logs: use a "
    "key with only signals:read for it)."
)
_ERRORS = {
    **FEED_NOT_MODIFIED,
    400: problem_spec("Bad parameter"),
    404: problem_spec("Unknown topic or entity"),
    429: problem_spec("The key's rate limit is reached; Retry-After says when to try again"),
    **AUTH_ERRORS,
}
FEED_PATHS = ["/v1/feeds/signals.atom", "/v1/feeds/signals.rss", "/v1/feeds/signals.json"]
"""Documented by ``service.feeds.access.document_feed_security`` (bearer or ?key=)."""


async def _answer(
    rt: Runtime,
    request: Request[Any, Any, Any],
    fmt: FeedFormat,
    feed_filter: FeedFilter,
    if_none_match: str | None,
    if_modified_since: str | None,
) -> Response[bytes]:
    feed = await build_feed(
        rt.db.pool,
        rt.topic_cache,
        fmt,
        feed_filter,
        restrict=allowed_topics(request),
        suppliers=suppliers_seen(request),
        self_url=feed_self_url(request),
        api_base=api_base(request),
    )
    return feed_response(feed, if_none_match, if_modified_since)


def _signal_feed_route(fmt: FeedFormat, what: str, media_type: str) -> Any:
    async def feed(
        self: Controller,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        topic: TopicFilter = None,
        topic_match: TopicMatch = "any",
        entity: EntityFilter = None,
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
