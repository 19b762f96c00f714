"""Rows for topics: window counts, one topic, its timeline, the steps of a merge, and the
vocabulary new signals are filed under (slugs, aliases, new topics)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from service.db.connections import Connection, Executor
from service.db.queries import queries
from service.keys.suppliers import SupplierView
from service.time_window import DayPieces


class TopicRow(msgspec.Struct, kw_only=True, frozen=True):
    """A topic as stored, with its aliases."""

    id: int
    slug: str
    label: str
    created_at: datetime
    aliases: list[str]
    known: bool
    """Whether the reader it was read for may know it exists (topic_known_to_reader)."""


class ResolvedTopic(msgspec.Struct, kw_only=True, frozen=True):
    """The topic a slug names, as one reader sees it."""

    id: int
    public: bool
    """A fetched signal carried it: everyone may know it (for good)."""
    known: bool
    """The reader may know it exists."""


class TopicCountRow(msgspec.Struct, kw_only=True, frozen=True):
    topic_id: int
    slug: str
    label: str
    count: int
    previous_count: int
    trending: float


class BucketRow(msgspec.Struct, kw_only=True, frozen=True):
    start: datetime
    count: int
    mean_sentiment: float | None


async def count_topics_page(
    conn: Executor,
    *,
    sort: Literal["count", "trending"],
    since: datetime,
    until: datetime,
    previous_since: datetime,
    after_count: int | None,
    after_trending: float | None,
    after_id: int | None,
    limit: int,
    restrict_topics: list[int] | None = None,
) -> list[TopicCountRow]:
    """Topics seen in ``[since, until)`` after a keyset position, by count or by trending
    (only ``restrict_topics``, when given)."""
    params: dict[str, Any] = {
        "restrict_topics": restrict_topics,
        "since": since,
        **DayPieces.of(previous_since, since, until).params(),
        "after_count": after_count,
        "after_id": after_id,
        "limit": limit,
    }
    if sort == "trending":
        rows = await queries.count_topics_by_trending.fetch(conn, after_trending=after_trending, **params)
    else:
        rows = await queries.count_topics_by_count.fetch(conn, **params)
    return [TopicCountRow(**dict(row)) for row in rows]


async def get_topic_by_slug_or_alias(conn: Executor, slug: str, suppliers: SupplierView) -> TopicRow | None:
    """The topic ``slug`` names, with whether a reader seeing ``suppliers`` may know it."""
    row = await queries.get_topic_by_slug_or_alias.fetchrow(conn, slug=slug, **suppliers.params())
    return None if row is None else TopicRow(**dict(row))


async def resolve_topic_slugs_for_reader(
    conn: Executor, slugs: list[str], suppliers: SupplierView
) -> dict[str, ResolvedTopic]:
    """The topic each slug names (directly or through an alias); unknown slugs are left out."""
    rows = await queries.resolve_topic_slugs_for_reader.fetch(conn, slugs=slugs, **suppliers.params())
    return {
        row["slug"]: ResolvedTopic(id=row["topic_id"], public=row["is_public"], known=row["known"])
        for row in rows
    }


async def topic_signal_counts(conn: Executor, topic_id: int, now: datetime) -> tuple[int, int, int]:
    """Current signals of the topic in the day, 7 days and 30 days before ``now``."""
    row = await queries.topic_signal_counts.fetchrow(conn, topic_id=topic_id, now=now)
    assert row is not None
    return row["last_24h"], row["last_7d"], row["last_30d"]


async def topic_timeline(
    conn: Executor, topic_id: int, interval: str, since: datetime, until: datetime
) -> list[BucketRow]:
    rows = await queries.topic_timeline.fetch(
        conn,
        topic_id=topic_id,
        interval=interval,
        since=since,
        until=until,
        **DayPieces.of(since, until).params(),
    )
    return [BucketRow(**dict(row)) for row in rows]


async def lock_topics(conn: Connection, ids: list[int]) -> dict[int, str]:
    """Lock the topics (FOR UPDATE, id order) inside the caller's transaction; id → slug."""
    return {row["id"]: row["slug"] for row in await queries.lock_topics_for_merge.fetch(conn, ids=ids)}


def _affected(status: str) -> int:
    # asyncpg returns the command tag; its last word is the number of rows
    return int(status.rsplit(" ", 1)[-1])


async def merge_topic(conn: Executor, *, source_id: int, source_slug: str, target_id: int) -> int:
    """Move every signal of the source topic to the target, record the aliases and delete the
    source. Must run inside a transaction holding both topics' locks. Returns signals moved."""
    # Triggers: signals_count_days_update, signals_make_names_public; nothing logged (README "Architecture").
    moved = _affected(
        await queries.merge_topic_into_signal_arrays.execute(conn, source_id=source_id, target_id=target_id)
    )
    await queries.merge_topic_links.execute(conn, source_id=source_id, target_id=target_id)
    await queries.merge_topic_aliases.execute(
        conn, source_id=source_id, source_slug=source_slug, target_id=target_id
    )
    # API keys restricted to the source topic follow it (else they would see nothing of it)
    await queries.merge_topic_into_key_restrictions.fetch(conn, source_id=source_id, target_id=target_id)
    await queries.delete_topic.execute(conn, id=source_id)
    # the source slug now names the target: cached resolutions of it are stale
    await queries.notify_topics_changed.fetchrow(conn, source_slug=source_slug)
    return moved


# --- the vocabulary: slugs, aliases and new topics (a new signal's labels) -------------------------


async def resolve_topic_slugs(conn: Executor, slugs: list[str]) -> dict[str, int | None]:
    rows = await queries.resolve_topic_slugs.fetch(conn, slugs=slugs)
    return {row["slug"]: row["topic_id"] for row in rows}


async def topics_with_slug_prefix(conn: Executor, prefix: str) -> list[tuple[int, str]]:
    return [
        (row["id"], row["slug"]) for row in await queries.topics_with_slug_prefix.fetch(conn, prefix=prefix)
    ]


async def insert_topic_alias(conn: Executor, alias: str, topic_id: int, source: str) -> None:
    await queries.insert_topic_alias.execute(conn, alias=alias, topic_id=topic_id, source=source)


async def upsert_topic(conn: Executor, slug: str, label: str) -> int:
    value: int = await queries.upsert_topic.fetchval(conn, slug=slug, label=label)
    return value
