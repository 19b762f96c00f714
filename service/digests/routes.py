"""Briefings over HTTP (JSON, and Atom, RSS and JSON Feed). Thin: parse, call one service function, return."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter

from schemas.digests import Digest, DigestJob, DigestPage, DigestRequest
from service.conditional import NOT_MODIFIED
from service.digests import reading, service
from service.digests.feeds import FEED_SIZE
from service.digests.periods import Period
from service.digests.present import to_job
from service.errors import error_for_code
from service.feeds.access import authorize_feed
from service.feeds.http import FEED_FORMATS, FEED_SECURITY, api_base, feed_response, feed_self_url
from service.feeds.service import FeedFormat
from service.http import AUTH_ERRORS, allowed_topics, problem_spec, provide_runtime
from service.pagination import next_page_link
from service.route_params import IfModifiedSince, IfNoneMatch, Limit, Prefer, prefer_wait
from service.runtime import Runtime

_TopicParam = Annotated[
    str | None, QueryParameter(description="Topic slug or alias: that topic's briefings", max_length=200)
]


class DigestsController(Controller):
    path = "/v1/digests"
    tags = ["digests"]
    dependencies = {"rt": Provide(provide_runtime, sync_to_thread=False)}

    @post(
        "/",
        opt={"scope": "signals:write"},
        status_code=202,
        summary="Write a period's briefing",
        description=(
            "Queues the writing of the daily or weekly briefing of the period holding `date` "
            "(optionally of one `topic`) and answers 202 with the job (Location: its URL). With "
            "`Prefer: wait=N` (N ≤ 60) it answers 201 with the briefing if it is ready in time. "
            "Writing a period again makes a new version; older versions stay readable. A period "
            "the same key is already having written returns that job; one another key asked for "
            "gets a job of its own that follows the same writing."
        ),
        responses={
            400: problem_spec("Malformed body, a date outside 1900-9000, or a bad Prefer header"),
            403: problem_spec("A topic-restricted key asked for a general briefing"),
            404: problem_spec(
                "No signals entered the service in the period, or unknown topic (for a "
                "topic-restricted key, any topic outside its topics)"
            ),
            422: problem_spec("A future period or, with Prefer: wait, the job's failure"),
            503: problem_spec("No language model configured"),
            **AUTH_ERRORS,
        },
    )
    async def create_digest(
        self,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        data: JSONBody[DigestRequest],
        prefer: Prefer = None,
    ) -> Response[DigestJob | Digest]:
        wait = prefer_wait(prefer)  # every header is parsed before anything is written
        key = getattr(request.state, "api_key", None)
        job = await service.request_digest(
            rt.db.pool,
            rt.settings,
            data,
            api_key_id=key.id if key else None,
            allowed_topics=allowed_topics(request),
        )
        job = await service.wait_for_job(rt.db.pool, rt.waiter, job, wait) if wait else job
        if wait and job.status == "done" and job.digest_id is not None:
            digest = await reading.get_digest(rt.db.pool, job.digest_id, allowed_topics=None)
            location = f"/v1/digests/{digest.id}"
            return Response(
                digest,
                status_code=201,
                headers={
                    "Location": location,
                    "Content-Location": location,
                    "Preference-Applied": f"wait={wait}",
                },
            )
        if wait and job.status == "failed" and job.error_code is not None:
            error = error_for_code(job.error_code, job.error_detail or "", job.error_reason)
            error.extra["job"] = f"/v1/digests/jobs/{job.id}"
            raise error
        return Response(to_job(job), status_code=202, headers={"Location": f"/v1/digests/jobs/{job.id}"})

    @get(
        "/",
        opt={"scope": "signals:read"},
        summary="List briefings",
        description=(
            "Briefings newest period first: general ones, or one topic's with `topic`. Latest "
            "version of each period unless `versions=all`. Keyset pagination: follow `next`."
        ),
        responses={
            400: problem_spec("Bad parameter or cursor"),
            404: problem_spec("Unknown topic"),
            **AUTH_ERRORS,
        },
    )
    async def list_digests(
        self,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        period: Annotated[Period | None, QueryParameter(description="daily or weekly")] = None,
        topic: _TopicParam = None,
        versions: Annotated[
            Literal["latest", "all"], QueryParameter(description="Latest version per period, or all")
        ] = "latest",
        limit: Limit = 20,
        cursor: Annotated[
            str | None, QueryParameter(description="From a previous page's next", max_length=1000)
        ] = None,
    ) -> DigestPage:
        items, token = await reading.list_digests(
            rt.db.pool,
            period=period,
            topic=topic,
            versions=versions,
            limit=limit,
            cursor=cursor,
            allowed_topics=allowed_topics(request),
        )
        next_url = next_page_link(request.scope, token) if token else None
        return DigestPage(items=items, next=next_url, limit=limit)

    @get(
        "/latest",
        opt={"scope": "signals:read"},
        summary="The newest briefing",
        description="The latest version of the newest daily or weekly briefing (or of the period of `date`).",
        responses={
            400: problem_spec("Bad parameter"),
            404: problem_spec("No such briefing written yet, or unknown topic"),
            **AUTH_ERRORS,
        },
    )
    async def latest_digest(
        self,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        period: Annotated[Period, QueryParameter(description="daily or weekly")] = "daily",
        topic: _TopicParam = None,
        day: Annotated[date | None, QueryParameter(name="date", description="A day of the period")] = None,
    ) -> Digest:
        return await reading.latest_digest(
            rt.db.pool, period=period, topic=topic, day=day, allowed_topics=allowed_topics(request)
        )

    @get(
        "/{digest_id:uuid}",
        opt={"scope": "signals:read"},
        summary="A briefing",
        description="One briefing version with its sections, quick hits and citations resolved.",
        responses={404: problem_spec("No such briefing"), **AUTH_ERRORS},
    )
    async def get_digest(
        self, rt: NamedDependency[Runtime], request: Request[Any, Any, Any], digest_id: FromPath[UUID]
    ) -> Digest:
        return await reading.get_digest(rt.db.pool, digest_id, allowed_topics=allowed_topics(request))

    @get(
        "/jobs/{job_id:uuid}",
        opt={"scope": "signals:read"},
        summary="A briefing job's status",
        description=(
            "Visible to the key that asked for the briefing, the other keys of its partner, and "
            "admin keys (scheduled briefings' jobs: admin keys only); for a topic-restricted key, "
            "only jobs of briefings on its topics. 404 to anyone else."
        ),
        responses={404: problem_spec("No such job"), **AUTH_ERRORS},
    )
    async def get_digest_job(
        self, rt: NamedDependency[Runtime], request: Request[Any, Any, Any], job_id: FromPath[UUID]
    ) -> DigestJob:
        key = getattr(request.state, "api_key", None)
        return to_job(await service.get_job_for(rt.db.pool, job_id, key))


_FEED_DESCRIPTION = (
    f"The newest {FEED_SIZE} briefings (latest version of each period), newest period first; "
    "general ones, or one topic's with `topic`. Item GUIDs are `urn:uuid:<digest id>`, one per "
    "version. Conditional GET with `If-None-Match` (ETag) or `If-Modified-Since`. Feed readers "
    "may pass the key as `?key=`, as for signal feeds."
)
_FEED_ERRORS = {
    **NOT_MODIFIED,
    400: problem_spec("Bad parameter"),
    404: problem_spec("Unknown topic"),
    **AUTH_ERRORS,
}
DIGEST_FEED_PATHS = ["/v1/feeds/digests.atom", "/v1/feeds/digests.rss", "/v1/feeds/digests.json"]
"""Documented as taking a bearer key or ``?key=`` (service.feeds.access.document_feed_security)."""
_FeedPeriod = Annotated[Period | None, QueryParameter(description="daily or weekly")]


def _digest_feed_route(fmt: FeedFormat, what: str, media_type: str) -> Any:
    async def feed(
        self: DigestFeedsController,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        period: _FeedPeriod = None,
        topic: _TopicParam = None,
        if_none_match: IfNoneMatch = None,
        if_modified_since: IfModifiedSince = None,
    ) -> Response[bytes]:
        return await self._answer(rt, request, fmt, period, topic, if_none_match, if_modified_since)

    feed.__name__ = feed.__qualname__ = f"digests_{fmt}"  # Litestar's operationId comes from it
    return get(
        f"/digests.{fmt}",
        summary=f"Briefings as {what}",
        description=_FEED_DESCRIPTION,
        security=FEED_SECURITY,
        responses=_FEED_ERRORS,
        media_type=media_type,
    )(feed)


class DigestFeedsController(Controller):
    path = "/v1/feeds"
    tags = ["digests", "feeds"]
    dependencies = {"rt": Provide(provide_runtime, sync_to_thread=False)}
    guards = [authorize_feed]  # a bearer key or ?key= (feed readers), as for signal feeds

    async def _answer(
        self,
        rt: Runtime,
        request: Request[Any, Any, Any],
        fmt: FeedFormat,
        period: Period | None,
        topic: str | None,
        if_none_match: str | None,
        if_modified_since: str | None,
    ) -> Response[bytes]:
        feed = await reading.digest_feed(
            rt.db.pool,
            fmt,
            period=period,
            topic=topic,
            self_url=feed_self_url(request),
            api_base=api_base(request),
            allowed_topics=allowed_topics(request),
        )
        return feed_response(feed, if_none_match, if_modified_since)

    digests_atom, digests_rss, digests_json = (_digest_feed_route(*spec) for spec in FEED_FORMATS)
