"""Linking signals to topics and entities when many are stored at once.

Articles about one event reach the workers together and the model names the same new topics
and entities in a different order for each. Each store is one transaction; these tests run
them side by side on real PostgreSQL connections and check that none of them dies in a
deadlock, that every signal keeps the model's order, and that each name is stored once.
"""

from __future__ import annotations

import asyncio
import itertools
from uuid import UUID

import asyncpg
import pytest

from service.db.database import init_connection
from service.topics.slugs import topic_ids_for
from tests.support.seeding import SeedSignal, seed_signal

pytestmark = pytest.mark.timeout(120)

TOPICS = ["Battery recall", "Electric hatchbacks", "Vehicle fires", "Road safety", "Carmakers"]
ENTITIES = [
    ("Volta Motors", "organization"),
    ("Road Safety Agency", "organization"),
    ("Mara Lindqvist", "person"),
    ("Gothenburg", "place"),
    ("Hatchback E2", "product"),
]


async def store_side_by_side(database_url: str, seeds: list[SeedSignal]) -> list[UUID]:
    """Store each seed in its own transaction on its own connection, all at once."""
    conns = [await asyncpg.connect(database_url) for _ in seeds]
    try:
        for conn in conns:
            await init_connection(conn)
        return list(await asyncio.gather(*(seed_signal(c, s) for c, s in zip(conns, seeds, strict=True))))
    finally:
        for conn in conns:
            await conn.close()


async def test_signals_naming_the_same_new_labels_in_other_orders_all_store(database_url, db):
    orders = list(itertools.permutations(range(5)))[::17][:6]  # six different orders
    for round_ in range(3):  # a deadlock depends on timing: three chances, new names each time
        topics = [f"{label} {round_}" for label in TOPICS]
        entities = [(f"{name} {round_}", kind) for name, kind in ENTITIES]
        seeds = [
            SeedSignal(
                title=f"Recall report {round_}.{n}",
                topics=[topics[i] for i in order],
                entities=[entities[i] for i in reversed(order)],
            )
            for n, order in enumerate(orders)
        ]
        ids = await store_side_by_side(database_url, seeds)
        for signal_id, seed in zip(ids, seeds, strict=True):
            labels = await db.fetchval(
                "SELECT array_agg(t.label ORDER BY st.position) FROM signal_topics st "
                "JOIN topics t ON t.id = st.topic_id WHERE st.signal_id = $1",
                signal_id,
            )
            assert labels == seed.topics
            names = await db.fetchval(
                "SELECT array_agg(e.name ORDER BY array_position(s.entity_ids, e.id)) "
                "FROM signals s JOIN entities e ON e.id = ANY(s.entity_ids) WHERE s.id = $1",
                signal_id,
            )
            assert names == [name for name, _ in seed.entities]
        # each name stored once
        assert await db.fetchval("SELECT count(*) FROM topics WHERE label = ANY($1::text[])", topics) == 5
        names = [name for name, _ in entities]
        assert await db.fetchval("SELECT count(*) FROM entities WHERE name = ANY($1::text[])", names) == 5


async def test_storing_a_known_entity_leaves_its_row_alone(database_url, db):
    """A signal naming an existing entity neither rewrites its row nor holds it against others."""
    kestrel = [("Kestrel Grid", "organization")]
    first = await seed_signal(db, SeedSignal(title="Entity row one", entities=kestrel))
    version = await db.fetchval("SELECT xmin::text FROM entities WHERE name = 'Kestrel Grid'")
    other = await asyncpg.connect(database_url)
    try:
        async with db.transaction():
            second = await seed_signal(db, SeedSignal(title="Entity row two", entities=kestrel))
            # while that store is still open, another transaction may take the row
            async with other.transaction():
                await other.execute(
                    "SELECT 1 FROM entities WHERE name = 'Kestrel Grid' FOR NO KEY UPDATE NOWAIT"
                )
    finally:
        await other.close()
    assert await db.fetchval("SELECT xmin::text FROM entities WHERE name = 'Kestrel Grid'") == version
    entity_ids = "SELECT entity_ids FROM signals WHERE id = $1"
    assert await db.fetchval(entity_ids, first) == await db.fetchval(entity_ids, second)


async def test_new_synonyms_of_a_known_topic_become_its_aliases(db):
    async with db.transaction():
        [infrastructure] = await topic_ids_for(db, ["AI infrastructure"])
    async with db.transaction():
        ids = await topic_ids_for(db, ["Chip exports", "AI infra"])
    assert ids[1] == infrastructure and ids[0] != infrastructure
    assert await db.fetchval("SELECT topic_id FROM topic_aliases WHERE alias = 'ai-infra'") == infrastructure
    assert await db.fetchval("SELECT count(*) FROM topics WHERE slug = 'ai-infra'") == 0


async def test_a_synonym_from_supplied_content_maps_to_its_topic_without_an_alias(db):
    """A topic's aliases are shown to every reader: a private card's spelling must not become one."""
    async with db.transaction():
        [grid] = await topic_ids_for(db, ["Grid storage"])
    async with db.transaction():
        [mapped] = await topic_ids_for(db, ["Grid stor"], record_aliases=False)
    assert mapped == grid
    assert await db.fetchval("SELECT count(*) FROM topic_aliases WHERE alias = 'grid-stor'") == 0
    assert await db.fetchval("SELECT count(*) FROM topics WHERE slug = 'grid-stor'") == 0
