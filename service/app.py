"""create_app(): routes, lifespan, exception handlers, OpenAPI. Wiring only."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from service.entities.routes import EntitiesController
from service.health.routes import HealthController
from service.http import authorize, problem_response
from service.jobs.worker import run_worker
from service.related.routes import RelatedController
from service.runtime import open_runtime
from service.settings import Settings, load_settings
from service.signals.export_routes import SignalExportController
from service.signals.routes import SignalsController
from service.stories.routes import StoriesController
from service.topics.routes import TopicAdminController, TopicsController

log = logging.getLogger(__name__)


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

    return Litestar(
        route_handlers=[
            HealthController,
            SignalsController,
            SignalExportController,
            TopicsController,
            TopicAdminController,
            EntitiesController,
            RelatedController,
            StoriesController,
        ],
        lifespan=[lifespan],
        guards=[authorize],
        exception_handlers={Exception: problem_response},
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Signals API",
            version="0.1.0",
            description="Article in, grounded signal out. Errors are RFC 9457 problem+json.",
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(type="http", scheme="bearer", description="sk_live_… API key")
                }
            ),
            security=[{"bearer": []}],
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
        ),
        debug=False,
    )
