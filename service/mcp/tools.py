"""The MCP tools. Each calls the service function its JSON route calls, with the caller's topic
restriction and supplier view (service/mcp/caller.py), and answers plain JSON values."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from schemas.signals import AnalyzeRequest, SignalListItem
from service.digests import reading as digests
from service.errors import error_for_code
from service.mcp import arguments as args
from service.mcp.caller import Caller
from service.related import service as related
from service.signals import service as signals
from service.signals.listing import SignalQuery, list_signals
from service.stories import service as stories
from service.topics import service as topics


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    title: str
    description: str
    arguments: type[msgspec.Struct]
    scope: str
    run: Callable[[Caller, Any], Awaitable[dict[str, Any]]]
    read_only: bool = True


def _plain(value: Any) -> Any:
    return msgspec.to_builtins(value)


def _compact(item: SignalListItem) -> dict[str, Any]:
    """A search hit, small enough that an agent can read fifty of them: get_signal has the rest."""
    compact: dict[str, Any] = {
        "id": str(item.id),
        "title": item.title,
        "summary": item.summary,
        "site_name": item.site_name,
        "url": item.url,
        "published_date": item.published_date.isoformat() if item.published_date else None,
        "created_at": item.created_at.isoformat(),
        "topics": [t.slug for t in item.topics],
        "entities": [{"id": e.id, "name": e.name, "type": e.type} for e in item.entities],
        "story_id": str(item.story_id) if item.story_id else None,
    }
    if item.snippet is not None:
        compact["snippet"] = item.snippet
    return compact


async def search_signals(caller: Caller, a: args.SearchSignals) -> dict[str, Any]:
    query = SignalQuery(
        topics=(a.topic,) if a.topic else (),
        entities=(a.entity,) if a.entity is not None else (),
        source=a.source,
        since=a.since,
        until=a.until,
        q=a.q,
        sort="relevance" if a.q else "newest",
        limit=a.limit,
        cursor=a.cursor,
        restrict_topics=caller.allowed_topics,
        suppliers=caller.suppliers,
    )
    page = await list_signals(caller.rt.db.pool, caller.rt.topic_cache, query)
    items = [_compact(item) for item in page.items if isinstance(item, SignalListItem)]
    return {"items": items, "next_cursor": page.next}


async def get_signal(caller: Caller, a: args.GetSignal) -> dict[str, Any]:
    signal = await signals.get_signal(
        caller.rt.db.pool, a.id, allowed_topics=caller.allowed_topics, suppliers=caller.suppliers
    )
    return dict(_plain(signal))


async def get_related(caller: Caller, a: args.GetRelated) -> dict[str, Any]:
    found = await related.get_related(
        caller.rt.db.pool, a.id, a.limit, allowed_topics=caller.allowed_topics, suppliers=caller.suppliers
    )
    return dict(_plain(found))


async def get_story(caller: Caller, a: args.GetStory) -> dict[str, Any]:
    # As GET /v1/stories/{id}: stories hold fetched signals only (relating never links
    # supplied content), so the topic restriction is the whole of the caller's view.
    return dict(
        _plain(await stories.get_story(caller.rt.db.pool, a.id, allowed_topics=caller.allowed_topics))
    )


async def list_topics(caller: Caller, a: args.ListTopics) -> dict[str, Any]:
    page = await topics.list_topics(
        caller.rt.db.pool,
        since=None,
        until=None,
        window=a.window,
        sort="trending" if a.trending else "count",
        limit=a.limit,
        cursor=None,
        allowed_topics=caller.allowed_topics,
    )
    plain = dict(_plain(page))
    plain.pop("next", None)  # one page is what an agent asks for; the limit says how long
    return plain


async def get_briefing(caller: Caller, a: args.GetBriefing) -> dict[str, Any]:
    digest = await digests.latest_digest(
        caller.rt.db.pool, period=a.period, topic=a.topic, day=a.date, allowed_topics=caller.allowed_topics
    )
    return dict(_plain(digest))


async def analyze_url(caller: Caller, a: args.AnalyzeUrl) -> dict[str, Any]:
    """As POST /v1/signals with ``Prefer: wait=N``: the signal when done in time, else the job."""
    key = caller.key
    assert key is not None  # the scope check let only a key with signals:write through
    body = msgspec.convert({"url": a.url}, AnalyzeRequest)  # the route's own URL checks
    rt = caller.rt
    submission = await signals.submit_analysis(
        rt.db.pool, rt.settings, rt.policy, body, api_key_id=key.id, idempotency_key=None
    )
    job = submission.job
    if a.wait_seconds:
        job = await signals.wait_for_job(rt.db.pool, rt.waiter, job, a.wait_seconds)
    if job.status == "failed" and job.error_code is not None:
        error = error_for_code(job.error_code, job.error_detail or "", job.error_reason)
        error.extra["job"] = f"/v1/jobs/{job.id}"
        raise error
    wire = await signals.job_for_reader(rt.db.pool, job, key)
    if job.status == "done" and wire.signal_id is not None:
        signal = await signals.get_signal(
            rt.db.pool, wire.signal_id, allowed_topics=caller.allowed_topics, suppliers=caller.suppliers
        )
        return {"status": "done", "signal": _plain(signal)}
    # Still running, or done but on none of a topic-restricted key's topics (signal_outside_topics).
    return {"status": job.status, "job": _plain(wire)}


_READ = "signals:read"
TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "search_signals",
        "Search signals",
        "Find analysed news signals by full text, topic, entity, source and creation time. "
        "Returns compact items (id, title, summary, source, topics, entities, story_id) newest "
        "first, or best match first when q is given, and next_cursor for the next page (null: "
        "no more). Use get_signal with an item's id for the full card.",
        args.SearchSignals,
        _READ,
        search_signals,
    ),
    ToolSpec(
        "get_signal",
        "Get a signal card",
        "The full signal card: summary, ELI5, deep analysis, impact, key details each with its "
        "verbatim evidence quote, outlooks, topics, entities, story and provenance. Also readable "
        "as the resource signals://signal/{id}.",
        args.GetSignal,
        _READ,
        get_signal,
    ),
    ToolSpec(
        "get_related",
        "Get related signals",
        "Signals related to one signal (shared entities, similar meaning, same story), each with "
        "the reason it is related and a score, best first.",
        args.GetRelated,
        _READ,
        get_related,
    ),
    ToolSpec(
        "get_story",
        "Get a story",
        "One story: every outlet's signal on the same event (the newest 100), its sources and "
        "when it was first and last seen.",
        args.GetStory,
        _READ,
        get_story,
    ),
    ToolSpec(
        "list_topics",
        "List topics",
        "Topics by the number of signals in a time window ending now, or by growth against the "
        "window before (trending). Each item has slug (for search_signals and get_briefing), "
        "label, count, previous_count and trending.",
        args.ListTopics,
        _READ,
        list_topics,
    ),
    ToolSpec(
        "get_briefing",
        "Get a briefing",
        "The latest version of a written daily or weekly briefing (general, or of one topic): "
        "headline, dek, opening, themed sections whose [n] markers cite signals, quick hits and "
        "the citations' signal ids. Without date: the newest period written.",
        args.GetBriefing,
        _READ,
        get_briefing,
    ),
    ToolSpec(
        "analyze_url",
        "Analyse an article URL",
        "Fetch and analyse the article at url into a signal (needs the signals:write scope). "
        "Waits up to wait_seconds: returns {status: done, signal} when the analysis finished, "
        "else {status, job} with the job's id and state; a failed analysis is an error naming "
        "its reason.",
        args.AnalyzeUrl,
        "signals:write",
        analyze_url,
        read_only=False,
    ),
)
TOOLS_BY_NAME = {tool.name: tool for tool in TOOLS}
