"""Topic slugs resolved to topic ids, cached per process.

A list or feed request naming a topic would otherwise spend a database round trip turning
its slug into an id before the query that matters. What a slug names changes only when an
admin merges one topic into another (the source slug becomes an alias of the target); the
merge sends a NOTIFY on ``CHANNEL`` in its transaction and every process empties its cache
(``service.db.cache``). Unknown slugs are never cached: a topic the pipeline creates a second
later is found at once.
"""

from __future__ import annotations

from typing import Any

from service.db.cache import NotifiedCache
from service.signals import repository

CHANNEL = "signals_topics_changed"


class TopicCache(NotifiedCache[str, int]):
    def __init__(self, ttl: float = 300.0, max_entries: int = 10_000) -> None:
        super().__init__(CHANNEL, ttl, max_entries)

    async def resolve(self, conn: Any, slugs: list[str]) -> dict[str, int | None]:
        """The topic id each slug names, directly or through an alias (None: unknown)."""
        found: dict[str, int | None] = {slug: self.get(slug) for slug in slugs}
        missing = [slug for slug, topic_id in found.items() if topic_id is None]
        if missing:
            generation = self.generation
            resolved = await repository.resolve_topic_slugs(conn, missing)
            for slug in missing:
                topic_id = resolved.get(slug)
                if topic_id is not None:
                    self.store(slug, topic_id, generation)
                found[slug] = topic_id
        return found
