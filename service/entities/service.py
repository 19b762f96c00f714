"""Use cases behind the entities API: the searchable directory, and one entity's page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import msgspec

from schemas.entities import (
    CoEntity,
    CoTopic,
    EntityCount,
    EntityCounts,
    EntityDetail,
    EntityLinks,
    EntityPage,
)
from schemas.problems import FieldError
from schemas.topics import TimeWindow
from service.db.connections import Executor, Pool
from service.entities import repository
from service.errors import BadRequest, NotFound
from service.keys.suppliers import PUBLIC_ONLY, SupplierView
from service.pagination import decode_cursor_as, encode_cursor
from service.signals.listing import SignalQuery
from service.time_window import Window, resolve_window
from service.topics.cache import TopicCache
from service.topics.service import NEWEST_SIGNALS, newest_signals

DEFAULT_WINDOW = timedelta(days=7)
COOCCURRENCE_SAMPLE = 1000
"""Co-occurrences are counted over the entity's newest signals, at most this many: the cost of
an entity page stays flat however often the entity is named."""
COOCCURRENCE_TOP = 10

Sort = Literal["count", "name", "relevance"]


class _EntitiesCursor(msgspec.Struct, frozen=True):
    """Position after the last item (the keys of its sort), and the window the first page resolved."""

    since: datetime
    until: datetime
    id: int
    count: int | None = None
    name: str | None = None
    score: float | None = None


async def resolve_topic_filter(
    topic_cache: TopicCache,
    conn: Executor,
    slugs: tuple[str, ...],
    allowed_topics: list[int] | None,
    suppliers: SupplierView,
) -> list[int]:
    """The ids of the topics ``slugs`` name (directly or by alias); 404 for an unknown one,
    and for one outside ``allowed_topics`` (a restricted key's topics) or carried only by
    content of suppliers the reader does not see, worded alike."""
    resolved = await topic_cache.resolve(conn, sorted(set(slugs)), allowed_topics, suppliers)
    unknown = [slug for slug, topic_id in resolved.items() if topic_id is None]
    if unknown:
        raise NotFound(f"unknown topic {', '.join(repr(u) for u in unknown)}", reason="unknown_topic")
    return sorted({topic_id for topic_id in resolved.values() if topic_id is not None})


def entity_links(entity_id: int) -> EntityLinks:
    return EntityLinks(self=f"/v1/entities/{entity_id}", signals=f"/v1/signals?entity={entity_id}")


def _now() -> datetime:
    return datetime.now(UTC)


def _sort_for(sort: Sort | None, q: str | None) -> Sort:
    chosen: Sort = sort or ("relevance" if q else "count")
    if chosen == "relevance" and not q:
        message = "sort=relevance needs a q to rank by"
        raise BadRequest(
            message, reason="bad_parameter", errors=[FieldError(message=message, key="sort", source="query")]
        )
    return chosen


async def list_entities(
    pool: Pool,
    topic_cache: TopicCache,
    *,
    type_: str | None,
    q: str | None,
    sort: Sort | None,
    since: str | None,
    until: str | None,
    window: str | None,
    limit: int,
    cursor: str | None,
    topics: tuple[str, ...] = (),
    allowed_topics: tuple[int, ...] | None = None,
    suppliers: SupplierView = PUBLIC_ONLY,
) -> EntityPage:
    """One page of entities: by mentions in the window (``count``, entities named in it), by
    name, or by match quality for ``q`` (``relevance``). ``next`` is a cursor token.

    With ``topics`` (slugs or aliases; 404 for an unknown one), only entities named by current
    signals on one of them, counted over those signals: who is named on a topic. A key
    restricted to ``allowed_topics`` sees only entities named by current signals on those
    topics, and counts only those signals (with ``topics`` too: signals on one of each, as
    GET /v1/signals combines them). Counts are of public signals, as every aggregate; an
    entity that only another supplier's content names is not listed (``suppliers``).
    """
    restrict = sorted(allowed_topics) if allowed_topics is not None else None
    if q is not None:
        q = q.strip()
        if not q:
            raise BadRequest("q is empty", reason="bad_parameter")
    chosen = _sort_for(sort, q)
    span = resolve_window(since=since, until=until, window=window, default=DEFAULT_WINDOW, now=_now())
    bound: dict[str, Any] = {
        "type": type_,
        "q": q,
        "sort": chosen,
        "since": since,
        "until": until,
        "window": window,
    }
    if topics:
        bound["topics"] = sorted(set(topics))  # (absent otherwise: cursors issued before stay valid)
    after = decode_cursor_as(cursor, "entities", _EntitiesCursor, query=bound) if cursor else None
    if after is not None:
        span = Window(after.since, after.until)
        keys = {"count": after.count, "name": after.name, "relevance": after.score}
        if keys[chosen] is None:
            raise BadRequest("the cursor is not valid for this sort", reason="bad_cursor")
    async with pool.acquire() as conn:
        topic_any = (
            await resolve_topic_filter(topic_cache, conn, topics, restrict, suppliers) if topics else None
        )
        rows = await repository.list_entities_page(
            conn,
            sort=chosen,
            type_=type_,
            q=q,
            since=span.since,
            until=span.until,
            after=msgspec.structs.asdict(after) if after else None,
            limit=limit + 1,  # one more tells whether another page follows
            suppliers=suppliers,
            restrict_topics=restrict,
            topic_any=topic_any,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        counts = (
            {r.id: r.count for r in rows}
            if chosen == "count"
            else await repository.entity_window_counts(
                conn, [r.id for r in rows], span.since, span.until, restrict, topic_any
            )
        )
    token = None
    if more:
        last = rows[-1]
        position = _EntitiesCursor(
            since=span.since,
            until=span.until,
            id=last.id,
            count=last.count if chosen == "count" else None,
            name=last.name if chosen == "name" else None,
            score=last.score if chosen == "relevance" else None,
        )
        token = encode_cursor("entities", msgspec.to_builtins(position), query=bound)
    return EntityPage(
        items=[
            EntityCount(
                id=r.id, name=r.name, type=r.type, count=counts.get(r.id, 0), links=entity_links(r.id)
            )
            for r in rows
        ],
        next=token,
        limit=limit,
        sort=chosen,
        window=TimeWindow(since=span.since, until=span.until),
    )


async def get_entity(
    pool: Pool,
    topic_cache: TopicCache,
    entity_id: int,
    allowed_topics: tuple[int, ...] | None,
    suppliers: SupplierView,
) -> EntityDetail:
    """The entity, its counts, its top co-occurring entities and topics, its newest signals.

    For a key restricted to ``allowed_topics`` all of these come from current signals on those
    topics only, and an entity none of them names is a 404, the same as an unknown id. So is
    an entity only content of suppliers the reader does not see names (``suppliers``). Counts
    and co-occurrences are of public signals, as every aggregate; the newest signals include
    the reader's own supplied ones.
    """
    restrict = sorted(allowed_topics) if allowed_topics is not None else None
    async with pool.acquire() as conn:
        entity = await repository.get_entity(conn, entity_id, suppliers)
        # asked whether the entity exists or not: a hidden one costs no more time than a missing one
        named = restrict is None or await repository.entity_named_on_topics(
            conn, entity_id, restrict, suppliers
        )
        if entity is None or not entity.known or not named:
            raise NotFound(f"no entity {entity_id}", reason="unknown_entity")
        day, week, month = await repository.entity_signal_counts(conn, entity_id, _now(), restrict)
        co = await repository.entity_cooccurrences(
            conn, entity_id, sample=COOCCURRENCE_SAMPLE, limit=COOCCURRENCE_TOP, restrict_topics=restrict
        )
    query = SignalQuery(
        entities=(entity_id,), limit=NEWEST_SIGNALS, restrict_topics=allowed_topics, suppliers=suppliers
    )
    signals = await newest_signals(pool, topic_cache, query)
    return EntityDetail(
        id=entity.id,
        name=entity.name,
        type=entity.type,
        created_at=entity.created_at,
        counts=EntityCounts(last_24h=day, last_7d=week, last_30d=month),
        co_entities=[
            CoEntity(id=c.id, name=c.name, type=c.type, count=c.count, links=entity_links(c.id))
            for c in co.entities
        ],
        co_topics=[CoTopic(slug=t.slug, label=t.label, count=t.count) for t in co.topics],
        cooccurrence_basis=co.sample,
        signals=signals,
        links=entity_links(entity.id),
    )
