"""create_app(): routes, lifespan, exception handlers, OpenAPI. Wiring only."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from litestar import Litestar, Request, Response, Router
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from service.admin.routes import PartnersAdminController
from service.alerts.routes import ALERT_FEED_PATH, AlertFeedsController, AlertsController
from service.cors import PreflightProblems, cors_config
from service.digests.routes import DIGEST_FEED_PATHS, DigestFeedsController, DigestsController
from service.docs_assets import assets_router, render_plugins
from service.entities.routes import EntitiesController
from service.feeds.access import document_feed_security
from service.feeds.routes import FEED_PATHS, FeedsController
from service.head import HeadAsGet
from service.health.routes import HealthController
from service.hostile_input import CheckedRequest, RefuseNul
from service.http import before_request, problem_response
from service.jobs.worker import run_worker
from service.mcp.http import McpMount
from service.openapi import finish_openapi
from service.reader.render import error_page, template_config
from service.reader.routes import reader_router
from service.related.routes import RelatedController
from service.request_context import RequestContextMiddleware, install_log_context
from service.runtime import open_runtime
from service.settings import Settings, load_settings
from service.signals.export_routes import SignalExportController
from service.signals.routes import SignalsController
from service.stories.routes import StoriesController
from service.sync.routes import SyncController
from service.topics.routes import TopicAdminController, TopicsController
from service.webhooks.routes import WebhooksController

log = logging.getLogger(__name__)


def _error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """problem+json for the API; under /read, where no reader route matched (an unknown page,
    an id that is not one), the reader's own HTML error page."""
    path = request.url.path
    if path == "/read" or path.startswith("/read/"):
        return error_page(request, exc)
    return problem_response(request, exc)


def create_app(settings: Settings | None = None, *, worker: bool | None = None) -> Litestar:
    """The API. With ``worker`` (default: SIGNALS_SERVE_WORKER) it also runs a queue worker."""
    settings = settings or load_settings()
    run_jobs = settings.serve_worker if worker is None else worker

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with open_runtime(settings, extraction=run_jobs, waiter=True) as rt:
            app.state.runtime = rt
            stop = asyncio.Event()
            task = asyncio.create_task(run_worker(rt, stop)) if run_jobs else None
            try:
                yield
            finally:
                stop.set()
                if task is not None:
                    with contextlib.suppress(Exception):
                        await task

    install_log_context()
    cors = cors_config(settings)
    mcp = McpMount(settings)  # MCP for agents at /mcp; not in the OpenAPI document (README: Agents)
    app = Litestar(
        route_handlers=[
            HealthController,
            # {"html"} bodies may be as large as a fetched page (checked per kind in the route).
            Router(
                "/",
                route_handlers=[SignalsController],
                request_max_body_size=settings.analysis_body_max_bytes,
            ),
            SignalExportController,
            TopicsController,
            TopicAdminController,
            EntitiesController,
            RelatedController,
            StoriesController,
            PartnersAdminController,
            DigestsController,
            DigestFeedsController,
            SyncController,
            FeedsController,
            WebhooksController,
            AlertsController,
            AlertFeedsController,
            assets_router(),
            mcp.route(),
            reader_router(),  # HTML pages for people, outside the OpenAPI document
        ],
        template_config=template_config(),
        lifespan=[lifespan, mcp.lifespan],
        before_request=before_request,
        exception_handlers={Exception: _error_response},
        request_max_body_size=settings.max_body_bytes,
        request_class=CheckedRequest,
        cors_config=cors,
        openapi_config=OpenAPIConfig(
            title="Signals API",
            version="0.1.0",
            description=(
                "Article in, grounded signal out. Errors are RFC 9457 problem+json with a "
                "`request_id`; every answer carries `X-Request-ID`. Keyed requests are rate limited "
                "per key (token bucket): answers carry `RateLimit-Policy` and `RateLimit` "
                "(draft-ietf-httpapi-ratelimit-headers-11), and 429 comes with `Retry-After`. "
                "Single resources carry an `ETag`; `If-None-Match` answers 304."
            ),
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(type="http", scheme="bearer", description="sk_live_… API key")
                }
            ),
            security=[{"bearer": []}],
            render_plugins=render_plugins(),  # served from the package: they render offline
        ),
        debug=False,
        # Logging belongs to the process (service/log_setup.py): Litestar's default config would
        # install a second format and INFO levels over it.
        logging_config=None,
    )
    # Outside Litestar's router and exception handling, so that every answer (a 404 for an
    # unknown path, a refused CORS preflight) carries the request id.
    edge: Any = RefuseNul(cast("Any", app.asgi_handler))
    if cors is not None:
        edge = PreflightProblems(edge)
    app.asgi_handler = cast("Any", RequestContextMiddleware(edge))
    app.asgi_handler = cast("Any", HeadAsGet(app.asgi_handler))  # HEAD on every GET route
    finish_openapi(app)
    document_feed_security(app.openapi_schema, FEED_PATHS + DIGEST_FEED_PATHS + [ALERT_FEED_PATH])
    return app
