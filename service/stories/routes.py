"""Stories over HTTP. Thin: parse, call one service function, return."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter

from schemas.stories import Story, StoryPage
from service.conditional import NOT_MODIFIED, etagged
from service.http import AUTH_ERRORS, allowed_topics, problem_spec, provide_runtime
from service.route_params import Limit
from service.runtime import Runtime
from service.stories import service


class StoriesController(Controller):
    path = "/v1/stories"
    tags = ["stories"]
    dependencies = {"rt": Provide(provide_runtime, sync_to_thread=False)}

    @get(
        "/",
        opt={"scope": "signals:read"},
        summary="List stories",
        description=(
            "Stories (signals from any number of outlets about one event), most recently active "
            "first. Keyset pagination: follow `next` (an opaque cursor). A topic-restricted key "
            "sees only stories with signals on its topics, summarised from those signals."
        ),
        responses={400: problem_spec("Bad limit or cursor"), **AUTH_ERRORS},
    )
    async def list_stories(
        self,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        limit: Limit = 20,
        cursor: Annotated[
            str | None, QueryParameter(description="From a previous page's next", max_length=500)
        ] = None,
    ) -> StoryPage:
        listing = await service.list_stories(
            rt.db.pool, limit=limit, cursor=cursor, allowed_topics=allowed_topics(request)
        )
        next_url = None
        if listing.next_cursor is not None:
            next_url = "/v1/stories?" + urlencode({"limit": limit, "cursor": listing.next_cursor})
        return StoryPage(items=listing.items, next=next_url, limit=limit)

    @get(
        "/{story_id:uuid}",
        opt={"scope": "signals:read"},
        summary="A story with its signals and sources",
        description="ETag / If-None-Match: 304 when unchanged.",
        responses={404: problem_spec("No such story"), **NOT_MODIFIED, **AUTH_ERRORS},
    )
    async def get_story(
        self, rt: NamedDependency[Runtime], request: Request[Any, Any, Any], story_id: FromPath[UUID]
    ) -> Response[Story]:
        story = await service.get_story(rt.db.pool, story_id, allowed_topics=allowed_topics(request))
        return etagged(request, story)
