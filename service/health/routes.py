"""GET /healthz (process up) and GET /readyz (database reachable)."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency, Provide

from schemas.health import Health, Readiness
from service.health.service import check_database
from service.http import problem_spec, provide_runtime
from service.runtime import Runtime


class HealthController(Controller):
    tags = ["health"]
    dependencies = {"rt": Provide(provide_runtime, sync_to_thread=False)}

    @get("/healthz", summary="The process is up")
    async def healthz(self) -> Health:
        return Health(status="ok")

    @get("/readyz", summary="The database answers", responses={503: problem_spec("Database unreachable")})
    async def readyz(self, rt: NamedDependency[Runtime]) -> Readiness:
        await check_database(rt.db.pool)
        mode, context = rt.analyzer.describe() if rt.analyzer else (None, None)
        return Readiness(
            status="ready",
            database="ok",
            llm="configured" if rt.settings.llm_configured else "not_configured",
            llm_mode=mode,
            llm_context_tokens=context,
        )
