"""Rows for stories and story membership, through named queries; returns Structs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from schemas.stories import StorySignal, StorySignalLinks, StorySource
from service.db.connections import Executor
from service.db.queries import queries


@dataclass(frozen=True, slots=True)
class StoryRow:
    id: UUID
    title: str
    lead_signal_id: UUID | None
    signal_count: int
    first_seen: datetime
    last_seen: datetime


RESTRICTED_WALK = 8
"""Signals walked per story wanted on a topic-restricted page, at first (sql/queries/stories.sql)."""


def _story(row: Any) -> StoryRow:
    return StoryRow(
        id=row["id"],
        title=row["title"],
        lead_signal_id=row["lead_signal_id"],
        signal_count=row["signal_count"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
    )


# --- membership (the relate job, under the story lock) ----------------------------------------------


async def story_placement_mark(conn: Executor) -> int:
    """Where the placement log stands for a search about to begin."""
    return int(await queries.story_placement_mark.fetchval(conn))


async def signals_placed_since(conn: Executor, mark: int) -> list[UUID]:
    rows = await queries.signals_placed_since.fetch(conn, mark=mark)
    return [row["signal_id"] for row in rows]


async def record_story_placement(conn: Executor, signal_id: UUID) -> int:
    """Logs the placement (under the lock); its number in commit order."""
    return int(await queries.record_story_placement.fetchval(conn, signal_id=signal_id))


async def prune_story_placements(conn: Executor, keep_seconds: float) -> None:
    await queries.prune_story_placements.execute(conn, keep_seconds=keep_seconds)


async def current_story_of_signals(conn: Executor, ids: list[UUID]) -> dict[UUID, UUID | None]:
    """The story of each of ``ids`` now; signals no longer current are left out."""
    if not ids:
        return {}
    rows = await queries.current_story_of_signals.fetch(conn, ids=ids)
    return {row["id"]: row["story_id"] for row in rows}


async def story_of_signal(conn: Executor, signal_id: UUID) -> UUID | None:
    value: UUID | None = await queries.story_of_signal.fetchval(conn, id=signal_id)
    return value


async def story_of_other_versions(conn: Executor, article_id: UUID, signal_id: UUID) -> UUID | None:
    value: UUID | None = await queries.story_of_other_versions.fetchval(
        conn, article_id=article_id, signal_id=signal_id
    )
    return value


async def create_story(conn: Executor, signal_id: UUID) -> UUID:
    value: UUID = await queries.create_story.fetchval(conn, signal_id=signal_id)
    return value


async def set_signal_story(conn: Executor, signal_id: UUID, story_id: UUID) -> None:
    await queries.set_signal_story.execute(conn, signal_id=signal_id, story_id=story_id)


# --- reads ----------------------------------------------------------------------------------------


async def list_stories_page(
    conn: Executor,
    *,
    after_seen: datetime | None,
    after_id: UUID | None,
    limit: int,
    restrict_topics: list[int] | None = None,
) -> list[StoryRow]:
    """A page of stories; with ``restrict_topics``, as a key restricted to them sees stories."""
    if restrict_topics is not None:
        # Walk the key's signals newest first, far enough for ``limit`` stories (~3 signals
        # each, some already listed on earlier pages): longer walks only when that fell short.
        scan = RESTRICTED_WALK * limit
        while True:
            rows = await queries.list_stories_page_restricted.fetch(
                conn,
                after_seen=after_seen,
                after_id=after_id,
                limit=limit,
                topic_ids=restrict_topics,
                scan=scan,
            )
            page = [row for row in rows if row["id"] is not None]
            if len(page) == limit or rows[0]["walked"] < scan:
                return [_story(row) for row in page]
            scan *= 4
    else:
        rows = await queries.list_stories_page.fetch(
            conn, after_seen=after_seen, after_id=after_id, limit=limit
        )
    return [_story(row) for row in rows]


async def get_story(
    conn: Executor, story_id: UUID, restrict_topics: list[int] | None = None
) -> StoryRow | None:
    if restrict_topics is not None:
        row = await queries.get_story_restricted.fetchrow(conn, id=story_id, topic_ids=restrict_topics)
    else:
        row = await queries.get_story.fetchrow(conn, id=story_id)
    return None if row is None else _story(row)


async def story_signals(
    conn: Executor, story_id: UUID, limit: int, restrict_topics: list[int] | None = None
) -> list[StorySignal]:
    rows = await queries.story_signals.fetch(
        conn, story_id=story_id, limit=limit, restrict_topics=restrict_topics
    )
    return [
        StorySignal(
            id=row["id"],
            title=row["title"],
            summary=row["summary"],
            url=row["url"],
            site_name=row["site_name"],
            published_date=row["published_date"],
            created_at=row["created_at"],
            is_lead=row["is_story_lead"],
            links=StorySignalLinks(self=f"/v1/signals/{row['id']}"),
        )
        for row in rows
    ]


async def story_sources(
    conn: Executor, story_id: UUID, restrict_topics: list[int] | None = None
) -> list[StorySource]:
    rows = await queries.story_sources.fetch(conn, story_id=story_id, restrict_topics=restrict_topics)
    return [
        StorySource(site_name=row["site_name"], signal_count=row["signals"], first_seen=row["first_seen"])
        for row in rows
    ]
