"""Related coverage over HTTP. Thin: parse, call one service function, return."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter

from schemas.related import RelatedSignals
from service.http import AUTH_ERRORS, allowed_topics, problem_spec, provide_runtime, suppliers_seen
from service.related import service
from service.runtime import Runtime


class RelatedController(Controller):
    path = "/v1/signals"
    tags = ["signals"]
    dependencies = {"rt": Provide(provide_runtime, sync_to_thread=False)}

    @get(
        "/{signal_id:uuid}/related",
        opt={"scope": "signals:read"},
        summary="Related coverage of a signal",
        description=(
            "Other current signals on the same thread, best first, each with a score (0-1) and a "
            "reason a person can read (same story, shared names and topics, similar meaning). "
            "Excludes the signal itself, other versions of its article and near-identical copies. "
            "Computed when a signal arrives and refreshed as new ones do. A topic-restricted key "
            "sees only related signals on its topics (and 404 for a signal outside them)."
        ),
        responses={
            400: problem_spec("Bad limit"),
            404: problem_spec("No such signal"),
            **AUTH_ERRORS,
        },
    )
    async def get_related(
        self,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        signal_id: FromPath[UUID],
        limit: Annotated[
            int, QueryParameter(description="How many, 1-100", ge=1, le=service.MAX_RELATED_LIMIT)
        ] = 20,
    ) -> RelatedSignals:
        return await service.get_related(
            rt.db.pool,
            signal_id,
            limit,
            allowed_topics=allowed_topics(request),
            suppliers=suppliers_seen(request),
        )
