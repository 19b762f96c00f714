"""Relating a new signal to the rest (the `relate_signal` job) and reading related coverage.

For each new signal, after its analysis is stored:

1. **embed** its card (headline, claim, key facts, topics) when an embeddings model is
   configured; a configuration the server cannot serve is logged and skipped, transient
   failures raise so the job is retried;
2. **place it in a story** (service/stories/placement.py): look for other reports of its
   event, then join or start a story under the story lock;
3. **find related coverage**: nearest neighbours by embedding (HNSW), signals sharing entities
   and topics (all of the rarest ones' signals, the newest of the common ones'), and sharing
   words in headline/claim/key facts; score each and say why (service/similarity/scoring.py);
4. **store** the best SIGNALS_RELATED_KEEP links, and the reverse link in each related
   signal's list where it ranks there (lists trimmed to the same size), then stamp
   ``related_at``.

Candidates are public (fetched) signals only. A signal made of supplied content is its
supplier's alone (service/keys/suppliers.py): it joins no story (a story is everyone's) and
gets links to public signals for its own card, but no reverse links: no other signal's list
names it.

Every step overwrites what a previous attempt wrote, so a retried job never duplicates.

This module composes the job: related coverage sits above stories (it reuses the story
search and reads stories), so it calls story placement, never the other way round.
"""

from __future__ import annotations

import dataclasses
import logging
from uuid import UUID

from schemas.related import RelatedSignals
from service.db.connections import Executor, Pool
from service.embeddings import Embedder, EmbeddingDimensionMismatch, EmbeddingsUnusable, vector_literal
from service.errors import NotFound
from service.keys.suppliers import SupplierView
from service.related import repository
from service.settings import Settings
from service.signals import repository as signals
from service.similarity.features import Candidate, Rarity, Subject
from service.similarity.scoring import Link, rank_links, score_link
from service.stories import repository as stories
from service.stories.candidates import candidate_features, candidate_ids, entity_keys, nearest_ids
from service.stories.candidates import rarity as read_rarity
from service.stories.matching import StoryRule
from service.stories.placement import StorySearch, assign_story

log = logging.getLogger(__name__)

MAX_RELATED_LIMIT = 100


async def relate_signal(pool: Pool, embedder: Embedder | None, settings: Settings, signal_id: UUID) -> None:
    """Embed, place in a story and link related coverage for one stored signal (idempotent).

    Raises only for trouble worth retrying (embeddings server down, database errors).
    """
    async with pool.acquire() as conn:
        found = await repository.get_subject(conn, signal_id)
    if found is None:
        log.info("signal %s no longer exists; nothing to relate", signal_id)
        return
    subject, current = found
    if not current:
        # A newer version of the article superseded it before this job ran; that version's
        # own job places it and links it. Old versions stay out of stories and lists.
        async with pool.acquire() as conn:
            await repository.mark_signal_related(conn, signal_id)
        return
    use_meaning = await _embed(pool, embedder, subject)
    story_id: UUID | None = None
    search: StorySearch | None = None
    if subject.supplier_id is None:
        rule = StoryRule.from_settings(settings)
        story_id, search = await assign_story(pool, embedder, rule, subject, use_meaning=use_meaning)
    subject = dataclasses.replace(subject, story_id=story_id)
    keep = settings.related_keep
    links = await _find_related(pool, embedder, keep, subject, use_meaning=use_meaning, search=search)
    await _store_links(pool, keep, subject, links)
    log.info("signal %s related: story %s, %d links", signal_id, story_id, len(links))


async def get_related(
    pool: Pool,
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
    async with pool.acquire() as conn:
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


async def _embed(pool: Pool, embedder: Embedder | None, subject: Subject) -> bool:
    """Make sure the signal has an embedding from the configured model; False: go without."""
    if embedder is None:
        return False
    async with pool.acquire() as conn:
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
    async with pool.acquire() as conn:
        await repository.store_embedding(
            conn, subject.id, embedder.model, embedder.dimensions, vector_literal(vector)
        )
    return True


# --- 3. related coverage (2. is service/stories/placement.py) ------------------------------------


async def _find_related(
    pool: Pool,
    embedder: Embedder | None,
    keep: int,
    subject: Subject,
    *,
    use_meaning: bool,
    search: StorySearch | None,
) -> list[Link]:
    """The best links for the signal, scored and explained. ``search``: the story search, when
    it ran; its nearest neighbours and words are reused (one HNSW search a job, not two)."""
    async with pool.acquire() as conn, conn.transaction():  # the kNN's search options are local
        if search is None:
            nearest = await nearest_ids(embedder, conn, subject, use_meaning=use_meaning)
            wording = None
        else:
            nearest, wording = search.nearest, search.wording
        ids = nearest + (wording or []) + await candidate_ids(conn, subject, text=wording is None)
        candidates = await _features(conn, subject, list(dict.fromkeys(ids)), search)
        topic_ids = set(subject.topic_ids).union(*(c.topic_ids for c in candidates))
        rarity = await read_rarity(conn, entity_keys(subject, candidates), topic_ids)
    return _best_links(subject, candidates, rarity, keep=keep, use_meaning=use_meaning)


async def _features(
    conn: Executor, subject: Subject, ids: list[UUID], search: StorySearch | None
) -> list[Candidate]:
    """How each of ``ids`` compares to the subject, in order. Those the story search compared
    are reused with their story read again (a signal's wording and meaning do not change, and
    one no longer current drops out); only the others are read and compared now."""
    known = {c.id: c for c in search.candidates} if search is not None else {}
    now = await stories.current_story_of_signals(conn, [i for i in ids if i in known])
    fresh = await candidate_features(conn, subject, [i for i in ids if i not in known])
    found = {c.id: c for c in fresh}
    found.update({i: dataclasses.replace(known[i], story_id=story) for i, story in now.items()})
    return [found[i] for i in ids if i in found]


def _best_links(
    subject: Subject, candidates: list[Candidate], rarity: Rarity, *, keep: int, use_meaning: bool
) -> list[Link]:
    links = [score_link(subject, c, rarity, use_meaning=use_meaning) for c in candidates]
    return rank_links([link for link in links if link is not None], keep)


# --- 4. storing ----------------------------------------------------------------------------------------


async def _store_links(pool: Pool, keep: int, subject: Subject, links: list[Link]) -> None:
    """Replace the signal's list; add the reverse links (none to a supplied signal), trimmed to
    the best of each list."""
    rows = [(subject.id, link.related_id, link.score, link.reason, link.same_story) for link in links]
    linked_back = links if subject.supplier_id is None else []
    rows += [(link.related_id, subject.id, link.score, link.reason, link.same_story) for link in linked_back]
    async with pool.acquire() as conn, conn.transaction():
        await repository.lock_related_writes(conn)
        await repository.delete_related_of_signal(conn, subject.id)
        await repository.delete_links_to_other_versions(conn, subject.article_id, subject.id)
        await repository.upsert_related_links(conn, rows)
        await repository.trim_related_lists(conn, [link.related_id for link in linked_back], keep)
        await repository.mark_signal_related(conn, subject.id)
