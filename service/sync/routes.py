"""GET /v1/sync/signals over HTTP. Thin: parse, call the service, return."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter

from schemas.sync import SyncPage
from service.http import AUTH_ERRORS, allowed_topics, problem_spec, provide_runtime, suppliers_seen
from service.pagination import next_page_link
from service.runtime import Runtime
from service.sync import service
from service.sync.service import DEFAULT_LIMIT, MAX_LIMIT


class SyncController(Controller):
    path = "/v1/sync"
    tags = ["sync"]
    dependencies = {"rt": Provide(provide_runtime, sync_to_thread=False)}

    @get(
        "/signals",
        opt={"scope": "signals:read"},
        summary="Every signal created, re-analysed or deleted since a cursor",
        description=(
            "Pull-based replication. Start without a cursor (from the beginning), then store the "
            "returned `cursor` and ask again with it: each change is returned exactly once, in "
            "commit order as far as PostgreSQL exposes it (by transaction id), including changes "
            "of transactions that commit late. `kind` is `created`, `updated` (a newer analysis "
            "of the same article; `replaces` names the older version) or `deleted` (a tombstone). "
            "created and updated carry the full card as it is now. `has_more: true` means more "
            "changes are ready: ask again at once (a page may hold fewer items than `limit`). A key "
            "restricted to topics gets only changes of signals carrying one of them; changes of "
            "signals made of content a partner supplied (tombstones too) go to that partner's "
            "keys and admin keys only."
        ),
        responses={400: problem_spec("Bad limit or cursor"), **AUTH_ERRORS},
    )
    async def sync_signals(
        self,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        cursor: Annotated[
            str | None,
            QueryParameter(description="The `cursor` of the previous page; omit to start", max_length=1024),
        ] = None,
        limit: Annotated[
            int, QueryParameter(description=f"Changes per page, 1-{MAX_LIMIT}", ge=1, le=MAX_LIMIT)
        ] = DEFAULT_LIMIT,
    ) -> SyncPage:
        page = await service.pull_changes(
            rt.db.pool,
            cursor=cursor,
            limit=limit,
            restrict=allowed_topics(request),
            suppliers=suppliers_seen(request),
        )
        page.next = next_page_link(request.scope, page.cursor)
        return page
