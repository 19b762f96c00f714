"""Entities over real sockets: the directory (type filter, prefix and trigram search, counts,
keyset pages), one entity with its co-occurrences, and problem+json for bad parameters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from service.app import create_app
from service.db.database import init_connection
from service.db.queries import queries
from service.keys.suppliers import PUBLIC_ONLY, SupplierView
from service.pagination import encode_cursor
from tests.support.keys import new_key
from tests.support.pages import all_pages
from tests.support.problems import assert_problem
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi

NORTHWIND = ("Northwind Energy", "organization")
NORTHRAIL = ("Northwind Rail", "organization")
DANA = ("Dana Whitfield", "person")
PORT = ("Port Aldous", "place")
PHONE = ("Quillon Phone", "product")


@pytest.fixture(scope="module")
def api(make_settings: Any) -> Iterator[str]:
    with running_asgi(create_app(make_settings(), worker=False)) as base:
        yield base


@pytest.fixture(scope="module")
async def reader_key(database_url: str) -> str:
    return await new_key(database_url, name="reader", scopes=["signals:read"])


@pytest.fixture
async def http(api: str, reader_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=api, headers={"Authorization": f"Bearer {reader_key}"}, timeout=30
    ) as client:
        yield client


@pytest.fixture(scope="module")
async def seeded(database_url: str) -> SimpleNamespace:
    """Northwind Energy in 4 recent signals (with Dana 3 times, Port twice), Northwind Rail in
    2, Dana in 1 more, the phone only 20 days ago, and an older version that must not count."""
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    now = datetime.now(UTC)
    plan: list[tuple[str, list[tuple[str, str]], list[str], timedelta]] = [
        ("nw 1", [NORTHWIND, DANA, PORT], ["Energy Grid", "Ports"], timedelta(hours=1)),
        ("nw 2", [NORTHWIND, DANA], ["Energy Grid"], timedelta(hours=2)),
        ("nw 3", [DANA, NORTHWIND, PORT], ["Energy Grid", "Labour"], timedelta(days=1)),
        ("nw 4", [NORTHWIND, NORTHRAIL], ["Rail"], timedelta(days=2)),
        ("rail 1", [NORTHRAIL], ["Rail"], timedelta(days=3)),
        ("dana 1", [DANA], ["Labour"], timedelta(days=4)),
        ("phone 1", [PHONE], ["Gadgets"], timedelta(days=20)),
    ]
    ids = {}
    try:
        for title, entities, topics, ago in plan:
            ids[title] = await seed_signal(
                conn, SeedSignal(title=title, entities=entities, topics=topics, created_at=now - ago)
            )
        url = "https://courier.example/versions"
        old = SeedSignal(title="old", entities=[NORTHWIND, PHONE], url=url, text="old " * 40)
        await seed_signal(conn, old)
        await seed_signal(conn, SeedSignal(title="new", entities=[PORT], url=url, text="new " * 40))
        rows = await conn.fetch("SELECT id, name FROM entities")
    finally:
        await conn.close()
    return SimpleNamespace(signals=ids, entity={row["name"]: row["id"] for row in rows})


def named(items: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(i["name"], i["count"]) for i in items]


async def test_by_count_lists_the_entities_named_in_the_window(http, seeded):
    body = (await http.get("/v1/entities")).json()
    assert body["sort"] == "count" and body["next"] is None
    assert named(body["items"]) == [
        ("Northwind Energy", 4),  # a tie with Dana breaks on id: Northwind was stored first
        ("Dana Whitfield", 4),
        ("Port Aldous", 3),  # two recent signals and the new version of the versioned article
        ("Northwind Rail", 2),
    ]
    first = body["items"][0]
    assert first["links"] == {
        "self": f"/v1/entities/{first['id']}",
        "signals": f"/v1/signals?entity={first['id']}",
    }
    month = (await http.get("/v1/entities?window=30d&type=product")).json()
    assert named(month["items"]) == [("Quillon Phone", 1)]  # the old version's mention is gone


async def test_type_filter_and_keyset_pages(http, seeded):
    orgs = await all_pages(http, "/v1/entities?type=organization&limit=1")
    assert named(orgs) == [("Northwind Energy", 4), ("Northwind Rail", 2)]
    everything = await all_pages(http, "/v1/entities?sort=name&limit=2")
    assert [i["name"] for i in everything] == sorted(seeded.entity)
    counts = dict(named(everything))
    assert counts["Quillon Phone"] == 0 and counts["Northwind Energy"] == 4  # counts in the window


async def test_search_by_prefix_and_by_similar_words(http, seeded):
    body = (await http.get("/v1/entities?q=northw")).json()
    assert body["sort"] == "relevance"
    assert [i["name"] for i in body["items"]] == ["Northwind Energy", "Northwind Rail"]
    assert dict(named(body["items"])) == {"Northwind Energy": 4, "Northwind Rail": 2}
    typo = (await http.get("/v1/entities?q=Witfield")).json()  # a typo still finds the word
    assert [i["name"] for i in typo["items"]] == ["Dana Whitfield"]
    assert (await http.get("/v1/entities?q=aldous&type=person")).json()["items"] == []
    literal = (await http.get("/v1/entities?q=%25")).json()  # a % is a character, not a wildcard
    assert literal["items"] == []
    paged = await all_pages(http, "/v1/entities?q=north&limit=1")
    assert [i["name"] for i in paged] == ["Northwind Energy", "Northwind Rail"]
    by_count = (await http.get("/v1/entities?q=north&sort=count")).json()
    assert named(by_count["items"]) == [("Northwind Energy", 4), ("Northwind Rail", 2)]


async def test_an_entity_with_its_counts_cooccurrences_and_newest_signals(http, seeded):
    entity_id = seeded.entity["Northwind Energy"]
    body = (await http.get(f"/v1/entities/{entity_id}")).json()
    assert (body["id"], body["name"], body["type"]) == (entity_id, "Northwind Energy", "organization")
    assert body["counts"] == {"last_24h": 2, "last_7d": 4, "last_30d": 4}
    assert [(c["name"], c["count"]) for c in body["co_entities"]] == [
        ("Dana Whitfield", 3),
        ("Port Aldous", 2),
        ("Northwind Rail", 1),
    ]
    assert body["co_entities"][0]["links"]["self"] == f"/v1/entities/{seeded.entity['Dana Whitfield']}"
    assert [(t["slug"], t["count"]) for t in body["co_topics"]] == [
        ("energy-grid", 3),
        ("labour", 1),
        ("ports", 1),
        ("rail", 1),
    ]
    assert body["cooccurrence_basis"] == 4
    assert [s["title"] for s in body["signals"]] == ["nw 1", "nw 2", "nw 3", "nw 4"]
    assert body["links"]["signals"] == f"/v1/signals?entity={entity_id}"


async def test_unknown_entities_are_404_problems(http, seeded):
    assert_problem(await http.get("/v1/entities/999999999"), 404, "not_found", "unknown_entity")
    assert_problem(await http.get("/v1/entities/not-a-number"), 404, "not_found")


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("sort=relevance", "bad_parameter"),
        ("q=%20%20", "bad_parameter"),
        ("since=2026-01-02&until=2026-01-01", "inverted_range"),
        ("window=forever", "bad_parameter"),
        ("cursor=bm9wZQ", "bad_cursor"),
        (f"cursor={encode_cursor('topics', {'count': 1})}", "bad_cursor"),
        ("type=alien", None),
        ("limit=0", None),
        ("limit=101", None),
        ("sort=size", None),
    ],
)
async def test_bad_parameters_are_400_problems(http, query, reason):
    assert_problem(await http.get(f"/v1/entities?{query}"), 400, "bad_request", reason)


async def test_a_cursor_of_another_sort_or_search_is_refused(http, seeded):
    first = (await http.get("/v1/entities?q=north&limit=1")).json()
    cursor = first["next"].split("cursor=")[1]
    for other in ("q=nort", "q=north&sort=name", "q=north&type=person"):
        response = await http.get(f"/v1/entities?{other}&limit=1&cursor={cursor}")
        assert_problem(response, 400, "bad_request", "bad_cursor")


@pytest.mark.parametrize("reader", [PUBLIC_ONLY, SupplierView(supplier=UUID(int=7))])
async def test_entity_search_uses_the_trigram_index(db, seeded, reader):
    # (an entity only other suppliers' content names is left out row by row: the name index
    # still finds the candidates, for a keyless reader and a partner's key alike)
    query = queries.search_entities
    params = {
        "type": None,
        "q": "north",
        "prefix": "north%",
        "after_score": None,
        "after_id": None,
        "limit": 21,
        "restrict_topics": None,
        "topic_any": None,
        **reader.params(),
    }
    async with db.transaction():
        await db.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(
            r[0] for r in await db.fetch(f"EXPLAIN {query.sql}", *[params[p] for p in query.params])
        )
    assert "entities_name_trgm_idx" in plan, plan
