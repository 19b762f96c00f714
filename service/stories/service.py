"""Use cases behind the stories API: a page of stories, one story with its signals.

Pages are keyset-paginated on (last_seen, id), newest activity first, with an opaque cursor
(``service.pagination``) that carries the last item's position, never an offset. A story
that gains a signal while a client pages moves to the front: the client does not see it
twice, and a fresh first page shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import msgspec

from schemas.stories import Story, StoryLinks, StoryListItem
from service.db.connections import Pool
from service.errors import BadRequest, NotFound
from service.pagination import decode_cursor_as, encode_cursor
from service.stories import repository
from service.stories.repository import StoryRow

MAX_LIMIT = 100
STORY_SIGNALS_SHOWN = 100


class _Position(msgspec.Struct, kw_only=True, frozen=True):
    """Where a page ended: the last story's last_seen and id."""

    seen: datetime
    id: UUID


def _decode_position(token: str) -> _Position:
    position = decode_cursor_as(token, "stories", _Position)
    if position.seen.tzinfo is None:
        raise BadRequest("the cursor is not valid; start again without one", reason="bad_cursor")
    return position


@dataclass(frozen=True, slots=True)
class StoryListing:
    items: list[StoryListItem]
    next_cursor: str | None


def _links(story_id: UUID) -> StoryLinks:
    return StoryLinks(self=f"/v1/stories/{story_id}", signals=f"/v1/signals?story={story_id}")


def _item(row: StoryRow) -> StoryListItem:
    return StoryListItem(
        id=row.id,
        title=row.title,
        lead_signal_id=row.lead_signal_id,
        signal_count=row.signal_count,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        links=_links(row.id),
    )


async def list_stories(
    pool: Pool, *, limit: int, cursor: str | None, allowed_topics: tuple[int, ...] | None = None
) -> StoryListing:
    """Up to ``limit`` (1..100) stories after ``cursor``, most recently active first.

    A key restricted to ``allowed_topics`` sees only stories with a current signal on one of
    them, each counted, dated and titled from those signals alone (a story's own title is
    its lead's headline, which may be outside the key's topics).
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}", reason="bad_parameter")
    position = _decode_position(cursor) if cursor else None
    async with pool.acquire() as conn:
        rows = await repository.list_stories_page(
            conn,
            after_seen=position.seen if position else None,
            after_id=position.id if position else None,
            limit=limit + 1,  # one more tells whether a next page exists
            restrict_topics=_restriction(allowed_topics),
        )
    page = rows[:limit]
    next_cursor = (
        encode_cursor("stories", {"seen": page[-1].last_seen, "id": page[-1].id})
        if len(rows) > limit
        else None
    )
    return StoryListing(items=[_item(row) for row in page], next_cursor=next_cursor)


def _restriction(allowed_topics: tuple[int, ...] | None) -> list[int] | None:
    return sorted(allowed_topics) if allowed_topics is not None else None


async def get_story(pool: Pool, story_id: UUID, allowed_topics: tuple[int, ...] | None = None) -> Story:
    """One story with its sources and its newest 100 signals (404 if unknown). A key
    restricted to ``allowed_topics`` sees only its signals on those topics, and 404 for a
    story with none."""
    restrict = _restriction(allowed_topics)
    async with pool.acquire() as conn:
        row = await repository.get_story(conn, story_id, restrict)
        if row is None:
            raise NotFound(f"no story {story_id}")
        signals = await repository.story_signals(conn, story_id, STORY_SIGNALS_SHOWN, restrict)
        sources = await repository.story_sources(conn, story_id, restrict)
    return Story(
        id=row.id,
        title=row.title,
        lead_signal_id=row.lead_signal_id,
        signal_count=row.signal_count,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        sources=sources,
        signals=signals,
        links=_links(row.id),
    )
