"""Linking a new signal to its topics (through aliases and synonyms) and entities."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from service.signals import repository
from service.signals.taxonomy import normalize_entities, normalize_topics, synonym_target

log = logging.getLogger(__name__)


async def topic_ids_for(conn: Any, labels: list[str], *, record_aliases: bool = True) -> list[int]:
    """Topic ids for the model's labels, in order, without repeats.

    A slug seen before (as a topic or an alias) maps to its topic. A new slug that is a
    synonym of exactly one existing topic ("ai-infra" of "ai-infrastructure") becomes an
    alias of it; anything else becomes a new topic. Slugs never change once created.
    ``record_aliases`` False (a card of supplied content, private to its supplier): a synonym
    maps to its topic but is not recorded, as a topic's aliases are shown to every reader.
    New slugs are written in slug order, the same in every transaction, so two signals
    naming the same new topics in another order wait for each other instead of deadlocking.
    """
    pairs = normalize_topics(labels)
    if not pairs:
        return []
    known = await repository.resolve_topic_slugs(conn, [slug for slug, _ in pairs])
    label_of = dict(pairs)
    for slug in sorted(slug for slug in label_of if known.get(slug) is None):
        known[slug] = await _new_topic(conn, slug, label_of[slug], record_alias=record_aliases)
    ids: list[int] = []
    for slug, _ in pairs:
        topic_id = known[slug]
        assert topic_id is not None
        if topic_id not in ids:
            ids.append(topic_id)
    return ids


async def _new_topic(conn: Any, slug: str, label: str, *, record_alias: bool) -> int:
    """The topic a slug not seen before stands for: an existing one it spells, or a new one."""
    candidates = await repository.topics_with_slug_prefix(conn, slug[:2])
    target = synonym_target(slug, [c for _, c in candidates])
    if target is None:
        return await repository.upsert_topic(conn, slug, label)
    topic_id = next(i for i, c in candidates if c == target)
    if record_alias:
        await repository.insert_topic_alias(conn, slug, topic_id, "auto")
        log.info("topic %r is another spelling of %r: alias recorded", slug, target)
    return topic_id


async def resolve_topics_and_entities(
    conn: Any, topic_labels: list[str], entities: list[tuple[str, str]], *, public: bool = True
) -> tuple[list[int], list[int]]:
    """Topic and entity ids for the model's labels and names (creating what is new), in order:
    stored on the signal when it is inserted, then linked by ``link_topics_and_entities``.
    ``public`` False for supplied content: no topic alias is recorded from its labels."""
    topic_ids = await topic_ids_for(conn, topic_labels, record_aliases=public)
    return topic_ids, await repository.entity_ids_for(conn, normalize_entities(entities))


async def link_topics_and_entities(
    conn: Any, signal_id: UUID, topic_ids: list[int], entity_ids: list[int]
) -> None:
    """The link rows of a stored signal. A topic merged away since it was resolved raises
    TopicsChanged (the transaction must be run again)."""
    await repository.link_signal_topics(conn, signal_id, topic_ids)
    await repository.link_signal_entities(conn, signal_id, entity_ids)
