"""Linking a new signal to its topics (through aliases and synonyms) and entities."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from service.signals import repository
from service.signals.taxonomy import normalize_entities, normalize_topics, synonym_target

log = logging.getLogger(__name__)


async def topic_ids_for(conn: Any, labels: list[str]) -> list[int]:
    """Topic ids for the model's labels, in order, without repeats.

    A slug seen before (as a topic or an alias) maps to its topic. A new slug that is a
    synonym of exactly one existing topic ("ai-infra" of "ai-infrastructure") becomes an
    alias of it; anything else becomes a new topic. Slugs never change once created.
    """
    pairs = normalize_topics(labels)
    if not pairs:
        return []
    known = await repository.resolve_topic_slugs(conn, [slug for slug, _ in pairs])
    ids: list[int] = []
    for slug, label in pairs:
        topic_id = known.get(slug)
        if topic_id is None:
            candidates = await repository.topics_with_slug_prefix(conn, slug[:2])
            target = synonym_target(slug, [c for _, c in candidates])
            if target is not None:
                topic_id = next(i for i, c in candidates if c == target)
                await repository.insert_topic_alias(conn, slug, topic_id, "auto")
                log.info("topic %r is another spelling of %r: alias recorded", slug, target)
            else:
                topic_id = await repository.upsert_topic(conn, slug, label)
        if topic_id not in ids:
            ids.append(topic_id)
    return ids


async def link_topics_and_entities(
    conn: Any, signal_id: UUID, topic_labels: list[str], entities: list[tuple[str, str]]
) -> None:
    """Store the signal's topics and entities (links and the id arrays on the signal)."""
    await repository.link_signal_topic_ids(conn, signal_id, await topic_ids_for(conn, topic_labels))
    await repository.link_signal_entities(conn, signal_id, normalize_entities(entities))
