"""Rows for entities: directory pages, window counts, one entity and its co-occurrences."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from service.db.connections import Executor
from service.db.queries import queries
from service.keys.suppliers import SupplierView
from service.time_window import DayPieces


class EntityRow(msgspec.Struct, kw_only=True, frozen=True):
    id: int
    name: str
    type: str
    count: int = 0
    """Current signals in the window (``count`` sort), or filled in afterwards."""
    score: float = 0.0
    """Search relevance (``relevance`` sort)."""


class EntityRecord(msgspec.Struct, kw_only=True, frozen=True):
    id: int
    name: str
    type: str
    created_at: datetime
    known: bool
    """Whether the reader it was read for may know it exists (entity_known_to_reader)."""


class CoTopicRow(msgspec.Struct, kw_only=True, frozen=True):
    slug: str
    label: str
    count: int


class Cooccurrences(msgspec.Struct, kw_only=True, frozen=True):
    entities: list[EntityRow]
    topics: list[CoTopicRow]
    sample: int
    """How many signals they were counted over."""


def like_prefix(q: str) -> str:
    """An ILIKE pattern for names starting with ``q`` (its wildcards taken literally)."""
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def list_entities_page(
    conn: Executor,
    *,
    sort: Literal["count", "name", "relevance"],
    type_: str | None,
    q: str | None,
    since: datetime,
    until: datetime,
    after: dict[str, Any] | None,
    limit: int,
    suppliers: SupplierView,
    restrict_topics: list[int] | None = None,
    topic_any: list[int] | None = None,
) -> list[EntityRow]:
    """One page in the given order after a keyset position (``after``: the last row's keys);
    with ``topic_any`` (a topic filter) and ``restrict_topics`` (a key's topics), only
    entities named by current signals on one of each, counted over those signals. Counts are
    of public signals (so a count page lists public entities only); the name and relevance
    orders list what ``suppliers`` may know exists."""
    common: dict[str, Any] = {
        "restrict_topics": restrict_topics,
        "topic_any": topic_any,
        "type": type_,
        "q": q,
        "prefix": like_prefix(q) if q else None,
        "after_id": after["id"] if after else None,
        "limit": limit,
    }
    if sort == "count":
        after_count = after["count"] if after else None
        if restrict_topics is not None or topic_any is not None:  # topics checked signal by signal
            rows = await queries.count_entities_on_topics.fetch(
                conn, after_count=after_count, since=since, until=until, **common
            )
        else:  # whole days from the daily counts
            pieces = DayPieces.of(since, until).params()
            rows = await queries.count_entities_by_count.fetch(
                conn,
                after_count=after_count,
                **pieces,
                **{k: v for k, v in common.items() if k not in ("restrict_topics", "topic_any")},
            )
    elif sort == "name":
        rows = await queries.list_entities_by_name.fetch(
            conn, after_name=after["name"] if after else None, **common, **suppliers.params()
        )
    else:
        rows = await queries.search_entities.fetch(
            conn, after_score=after["score"] if after else None, **common, **suppliers.params()
        )
    return [EntityRow(**dict(row)) for row in rows]


async def entity_window_counts(
    conn: Executor,
    ids: list[int],
    since: datetime,
    until: datetime,
    restrict_topics: list[int] | None = None,
    topic_any: list[int] | None = None,
) -> dict[int, int]:
    if not ids:
        return {}
    rows = await queries.entity_window_counts.fetch(
        conn, ids=ids, since=since, until=until, restrict_topics=restrict_topics, topic_any=topic_any
    )
    return {row["id"]: row["count"] for row in rows}


async def get_entity(conn: Executor, entity_id: int, suppliers: SupplierView) -> EntityRecord | None:
    row = await queries.get_entity_by_id.fetchrow(conn, id=entity_id, **suppliers.params())
    return None if row is None else EntityRecord(**dict(row))


async def entity_named_on_topics(
    conn: Executor, entity_id: int, topic_ids: list[int], suppliers: SupplierView
) -> bool:
    return bool(
        await queries.entity_named_on_topics.fetchval(
            conn, id=entity_id, topic_ids=topic_ids, **suppliers.params()
        )
    )


async def entity_signal_counts(
    conn: Executor, entity_id: int, now: datetime, restrict_topics: list[int] | None = None
) -> tuple[int, int, int]:
    """Current signals naming the entity in the day, 7 days and 30 days before ``now``."""
    row = await queries.entity_signal_counts.fetchrow(
        conn, id=entity_id, now=now, restrict_topics=restrict_topics
    )
    assert row is not None
    return row["last_24h"], row["last_7d"], row["last_30d"]


async def entity_cooccurrences(
    conn: Executor, entity_id: int, *, sample: int, limit: int, restrict_topics: list[int] | None = None
) -> Cooccurrences:
    """The top entities and topics on the entity's newest ``sample`` current signals."""
    rows = await queries.entity_cooccurrences.fetch(
        conn, id=entity_id, sample=sample, limit=limit, restrict_topics=restrict_topics
    )
    return Cooccurrences(
        entities=[
            EntityRow(id=r["id"], name=r["name"], type=r["detail"], count=r["count"])
            for r in rows
            if r["kind"] == "entity"
        ],
        topics=[
            CoTopicRow(slug=r["name"], label=r["detail"], count=r["count"])
            for r in rows
            if r["kind"] == "topic"
        ],
        sample=next(r["count"] for r in rows if r["kind"] == "sample"),
    )
