"""GET /v1/signals/export over HTTP. Thin: parse, prepare the export, stream it."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from litestar.response import Stream

from service.http import AUTH_ERRORS, allowed_topics, problem_spec, provide_runtime, suppliers_seen
from service.route_params import (
    DateField,
    EntityFilter,
    LangFilter,
    SinceFilter,
    SourceFilter,
    StoryFilter,
    TextQuery,
    TopicFilter,
    TopicMatch,
    UntilFilter,
)
from service.runtime import Runtime
from service.signals.export import CSV_COLUMNS, ExportFormat, prepare_export
from service.signals.listing import SignalQuery


class SignalExportController(Controller):
    path = "/v1/signals"
    # Litestar controllers declare these as class attributes (pyproject exempts routes.py only).
    tags = ["signals"]  # noqa: RUF012
    dependencies = {"rt": Provide(provide_runtime, sync_to_thread=False)}  # noqa: RUF012

    @get(
        "/export",
        opt={
            "scope": "signals:read",
            "media_types": {
                "application/x-ndjson": "format=ndjson: one Signal (JSON) per line",
                "text/csv": "format=csv: a header row, then one row per signal",
            },
        },
        summary="Export matching signals as NDJSON or CSV",
        description=(
            "Streams every current signal matching the filters (the same filters as "
            "`GET /v1/signals`), newest first, as an attachment. `format=ndjson`: one full signal "
            "card per line. `format=csv`: one row per signal with the columns "
            f"{', '.join(CSV_COLUMNS)}; topics are `;`-joined slugs, entities `;`-joined names, "
            "grounding is grounded/checked (0-1). Text cells starting with = + - @ (or a tab or "
            "carriage return) are prefixed with `'` so spreadsheets do not run them as formulas. "
            "A topic-restricted key exports only signals on its topics; signals made of content "
            "another partner supplied are never exported."
        ),
        responses={
            400: problem_spec("Bad parameter or range"),
            404: problem_spec("Unknown topic or entity"),
            **AUTH_ERRORS,
        },
    )
    async def export_signals(
        self,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        format: Annotated[ExportFormat, QueryParameter(description="ndjson or csv")] = "ndjson",
        topic: TopicFilter = None,
        topic_match: TopicMatch = "any",
        entity: EntityFilter = None,
        source: SourceFilter = None,
        since: SinceFilter = None,
        until: UntilFilter = None,
        date_field: DateField = "created",
        lang: LangFilter = None,
        q: TextQuery = None,
        story: StoryFilter = None,
    ) -> Stream:
        query = SignalQuery(
            topics=tuple(topic or ()),
            topic_match=topic_match,
            entities=tuple(entity or ()),
            source=source,
            since=since,
            until=until,
            date_field=date_field,
            lang=lang,
            q=q,
            story=story,
            restrict_topics=allowed_topics(request),
            suppliers=suppliers_seen(request),
        )
        export = await prepare_export(rt.db.pool, rt.topic_cache, format, query)
        return Stream(
            export.chunks,
            media_type=export.media_type,
            headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
        )
