"""Reader pages over HTTP: server-rendered HTML for people. Thin: parse, call one service
function, render. Outside the OpenAPI document (it describes the JSON API)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, Router, get, post
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from schemas.digests import Digest
from service.digests.periods import Period
from service.errors import Unauthorized
from service.http import allowed_topics, provide_runtime, suppliers_seen
from service.reader import service
from service.reader.access import (
    authorize_reader,
    check_read_key,
    check_same_origin,
    cleared_cookie,
    key_cookie,
    safe_next,
)
from service.reader.present import Segment, cited_paragraphs, timeline_chart
from service.reader.render import STATIC, STATIC_PATH, error_page, login_form, page
from service.runtime import Runtime

_PAGE = {"reader": "page"}
"""Marks a route as a page that needs a reader (service.reader.access.authorize_reader)."""


def _reader(request: Request[Any, Any, Any]) -> service.Reader:
    return service.Reader(allowed_topics(request), suppliers_seen(request))


class ReaderPages(Controller):
    path = "/read"
    include_in_schema = False
    dependencies = {"rt": Provide(provide_runtime, sync_to_thread=False)}

    @get("/", opt=_PAGE)
    async def front(
        self,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> Response[bytes]:
        query = q.strip() if q else None
        front = await service.front_page(rt.db.pool, rt.topic_cache, _reader(request), query)
        return page(
            request, "front.html", front=front, query=query, title=f"Search: {query}" if query else "Signals"
        )

    @get("/signals/{signal_id:uuid}", opt=_PAGE)
    async def signal(
        self, rt: NamedDependency[Runtime], request: Request[Any, Any, Any], signal_id: FromPath[UUID]
    ) -> Response[bytes]:
        view = await service.signal_page(rt.db.pool, _reader(request), signal_id)
        return page(request, "signal.html", view=view, signal=view.signal, title=view.signal.title)

    @get("/topics/{slug:str}", opt=_PAGE)
    async def topic(
        self, rt: NamedDependency[Runtime], request: Request[Any, Any, Any], slug: FromPath[str]
    ) -> Response[bytes]:
        view = await service.topic_page(rt.db.pool, rt.topic_cache, _reader(request), slug)
        chart = timeline_chart(view.timeline.buckets)
        return page(request, "topic.html", view=view, chart=chart, title=view.topic.label)

    @get("/stories/{story_id:uuid}", opt=_PAGE)
    async def story(
        self, rt: NamedDependency[Runtime], request: Request[Any, Any, Any], story_id: FromPath[UUID]
    ) -> Response[bytes]:
        story = await service.story_page(rt.db.pool, _reader(request), story_id)
        return page(request, "story.html", story=story, title=story.title)

    @get("/digests/latest", opt=_PAGE)
    async def latest_briefing(
        self,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        period: Annotated[Period, QueryParameter(description="daily or weekly")] = "daily",
    ) -> Response[bytes]:
        digest = await service.latest_briefing(rt.db.pool, _reader(request), period)
        return _briefing(request, digest)

    @get("/digests/{digest_id:uuid}", opt=_PAGE)
    async def briefing(
        self, rt: NamedDependency[Runtime], request: Request[Any, Any, Any], digest_id: FromPath[UUID]
    ) -> Response[bytes]:
        digest = await service.briefing_page(rt.db.pool, _reader(request), digest_id)
        return _briefing(request, digest)

    @get("/login")
    async def login_page(
        self,
        request: Request[Any, Any, Any],
        target: Annotated[str | None, QueryParameter(name="next", max_length=2000)] = None,
        refused: Annotated[bool, QueryParameter()] = False,
    ) -> Response[bytes]:
        message = "The saved key is no longer accepted; enter a key again." if refused else None
        return login_form(request, target=target, message=message)

    @post("/login", status_code=303)
    async def login(self, request: Request[Any, Any, Any]) -> Response[Any]:
        check_same_origin(request)
        form = await request.form()
        target = safe_next(str(form.get("next") or ""))
        try:
            await check_read_key(request, str(form.get("key") or "").strip())
        except Unauthorized as exc:
            # 401 with the scheme the API accepts (RFC 9110 asks every 401 to name one)
            return login_form(request, status=401, message=f"That key was not accepted: {exc.detail}",
                              target=target, extra_headers=exc.headers())  # fmt: skip
        response: Response[Any] = Redirect(target, status_code=303)
        response.set_cookie(key_cookie(request, str(form.get("key")).strip()))
        return response

    @post("/logout", status_code=303)
    async def logout(self, request: Request[Any, Any, Any]) -> Response[Any]:
        check_same_origin(request)
        response: Response[Any] = Redirect("/read/", status_code=303)
        response.set_cookie(cleared_cookie(request))
        return response


def _briefing(request: Request[Any, Any, Any], digest: Digest) -> Response[bytes]:
    def cited(text: str) -> list[list[Segment]]:
        return cited_paragraphs(text, digest.citations)

    return page(
        request,
        "briefing.html",
        digest=digest,
        opening=cited(digest.opening),
        sections=[(s, cited(s.body)) for s in digest.sections],
        quick_hits=[(hit, [seg for para in cited(hit.text) for seg in para]) for hit in digest.quick_hits],
        title=digest.headline,
    )


def reader_router() -> Router:
    """The pages, their stylesheet, and their own key check and error pages (HTML, not
    problem+json). Their ``before_request`` replaces the API's: the forms post
    ``application/x-www-form-urlencoded``, which the API's JSON-only check would refuse."""
    static = create_static_files_router(
        path=STATIC_PATH,
        directories=[STATIC],
        name="reader_static",
        include_in_schema=False,
        cache_control=CacheControlHeader(max_age=3600, public=True),
    )
    return Router(
        "/",
        route_handlers=[ReaderPages, static],
        before_request=authorize_reader,
        exception_handlers={Exception: error_page},
        include_in_schema=False,
    )
