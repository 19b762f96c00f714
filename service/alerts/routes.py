"""Alerts over HTTP: the saved searches (/v1/alerts) and each one's feed
(/v1/feeds/alerts/{id}.atom|json). Thin: parse, call one service function, return."""

from __future__ import annotations

import re
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, Parameter

from schemas.alerts import Alert, AlertCreate, AlertMatchPage, AlertPage, AlertUpdate
from service.alerts import service
from service.alerts.feed import AlertFeedFormat, build_alert_feed
from service.errors import BadRequest, NotFound, Unauthorized
from service.feeds.access import authorize_feed
from service.feeds.http import FEED_NOT_MODIFIED, api_base, feed_response, feed_self_url
from service.http import AUTH_ERRORS, problem_spec, provide_runtime
from service.keys.repository import StoredKey
from service.pagination import next_page_link
from service.route_params import Cursor, IfModifiedSince, IfNoneMatch, Limit
from service.runtime import Runtime

_SCOPE = {"scope": "signals:read"}
_NOT_FOUND = {404: problem_spec("No such alert (or not the caller's)"), **AUTH_ERRORS}
_REFUSED = problem_spec(
    "The query cannot be saved: empty_query (no field given), no_search_words (q has only stop "
    "words), unknown_topic or unknown_entity (unknown, or outside the key's topics), "
    "unknown_webhook (not an endpoint of the key that owns the alert), topic_not_allowed (the "
    "partner's admin naming a topic outside the restriction of the key that owns the alert)"
)
ALERT_FEED_PATH = "/v1/feeds/alerts/{feed_name}"
"""Documented by ``service.feeds.access.document_feed_security`` (bearer or ?key=)."""


def _key(request: Request[Any, Any, Any]) -> StoredKey:
    """The request's key; alerts belong to keys, so a keyless public read is refused."""
    key: StoredKey | None = getattr(request.state, "api_key", None)
    if key is None:
        raise Unauthorized(
            "alerts belong to a key: send it as 'Authorization: Bearer <key>'", reason="missing"
        )
    return key


