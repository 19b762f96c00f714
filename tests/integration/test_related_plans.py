"""Query-plan regressions for the hot related/story queries, on a few thousand synthetic rows:
the production query text (the named queries, the index made by the startup code) must use
its index, never a sequential scan of signals."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from service.db.database import init_connection
from service.db.queries import Query, queries
from service.embeddings import ensure_embedding_index, sized
from service.keys.suppliers import EVERY_SUPPLIER, PUBLIC_ONLY, SupplierView

pytestmark = pytest.mark.timeout(180)

DIMS = 384
MODEL = "plan-test-model"
SIGNALS = 3000


@pytest.fixture(scope="module")
async def seeded(database_url: str) -> AsyncIterator[UUID]:
    """Synthetic signals with random embeddings, related lists and stories; one signal's id."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2, init=init_connection)
    try:
        async with pool.acquire() as conn:
            article = await conn.fetchval(
                "INSERT INTO articles (input_kind, content_hash, word_count, text)"
                " VALUES ('url', 'plan-test', 3, 'plan test text') RETURNING id"
            )
            await conn.execute(
                """
                INSERT INTO signals (article_id, content_hash, prompt_version, title, summary, eli5,
                    analysis, impact, optimistic_outlook, pessimistic_outlook, key_details,
                    grounding_checked, grounding_grounded, model, input_kind, word_count, search, created_at)
                SELECT $1, 'hash-' || g, 'v1', 'Title ' || g, 'Summary ' || g, '', body.text, '', '', '',
                       '[]'::jsonb, 0, 0, 'stub', 'url', 3, to_tsvector('english', 'title ' || g),
                       now() - g * interval '1 minute'
                FROM generate_series(1, $2::int) AS g
                -- rows as wide as real signals (an analysis of ~1.3 kB), so plans cost what they would
                CROSS JOIN LATERAL (
                    SELECT string_agg(md5(random()::text || i), ' ') AS text
                    FROM generate_series(1, 40) AS i WHERE g > 0
                ) AS body
                """,
                article,
                SIGNALS,
            )
            await conn.execute(
                """
                INSERT INTO signal_embeddings (signal_id, model, dims, embedding)
                SELECT s.id, $1, $2::int,
                       (SELECT array_agg(random()::real) FROM generate_series(1, $2::int) AS d
                        WHERE s.id IS NOT NULL)::vector
                FROM signals s
                """,
                MODEL,
                DIMS,
            )
            await conn.execute(
                """
                INSERT INTO signal_related (signal_id, related_id, score, reason)
                SELECT s.id, o.id, random(), 'synthetic'
                FROM signals s
                CROSS JOIN LATERAL (SELECT id FROM signals o WHERE o.id <> s.id ORDER BY random() LIMIT 20) o
                WHERE s.created_at > now() - interval '200 minutes'
                """
            )
            await conn.execute(
                """
                INSERT INTO stories (title, signal_count, first_seen, last_seen)
                SELECT 'Story ' || g, 1, now() - g * interval '1 hour', now() - g * interval '1 minute'
                FROM generate_series(1, $1::int) AS g
                """,
                SIGNALS,
            )
        await ensure_embedding_index(pool, DIMS)  # what startup runs
        await ensure_embedding_index(pool, DIMS)  # ... idempotently
        async with pool.acquire() as conn:
            # as autovacuum leaves a served database: statistics, and the visibility map that
            # lets the covering indexes answer without visiting the tables
            for table in ("signals", "signal_embeddings", "signal_related", "stories"):
                await conn.execute(f"VACUUM (ANALYZE) {table}")
            signal_id: UUID = await conn.fetchval(
                "SELECT signal_id FROM signal_related GROUP BY signal_id ORDER BY signal_id LIMIT 1"
            )
        yield signal_id
    finally:
        await pool.close()


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


async def explain(conn: asyncpg.Connection, query: Query, **params: Any) -> list[dict[str, Any]]:
    args = [params[name] for name in query.params]
    document = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {query.sql}", *args)
    if isinstance(document, str):
        document = json.loads(document)
    return list(_nodes(document[0]["Plan"]))


def describe(nodes: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{n['Node Type']} {n.get('Relation Name', '')} {n.get('Index Name', '')}".strip() for n in nodes
    )


