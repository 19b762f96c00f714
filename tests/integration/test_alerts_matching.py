"""Every new or re-analysed current signal is matched against every alert once (issue 25, part
3): in the change log's commit order, none lost and none twice when transactions commit out
of order, each alert's filters and its key's topics applied, and the percolation served by
the alerts' anchor index. The API on loopback without a worker; the matcher is run by the
test (service/alerts/matching.py), on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest

from service.alerts.matching import match_pending
from service.app import create_app
from service.db.queries import queries
from service.keys import service as keys
from service.runtime import Runtime, open_runtime
from service.topics.slugs import topic_ids_for_slugs
from tests.support.clients import connected, keyed_client
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi

pytestmark = pytest.mark.timeout(120)
SCOPES = ["signals:read"]


@pytest.fixture(scope="module")
def api(make_settings: Any) -> Iterator[str]:
    with running_asgi(create_app(make_settings(), worker=False)) as base:
        yield base


@pytest.fixture(scope="module")
async def rt(make_settings: Any) -> AsyncIterator[Runtime]:
    async with open_runtime(make_settings(), extraction=False) as runtime:
        yield runtime


@pytest.fixture(scope="module")
async def world(database_url: str) -> SimpleNamespace:
    async with connected(database_url) as conn:
        # topics and the entity exist before alerts name them
        await seed_signal(
            conn, SeedSignal(title="Seed rail", topics=["Rail"], entities=[("Northline", "organization")])
        )
        await seed_signal(conn, SeedSignal(title="Seed ports", topics=["Ports"]))
        rail_ids = await topic_ids_for_slugs(conn, ["rail"])
        made = {
            "all": await keys.create_key(conn, name="all", scopes=SCOPES),
            "rail": await keys.create_key(conn, name="rail", scopes=SCOPES, topic_ids=rail_ids),
            "revoked": await keys.create_key(conn, name="revoked", scopes=SCOPES),
        }
        entity = await conn.fetchval("SELECT id FROM entities WHERE name = 'Northline'")
    return SimpleNamespace(
        keys={n: k.key for n, k in made.items()}, ids={n: k.id for n, k in made.items()}, entity=entity
    )


async def new_alert(api: str, key: str, **query: Any) -> str:
    async with keyed_client(api, key, timeout=30) as http:
        response = await http.post("/v1/alerts", json={"name": "watch", "query": query})
    assert response.status_code == 201, response.text
    alert_id: str = response.json()["id"]
    return alert_id


async def matched(conn: Any, alert_id: str) -> list[UUID]:
    """The alert's matched signals, in match order (every row: a repeat would show twice)."""
    rows = await conn.fetch(
        "SELECT signal_id FROM alert_matches WHERE alert_id = $1 ORDER BY id", UUID(alert_id)
    )
    return [r["signal_id"] for r in rows]


async def test_signals_committed_out_of_order_are_each_matched_once(api, world, rt, database_url):
    alert = await new_alert(api, world.keys["all"], q="lighthouse")
    async with (
        connected(database_url) as early,
        connected(database_url) as late,
        connected(database_url) as conn,
    ):
        await match_pending(rt.db.pool)  # the log so far is behind us
        transaction = early.transaction()
        await transaction.start()
        # the earlier transaction writes first (smaller xid) and commits last
        first = await seed_signal(early, SeedSignal(title="Lighthouse keepers vote to stay", topics=["Rail"]))
        second = await seed_signal(late, SeedSignal(title="Lighthouse repairs begin", topics=["Rail"]))
        await match_pending(rt.db.pool)
        # the later commit waits behind the open transaction: nothing before it can be skipped
        assert await matched(conn, alert) == []
        await transaction.commit()
        await match_pending(rt.db.pool)
        await match_pending(rt.db.pool)  # a second run finds nothing new
        assert await matched(conn, alert) == [first, second]
    async with keyed_client(api, world.keys["all"], timeout=30) as http:
        page = (await http.get(f"/v1/alerts/{alert}/matches")).json()
    assert [m["signal_id"] for m in page["items"]] == [str(second), str(first)]  # newest first
    assert page["items"][0]["signal"]["title"] == "Lighthouse repairs begin"


