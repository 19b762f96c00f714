"""Relating a new signal to the rest (the `relate_signal` job) and reading related coverage.

For each new signal, after its analysis is stored:

1. **embed** its card (headline, claim, key facts, topics) when an embeddings model is
   configured; a configuration the server cannot serve is logged and skipped, transient
   failures raise so the job is retried;
2. **place it in a story**: look for other reports of its event (nearest by embedding,
   sharing names), then under a transaction-level advisory lock read the stories they are in
   now and the signals placed since the look began, and join or start one, so two workers
   relating two reports of one event at once cannot both start a story while the slow search
   holds no lock (see service/stories/matching.py and migration 0018);
3. **find related coverage**: nearest neighbours by embedding (HNSW), signals sharing entities
   and topics (all of the rarest ones' signals, the newest of the common ones'), and sharing
   words in headline/claim/key facts; score each and say why (service/related/scoring.py);
4. **store** the best SIGNALS_RELATED_KEEP links, and the reverse link in each related
   signal's list where it ranks there (lists trimmed to the same size), then stamp
   ``related_at``.

Candidates are public (fetched) signals only. A signal made of supplied content is its
supplier's alone (service/keys/suppliers.py): it joins no story (a story is everyone's) and
gets links to public signals for its own card, but no reverse links: no other signal's list
names it.

Every step overwrites what a previous attempt wrote, so a retried job never duplicates.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from schemas.related import RelatedSignals
from service.errors import NotFound
from service.keys.suppliers import SupplierView
from service.related import repository
from service.related.embeddings import EmbeddingDimensionMismatch, EmbeddingsUnusable, vector_literal
from service.related.features import Candidate, Rarity, Subject
from service.related.scoring import Link, rank_links, score_link
from service.runtime import Runtime
from service.signals import repository as signals
from service.stories import repository as stories
from service.stories.matching import StoryRule, choose_story

log = logging.getLogger(__name__)

NEAREST_CANDIDATES = 50
ENTITY_CANDIDATES = 50
TOPIC_CANDIDATES = 30
TEXT_CANDIDATES = 30
MAX_RELATED_LIMIT = 100


async def relate_signal(rt: Runtime, signal_id: UUID) -> None:
    """Embed, place in a story and link related coverage for one stored signal (idempotent).

    Raises only for trouble worth retrying (embeddings server down, database errors).
    """
    async with rt.db.pool.acquire() as conn:
        found = await repository.get_subject(conn, signal_id)
    if found is None:
        log.info("signal %s no longer exists; nothing to relate", signal_id)
        return
    subject, current = found
    if not current:
        # A newer version of the article superseded it before this job ran; that version's
        # own job places it and links it. Old versions stay out of stories and lists.
        async with rt.db.pool.acquire() as conn:
            await repository.mark_signal_related(conn, signal_id)
        return
    use_meaning = await _embed(rt, subject)
    story_id: UUID | None = None
    search: StorySearch | None = None
    if subject.supplier_id is None:
        story_id, search = await _assign_story(rt, subject, use_meaning=use_meaning)
    subject = dataclasses.replace(subject, story_id=story_id)
    links = await _find_related(rt, subject, use_meaning=use_meaning, search=search)
    await _store_links(rt, subject, links)
    log.info("signal %s related: story %s, %d links", signal_id, story_id, len(links))


async def get_related(
    rt: Runtime,
    signal_id: UUID,
    limit: int,
    *,
    allowed_topics: tuple[int, ...] | None,
    suppliers: SupplierView,
) -> RelatedSignals:
    """A signal's stored related coverage, best first (404 for an unknown signal).

    A key restricted to ``allowed_topics`` gets 404 for a signal outside them (as for the
    signal itself) and sees only related signals carrying one of them; any reader gets 404
    for a signal made of content of a supplier it does not see (``suppliers``).
    """
    restrict = sorted(allowed_topics) if allowed_topics is not None else None
    async with rt.db.pool.acquire() as conn:
        # a hidden signal is turned away by the first query, as an unknown one is
        if restrict is not None and not await signals.signal_has_any_topic(
            conn, signal_id, restrict, suppliers=suppliers
        ):
            raise NotFound(f"no signal {signal_id}")
        items = await repository.list_related_signals(conn, signal_id, limit, restrict, suppliers=suppliers)
        if not items and not await repository.signal_is_known(conn, signal_id, suppliers):
            raise NotFound(f"no signal {signal_id}")
    return RelatedSignals(signal_id=signal_id, items=items, limit=limit)


# --- 1. embedding ---------------------------------------------------------------------------------


async def _embed(rt: Runtime, subject: Subject) -> bool:
    """Make sure the signal has an embedding from the configured model; False: go without."""
    embedder = rt.embedder
    if embedder is None:
        return False
    async with rt.db.pool.acquire() as conn:
        if await repository.embedding_exists(conn, subject.id, embedder.model, embedder.dimensions):
            return True  # a retried job: the vector was stored by the earlier attempt
    try:
        [vector] = await embedder.embed([subject.card])
    except EmbeddingDimensionMismatch:
        # Logged as an error once, when first seen; every later signal just goes without.
        log.debug("signal %s: embeddings are off for this process", subject.id)
        return False
    except EmbeddingsUnusable as exc:
        log.error("signal %s: no embedding, relating by entities, topics and text: %s", subject.id, exc)
        return False
    async with rt.db.pool.acquire() as conn:
        await repository.store_embedding(
            conn, subject.id, embedder.model, embedder.dimensions, vector_literal(vector)
        )
    return True


# --- 2. story ---------------------------------------------------------------------------------------


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


async def _assign_story(
    rt: Runtime, subject: Subject, *, use_meaning: bool
) -> tuple[UUID, StorySearch | None]:
    """The signal's story: the one it is already in (a retry), its article's (a new version),
    the closest same-event signal's, or a new one; and the search, if it searched.

    The search runs without the story lock, so relate steps on several workers overlap; only
    the placement holds it (see ``place_in_story``)."""
    rule = StoryRule.from_settings(rt.settings)
    async with rt.db.pool.acquire() as conn:
        search = None
        if await _placed_story(conn, subject) is None:
            async with conn.transaction():  # the kNN's search options are local
                search = await search_story(rt, conn, subject, rule, use_meaning=use_meaning)
        async with conn.transaction():
            story_id = await place_in_story(rt, conn, subject, search, rule, use_meaning=use_meaning)
    return story_id, search


async def _placed_story(conn: Any, subject: Subject) -> UUID | None:
    """The story the signal is already in, or that its article's other versions are in."""
    story_id = await stories.story_of_signal(conn, subject.id)
    if story_id is None:
        story_id = await stories.story_of_other_versions(conn, subject.article_id, subject.id)
    return story_id


