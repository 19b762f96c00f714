"""Query-plan regressions for the list and full-text queries (GET /v1/signals): each must be
served by its index, never by a sequential scan of signals.

Plans are taken the way the pool runs the queries: the production SQL as a prepared
statement, planned per execution (plan_cache_mode = force_custom_plan, so the unused
"IS NULL OR" filters fold away), on a few thousand signals written by seed_signal, analysed.
Unless a test says otherwise, the reader is a keyless one (fetched content only: the
supplier filter folds to ``s.supplier_id IS NULL``).
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from service.db.database import init_connection
from service.db.queries import Query, queries
from service.keys.suppliers import EVERY_SUPPLIER, PUBLIC_ONLY, SupplierView
from tests.support.seeding import SeedSignal, seed_signal

pytestmark = pytest.mark.timeout(240)

SIGNALS = 2000
T0 = datetime(2026, 1, 1, tzinfo=UTC)
# 400 made-up words drawn with Zipf skew: document frequencies run from "in most signals"
# down to "in a few percent", as with real text (a word in every document would rightly
# be served by a sequential scan).
WORDS = [
    a + b + c
    for a in ("ba", "ke", "lo", "mi", "nu")
    for b in ("ra", "te", "vo", "si", "du", "pe", "gu", "fa")
    for c in ("n", "m", "l", "t", "sk", "nd", "rt", "x", "lp", "g")
]
ZIPF = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(WORDS))))
SITES = [f"Paper {n}" for n in range(25)]


def _signal(i: int) -> SeedSignal:
    words = random.Random(i).choices(WORDS, cum_weights=ZIPF, k=80)
    if i % 100 == 0:
        words.append("zeppelin")  # a rare term: 1% of signals
    return SeedSignal(
        title=f"Signal {i}: " + " ".join(words[:6]),
        summary=" ".join(words[6:26]),
        topics=[f"Topic {i % 40}", f"Area {i % 7}"],
        entities=[(f"Company {i % 300}", "organization")],
        site_name=SITES[i % len(SITES)],
        language="de" if i % 10 == 0 else "en",
        published=date(2026, 1, 1) + timedelta(days=i // 50),
        created_at=T0 + timedelta(minutes=i),
        text=" ".join(words[20:]),
        analysis=" ".join(words[40:]),
    )


@pytest.fixture(scope="module")
async def world(database_url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        for i in range(SIGNALS):
            await seed_signal(conn, _signal(i))
        await conn.execute("VACUUM (ANALYZE) signals")
        topic = await conn.fetchval("SELECT id FROM topics WHERE slug = 'topic-7'")
        area = await conn.fetchval("SELECT id FROM topics WHERE slug = 'area-3'")  # 1 in 7 signals
        entity = await conn.fetchval("SELECT id FROM entities WHERE name = 'Company 42'")
        last = await conn.fetchrow(
            "SELECT created_at, id FROM signals ORDER BY created_at DESC LIMIT 1 OFFSET 20"
        )
    finally:
        await conn.close()
    return {"topic": topic, "area": area, "entity": entity, "after": (last["created_at"], last["id"])}


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "'{" + ",".join(str(v) for v in value) + "}'"
    if isinstance(value, datetime | UUID):
        value = str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


async def explain(conn: asyncpg.Connection, query: Query, **params: Any) -> list[dict[str, Any]]:
    """The plan nodes of ``query`` run as the pool runs it: prepared, custom-planned."""
    values = {name: None for name in query.params} | {"collapse": False, "limit": 21}
    values |= PUBLIC_ONLY.params() if "all_suppliers" in query.params else {}
    values |= params
    args = ", ".join(_literal(values[name]) for name in query.params)
    await conn.execute("SET plan_cache_mode = force_custom_plan; SET jit = off")
    await conn.execute(f"PREPARE plan_probe AS {query.sql}")
    try:
        document = await conn.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE plan_probe ({args})")
    finally:
        await conn.execute("DEALLOCATE plan_probe")
    if isinstance(document, str):
        document = json.loads(document)
    return list(_nodes(document[0]["Plan"]))


def describe(nodes: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{n['Node Type']} {n.get('Relation Name', '')} {n.get('Index Name', '')}".strip() for n in nodes
    )


def assert_served_by(nodes: list[dict[str, Any]], indexes: set[str]) -> None:
    used = {n["Index Name"] for n in nodes if "Index Name" in n}
    assert used & indexes, f"expected one of {sorted(indexes)}: {describe(nodes)}"
    seq = [n for n in nodes if n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "signals"]
    assert not seq, f"sequential scan of signals: {describe(nodes)}"


def assert_read_in_order(nodes: list[dict[str, Any]]) -> None:
    """The page is read from an index in created_at order: no full sort of the matches."""
    page = next(n for n in nodes if n["Node Type"] == "Limit")
    below = page["Plans"][0]
    assert below["Node Type"] != "Sort", f"all matches sorted before the limit: {describe(nodes)}"


# Newest-first pages walk signals_current_feed_idx (created_at DESC, id DESC, filter columns
# included) and stop after the page; what must never happen is a scan and sort of all rows.
CREATED_ORDER = {"signals_current_feed_idx"}
TEXT_INDEX = "signals_text_filters_idx"  # the words, topics and entities of current signals
NEWEST = queries.list_signals_newest
RANKED = queries.list_signals_relevance_ranked
HEADLINES = {"tier": 2}  # the ranked statement's two tiers
CARDS = {"tier": 1}
TEXT = queries.list_signals_relevance_text


async def test_newest_without_filters_walks_the_created_index(world, db):
    nodes = await explain(db, NEWEST)
    assert_served_by(nodes, CREATED_ORDER)
    assert_read_in_order(nodes)


def _filters(nodes: list[dict[str, Any]]) -> str:
    return " ".join(n.get("Filter", "") + " " + n.get("Index Cond", "") for n in nodes)


READERS = {
    "keyless": (PUBLIC_ONLY, ["(supplier_id IS NULL)"]),
    "a partner's key": (
        SupplierView(supplier=UUID(int=7)),
        ["(supplier_id IS NULL)", "(supplier_id = '00000000-0000-0000-0000-000000000007'::uuid)"],
    ),
    "an admin key": (EVERY_SUPPLIER, []),
}


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("topic", [False, True])
async def test_the_supplier_filter_folds_to_the_reader_s_and_the_walk_stays_index_only(
    world, db, reader, topic
):
    # Content a caller supplied is private to its supplier (migration 0026): every list page
    # filters on s.supplier_id, which signals_current_feed_idx carries, so the newest-first
    # walk still reads the index alone. Custom plans fold the reader's view to its own shape.
    view, conditions = READERS[reader]
    filters = {"topic_any": [world["topic"]]} if topic else {}
    nodes = await explain(db, NEWEST, **view.params(), **filters)
    walked = [n for n in nodes if n.get("Index Name") in CREATED_ORDER]
    if walked:
        assert walked[0]["Node Type"] == "Index Only Scan", describe(nodes)
        assert_read_in_order(nodes)
    else:  # a small topic (1 in 40 signals) is read through its own index, as without a reader
        assert topic, describe(nodes)
        assert_served_by(nodes, {"signals_topic_ids_idx"})
    text = _filters(nodes)
    for condition in conditions:
        assert condition in text, text
    if not conditions:
        assert "supplier_id" not in text, text
    assert "$" not in text and "NULL::uuid" not in text, text


async def test_the_next_page_starts_at_the_cursor_in_the_index(world, db):
    created, signal_id = world["after"]
    nodes = await explain(db, NEWEST, after_created=created, after_id=signal_id)
    assert_served_by(nodes, CREATED_ORDER)
    assert_read_in_order(nodes)
    scan = next(n for n in nodes if n.get("Index Name") in CREATED_ORDER)
    assert "created_at" in scan.get("Index Cond", ""), describe(nodes)


async def test_one_page_per_story_reads_in_created_order(world, db):
    # Every seeded signal leads its story, so the lead index has no advantage here.
    nodes = await explain(db, NEWEST, collapse=True)
    assert_served_by(nodes, {"signals_lead_created_idx", *CREATED_ORDER})
    assert_read_in_order(nodes)


async def test_topic_filter_uses_the_topic_or_created_index(world, db):
    nodes = await explain(db, NEWEST, topic_any=[world["topic"]], lang="en")
    assert_served_by(nodes, {"signals_topic_ids_idx", *CREATED_ORDER})


async def test_entity_filter_uses_the_entity_or_created_index(world, db):
    nodes = await explain(db, NEWEST, entity_ids=[world["entity"]])
    assert_served_by(nodes, {"signals_entity_ids_idx", *CREATED_ORDER})


async def test_source_filter_uses_the_site_index(world, db):
    assert_served_by(await explain(db, NEWEST, source="Paper 3"), {"signals_site_created_idx"})


async def test_full_text_newest_uses_the_search_index(world, db):
    assert_served_by(await explain(db, NEWEST, q="zeppelin"), {TEXT_INDEX})


async def test_full_text_newest_on_a_commoner_word_never_scans_everything(world, db):
    # In 6% of signals: walking the newest until a page is found is as good as the GIN index.
    assert_served_by(await explain(db, NEWEST, q=WORDS[200]), {TEXT_INDEX, *CREATED_ORDER})


FILTERED_WORDS = ["zeppelin", f"{WORDS[30]} {WORDS[60]}", f"{WORDS[10]} zeppelin"]


@pytest.mark.parametrize("q", FILTERED_WORDS)
async def test_full_text_within_a_big_topic_is_one_scan_of_the_text_and_filters_index(world, db, q):
    # ANDing the words' bitmap with a big topic's cost 150 ms at 1M signals (migration 0014):
    # the words and the topic are looked up together in the one index, which skips ahead in
    # the topic's long posting list to what the words found.
    nodes = await explain(db, NEWEST, q=q, topic_any=[world["area"]])  # 1 in 7 signals
    assert_served_by(nodes, {TEXT_INDEX})
    scan = next(n for n in nodes if n.get("Index Name") == TEXT_INDEX)
    assert "topic_ids" in scan["Index Cond"] and "search" in scan["Index Cond"], describe(nodes)
    used = {n["Index Name"] for n in nodes if "Index Name" in n}
    assert "signals_topic_ids_idx" not in used, describe(nodes)
    assert not [n for n in nodes if n["Node Type"] == "BitmapAnd"], describe(nodes)


@pytest.mark.parametrize("q", FILTERED_WORDS)
async def test_full_text_about_an_entity_never_ands_two_bitmaps(world, db, q):
    # An entity in seven signals is best found by its own index, the words checked on those
    # rows; what must not come back is two bitmaps built and ANDed.
    nodes = await explain(db, NEWEST, q=q, entity_ids=[world["entity"]])
    assert_served_by(nodes, {TEXT_INDEX, "signals_entity_ids_idx"})
    assert not [n for n in nodes if n["Node Type"] == "BitmapAnd"], describe(nodes)


@pytest.mark.parametrize("q", ["zeppelin", WORDS[200], f"{WORDS[100]} {WORDS[200]}"])
async def test_full_text_by_relevance_ranks_only_headlines_found_by_their_index(world, db, q):
    nodes = await explain(db, RANKED, q=q, **HEADLINES)
    # the first tier comes from the headlines' own index: not every card, not every match
    assert_served_by(nodes, {"signals_headline_idx"})
    print(f"\n[plan] relevance headlines {q!r}:", describe(nodes))


@pytest.mark.parametrize("q", ["zeppelin", WORDS[200], f"{WORDS[100]} {WORDS[200]}"])
async def test_full_text_by_relevance_then_ranks_cards_found_by_the_head_index(world, db, q):
    nodes = await explain(db, RANKED, q=q, **CARDS)
    assert_served_by(nodes, {"signals_search_head_idx"})
    print(f"\n[plan] relevance cards {q!r}:", describe(nodes))


@pytest.mark.parametrize(
    ("query", "tier", "indexes"),
    [
        (RANKED, HEADLINES, {"signals_headline_idx"}),
        (RANKED, CARDS, {"signals_search_head_idx"}),
        (TEXT, {}, {TEXT_INDEX, *CREATED_ORDER}),
    ],
)
async def test_relevance_pages_after_the_first_stay_indexed(world, db, query, tier, indexes):
    after_created, after_id = world["after"]
    ranked = {"after_rank": 0.05} if "after_rank" in query.params else {}
    nodes = await explain(
        db, query, q=WORDS[200], after_created=after_created, after_id=after_id, **ranked, **tier
    )
    assert_served_by(nodes, indexes)


@pytest.mark.parametrize(
    ("tier", "index"), [(HEADLINES, "signals_headline_idx"), (CARDS, "signals_search_head_idx")]
)
@pytest.mark.parametrize("word", [WORDS[10], WORDS[30], WORDS[100]])
async def test_ranked_tiers_check_topics_on_the_rows_their_text_index_finds(world, db, tier, index, word):
    # A big topic's GIN bitmap costs far more than PostgreSQL prices it; ANDed with the text
    # index it made a 1M-signal page 80 ms instead of 14 (sql/queries/listing.sql).
    nodes = await explain(db, RANKED, q=word, topic_any=[world["area"]], **tier)
    assert_served_by(nodes, {index})
    used = {n["Index Name"] for n in nodes if "Index Name" in n}
    assert "signals_topic_ids_idx" not in used, describe(nodes)


def _estimate(nodes: list[dict[str, Any]]) -> float:
    """Rows the planner expects the text index to find."""
    return float(next(n for n in nodes if n.get("Index Name") == TEXT_INDEX)["Plan Rows"])


@pytest.mark.parametrize("repeat", ["{w} {w}", "{w} {w} {w}", "{w} {W}"])
async def test_a_word_typed_twice_is_planned_as_the_word_once(world, db, repeat):
    # websearch_to_tsquery keeps each repeat and the planner multiplies their selectivities:
    # at 1M signals "debate debate" was expected 13x rarer than "debate", and sorted 25 800
    # rows (migration 0016). Forbidding the created-order walk keeps the text index in the
    # plan so the two estimates can be compared.
    word = WORDS[40]
    async with db.transaction():
        await db.execute("SET LOCAL enable_indexscan = off")
        once = _estimate(await explain(db, NEWEST, q=word))
        repeated = _estimate(await explain(db, NEWEST, q=repeat.format(w=word, W=word.upper())))
    assert repeated == once


@pytest.fixture(scope="module")
async def storied(world: dict[str, Any], database_url: str) -> None:
    """The world's signals in stories of three (leads left as they are: no plan reads them)."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            """WITH numbered AS (
                   SELECT id, created_at, (row_number() OVER (ORDER BY created_at, id) - 1) / 3 AS n
                   FROM signals
               ), made AS (
                   INSERT INTO stories (title, signal_count, first_seen, last_seen)
                   SELECT 'story ' || n, count(*), min(created_at), max(created_at) FROM numbered GROUP BY n
                   RETURNING id, title
               )
               UPDATE signals s SET story_id = made.id
               FROM numbered JOIN made ON made.title = 'story ' || numbered.n
               WHERE s.id = numbered.id"""
        )
        await conn.execute("VACUUM (ANALYZE) signals")
    finally:
        await conn.close()


@pytest.mark.parametrize("topic", ["area", "topic"])
@pytest.mark.parametrize("later_page", [False, True])
async def test_a_restricted_key_s_stories_walk_its_signals_not_the_whole_topic(
    world, storied, db, topic, later_page
):
    # The page comes from a walk of the key's newest signals (a topic on a third of a million
    # signals took 570 ms when each of its stories was aggregated first): the walk is served by
    # the created-order or a topic index, and each story on the page is summarised through
    # signals_story_idx; signals are never scanned whole.
    created, signal_id = world["after"]
    position = {"after_seen": created, "after_id": signal_id} if later_page else {}
    nodes = await explain(
        db, queries.list_stories_page_restricted, topic_ids=[world[topic]], scan=168, **position
    )
    assert_served_by(nodes, {"signals_text_filters_idx", "signals_topic_ids_idx", *CREATED_ORDER})
    assert "signals_story_idx" in {n.get("Index Name") for n in nodes}, describe(nodes)


@pytest.mark.parametrize("topic", ["area", "topic"])
async def test_a_restricted_key_s_entity_counts_read_its_topics_signals_by_index(world, db, topic):
    # The daily counts cannot serve a topic-restricted key; its window and topics are plain
    # values, so a small topic is read through its index (a year of one on 1.3 % of a million
    # signals: 155 ms walking the window, 31 ms by the index), a big one in created order.
    nodes = await explain(
        db,
        queries.count_entities_on_topics,
        restrict_topics=[world[topic]],
        since=T0,
        until=T0 + timedelta(days=30),
    )
    assert_served_by(nodes, {"signals_text_filters_idx", "signals_topic_ids_idx", *CREATED_ORDER})
