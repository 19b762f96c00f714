"""Reading briefings: one by id, the latest of a period, a page of them, their feed.

What readers ask of stored briefings, apart from requesting and writing them
(``service.digests.service``): a restricted key sees only briefings of its topics, and
one outside them answers 404 as an unknown one would.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import msgspec

from schemas.digests import Digest, DigestListItem
from service.db.connections import Executor, Pool
from service.digests import repository
from service.digests.feeds import FEED_SIZE, feed_title, render_digest_feed
from service.digests.periods import Period, period_window
from service.digests.present import to_digest, to_item
from service.digests.repository import DigestRow
from service.errors import BadRequest, NotFound
from service.feeds.service import FeedFormat, RenderedFeed
from service.keys.suppliers import PUBLIC_ONLY
from service.pagination import decode_cursor_as, encode_cursor
from service.topics import repository as topics
from service.topics.repository import TopicRow
from service.topics.taxonomy import topic_slug
from service.topics.visibility import is_hidden

MAX_LIMIT = 100


async def find_topic(conn: Executor, slug: str | None, allowed: tuple[int, ...] | None) -> TopicRow | None:
    """The topic a slug or alias names (None for none given); 404 for an unknown one, and
    the same 404 for one outside ``allowed`` (a restricted key's topics: it does not learn
    that the topic exists, nor its label). Briefings are written from public signals only, so
    a topic only supplied content carries has none for anyone: it is unknown here too."""
    if slug is None:
        return None
    normalised = topic_slug(slug)
    topic = await topics.get_topic_by_slug_or_alias(conn, normalised, PUBLIC_ONLY) if normalised else None
    if topic is None or not topic.known or is_hidden(topic.id, allowed):
        raise NotFound(f"no topic {slug!r}", reason="unknown_topic")
    return topic


def _visible(row: DigestRow | None, allowed: tuple[int, ...] | None) -> DigestRow | None:
    if row is None or (allowed is not None and row.topic_id not in allowed):
        return None  # 404, not 403: a restricted key does not learn that it exists
    return row


async def get_digest(pool: Pool, digest_id: UUID, *, allowed_topics: tuple[int, ...] | None) -> Digest:
    async with pool.acquire() as conn:
        row = _visible(await repository.get_digest(conn, digest_id), allowed_topics)
    if row is None:
        raise NotFound(f"no digest {digest_id}")
    return to_digest(row)


async def latest_digest(
    pool: Pool,
    *,
    period: Period,
    topic: str | None,
    day: date | None,
    allowed_topics: tuple[int, ...] | None,
) -> Digest:
    """The latest version of the newest briefing (or of the period holding ``day``)."""
    start = period_window(period, day).start if day else None
    async with pool.acquire() as conn:
        found = await find_topic(conn, topic, allowed_topics)
        row = await repository.latest_digest(
            conn, period=period, topic_id=found.id if found else None, period_start=start
        )
        row = _visible(row, allowed_topics)
    if row is None:
        about = f" about {found.label}" if found else ""
        when = f" for {period_window(period, day).label()}" if day else ""
        raise NotFound(f"no {period} briefing{about}{when} has been written", reason="no_digest")
    return to_digest(row)


async def list_digests(
    pool: Pool,
    *,
    period: Period | None,
    topic: str | None,
    versions: str,
    limit: int,
    cursor: str | None,
    allowed_topics: tuple[int, ...] | None,
) -> tuple[list[DigestListItem], str | None]:
    """A page of briefings (general ones, or one topic's) newest period first, and the next
    cursor. ``versions='all'`` lists every version, not only the latest of each period."""
    rows, token = await _page(pool, period, topic, versions, limit, cursor, allowed_topics)
    return [to_item(row) for row in rows], token


async def digest_feed(
    pool: Pool,
    fmt: FeedFormat,
    *,
    period: Period | None,
    topic: str | None,
    self_url: str,
    api_base: str,
    allowed_topics: tuple[int, ...] | None,
) -> RenderedFeed:
    """The newest briefings (latest versions) as an Atom, RSS or JSON Feed document."""
    async with pool.acquire() as conn:
        found = await find_topic(conn, topic, allowed_topics)
    rows, _ = await _page(pool, period, topic, "latest", FEED_SIZE, None, allowed_topics)
    title = feed_title(period, found.label if found else None)
    digests = [to_digest(row) for row in rows]
    return render_digest_feed(fmt, digests, title=title, self_url=self_url, api_base=api_base)


async def _page(
    pool: Pool,
    period: Period | None,
    topic: str | None,
    versions: str,
    limit: int,
    cursor: str | None,
    allowed_topics: tuple[int, ...] | None,
) -> tuple[list[DigestRow], str | None]:
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}", reason="bad_parameter")
    bound = {"period": period, "topic": topic, "versions": versions}
    after = None
    if cursor is not None:
        position = decode_cursor_as(cursor, "digests", _Position, query=bound)
        after = (position.s, position.c, position.i)
    async with pool.acquire() as conn:
        found = await find_topic(conn, topic, allowed_topics)
        rows = await repository.list_digests_page(
            conn,
            period=period,
            topic_id=found.id if found else None,
            latest_only=versions == "latest",
            restrict_topics=list(allowed_topics) if allowed_topics is not None else None,
            after=after,
            limit=limit + 1,  # one more tells whether a next page exists
        )
    page = rows[:limit]
    token = None
    if len(rows) > limit:
        last = page[-1]
        position = _Position(s=last.period_start, c=last.created_at, i=last.id)
        token = encode_cursor("digests", msgspec.to_builtins(position), query=bound)
    return page, token


class _Position(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where a page of briefings ended: period start, created_at and id of the last one."""

    s: date
    c: datetime
    i: UUID