async def search_story(
    rt: Runtime, conn: Any, subject: Subject, rule: StoryRule, *, use_meaning: bool
) -> StorySearch:
    """Current signals that may report the subject's event, compared with it. Run inside a
    transaction; the placement log's mark is read before anything else."""
    mark = await stories.story_placement_mark(conn)
    started = time.monotonic()
    nearest = await _nearest(rt, conn, subject, use_meaning=use_meaning)
    # without vectors, wording is how copies of the report are found when the model named no
    # one in them (or spelled the names differently), and other reports of the event when the
    # names rule is off
    wording = None if use_meaning else await _similar_wording(conn, subject)
    ids = nearest + (wording or [])
    ids += await _candidate_ids(
        conn,
        subject,
        within=(subject.created_at - rule.window, subject.created_at + rule.window),
        topics=False,
        text=False,
    )
    candidates = await repository.candidate_features(conn, subject, list(dict.fromkeys(ids)))
    keys = _entity_keys(subject, candidates)
    rarity = await repository.rarity(conn, keys, set())
    return StorySearch(mark, candidates, rarity, frozenset(keys), nearest, wording, started)


async def place_in_story(
    rt: Runtime,
    conn: Any,
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
    await stories.lock_story_assignment(conn)
    story_id = await _placed_story(conn, subject)
    if story_id is None:
        if search is None or time.monotonic() - search.started > SEARCH_FRESH_FOR.total_seconds():
            search = await search_story(rt, conn, subject, rule, use_meaning=use_meaning)
        candidates, rarity = await _brought_up_to_date(conn, subject, search)
        story_id = choose_story(subject, candidates, rarity, rule, use_meaning=use_meaning)
        if story_id is None:
            story_id = await stories.create_story(conn, subject.id)
    await stories.set_signal_story(conn, subject.id, story_id)
    await stories.refresh_story(conn, story_id)
    if await stories.record_story_placement(conn, subject.id) % PRUNE_EVERY == 0:
        await stories.prune_story_placements(conn, PLACEMENT_LOG_KEEP.total_seconds())
    return story_id


async def _brought_up_to_date(
    conn: Any, subject: Subject, search: StorySearch
) -> tuple[list[Candidate], Rarity]:
    """The search's candidates with the stories they are in now (those no longer current
    dropped), plus the signals placed since it began; rarity for any names it lacked."""
    now = await stories.current_story_of_signals(conn, [c.id for c in search.candidates])
    candidates = [dataclasses.replace(c, story_id=now[c.id]) for c in search.candidates if c.id in now]
    seen = {c.id for c in search.candidates} | {subject.id}
    placed = [i for i in await stories.signals_placed_since(conn, search.mark) if i not in seen]
    candidates += await repository.candidate_features(conn, subject, list(dict.fromkeys(placed)))
    rarity = search.rarity
    missing = _entity_keys(subject, candidates) - search.rarity_keys
    if missing:
        more = await repository.rarity(conn, missing, set())
        rarity = dataclasses.replace(rarity, entity_counts={**rarity.entity_counts, **more.entity_counts})
    return candidates, rarity


async def _nearest(rt: Runtime, conn: Any, subject: Subject, *, use_meaning: bool) -> list[UUID]:
    """The signals nearest the subject in meaning, best first (in a transaction)."""
    if not use_meaning or rt.embedder is None:
        return []
    nearest = await repository.nearest_by_embedding(
        conn, subject.id, rt.embedder.model, rt.embedder.dimensions, NEAREST_CANDIDATES
    )
    return list(nearest)


async def _candidate_ids(
    conn: Any,
    subject: Subject,
    *,
    within: tuple[datetime, datetime] | None = None,
    topics: bool = True,
    text: bool = True,
) -> list[UUID]:
    """Current signals worth comparing with the subject besides its nearest in meaning:
    sharing names (created ``within`` a window, if given), sharing topics, sharing words."""
    keys = sorted(subject.entity_keys)
    ids = await repository.signals_sharing_entities(
        conn, subject.id, keys, within=within, k=ENTITY_CANDIDATES
    )
    if topics:
        topic_ids = sorted(subject.topic_ids)
        ids.extend(await repository.signals_sharing_topics(conn, subject.id, topic_ids, TOPIC_CANDIDATES))
    if text:
        ids.extend(await _similar_wording(conn, subject))
    return ids


async def _similar_wording(conn: Any, subject: Subject) -> list[UUID]:
    """Signals sharing the rarest words of the subject's headline and claim."""
    headline = subject.title + " " + subject.summary
    return await repository.signals_with_similar_text(conn, subject.id, headline, TEXT_CANDIDATES)


# --- 3. related coverage ------------------------------------------------------------------------------


async def _find_related(
    rt: Runtime, subject: Subject, *, use_meaning: bool, search: StorySearch | None
) -> list[Link]:
    """The best links for the signal, scored and explained. ``search``: the story search, when
    it ran; its nearest neighbours and words are reused (one HNSW search a job, not two)."""
    async with rt.db.pool.acquire() as conn, conn.transaction():  # the kNN's search options are local
        if search is None:
            nearest = await _nearest(rt, conn, subject, use_meaning=use_meaning)
            wording = None
        else:
            nearest, wording = search.nearest, search.wording
        ids = nearest + (wording or []) + await _candidate_ids(conn, subject, text=wording is None)
        candidates = await _features(conn, subject, list(dict.fromkeys(ids)), search)
        topic_ids = set(subject.topic_ids).union(*(c.topic_ids for c in candidates))
        rarity = await repository.rarity(conn, _entity_keys(subject, candidates), topic_ids)
    return _best_links(subject, candidates, rarity, keep=rt.settings.related_keep, use_meaning=use_meaning)


async def _features(
    conn: Any, subject: Subject, ids: list[UUID], search: StorySearch | None
) -> list[Candidate]:
    """How each of ``ids`` compares to the subject, in order. Those the story search compared
    are reused with their story read again (a signal's wording and meaning do not change, and
    one no longer current drops out); only the others are read and compared now."""
    known = {c.id: c for c in search.candidates} if search is not None else {}
    now = await stories.current_story_of_signals(conn, [i for i in ids if i in known])
    fresh = await repository.candidate_features(conn, subject, [i for i in ids if i not in known])
    found = {c.id: c for c in fresh}
    found.update({i: dataclasses.replace(known[i], story_id=story) for i, story in now.items()})
    return [found[i] for i in ids if i in found]


def _best_links(
    subject: Subject, candidates: list[Candidate], rarity: Rarity, *, keep: int, use_meaning: bool
) -> list[Link]:
    links = [score_link(subject, c, rarity, use_meaning=use_meaning) for c in candidates]
    return rank_links([link for link in links if link is not None], keep)


def _entity_keys(subject: Subject, candidates: list[Candidate]) -> set[str]:
    return set(subject.entity_keys).union(*(c.entity_keys for c in candidates))


# --- 4. storing ----------------------------------------------------------------------------------------


async def _store_links(rt: Runtime, subject: Subject, links: list[Link]) -> None:
    """Replace the signal's list; add the reverse links (none to a supplied signal), trimmed to
    the best of each list."""
    rows = [(subject.id, link.related_id, link.score, link.reason, link.same_story) for link in links]
    linked_back = links if subject.supplier_id is None else []
    rows += [(link.related_id, subject.id, link.score, link.reason, link.same_story) for link in linked_back]
    async with rt.db.pool.acquire() as conn, conn.transaction():
        await repository.lock_related_writes(conn)
        await repository.delete_related_of_signal(conn, subject.id)
        await repository.delete_links_to_other_versions(conn, subject.article_id, subject.id)
        await repository.upsert_related_links(conn, rows)
        await repository.trim_related_lists(
            conn, [link.related_id for link in linked_back], rt.settings.related_keep
        )
        await repository.mark_signal_related(conn, subject.id)
