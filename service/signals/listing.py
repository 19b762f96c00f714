"""Listing and searching signals: filters, full text, keyset pagination.

Pages are keyset-paginated: the cursor carries the position of the last item (created_at
and id, or rank and id for relevance) and a fingerprint of the filters, never an offset.
Rows do not move once stored, so a client paging through never sees an item twice or
misses one that existed when it started, however many signals arrive meanwhile (new ones
sort before the cursor).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from uuid import UUID

import msgspec

from schemas.signals import EntityRef, SignalCardPage, SignalLinks, SignalListItem, SignalPage, Topic
from service.db.connections import Executor, Pool
from service.errors import BadRequest, NotFound
from service.keys.suppliers import PUBLIC_ONLY, SupplierView
from service.pagination import decode_cursor_as, encode_cursor
from service.signals import repository
from service.signals.sentiment import sentiment_value
from service.time_window import check_day
from service.topics.cache import TopicCache

MAX_LIMIT = 100
Sort = Literal["newest", "relevance"]
_MARK_START, _MARK_END = "\ue000", "\ue001"


@dataclass(frozen=True, slots=True)
class SignalQuery:
    """What a list request asks for (already parsed; validated by ``prepare``)."""

    topics: tuple[str, ...] = ()
    topic_match: Literal["any", "all"] = "any"
    entities: tuple[int, ...] = ()
    source: str | None = None
    since: str | None = None
    until: str | None = None
    date_field: Literal["created", "published"] = "created"
    q: str | None = None
    story: UUID | None = None
    lang: str | None = None
    sort: Sort = "newest"
    collapse: bool = False
    limit: int = 20
    cursor: str | None = None
    include_card: bool = False
    restrict_topics: tuple[int, ...] | None = None
    """The caller's key may only see signals carrying one of these topic ids (None: all)."""
    suppliers: SupplierView = PUBLIC_ONLY
    """Whose supplied content the caller sees (by default none: fetched content only)."""
    extra: dict[str, Any] = field(default_factory=dict)


class _Position(msgspec.Struct, kw_only=True, frozen=True):
    """Where a page ended: the last item's id and its sort key (created_at or rank)."""

    i: UUID
    c: datetime | None = None
    r: float | None = None
    t: int | None = None
    """With sort=relevance: 2 among headline matches, 1 among other card matches, 0 after them."""


def _parse_moment(value: str, name: str) -> date | datetime:
    try:
        if len(value) == 10:
            return check_day(date.fromisoformat(value), name)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"{name} must be an ISO date or date-time, got {value!r}", reason="bad_parameter"
        ) from None
    check_day(moment.date(), name)  # far dates would leave Python's range in the arithmetic
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _as_start(moment: date | datetime) -> datetime:
    return moment if isinstance(moment, datetime) else datetime.combine(moment, time.min, UTC)


def _as_end(moment: date | datetime) -> datetime:
    # A bare date as the upper bound means the whole of that day.
    return (
        moment
        if isinstance(moment, datetime)
        else datetime.combine(moment + timedelta(days=1), time.min, UTC)
    )


def _cursor_query(query: SignalQuery) -> dict[str, Any]:
    """What a cursor is bound to: every filter and the sort (not the page size or format)."""
    bound: dict[str, Any] = msgspec.to_builtins(query)  # no deep copy, unlike dataclasses.asdict
    for volatile in ("limit", "cursor", "include_card", "extra", "restrict_topics", "suppliers"):
        bound.pop(volatile, None)
    return bound


