"""Linking a new signal to its topics and entities (topic ids from the model's labels:
``service.topics.slugs.topic_ids_for``)."""

from __future__ import annotations

from uuid import UUID

from service.db.connections import Executor
from service.signals import repository
from service.topics.slugs import topic_ids_for
from service.topics.taxonomy import normalize_entities


async def resolve_topics_and_entities(
    conn: Executor, topic_labels: list[str], entities: list[tuple[str, str]], *, public: bool = True
) -> tuple[list[int], list[int]]:
    """Topic and entity ids for the model's labels and names (creating what is new), in order:
    stored on the signal when it is inserted, then linked by ``link_topics_and_entities``.
    ``public`` False for supplied content: no topic alias is recorded from its labels."""
    topic_ids = await topic_ids_for(conn, topic_labels, record_aliases=public)
    return topic_ids, await repository.entity_ids_for(conn, normalize_entities(entities))


async def link_topics_and_entities(
    conn: Executor, signal_id: UUID, topic_ids: list[int], entity_ids: list[int]
) -> None:
    """The link rows of a stored signal. A topic merged away since it was resolved raises
    TopicsChanged (the transaction must be run again)."""
    await repository.link_signal_topics(conn, signal_id, topic_ids)
    await repository.link_signal_entities(conn, signal_id, entity_ids)
