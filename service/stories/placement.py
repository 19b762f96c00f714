"""Placing a new signal in its story (step 2 of the relate job, ``service.related.service``).

Look for other reports of its event (nearest by embedding, sharing names), then under a
transaction-level advisory lock read the stories they are in now and the signals placed
since the look began, and join or start one, so two workers relating two reports of one
event at once cannot both start a story while the slow search holds no lock (the rule:
service/stories/matching.py; the placement log: migration 0018)."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from service.db.connections import Connection, Executor, Pool
from service.embeddings import Embedder
from service.signals import repository as signals
from service.similarity.features import Candidate, Rarity, Subject
from service.stories import repository
from service.stories.candidates import (
    candidate_features,
    candidate_ids,
    entity_keys,
    nearest_ids,
    similar_wording,
)
from service.stories.candidates import rarity as read_rarity
from service.stories.matching import StoryRule, choose_story

PLACEMENT_LOG_KEEP = timedelta(hours=1)
"""How long placements stay in the log a search reads under the lock (migration 0018)."""
SEARCH_FRESH_FOR = timedelta(minutes=10)
"""A search older than this when the lock is taken is run again under it: the log may no
longer hold every placement made since it began (the log keeps six times as long)."""
PRUNE_EVERY = 500
"""Placements between two prunings of the log."""


@dataclass(frozen=True, slots=True)
class StorySearch:
    """Other reports of the subject's event, looked for before taking the story lock."""

    mark: int
    """The newest placement the search could see (``story_placement_mark``, read first)."""
    candidates: list[Candidate]
    rarity: Rarity
    rarity_keys: frozenset[str]
    """The entity keys ``rarity`` was asked for."""
    nearest: list[UUID]
    """The nearest neighbours by embedding, best first (related coverage reuses them)."""
    wording: list[UUID] | None
    """The signals sharing the subject's rarest words, when the search looked (without
    embeddings; related coverage reuses them)."""
    started: float
    """``time.monotonic()`` when the search began."""


async def assign_story(
    pool: Pool, embedder: Embedder | None, rule: StoryRule, subject: Subject, *, use_meaning: bool
) -> tuple[UUID, StorySearch | None]:
    """The signal's story: the one it is already in (a retry), its article's (a new version),
    the closest same-event signal's, or a new one; and the search, if it searched.

    The search runs without the story lock, so relate steps on several workers overlap; only
    the placement holds it (see ``place_in_story``)."""
    async with pool.acquire() as conn:
        search = None
        if await _placed_story(conn, subject) is None:
            async with conn.transaction():  # the kNN's search options are local
                search = await search_story(embedder, conn, subject, rule, use_meaning=use_meaning)
        async with conn.transaction():
            story_id = await place_in_story(embedder, conn, subject, search, rule, use_meaning=use_meaning)
    return story_id, search


async def _placed_story(conn: Executor, subject: Subject) -> UUID | None:
    """The story the signal is already in, or that its article's other versions are in."""
    story_id = await repository.story_of_signal(conn, subject.id)
    if story_id is None:
        story_id = await repository.story_of_other_versions(conn, subject.article_id, subject.id)
    return story_id


async def search_story(
    embedder: Embedder | None, conn: Connection, subject: Subject, rule: StoryRule, *, use_meaning: bool
) -> StorySearch:
    """Current signals that may report the subject's event, compared with it. Run inside a
    transaction; the placement log's mark is read before anything else."""
    mark = await repository.story_placement_mark(conn)
    started = time.monotonic()
    nearest = await nearest_ids(embedder, conn, subject, use_meaning=use_meaning)
    # without vectors, wording is how copies of the report are found when the model named no
    # one in them (or spelled the names differently), and other reports of the event when the
    # names rule is off
    wording = None if use_meaning else await similar_wording(conn, subject)
    ids = nearest + (wording or [])
    ids += await candidate_ids(
        conn,
        subject,
        within=(subject.created_at - rule.window, subject.created_at + rule.window),
        topics=False,
        text=False,
    )
    candidates = await candidate_features(conn, subject, list(dict.fromkeys(ids)))
    keys = entity_keys(subject, candidates)
    rarity = await read_rarity(conn, keys, set())
    return StorySearch(mark, candidates, rarity, frozenset(keys), nearest, wording, started)


async def place_in_story(
    embedder: Embedder | None,
    conn: Connection,
    subject: Subject,
    search: StorySearch | None,
    rule: StoryRule,
    *,
    use_meaning: bool,
) -> UUID:
    """Put the signal in its story under the story lock, in the caller's transaction.

    Two reports of one event relating at once must not both start a story. The lock orders
    placements; ``search`` ran before it, so this adds the signals placed since the search
    began (the log) and reads every candidate's story again. With no search, or a stale one,
    it searches now, holding the lock."""
    await signals.lock_story_assignment(conn)
    story_id = await _placed_story(conn, subject)
    if story_id is None:
        if search is None or time.monotonic() - search.started > SEARCH_FRESH_FOR.total_seconds():
            search = await search_story(embedder, conn, subject, rule, use_meaning=use_meaning)
        candidates, rarity = await _brought_up_to_date(conn, subject, search)
        story_id = choose_story(subject, candidates, rarity, rule, use_meaning=use_meaning)
        if story_id is None:
            story_id = await repository.create_story(conn, subject.id)
    await repository.set_signal_story(conn, subject.id, story_id)
    await signals.refresh_story(conn, story_id)
    if await repository.record_story_placement(conn, subject.id) % PRUNE_EVERY == 0:
        await repository.prune_story_placements(conn, PLACEMENT_LOG_KEEP.total_seconds())
    return story_id


async def _brought_up_to_date(
    conn: Executor, subject: Subject, search: StorySearch
) -> tuple[list[Candidate], Rarity]:
    """The search's candidates with the stories they are in now (those no longer current
    dropped), plus the signals placed since it began; rarity for any names it lacked."""
    now = await repository.current_story_of_signals(conn, [c.id for c in search.candidates])
    candidates = [dataclasses.replace(c, story_id=now[c.id]) for c in search.candidates if c.id in now]
    seen = {c.id for c in search.candidates} | {subject.id}
    placed = [i for i in await repository.signals_placed_since(conn, search.mark) if i not in seen]
    candidates += await candidate_features(conn, subject, list(dict.fromkeys(placed)))
    rarity = search.rarity
    missing = entity_keys(subject, candidates) - search.rarity_keys
    if missing:
        more = await read_rarity(conn, missing, set())
        rarity = dataclasses.replace(rarity, entity_counts={**rarity.entity_counts, **more.entity_counts})
    return candidates, rarity