class AlertsController(Controller):
    path = "/v1/alerts"
    tags = ["alerts"]
    dependencies = {"rt": Provide(provide_runtime, sync_to_thread=False)}

    @post(
        "/",
        opt=_SCOPE,
        status_code=201,
        summary="Save a search that alerts",
        description=(
            "Every new or re-analysed signal that matches the query (all the given fields, as the "
            "same filters of `GET /v1/signals` mean them) and that the key may see when it "
            "arrives is listed under the alert's matches and feed, and, with `webhook_id`, sent "
            "to that endpoint as an `alert.matched` Standard Webhooks event (`data`: `alert` "
            "{id, name} and the signal's card). Only signals stored after the alert are matched."
        ),
        responses={400: problem_spec("Malformed body"), 422: _REFUSED, **AUTH_ERRORS},
    )
    async def create_alert(
        self, rt: NamedDependency[Runtime], request: Request[Any, Any, Any], data: JSONBody[AlertCreate]
    ) -> Response[Alert]:
        created = await service.create_alert(rt.db.pool, _key(request), data)
        return Response(created, status_code=201, headers={"Location": created.links.self})

    @get(
        "/",
        opt=_SCOPE,
        summary="The caller's alerts",
        responses={400: problem_spec("Bad limit or cursor"), **AUTH_ERRORS},
    )
    async def list_alerts(
        self,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> AlertPage:
        page = await service.list_alerts(rt.db.pool, _key(request), limit=limit, cursor=cursor)
        if page.next is not None:
            page.next = next_page_link(request.scope, page.next)
        return page

    @get("/{alert_id:uuid}", opt=_SCOPE, summary="An alert", responses=_NOT_FOUND)
    async def get_alert(
        self, rt: NamedDependency[Runtime], request: Request[Any, Any, Any], alert_id: FromPath[UUID]
    ) -> Alert:
        return await service.get_alert(rt.db.pool, _key(request), alert_id)

    @patch(
        "/{alert_id:uuid}",
        opt=_SCOPE,
        summary="Change an alert",
        description="Absent fields stay as they are; `query` replaces the whole query.",
        responses={400: problem_spec("Malformed body"), 422: _REFUSED, **_NOT_FOUND},
    )
    async def update_alert(
        self,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        alert_id: FromPath[UUID],
        data: JSONBody[AlertUpdate],
    ) -> Alert:
        return await service.update_alert(rt.db.pool, _key(request), alert_id, data)

    @delete(
        "/{alert_id:uuid}",
        opt=_SCOPE,
        summary="Delete an alert",
        description="Deletes it with its matches. Answers 204.",
        responses=_NOT_FOUND,
    )
    async def delete_alert(
        self, rt: NamedDependency[Runtime], request: Request[Any, Any, Any], alert_id: FromPath[UUID]
    ) -> None:
        await service.delete_alert(rt.db.pool, _key(request), alert_id)

    @get(
        "/{alert_id:uuid}/matches",
        opt=_SCOPE,
        summary="What an alert matched",
        description=(
            "Newest first, each with the signal's card; signals the key may no longer see (its "
            "topics narrowed since) are left out."
        ),
        responses={400: problem_spec("Bad limit or cursor"), **_NOT_FOUND},
    )
    async def list_matches(
        self,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        alert_id: FromPath[UUID],
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> AlertMatchPage:
        page = await service.list_matches(rt.db.pool, _key(request), alert_id, limit=limit, cursor=cursor)
        if page.next is not None:
            page.next = next_page_link(request.scope, page.next)
        return page


_FEED_ERRORS = {
    **FEED_NOT_MODIFIED,
    400: problem_spec("Not <alert id>.atom or <alert id>.json"),
    **_NOT_FOUND,
}
_NO_FEED = "no such alert feed"
_FEED_PATTERN = r"^[0-9a-fA-F-]{32,36}\.(atom|json)$"
"""What OpenAPI shows (ECMA regex: no named groups)."""
_FEED_NAME = re.compile(r"^(?P<id>[0-9a-fA-F-]{32,36})\.(?P<fmt>atom|json)$")
FeedName = Annotated[
    str,
    Parameter(
        description="The alert's id, then `.atom` (Atom 1.0) or `.json` (JSON Feed 1.1)",
        pattern=_FEED_PATTERN,
        max_length=48,
    ),
]


def _parse_feed_name(name: str) -> tuple[UUID, AlertFeedFormat]:
    """The alert and format a feed name asks for: 400 for another shape, 404 when the name has
    the shape but no alert could have that id."""
    found = _FEED_NAME.match(name)
    if found is None:
        raise BadRequest("the feed is <alert id>.atom or <alert id>.json", reason="bad_parameter")
    try:
        alert_id = UUID(found["id"])
    except ValueError:
        raise NotFound(_NO_FEED) from None
    return alert_id, "atom" if found["fmt"] == "atom" else "json"


class AlertFeedsController(Controller):
    path = "/v1/feeds/alerts"
    tags = ["feeds"]
    dependencies = {"rt": Provide(provide_runtime, sync_to_thread=False)}
    guards = [authorize_feed]

    # One route for both formats: a path parameter cannot share its segment with a suffix.
    @get(
        "/{feed_name:str}",
        summary="An alert's matches as an Atom 1.0 feed or a JSON Feed 1.1",
        description=(
            "`<alert id>.atom` or `<alert id>.json`: the newest 50 matches, newest first, as the "
            "alert's key may see them now. Item GUIDs are `urn:uuid:<signal id>`. Conditional GET "
            "with `ETag`/`Last-Modified`. Feed readers that cannot send an Authorization header "
            "may pass the key as `?key=`."
        ),
        responses=_FEED_ERRORS,
        media_type="application/atom+xml",
        # both formats documented for 200 (service/openapi.py)
        opt={
            "media_types": {
                "application/atom+xml": "An Atom 1.0 feed",
                "application/feed+json": "A JSON Feed 1.1",
            }
        },
    )
    async def alert_feed(
        self,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        feed_name: FeedName,
        if_none_match: IfNoneMatch = None,
        if_modified_since: IfModifiedSince = None,
    ) -> Response[bytes]:
        alert_id, fmt = _parse_feed_name(feed_name)
        try:
            rendered = await build_alert_feed(
                rt.db.pool,
                _key(request),
                alert_id,
                fmt,
                self_url=feed_self_url(request),
                api_base=api_base(request),
            )
        except NotFound:
            # the same answer whatever the name holds: nothing of it echoed back
            raise NotFound(_NO_FEED) from None
        return feed_response(rendered, if_none_match, if_modified_since)
