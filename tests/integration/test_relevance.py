"""sort=relevance: headline matches, then other card matches, each ranked; body-only matches
follow newest first; pages never repeat."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from service.app import create_app
from service.db.database import init_connection
from service.keys.service import create_key
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def api(make_settings: Any) -> Iterator[str]:
    with running_asgi(create_app(make_settings(), worker=False)) as base:
        yield base


@pytest.fixture(scope="module")
async def world(database_url: str) -> dict[str, Any]:
    """Where "glacier" appears decides the order: title > summary/key details > analysis/body.
    "summary_many" says it three times: its card outranks "title"'s, yet the headline leads."""
    placements = {
        # name: (title, summary, key detail, analysis, body, hours after T0)
        "title": ("Glacier retreat speeds up", "Scientists measured the ice.", "Ice fell.", "", "", 0),
        "summary": ("Alpine survey published", "A glacier lost a tenth.", "Mass fell.", "", "", 1),
        "detail": ("Alpine survey, part two", "Scientists measured ice.", "The glacier shrank.", "", "", 2),
        "summary_many": (
            "Alpine survey, part three",
            "Glacier after glacier.",
            "A glacier shrank.",
            "",
            "",
            4,
        ),
        "analysis_old": ("Water prices rise", "Utilities raise rates.", "Rates rose.", "glacier", "", 3),
        "body_new": ("Water rules change", "Regulators publish rules.", "Rules changed.", "", "glacier", 5),
        "body_newer": ("Water rules, again", "Regulators publish more.", "Rules changed.", "", "glacier", 6),
        "absent": ("Unrelated news", "Nothing about ice.", "No ice.", "", "", 7),
    }
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    ids = {}
    try:
        for name, (title, summary, detail, analysis, body, hours) in placements.items():
            ids[name] = await seed_signal(
                conn,
                SeedSignal(
                    title=title,
                    summary=summary,
                    key_details=[detail, "A second fact.", "A third fact."],
                    analysis=f"An analysis paragraph about water {analysis}. " * 3,
                    text=f"The article body says several things about the matter {body}. " * 20,
                    created_at=T0 + timedelta(hours=hours),
                ),
            )
        key = (await create_key(conn, name="reader", scopes=["signals:read"])).key
    finally:
        await conn.close()
    return {"ids": {name: str(i) for name, i in ids.items()}, "key": key}


@pytest.fixture
async def client(api: str, world: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {world['key']}"}) as http:
        yield http


async def test_headlines_lead_then_card_words_rank_and_body_only_matches_follow_newest_first(client, world):
    page = (await client.get("/v1/signals", params={"q": "glacier", "sort": "relevance"})).json()
    order = {v: k for k, v in world["ids"].items()}
    names = [order[item["id"]] for item in page["items"]]
    assert names[0] == "title"
    assert names[1] == "summary_many"
    assert set(names[2:4]) == {"summary", "detail"}
    assert names[4:] == ["body_newer", "body_new", "analysis_old"]
    ranks = [item["rank"] for item in page["items"]]
    assert ranks[1] > ranks[0] > 0  # the headline leads a card that ranks higher
    assert ranks[1] > ranks[2] >= ranks[3] > 0 and ranks[4:] == [0, 0, 0]


@pytest.mark.parametrize("limit", [1, 2, 3])
async def test_relevance_pages_walk_tiers_and_ties_without_repeats_or_gaps(client, world, limit):
    seen: list[str] = []
    url: str = "/v1/signals"
    params: dict[str, Any] | None = {"q": "glacier", "sort": "relevance", "limit": limit}
    while True:
        page = (await client.get(url, params=params)).json()
        assert len(page["items"]) == limit or page["next"] is None
        seen += [item["id"] for item in page["items"]]
        if page["next"] is None:
            break
        url, params = page["next"], None
    full = (await client.get("/v1/signals", params={"q": "glacier", "sort": "relevance"})).json()
    assert seen == [item["id"] for item in full["items"]]
    assert len(seen) == 7 and world["ids"]["absent"] not in seen


async def test_a_negated_word_is_excluded_from_every_tier(client, world):
    page = (await client.get("/v1/signals", params={"q": "glacier -alpine", "sort": "relevance"})).json()
    order = {v: k for k, v in world["ids"].items()}
    assert [order[item["id"]] for item in page["items"]] == [
        "title",
        "body_newer",
        "body_new",
        "analysis_old",
    ]


async def test_the_ranked_words_stay_in_the_row_while_the_full_vector_is_toasted(database_url):
    # Ranking reads search_head for every match: out of line (TOAST) it costs ~4 extra page
    # reads a match, as much as ranking on the full vector did (bench/README.md).
    words = " ".join(f"term{i:04d}" for i in range(3000))  # distinct lexemes: a big vector
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        signal_id = await seed_signal(
            conn,
            SeedSignal(
                title="A long article about many things",
                summary="It covers a great many distinct terms, one after another.",
                analysis=f"An analysis that repeats them: {words}",
                text=f"The body lists them all. {words}",
            ),
        )
        row = await conn.fetchrow(
            "SELECT pg_column_toast_chunk_id(search) IS NOT NULL AS search_out,"
            "       pg_column_toast_chunk_id(search_head) IS NOT NULL AS head_out,"
            "       length(search_head) AS head_lexemes, length(search) AS all_lexemes "
            "FROM signals WHERE id = $1",
            signal_id,
        )
        # rows narrower than this one may keep it inline anyway; MAIN keeps it in every row
        storage = await conn.fetchval(
            "SELECT attstorage FROM pg_attribute "
            "WHERE attrelid = 'signals'::regclass AND attname = 'search_head'"
        )
    finally:
        await conn.close()
    assert row["search_out"] and row["all_lexemes"] > 3000  # the full vector went out of line
    assert not row["head_out"] and 0 < row["head_lexemes"] < 30  # the card's words did not
    assert storage == b"m"


async def test_a_phrase_counts_as_a_headline_match_only_when_all_its_words_are_in_the_headline(
    client, database_url
):
    # Tier 1 asks "not in the headline" with every word of the query restricted to weight A.
    # A phrase that begins at the end of the title and ends in the summary sits at adjacent
    # positions of the card vector but is not a headline match: it must rank among the cards,
    # not vanish from both tiers.
    placements = {
        "in_title": ("Farmers fight quixotic tariffs", "Growers met in the capital."),
        "across": ("Farmers call the new levy quixotic", "Tariffs on grain start in May."),
        "in_summary": ("Ministers defend grain policy", "They defended the quixotic tariffs."),
        "apart": ("Quixotic plans from the ministry", "New tariffs start in May."),
    }
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        names = {
            str(await seed_signal(conn, SeedSignal(title=title, summary=summary))): name
            for name, (title, summary) in placements.items()
        }
    finally:
        await conn.close()
    page = (await client.get("/v1/signals", params={"q": '"quixotic tariffs"', "sort": "relevance"})).json()
    found = [names[item["id"]] for item in page["items"]]
    assert found[0] == "in_title"
    assert sorted(found[1:]) == ["across", "in_summary"]  # card matches; "apart" is no phrase
    assert all(item["rank"] > 0 for item in page["items"])  # ranked tiers, not the body tier