async def _params(topic_cache: TopicCache, conn: Executor, query: SignalQuery) -> dict[str, Any]:
    """SQL parameters for ``query``: names resolved to ids, bounds checked."""
    if not 1 <= query.limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}", reason="bad_parameter")
    if query.sort == "relevance" and not query.q:
        raise BadRequest("sort=relevance needs a q to rank by", reason="bad_parameter")
    if query.q is not None and not query.q.strip():
        raise BadRequest("q is empty", reason="bad_parameter")
    topic_ids: list[int] = []
    # For a topic-restricted key, a topic outside its topics and an entity no signal on them
    # names are unknown (service/topics/visibility.py): same 404, same detail. So are, for
    # everyone else, a topic or entity only a supplier's own content names.
    restrict = sorted(query.restrict_topics) if query.restrict_topics is not None else None
    if query.topics:
        resolved = await topic_cache.resolve(conn, list(query.topics), restrict, query.suppliers)
        unknown = [slug for slug in query.topics if resolved.get(slug) is None]
        if unknown:
            raise NotFound(f"unknown topic {', '.join(repr(u) for u in unknown)}", reason="unknown_topic")
        topic_ids = sorted({t for t in resolved.values() if t is not None})
    if query.entities:
        known = await repository.existing_entity_ids(
            conn, list(query.entities), restrict, suppliers=query.suppliers
        )
        unknown_entities = sorted(set(query.entities) - known)
        if unknown_entities:
            raise NotFound(f"unknown entity {unknown_entities[0]}", reason="unknown_entity")
    since = _parse_moment(query.since, "since") if query.since else None
    until = _parse_moment(query.until, "until") if query.until else None
    if since is not None and until is not None and _as_start(since) >= _as_end(until):
        raise BadRequest("since must be before until", reason="inverted_range")
    created = query.date_field == "created"
    params: dict[str, Any] = {
        "restrict_topics": restrict,
        **query.suppliers.params(),
        "collapse": query.collapse,
        "topic_any": topic_ids if topic_ids and query.topic_match == "any" else None,
        "topic_all": topic_ids if topic_ids and query.topic_match == "all" else None,
        "entity_ids": sorted(set(query.entities)) or None,
        "source": query.source,
        "lang": query.lang,
        "story": query.story,
        "since_created": _as_start(since) if since and created else None,
        "until_created": _as_end(until) if until and created else None,
        "since_published": _as_start(since).date() if since and not created else None,
        "until_published": (_as_end(until) - timedelta(microseconds=1)).date()
        if until and not created
        else None,
        "q": query.q.strip() if query.q else None,
        "limit": query.limit + 1,  # one more tells whether a next page exists
        "after_id": None,
    }
    cursor = (
        decode_cursor_as(query.cursor, "signals", _Position, query=_cursor_query(query))
        if query.cursor
        else None
    )
    if query.sort == "relevance":
        params["after_tier"] = cursor.t if cursor else None
        params["after_rank"] = cursor.r if cursor else None
    params["after_created"] = cursor.c if cursor else None
    if cursor is not None:
        params["after_id"] = cursor.i
        if cursor.c is None or (
            query.sort == "relevance" and (cursor.t not in (0, 1, 2) or (cursor.t > 0 and cursor.r is None))
        ):
            raise BadRequest("the cursor is not valid for this sort", reason="bad_cursor")
    return params


def _snippet_html(fragment: str) -> str:
    """Escape the fragment, then turn the match markers into <mark> (safe to render)."""
    return html.escape(fragment).replace(_MARK_START, "<mark>").replace(_MARK_END, "</mark>")


async def list_signals(
    pool: Pool, topic_cache: TopicCache, query: SignalQuery
) -> SignalPage | SignalCardPage:
    """One page of current signals matching ``query``; ``next`` is a cursor token or None."""
    async with pool.acquire() as conn:
        params = await _params(topic_cache, conn, query)
        rows = await repository.list_signal_rows(conn, relevance=query.sort == "relevance", **params)
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        next_token = None
        if more and rows:
            last = rows[-1]
            position = _Position(
                i=last["id"],
                c=last["created_at"],
                r=float(last["rank"]) if query.sort == "relevance" else None,
                t=int(last["tier"]) if query.sort == "relevance" else None,
            )
            next_token = encode_cursor("signals", msgspec.to_builtins(position), query=_cursor_query(query))
        ids = [row["id"] for row in rows]
        if query.include_card:
            cards = await repository.get_signal_cards(
                conn, ids, params["restrict_topics"], suppliers=query.suppliers
            )
            return SignalCardPage(items=cards, next=next_token, limit=query.limit)
        snippets = await repository.search_snippets(conn, ids, params["q"]) if params["q"] and ids else {}
    items = [
        SignalListItem(
            id=row["id"],
            title=row["title"],
            summary=row["summary"],
            url=row["url"],
            site_name=row["site_name"],
            language=row["language"],
            published_date=row["published_date"],
            created_at=row["created_at"],
            sentiment=sentiment_value(row["sentiment"]),
            topics=[Topic(slug=t["slug"], label=t["label"]) for t in row["topics"]],
            entities=[EntityRef(id=e["id"], name=e["name"], type=e["type"]) for e in row["entities"]],
            story_id=row["story_id"],
            snippet=_snippet_html(snippets[row["id"]]) if row["id"] in snippets else None,
            rank=float(row["rank"]) if row["rank"] is not None else None,
            links=SignalLinks(self=f"/v1/signals/{row['id']}", article=f"/v1/articles/{row['article_id']}"),
        )
        for row in rows
    ]
    return SignalPage(items=items, next=next_token, limit=query.limit)