async def test_each_alert_matches_what_its_query_and_its_key_allow(api, world, rt, database_url):
    alerts = {
        "words": await new_alert(api, world.keys["all"], q="harbour crane"),
        "phrase_not": await new_alert(api, world.keys["all"], q='"crane collapse" -storm'),
        "either": await new_alert(api, world.keys["all"], q="storm or depot"),
        "topic": await new_alert(api, world.keys["all"], topic="ports"),
        "entity": await new_alert(api, world.keys["all"], entity=world.entity),
        "source": await new_alert(api, world.keys["all"], source="Coast Gazette"),
        "lang": await new_alert(api, world.keys["all"], lang="de", q="crane"),
        "restricted": await new_alert(api, world.keys["rail"], q="crane"),
        "revoked": await new_alert(api, world.keys["revoked"], q="crane"),
    }
    async with connected(database_url) as conn:
        await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE id = $1", world.ids["revoked"])
        s = {
            "harbour": await seed_signal(conn, SeedSignal(title="Harbour crane tested", topics=["Ports"])),
            "collapse": await seed_signal(
                conn,
                SeedSignal(title="Crane collapse at the depot", topics=["Rail"], site_name="Coast Gazette"),
            ),
            "storm": await seed_signal(
                conn, SeedSignal(title="Storm causes crane collapse", topics=["Weather"])
            ),
            "entity": await seed_signal(
                conn,
                SeedSignal(
                    title="Northline orders trains", topics=["Rail"], entities=[("Northline", "organization")]
                ),
            ),
            "german": await seed_signal(
                conn, SeedSignal(title="Neuer Crane im Hafen", topics=["Ports"], language="de")
            ),
        }
        await match_pending(rt.db.pool)
        got = {name: set(await matched(conn, alert)) for name, alert in alerts.items()}
    assert got["words"] == {s["harbour"]}
    assert got["phrase_not"] == {s["collapse"]}
    assert got["either"] == {s["collapse"], s["storm"]}
    assert got["topic"] == {s["harbour"], s["german"]}
    assert got["entity"] == {s["entity"]}
    assert got["source"] == {s["collapse"]}
    assert got["lang"] == {s["german"]}
    assert got["restricted"] == {s["collapse"]}  # crane signals on its topic (rail) only
    assert got["revoked"] == set()


async def test_only_signals_after_the_alert_and_each_new_version_are_matched(api, world, rt, database_url):
    async with connected(database_url) as conn:
        before = await seed_signal(conn, SeedSignal(title="Ferry timetable changes", topics=["Coast"]))
        await match_pending(rt.db.pool)
        alert = await new_alert(api, world.keys["all"], q="ferry")
        url = "https://coast.example/ferry-fares"
        v1 = await seed_signal(conn, SeedSignal(title="Ferry fares rise", url=url, topics=["Coast"]))
        gone = await seed_signal(conn, SeedSignal(title="Ferry strike called off", topics=["Coast"]))
        await conn.execute("DELETE FROM signals WHERE id = $1", gone)  # deleted before it was matched
        await match_pending(rt.db.pool)
        v2 = await seed_signal(
            conn, SeedSignal(title="Ferry fares rise again", url=url, topics=["Coast"], text="Revised. " * 50)
        )
        await match_pending(rt.db.pool)
        await match_pending(rt.db.pool)
        assert await matched(conn, alert) == [v1, v2]
        assert before not in await matched(conn, alert)


async def test_percolating_a_signal_reads_the_anchor_index(world, database_url):
    async with connected(database_url) as conn:
        signal = await seed_signal(conn, SeedSignal(title="Canal lock repaired", topics=["Coast"]))
        await conn.execute(
            """INSERT INTO alerts (api_key_id, name, q, query)
               SELECT $1, 'bulk ' || n, 'word' || n, signal_search_query('word' || n)
               FROM generate_series(1, 3000) AS n""",
            world.ids["all"],
        )
        await conn.execute("ANALYZE alerts")
        plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN " + queries.percolate_signal.sql, signal))
    assert "alert_anchors_pkey" in plan, plan


async def test_a_changed_query_matches_what_it_now_says(api, world, rt, database_url):
    alert = await new_alert(api, world.keys["all"], q="glacier")
    async with keyed_client(api, world.keys["all"], timeout=30) as http:
        changed = await http.patch(f"/v1/alerts/{alert}", json={"query": {"q": "avalanche"}})
        assert changed.status_code == 200, changed.text
    async with connected(database_url) as conn:
        old = await seed_signal(conn, SeedSignal(title="Glacier retreats", topics=["Rail"]))
        new = await seed_signal(conn, SeedSignal(title="Avalanche closes the pass", topics=["Rail"]))
        await match_pending(rt.db.pool)
        assert await matched(conn, alert) == [new]
        assert old not in await matched(conn, alert)
