"""Entities over HTTP. Thin: parse, call one service function, return."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter

from schemas.entities import EntityDetail, EntityPage, EntityType
from service.conditional import NOT_MODIFIED, etagged
from service.entities import service
from service.entities.service import Sort
from service.hostile_input import BigInt
from service.http import AUTH_ERRORS, allowed_topics, problem_spec, provide_runtime, suppliers_seen
from service.pagination import next_page_link
from service.route_params import Cursor, Limit, Since, Until, WindowLength
from service.runtime import Runtime


class EntitiesController(Controller):
    path = "/v1/entities"
    tags = ["entities"]
    dependencies = {"rt": Provide(provide_runtime, sync_to_thread=False)}

    @get(
        "/",
        opt={"scope": "signals:read"},
        summary="Find entities; counts of their signals in a time window",
        description=(
            "`q` matches names that start with it or contain a word like it (trigram similarity). "
            "`sort`: `count` (default without q) lists the entities named in current signals of "
            "the window, most first; `name` lists every matching entity alphabetically; "
            "`relevance` (default with q) puts names starting with q first, then by similarity. "
            "`count` is always the number of current signals in the window (default: last 7 days). "
            "`topic` (repeatable) keeps the entities named by current signals on one of those "
            "topics and counts only those signals: who is named on a topic in a window. "
            "Keyset pagination: follow `next`. A topic-restricted key sees only entities named "
            "by signals on its topics, counted over those signals. Counts are of public (fetched) "
            "signals; an entity only another partner's supplied content names is never listed."
        ),
        responses={
            400: problem_spec("Bad parameter, window or cursor"),
            404: problem_spec("Unknown topic"),
            **AUTH_ERRORS,
        },
    )
    async def list_entities(
        self,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        type: Annotated[EntityType | None, QueryParameter(description="Only this type")] = None,
        q: Annotated[
            str | None, QueryParameter(description="Name prefix or similar words", max_length=100)
        ] = None,
        sort: Annotated[Sort | None, QueryParameter(description="count, name or relevance (needs q)")] = None,
        topic: Annotated[
            list[str] | None,
            QueryParameter(description="Topic slug; repeat for several: entities named on any of them"),
        ] = None,
        since: Since = None,
        until: Until = None,
        window: WindowLength = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> EntityPage:
        page = await service.list_entities(
            rt.db.pool,
            rt.topic_cache,
            type_=type,
            q=q,
            sort=sort,
            since=since,
            until=until,
            window=window,
            limit=limit,
            cursor=cursor,
            topics=tuple(topic or ()),
            allowed_topics=allowed_topics(request),
            suppliers=suppliers_seen(request),
        )
        if page.next is not None:
            page.next = next_page_link(request.scope, page.next)
        return page

    @get(
        "/{entity_id:int}",
        opt={"scope": "signals:read"},
        summary="An entity, its counts, co-occurrences and newest signals",
        description=(
            "Co-occurring entities and topics are counted over the entity's newest current "
            "signals (at most 1000; `cooccurrence_basis` says how many). For a topic-restricted "
            "key, counts, co-occurrences and signals come from signals on its topics only (404 "
            "when none names the entity). Counts and co-occurrences are of public (fetched) "
            "signals; 404 for an entity only another partner's supplied content names. "
            "ETag / If-None-Match: 304 when unchanged."
        ),
        responses={404: problem_spec("No such entity"), **NOT_MODIFIED, **AUTH_ERRORS},
    )
    async def get_entity(
        self, rt: NamedDependency[Runtime], request: Request[Any, Any, Any], entity_id: BigInt
    ) -> Response[EntityDetail]:
        entity = await service.get_entity(
            rt.db.pool, rt.topic_cache, entity_id, allowed_topics(request), suppliers_seen(request)
        )
        return etagged(request, entity)
