"""Use cases behind the topics API: counts and trending per window, one topic, its timeline,
and merging one topic into another."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Literal

import msgspec

from schemas.signals import SignalListItem, SignalPage
from schemas.topics import (
    TimelineBucket,
    TimeWindow,
    TopicCount,
    TopicCounts,
    TopicDetail,
    TopicLinks,
    TopicMerge,
    TopicPage,
    TopicRef,
    TopicTimeline,
)
from service.db.connections import Connection, Executor, Pool
from service.db.transactions import run_in_transaction
from service.errors import Conflict, InvalidRequest, NotFound
from service.keys.suppliers import EVERY_SUPPLIER, SupplierView
from service.pagination import decode_cursor_as, encode_cursor
from service.signals.listing import SignalQuery, list_signals
from service.time_window import Window, resolve_window
from service.topics import repository
from service.topics.cache import TopicCache
from service.topics.repository import TopicRow
from service.topics.taxonomy import topic_slug
from service.topics.visibility import is_hidden

DEFAULT_WINDOW = timedelta(days=7)
NEWEST_SIGNALS = 10
MAX_BUCKETS = 1000
"""About 2.7 years of days or 19 years of weeks: more is a mistake, not a chart."""
_STEP = {"day": timedelta(days=1), "week": timedelta(weeks=1)}
_DEFAULT_BUCKETS = {"day": 30, "week": 26}

Sort = Literal["count", "trending"]
Interval = Literal["day", "week"]


class _TopicsCursor(msgspec.Struct, frozen=True):
    """Position after the last item, and the window the first page resolved (so later pages
    count the same window even though "now" has moved)."""

    since: datetime
    until: datetime
    count: int
    trending: float
    id: int


def topic_links(slug: str) -> TopicLinks:
    return TopicLinks(
        self=f"/v1/topics/{slug}",
        timeline=f"/v1/topics/{slug}/timeline",
        signals=f"/v1/signals?topic={slug}",
    )


def _now() -> datetime:
    return datetime.now(UTC)


async def list_topics(
    pool: Pool,
    *,
    since: str | None,
    until: str | None,
    window: str | None,
    sort: Sort,
    limit: int,
    cursor: str | None,
    allowed_topics: tuple[int, ...] | None = None,
) -> TopicPage:
    """One page of topics seen in the window, by count or by growth; ``next`` is a cursor token.
    A key restricted to ``allowed_topics`` sees only those."""
    current = resolve_window(since=since, until=until, window=window, default=DEFAULT_WINDOW, now=_now())
    bound = {"since": since, "until": until, "window": window, "sort": sort}
    after = decode_cursor_as(cursor, "topics", _TopicsCursor, query=bound) if cursor else None
    if after is not None:
        current = Window(after.since, after.until)
    previous = current.previous()
    async with pool.acquire() as conn:
        rows = await repository.count_topics_page(
            conn,
            sort=sort,
            since=current.since,
            until=current.until,
            previous_since=previous.since,
            after_count=after.count if after else None,
            after_trending=after.trending if after else None,
            after_id=after.id if after else None,
            limit=limit + 1,  # one more tells whether another page follows
            restrict_topics=sorted(allowed_topics) if allowed_topics is not None else None,
        )
    token = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        position = _TopicsCursor(current.since, current.until, last.count, last.trending, last.topic_id)
        token = encode_cursor("topics", msgspec.to_builtins(position), query=bound)
    return TopicPage(
        items=[
            TopicCount(
                slug=r.slug,
                label=r.label,
                count=r.count,
                previous_count=r.previous_count,
                trending=r.trending,
                links=topic_links(r.slug),
            )
            for r in rows
        ],
        next=token,
        limit=limit,
        sort=sort,
        window=TimeWindow(since=current.since, until=current.until),
        previous_window=TimeWindow(since=previous.since, until=previous.until),
    )


async def _find_topic(
    conn: Executor, slug: str, allowed_topics: tuple[int, ...] | None, suppliers: SupplierView
) -> TopicRow:
    """The topic ``slug`` names (normalised like the model's labels, then through aliases), or
    404; the same 404 for a key restricted to other topics, and for a topic only other
    suppliers' content carries (the reader does not learn the topic exists)."""
    normalised = topic_slug(slug)
    topic = await repository.get_topic_by_slug_or_alias(conn, normalised, suppliers) if normalised else None
    if topic is None or not topic.known or is_hidden(topic.id, allowed_topics):
        raise NotFound(f"no topic {slug!r}", reason="unknown_topic")
    return topic


async def newest_signals(pool: Pool, topic_cache: TopicCache, query: SignalQuery) -> list[SignalListItem]:
    """The first page of ``GET /v1/signals`` for ``query``, as compact items."""
    page = await list_signals(pool, topic_cache, query)
    assert isinstance(page, SignalPage)  # include_card is off: compact items
    return page.items


async def get_topic(
    pool: Pool,
    topic_cache: TopicCache,
    slug: str,
    allowed_topics: tuple[int, ...] | None,
    suppliers: SupplierView,
) -> TopicDetail:
    """The topic ``slug`` (or an alias of it) names: label, aliases, counts (of public signals,
    as every aggregate), newest signals (those the reader sees)."""
    async with pool.acquire() as conn:
        topic = await _find_topic(conn, slug, allowed_topics, suppliers)
        day, week, month = await repository.topic_signal_counts(conn, topic.id, _now())
    query = SignalQuery(
        topics=(topic.slug,), limit=NEWEST_SIGNALS, restrict_topics=allowed_topics, suppliers=suppliers
    )
    signals = await newest_signals(pool, topic_cache, query)
    return TopicDetail(
        slug=topic.slug,
        label=topic.label,
        aliases=topic.aliases,
        created_at=topic.created_at,
        counts=TopicCounts(last_24h=day, last_7d=week, last_30d=month),
        signals=signals,
        links=topic_links(topic.slug),
    )


def bucket_start(moment: datetime, interval: Interval) -> datetime:
    """The UTC start of the day, or of the week (Monday), that ``moment`` falls in."""
    moment = moment.astimezone(UTC)
    day = datetime.combine(moment.date(), time.min, UTC)
    return day - timedelta(days=day.weekday()) if interval == "week" else day


def timeline_window(
    *, interval: Interval, since: str | None, until: str | None, window: str | None, now: datetime
) -> Window:
    """The timeline's window, its start aligned down to a bucket boundary.

    Without parameters: the last 30 days (for ``day``) or 26 weeks (for ``week``), the current,
    partial bucket included.
    """
    step = _STEP[interval]
    if since is None and until is None and window is None:
        start = bucket_start(now, interval) - (_DEFAULT_BUCKETS[interval] - 1) * step
        return Window(start, now)
    default = _DEFAULT_BUCKETS[interval] * step
    resolved = resolve_window(since=since, until=until, window=window, default=default, now=now)
    aligned = Window(bucket_start(resolved.since, interval), resolved.until)
    if aligned.length > MAX_BUCKETS * step:
        raise InvalidRequest(
            f"at most {MAX_BUCKETS} buckets; use interval=week or a shorter window",
            reason="too_many_buckets",
        )
    return aligned


async def get_timeline(
    pool: Pool,
    slug: str,
    *,
    interval: Interval,
    since: str | None,
    until: str | None,
    window: str | None,
    allowed_topics: tuple[int, ...] | None,
    suppliers: SupplierView,
) -> TopicTimeline:
    """Counts and mean sentiment of the topic's current public signals per bucket, zero-filled."""
    span = timeline_window(interval=interval, since=since, until=until, window=window, now=_now())
    async with pool.acquire() as conn:
        topic = await _find_topic(conn, slug, allowed_topics, suppliers)
        rows = await repository.topic_timeline(conn, topic.id, interval, span.since, span.until)
    return TopicTimeline(
        topic=TopicRef(slug=topic.slug, label=topic.label),
        interval=interval,
        window=TimeWindow(since=span.since, until=span.until),
        buckets=[
            TimelineBucket(start=r.start.replace(tzinfo=UTC), count=r.count, mean_sentiment=r.mean_sentiment)
            for r in rows
        ],
        links=topic_links(topic.slug),
    )


async def merge_topics(pool: Pool, slug: str, into: str) -> TopicMerge:
    """Merge topic ``slug`` into ``into``, in one transaction: every signal (link rows and
    topic_ids arrays, order kept, no repeats) moves to the target, the source slug and its
    aliases become the target's aliases, and the source topic is deleted. A transaction
    PostgreSQL rolls back to break a deadlock runs again."""

    async def work(conn: Connection) -> tuple[TopicRow, int, TopicRow | None]:
        source = await _find_topic(conn, slug, None, EVERY_SUPPLIER)
        if source.slug != topic_slug(slug):
            raise InvalidRequest(
                f"{slug!r} is an alias of {source.slug!r}; merge {source.slug!r} itself",
                reason="source_is_alias",
            )
        target = await repository.get_topic_by_slug_or_alias(conn, topic_slug(into), EVERY_SUPPLIER)
        if target is None:
            raise InvalidRequest(f"no topic {into!r} to merge into", reason="unknown_target")
        if target.id == source.id:
            raise InvalidRequest("a topic cannot be merged into itself", reason="merge_into_itself")
        locked = await repository.lock_topics(conn, [source.id, target.id])
        if set(locked) != {source.id, target.id}:
            # Another merge removed one of them between our read and our lock.
            raise Conflict("one of the topics was merged meanwhile; try again", reason="concurrent_merge")
        moved = await repository.merge_topic(
            conn, source_id=source.id, source_slug=source.slug, target_id=target.id
        )
        return source, moved, await repository.get_topic_by_slug_or_alias(conn, target.slug, EVERY_SUPPLIER)

    source, moved, merged = await run_in_transaction(pool, work, what=f"merging topic {slug!r} into {into!r}")
    assert merged is not None
    return TopicMerge(
        merged=source.slug,
        into=TopicRef(slug=merged.slug, label=merged.label),
        signals_moved=moved,
        aliases=merged.aliases,
        links=topic_links(merged.slug),
    )
