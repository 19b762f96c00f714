"""Topics over HTTP. Thin: parse, call one service function, return."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter

from schemas.topics import TopicDetail, TopicMerge, TopicMergeRequest, TopicPage, TopicTimeline
from service.conditional import NOT_MODIFIED, etagged
from service.http import AUTH_ERRORS, allowed_topics, problem_spec, provide_runtime, suppliers_seen
from service.pagination import next_page_link
from service.route_params import Cursor, Limit, Since, Until, WindowLength
from service.runtime import Runtime
from service.topics import service
from service.topics.service import Interval, Sort


class TopicsController(Controller):
    path = "/v1/topics"
    tags = ["topics"]
    dependencies = {"rt": Provide(provide_runtime, sync_to_thread=False)}

    @get(
        "/",
        opt={"scope": "signals:read"},
        summary="Topics by count or trend in a time window",
        description=(
            "Counts current public signals (fetched, not supplied) per topic created in "
            "`[since, until)` (default: the last 7 days; "
            "any two of since, until and window fix the window). `trending` is the growth against "
            "the previous window of equal length: (count - previous_count) / max(previous_count, 1). "
            "Keyset pagination: follow `next` (the cursor pins the window, so later pages count the "
            "same one; keep every other parameter). A topic-restricted key sees its topics only."
        ),
        responses={400: problem_spec("Bad parameter, window or cursor"), **AUTH_ERRORS},
    )
    async def list_topics(
        self,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        since: Since = None,
        until: Until = None,
        window: WindowLength = None,
        sort: Annotated[Sort, QueryParameter(description="count or trending, highest first")] = "count",
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> TopicPage:
        page = await service.list_topics(
            rt.db.pool,
            since=since,
            until=until,
            window=window,
            sort=sort,
            limit=limit,
            cursor=cursor,
            allowed_topics=allowed_topics(request),
        )
        if page.next is not None:
            page.next = next_page_link(request.scope, page.next)
        return page

    @get(
        "/{slug:str}",
        opt={"scope": "signals:read"},
        summary="A topic, its counts and newest signals",
        description=(
            "An alias slug (another spelling, or a merged topic) answers 200 with the canonical "
            "topic and `Content-Location: /v1/topics/{canonical}`; no redirect, so clients that do "
            "not follow redirects still get the topic. The body's `slug` is the canonical one. "
            "404 for a topic outside a topic-restricted key's topics, and for a topic only another "
            "partner's supplied content carries. Counts are of public signals; the newest signals "
            "include the key's own supplied ones. "
            "ETag / If-None-Match: 304 when unchanged."
        ),
        responses={404: problem_spec("No such topic or alias"), **NOT_MODIFIED, **AUTH_ERRORS},
    )
    async def get_topic(
        self, rt: NamedDependency[Runtime], request: Request[Any, Any, Any], slug: FromPath[str]
    ) -> Response[TopicDetail]:
        topic = await service.get_topic(
            rt.db.pool, rt.topic_cache, slug, allowed_topics(request), suppliers_seen(request)
        )
        headers = {"Content-Location": topic.links.self} if topic.slug != slug else {}
        return etagged(request, topic, headers=headers)

    @get(
        "/{slug:str}/timeline",
        opt={"scope": "signals:read"},
        summary="A topic's signals per day or week",
        description=(
            "Current public signals and their mean sentiment per UTC bucket (weeks start on Monday), "
            "every bucket included (count 0, mean_sentiment null). Default window: the last 30 "
            "days for interval=day, the last 26 weeks for interval=week; `since` is rounded down "
            "to the start of its bucket. At most 1000 buckets."
        ),
        responses={
            400: problem_spec("Bad parameter or window"),
            404: problem_spec("No such topic or alias"),
            422: problem_spec("More than 1000 buckets"),
            **AUTH_ERRORS,
        },
    )
    async def get_timeline(
        self,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        interval: Annotated[Interval, QueryParameter(description="Bucket size: day or week")] = "day",
        since: Since = None,
        until: Until = None,
        window: WindowLength = None,
    ) -> TopicTimeline:
        return await service.get_timeline(
            rt.db.pool,
            slug,
            interval=interval,
            since=since,
            until=until,
            window=window,
            allowed_topics=allowed_topics(request),
            suppliers=suppliers_seen(request),
        )


class TopicAdminController(Controller):
    path = "/v1/admin/topics"
    tags = ["admin"]
    dependencies = {"rt": Provide(provide_runtime, sync_to_thread=False)}

    @post(
        "/{slug:str}/merge",
        opt={"scope": "admin"},
        status_code=200,
        summary="Merge a topic into another",
        description=(
            "In one transaction: every signal of the topic moves to `into` (links and topic_ids, "
            "order kept, no duplicates), the topic's slug and aliases become aliases of `into`, "
            "and the topic is deleted. Its slug keeps resolving, to `into`."
        ),
        responses={
            400: problem_spec("Malformed body"),
            404: problem_spec("No such topic"),
            409: problem_spec("A concurrent merge changed one of the topics"),
            422: problem_spec("Merging into itself or into an unknown topic, or the slug is an alias"),
            **AUTH_ERRORS,
        },
    )
    async def merge_topic(
        self, rt: NamedDependency[Runtime], slug: FromPath[str], data: JSONBody[TopicMergeRequest]
    ) -> TopicMerge:
        return await service.merge_topics(rt.db.pool, slug, data.into)