async def test_the_index_is_created_once_for_the_configured_size(seeded, db):
    definition = await db.fetchval("SELECT pg_get_indexdef('signal_embeddings_hnsw_384'::regclass)")
    assert "USING hnsw (((embedding)::vector(384)) vector_cosine_ops)" in definition
    assert "ef_construction='128'" in definition and "WHERE (dims = 384)" in definition
    count = await db.fetchval(
        "SELECT count(*) FROM pg_indexes WHERE tablename = 'signal_embeddings' AND indexname LIKE '%hnsw%'"
    )
    assert count == 1


async def test_nearest_neighbours_use_the_hnsw_index(seeded, db):
    async with db.transaction():
        # 3 000 vectors are few enough that a scan and sort costs less than the graph; forbidding
        # the scan proves the index matches the query (same cast, dims predicate): if it did not,
        # the planner would still have to scan.
        await db.execute("SET LOCAL enable_seqscan = off")
        await queries.set_vector_search_options.fetchrow(db, ef_search="100")
        nodes = await explain(
            db, sized(queries.nearest_signals_by_embedding, DIMS), signal_id=seeded, model=MODEL, k=50
        )
    print("\n[plan] nearest_signals_by_embedding:", describe(nodes))
    assert any(n.get("Index Name") == "signal_embeddings_hnsw_384" for n in nodes), describe(nodes)
    assert not any(n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "signals" for n in nodes)
    assert not any(
        n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "signal_embeddings" for n in nodes
    )
    # and the query really returns neighbours through it
    async with db.transaction():
        await queries.set_vector_search_options.fetchrow(db, ef_search="100")
        rows = await sized(queries.nearest_signals_by_embedding, DIMS).fetch(
            db, signal_id=seeded, model=MODEL, k=50
        )
    assert 40 <= len(rows) <= 50 and seeded not in {r["signal_id"] for r in rows}
    cosines = [r["cosine"] for r in rows]
    assert cosines == sorted(cosines, reverse=True)


def index_only(nodes: list[dict[str, Any]], index: str) -> bool:
    return any(n["Node Type"] == "Index Only Scan" and n.get("Index Name") == index for n in nodes)


async def test_the_stored_related_list_is_read_from_two_covering_indexes(seeded, db):
    # Migration 0015: the links' reasons and the linked signals' card fields come from the
    # indexes, so a cold read touches a leaf or two per link, not the tables' scattered rows.
    # a topic-restricted key, and every reader's supplier view, filter the same index-only read
    readers = (PUBLIC_ONLY, SupplierView(supplier=UUID(int=7)), EVERY_SUPPLIER)
    for restrict, view in itertools.product((None, [1, 2]), readers):
        nodes = await explain(
            db,
            queries.list_related_signals,
            signal_id=seeded,
            limit=20,
            restrict_topics=restrict,
            **view.params(),
        )
        print("\n[plan] list_related_signals:", describe(nodes))
        assert index_only(nodes, "signal_related_rank_idx"), describe(nodes)
        assert index_only(nodes, "signals_card_idx"), describe(nodes)
        assert not any(n["Node Type"] in ("Seq Scan", "Sort") for n in nodes), describe(nodes)


async def test_a_cards_related_links_are_read_from_the_covering_indexes(seeded, db):
    nodes = await explain(
        db, queries.get_signal_cards, ids=[seeded], restrict_topics=None, **PUBLIC_ONLY.params()
    )
    print("\n[plan] get_signal_cards:", describe(nodes))
    assert index_only(nodes, "signal_related_rank_idx"), describe(nodes)
    assert index_only(nodes, "signals_card_idx"), describe(nodes)


async def test_story_pages_walk_the_last_seen_index(seeded, db):
    last = await db.fetchrow(
        "SELECT last_seen, id FROM stories ORDER BY last_seen DESC, id DESC OFFSET 100 LIMIT 1"
    )
    for after_seen, after_id in ((None, None), (last["last_seen"], last["id"])):
        nodes = await explain(
            db, queries.list_stories_page, after_seen=after_seen, after_id=after_id, limit=21
        )
        print("\n[plan] list_stories_page:", describe(nodes))
        assert any(n.get("Index Name") == "stories_last_seen_idx" for n in nodes), describe(nodes)
        assert not any(n["Node Type"] in ("Seq Scan", "Sort") for n in nodes), describe(nodes)
