"""Topic slugs resolved to topic ids, cached per process.

A list or feed request naming a topic would otherwise spend a database round trip turning
its slug into an id before the query that matters. What a slug names changes only when an
admin merges one topic into another (the source slug becomes an alias of the target); the
merge sends a NOTIFY on ``CHANNEL`` in its transaction and every process empties its cache
(``service.db.cache``). Unknown slugs are never cached: a topic the pipeline creates a second
later is found at once. Neither are topics only supplied content carries (migration 0026):
whether a reader may know one depends on who reads, and it may become public at any moment.
A cached topic is public, and public for good.
"""

from __future__ import annotations

from collections.abc import Collection

from service.db.cache import NotifiedCache
from service.db.connections import Executor
from service.keys.suppliers import SupplierView
from service.topics import repository
from service.topics.visibility import is_hidden

CHANNEL = "signals_topics_changed"


class TopicCache(NotifiedCache[str, int]):
    def __init__(self, ttl: float = 300.0, max_entries: int = 10_000) -> None:
        super().__init__(CHANNEL, ttl, max_entries)

    async def resolve(
        self,
        conn: Executor,
        slugs: list[str],
        allowed: Collection[int] | None,
        suppliers: SupplierView,
    ) -> dict[str, int | None]:
        """The topic id each slug names, directly or through an alias (None: unknown).

        With ``allowed`` (a topic-restricted key's topics) a topic outside them is None too,
        and is looked up in the database like an unknown slug, cached or not: neither the
        answer nor its latency tells the key that it exists. A topic that only supplied
        content carries is None unless ``suppliers`` sees one of those suppliers.
        """
        found: dict[str, int | None] = {slug: self.get(slug) for slug in slugs}
        missing = [slug for slug, t in found.items() if t is None or is_hidden(t, allowed)]
        if missing:
            generation = self.generation
            resolved = await repository.resolve_topic_slugs_for_reader(conn, missing, suppliers)
            for slug in missing:
                topic = resolved.get(slug)
                if topic is not None and topic.public:
                    self.store(slug, topic.id, generation)
                found[slug] = topic.id if topic is not None and topic.known else None
        return {slug: None if t is None or is_hidden(t, allowed) else t for slug, t in found.items()}
