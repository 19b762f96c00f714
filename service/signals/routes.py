"""Signals, jobs and articles over HTTP. Thin: parse, call one service function, return."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter

from schemas.articles import Article
from schemas.jobs import Job
from schemas.signals import AnalyzeRequest, Signal, SignalCardPage, SignalPage
from service.conditional import NOT_MODIFIED, etagged
from service.errors import BadRequest, PayloadTooLarge, error_for_code
from service.http import AUTH_ERRORS, allowed_topics, problem_spec, provide_runtime, suppliers_seen
from service.pagination import next_page_link
from service.route_params import (
    DateField,
    EntityFilter,
    LangFilter,
    Limit,
    Prefer,
    SinceFilter,
    SourceFilter,
    StoryFilter,
    TextQuery,
    TopicFilter,
    TopicMatch,
    UntilFilter,
    prefer_wait,
)
from service.runtime import Runtime
from service.settings import Settings
from service.signals import service
from service.signals.deletion import delete_signal
from service.signals.listing import SignalQuery, list_signals

_IDEMPOTENCY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")


async def _refuse_oversized(
    request: Request[Any, Any, Any], data: AnalyzeRequest, settings: Settings
) -> None:
    """413 for an html page over SIGNALS_FETCH_MAX_BYTES, or another body over
    SIGNALS_MAX_BODY_BYTES (this route reads up to ``settings.analysis_body_max_bytes``)."""
    if data.html is not None:
        size = len(data.html.encode())
        if size > settings.fetch_max_bytes:
            raise PayloadTooLarge(
                f"the html is {size:,} bytes; pages up to {settings.fetch_max_bytes:,} bytes "
                "(SIGNALS_FETCH_MAX_BYTES) are taken",
                reason="html_too_large",
            )
    elif len(await request.body()) > settings.max_body_bytes:
        raise PayloadTooLarge(
            f"bodies without html are taken up to {settings.max_body_bytes:,} bytes (SIGNALS_MAX_BODY_BYTES)",
            reason="body_too_large",
        )


class SignalsController(Controller):
    path = "/v1"
    tags = ["signals"]
    dependencies = {"rt": Provide(provide_runtime, sync_to_thread=False)}

    @post(
        "/signals",
        opt={"scope": "signals:write"},
        status_code=202,
        summary="Analyse an article",
        description=(
            "Queues an analysis and answers 202 with the job (Location: /v1/jobs/{id}). "
            "With `Prefer: wait=N` (N ≤ 60) it answers 201 with the signal if it is ready in time "
            "(200 with the finished job when the signal carries none of a topic-restricted key's "
            "topics: `signal_outside_topics`). A URL the same key already has in flight returns "
            "its job; a URL another key has in flight gets a job of its own that follows that "
            "work. A repeat of analysed content returns the existing signal without calling the "
            "model. `text` and `html` are stored as the submitting partner's own article for "
            "`url` (a label, never fetched): they never replace a fetched page or another "
            "partner's content, and what is made of them is visible to that partner's keys and "
            "admin keys only. `Idempotency-Key` makes retries safe."
        ),
        responses={
            202: ResponseSpec(data_container=Job, description="The job (Location: /v1/jobs/{id})"),
            201: ResponseSpec(data_container=Signal, description="Prefer: wait, and the signal is ready"),
            200: ResponseSpec(
                data_container=Job,
                description="Prefer: wait, and the signal carries none of the key's topics",
            ),
            400: problem_spec("Malformed body or Prefer header"),
            413: problem_spec(
                "Body over the size limit: html over SIGNALS_FETCH_MAX_BYTES, any other body over "
                "SIGNALS_MAX_BODY_BYTES"
            ),
            422: problem_spec(
                "Unusable request (refused URL, bad shape, reused Idempotency-Key) "
                "or, with Prefer: wait, the job's failure"
            ),
            503: problem_spec("No language model configured"),
            **AUTH_ERRORS,
        },
    )
    async def create_signal(
        self,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        data: JSONBody[AnalyzeRequest],
        idempotency_key: Annotated[
            str | None, HeaderParameter(name="Idempotency-Key", required=False)
        ] = None,
        prefer: Prefer = None,
    ) -> Response[Job | Signal]:
        # Every header is parsed before anything is written.
        wait = prefer_wait(prefer)
        await _refuse_oversized(request, data, rt.settings)
        if idempotency_key is not None and not _IDEMPOTENCY_RE.match(idempotency_key):
            raise BadRequest(
                "Idempotency-Key must be 1-255 visible ASCII characters", reason="idempotency_key"
            )
        key = getattr(request.state, "api_key", None)
        submission = await service.submit_analysis(
            rt.db.pool,
            rt.settings,
            rt.policy,
            data,
            api_key_id=key.id if key else None,
            idempotency_key=idempotency_key,
        )
        job = (
            await service.wait_for_job(rt.db.pool, rt.waiter, submission.job, wait)
            if wait
            else submission.job
        )
        if wait and job.status == "done" and job.signal_id is not None:
            wire = await service.job_for_reader(rt.db.pool, job, key)
            if wire.signal_id is None:
                # The signal carries none of this key's topics: the finished job, not the card.
                return Response(
                    wire,
                    status_code=200,
                    headers={"Location": f"/v1/jobs/{job.id}", "Preference-Applied": f"wait={wait}"},
                )
            signal = await service.get_signal(
                rt.db.pool,
                job.signal_id,
                allowed_topics=allowed_topics(request),
                suppliers=suppliers_seen(request),
            )
            return Response(
                signal,
                status_code=201,
                headers={
                    "Location": f"/v1/signals/{signal.id}",
                    "Content-Location": f"/v1/signals/{signal.id}",
                    "Preference-Applied": f"wait={wait}",
                },
            )
        if wait and job.status == "failed" and job.error_code is not None:
            error = error_for_code(job.error_code, job.error_detail or "", job.error_reason)
            error.extra["job"] = f"/v1/jobs/{job.id}"
            raise error
        wire = await service.job_for_reader(rt.db.pool, job, key)
        return Response(wire, status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})

    @get(
        "/signals",
        opt={"scope": "signals:read"},
        summary="List and search signals",
        description=(
            "Current signals, newest first (or by full-text relevance with q and sort=relevance). "
            "Keyset pagination: follow `next` (an opaque cursor; keep every other parameter). "
            "`include=card` returns full cards instead of compact items; `collapse=story` shows "
            "one signal per story. Signals made of `text` or `html` another partner supplied are "
            "never listed (they are their supplier's and admin keys' only)."
        ),
        responses={
            400: problem_spec("Bad parameter, cursor or range"),
            404: problem_spec("Unknown topic or entity"),
            **AUTH_ERRORS,
        },
    )
    async def list_signals(
        self,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        topic: TopicFilter = None,
        topic_match: TopicMatch = "any",
        entity: EntityFilter = None,
        source: SourceFilter = None,
        since: SinceFilter = None,
        until: UntilFilter = None,
        date_field: DateField = "created",
        q: TextQuery = None,
        story: StoryFilter = None,
        lang: LangFilter = None,
        sort: Annotated[
            Literal["newest", "relevance"],
            QueryParameter(
                description=(
                    "newest, or relevance (needs q): signals whose title matches first, then those "
                    "whose summary or key details match (each group ranked by cover density over "
                    "the card's words, the title weighing most), then those matching only in the "
                    "analysis or article text, newest first"
                )
            ),
        ] = "newest",
        collapse: Annotated[
            Literal["story"] | None, QueryParameter(description="One signal per story")
        ] = None,
        include: Annotated[Literal["card"] | None, QueryParameter(description="Full cards")] = None,
        limit: Limit = 20,
        cursor: Annotated[
            str | None, QueryParameter(description="From a previous page's next", max_length=1000)
        ] = None,
    ) -> SignalPage | SignalCardPage:
        query = SignalQuery(
            topics=tuple(topic or ()),
            topic_match=topic_match,
            entities=tuple(entity or ()),
            source=source,
            since=since,
            until=until,
            date_field=date_field,
            q=q,
            story=story,
            lang=lang,
            sort=sort,
            collapse=collapse == "story",
            limit=limit,
            cursor=cursor,
            include_card=include == "card",
            restrict_topics=allowed_topics(request),
            suppliers=suppliers_seen(request),
        )
        page = await list_signals(rt.db.pool, rt.topic_cache, query)
        if page.next is not None:
            page.next = next_page_link(request.scope, page.next)
        return page

    @get(
        "/jobs/{job_id:uuid}",
        opt={"scope": "signals:read"},
        summary="A job's status",
        description=(
            "Visible to the key that submitted the job, the other keys of its partner, and admin "
            "keys (404 to anyone else). ETag / If-None-Match: 304 while the job has not moved "
            "(cheap polling)."
        ),
        responses={404: problem_spec("No such job"), **NOT_MODIFIED, **AUTH_ERRORS},
    )
    async def get_job(
        self, rt: NamedDependency[Runtime], request: Request[Any, Any, Any], job_id: FromPath[UUID]
    ) -> Response[Job]:
        key = getattr(request.state, "api_key", None)
        job = await service.get_job_for(rt.db.pool, job_id, key)
        return etagged(request, await service.job_for_reader(rt.db.pool, job, key))

    @get(
        "/signals/{signal_id:uuid}",
        opt={"scope": "signals:read"},
        summary="A signal card",
        description=(
            "404 for a signal made of `text` or `html` another partner supplied, as for an "
            "unknown id. ETag / If-None-Match: 304 when unchanged."
        ),
        responses={404: problem_spec("No such signal"), **NOT_MODIFIED, **AUTH_ERRORS},
    )
    async def get_signal(
        self, rt: NamedDependency[Runtime], request: Request[Any, Any, Any], signal_id: FromPath[UUID]
    ) -> Response[Signal]:
        signal = await service.get_signal(
            rt.db.pool, signal_id, allowed_topics=allowed_topics(request), suppliers=suppliers_seen(request)
        )
        return etagged(request, signal)

    @delete(
        "/signals/{signal_id:uuid}",
        opt={"scope": "admin"},
        summary="Delete a signal",
        description=(
            "Deletes the signal (its topic, entity, embedding and related links too). Sync clients "
            "receive a `deleted` tombstone. When it was its article's current version, the newest "
            "remaining version becomes current again (sync: `updated`). Jobs that produced it stay "
            "`done` with `signal_id: null`. Answers 204."
        ),
        responses={404: problem_spec("No such signal"), **AUTH_ERRORS},
    )
    async def delete_signal(
        self, rt: NamedDependency[Runtime], request: Request[Any, Any, Any], signal_id: FromPath[UUID]
    ) -> None:
        await delete_signal(rt.db.pool, signal_id, allowed_topics=allowed_topics(request))

    @get(
        "/articles/{article_id:uuid}",
        opt={"scope": "signals:read"},
        summary="An extracted article",
        description="ETag / If-None-Match: 304 when unchanged.",
        responses={404: problem_spec("No such article"), **NOT_MODIFIED, **AUTH_ERRORS},
    )
    async def get_article(
        self, rt: NamedDependency[Runtime], request: Request[Any, Any, Any], article_id: FromPath[UUID]
    ) -> Response[Article]:
        article = await service.get_article(
            rt.db.pool, article_id, allowed_topics=allowed_topics(request), suppliers=suppliers_seen(request)
        )
        return etagged(request, article)
