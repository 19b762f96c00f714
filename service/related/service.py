"""Relating a new signal to the rest (the `relate_signal` job) and reading related coverage.

For each new signal, after its analysis is stored:

1. **embed** its card (headline, claim, key facts, topics) when an embeddings model is
   configured; a configuration the server cannot serve is logged and skipped, transient
   failures raise so the job is retried;
2. **place it in a story**, under a transaction-level advisory lock so two workers relating
   two reports of one event at once cannot both start a story (see service/stories/matching.py);
3. **find related coverage**: nearest neighbours by embedding (HNSW), signals sharing entities
   (rarest first), sharing topics, and sharing words in headline/claim/key facts; score each
   and say why (service/related/scoring.py);
4. **store** the best SIGNALS_RELATED_KEEP links, and the reverse link in each related
   signal's list where it ranks there (lists trimmed to the same size), then stamp
   ``related_at``.

Every step overwrites what a previous attempt wrote, so a retried job never duplicates.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from typing import Any
from uuid import UUID

from schemas.related import RelatedSignals
from service.errors import NotFound
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
    story_id = await _assign_story(rt, subject, use_meaning=use_meaning)
    subject = dataclasses.replace(subject, story_id=story_id)
    links = await _find_related(rt, subject, use_meaning=use_meaning)
    await _store_links(rt, subject, links)
    log.info("signal %s related: story %s, %d links", signal_id, story_id, len(links))


async def get_related(
    rt: Runtime, signal_id: UUID, limit: int, allowed_topics: tuple[int, ...] | None = None
) -> RelatedSignals:
    """A signal's stored related coverage, best first (404 for an unknown signal).

    A key restricted to ``allowed_topics`` gets 404 for a signal outside them (as for the
    signal itself) and sees only related signals carrying one of them.
    """
    restrict = sorted(allowed_topics) if allowed_topics is not None else None
    async with rt.db.pool.acquire() as conn:
        if restrict is not None and not await signals.signal_has_any_topic(conn, signal_id, restrict):
            raise NotFound(f"no signal {signal_id}")
        items = await repository.list_related_signals(conn, signal_id, limit, restrict)
        if not items and not await repository.signal_is_known(conn, signal_id):
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


async def _assign_story(rt: Runtime, subject: Subject, *, use_meaning: bool) -> UUID:
    """The signal's story: the one it is already in (a retry), its article's (a new version),
    the closest same-event signal's, or a new one. Keeps the story's lead and counts right."""
    rule = StoryRule.from_settings(rt.settings)
    async with rt.db.pool.acquire() as conn, conn.transaction():
        await stories.lock_story_assignment(conn)
        # Read under the lock: the candidates' stories are those committed by earlier holders.
        story_id = await stories.story_of_signal(conn, subject.id)
        if story_id is None:
            story_id = await stories.story_of_other_versions(conn, subject.article_id, subject.id)
        if story_id is None:
            candidates = await _candidates(
                rt,
                conn,
                subject,
                use_meaning=use_meaning,
                since=subject.created_at - rule.window,
                topics=False,
                # without names or vectors to go on, wording is the only way to find other reports
                text=not use_meaning and rule.min_shared_entities == 0,
            )
            rarity = await repository.rarity(conn, _entity_keys(subject, candidates), set())
            story_id = choose_story(subject, candidates, rarity, rule, use_meaning=use_meaning)
        if story_id is None:
            story_id = await stories.create_story(conn, subject.id)
        await stories.set_signal_story(conn, subject.id, story_id)
        await stories.refresh_story(conn, story_id)
    return story_id


async def _candidates(
    rt: Runtime,
    conn: Any,
    subject: Subject,
    *,
    use_meaning: bool,
    since: datetime | None = None,
    topics: bool = True,
    text: bool = True,
) -> list[Candidate]:
    """Current signals worth comparing with the subject, with how each compares: nearest by
    embedding, sharing names (stored since ``since``), sharing topics, sharing words."""
    ids: list[UUID] = []
    if use_meaning and rt.embedder is not None:
        nearest = await repository.nearest_by_embedding(
            conn, subject.id, rt.embedder.model, rt.embedder.dimensions, NEAREST_CANDIDATES
        )
        ids.extend(nearest)
    keys = sorted(subject.entity_keys)
    ids.extend(
        await repository.signals_sharing_entities(conn, subject.id, keys, since=since, k=ENTITY_CANDIDATES)
    )
    if topics:
        topic_ids = sorted(subject.topic_ids)
        ids.extend(await repository.signals_sharing_topics(conn, subject.id, topic_ids, TOPIC_CANDIDATES))
    if text:
        headline = subject.title + " " + subject.summary
        ids.extend(await repository.signals_with_similar_text(conn, subject.id, headline, TEXT_CANDIDATES))
    return await repository.candidate_features(conn, subject.id, list(dict.fromkeys(ids)))


# --- 3. related coverage ------------------------------------------------------------------------------


async def _find_related(rt: Runtime, subject: Subject, *, use_meaning: bool) -> list[Link]:
    """The best links for the signal, scored and explained."""
    async with rt.db.pool.acquire() as conn, conn.transaction():  # the kNN's search options are local
        candidates = await _candidates(rt, conn, subject, use_meaning=use_meaning)
        topic_ids = set(subject.topic_ids).union(*(c.topic_ids for c in candidates))
        rarity = await repository.rarity(conn, _entity_keys(subject, candidates), topic_ids)
    return _best_links(subject, candidates, rarity, keep=rt.settings.related_keep, use_meaning=use_meaning)


def _best_links(
    subject: Subject, candidates: list[Candidate], rarity: Rarity, *, keep: int, use_meaning: bool
) -> list[Link]:
    links = [score_link(subject, c, rarity, use_meaning=use_meaning) for c in candidates]
    return rank_links([link for link in links if link is not None], keep)


def _entity_keys(subject: Subject, candidates: list[Candidate]) -> set[str]:
    return set(subject.entity_keys).union(*(c.entity_keys for c in candidates))


# --- 4. storing ----------------------------------------------------------------------------------------


async def _store_links(rt: Runtime, subject: Subject, links: list[Link]) -> None:
    """Replace the signal's list; add the reverse links, trimmed to the best of each list."""
    rows = [(subject.id, link.related_id, link.score, link.reason, link.same_story) for link in links]
    rows += [(link.related_id, subject.id, link.score, link.reason, link.same_story) for link in links]
    async with rt.db.pool.acquire() as conn, conn.transaction():
        await repository.lock_related_writes(conn)
        await repository.delete_related_of_signal(conn, subject.id)
        await repository.delete_links_to_other_versions(conn, subject.article_id, subject.id)
        await repository.upsert_related_links(conn, rows)
        await repository.trim_related_lists(
            conn, [link.related_id for link in links], rt.settings.related_keep
        )
        await repository.mark_signal_related(conn, subject.id)
