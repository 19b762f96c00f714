"""Topics over real sockets: window counts and trending, keyset pages, alias resolution,
timelines, and problem+json for every bad parameter (the admin merge is
tests/integration/test_topic_merge.py's). Signals are stored through the repository
(tests/support/seeding.py) with chosen times, on a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from service.db.database import init_connection
from service.db.queries import queries
from service.pagination import encode_cursor
from service.time_window import DayPieces
from tests.support import reads_api, topics_api
from tests.support.pages import all_pages
from tests.support.problems import assert_problem
from tests.support.topics_api import W0, W1, seed, topic_id

# The API without its worker, the module's keys and a reader's client (fixtures of
# tests/support/reads_api.py and topics_api.py), this module's own.
api, keys, http = reads_api.api, topics_api.keys, reads_api.http


async def connect(database_url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)  # jsonb as Python values, as the pool has it
    return conn


# --- counts and trending ----------------------------------------------------------------------


@pytest.fixture(scope="module")
async def windowed(database_url: str) -> None:
    """Alpha 4 now / 2 before; Beta 2 / 0; Gamma 1 / 1; plus signals that must not count."""
    conn = await connect(database_url)
    try:
        day = timedelta(days=1)
        for i in range(4):
            await seed(conn, f"alpha now {i}", ["Alpha Power"], W1 + i * day)
        for i in range(2):
            await seed(conn, f"alpha before {i}", ["Alpha Power"], W0 + i * day)
        for i in range(2):
            await seed(conn, f"beta now {i}", ["Beta Rail", "Alpha Power"] if i else ["Beta Rail"], W1 + day)
        await seed(conn, "gamma now", ["Gamma Water"], W1 + 6 * day)
        await seed(conn, "gamma before", ["Gamma Water"], W1 - timedelta(seconds=1))
        await seed(conn, "gamma long ago", ["Gamma Water"], W0 - 30 * day)
        await seed(conn, "gamma after", ["Gamma Water"], W1 + 7 * day)  # until is exclusive
        # An older analysis of an article is not current: it never counts.
        url = "https://courier.example/superseded"
        await seed(conn, "alpha old version", ["Alpha Power"], W1 + day, url=url, text="first " * 50)
        await seed(conn, "alpha new version", ["Gamma Water"], W1 + 2 * day, url=url, text="second " * 50)
    finally:
        await conn.close()


WINDOW = f"since={W1.isoformat().replace('+00:00', 'Z')}&until={(W1 + timedelta(days=7)).date()}T00:00:00Z"


async def test_counts_per_topic_in_the_window_with_the_previous_window(http, windowed):
    body = (await http.get(f"/v1/topics?{WINDOW}")).json()
    assert body["window"] == {"since": "2025-03-17T00:00:00Z", "until": "2025-03-24T00:00:00Z"}
    assert body["previous_window"] == {"since": "2025-03-10T00:00:00Z", "until": "2025-03-17T00:00:00Z"}
    counts = {i["slug"]: (i["count"], i["previous_count"], i["trending"]) for i in body["items"]}
    assert counts == {
        "alpha-power": (5, 2, 1.5),
        "beta-rail": (2, 0, 2.0),
        "gamma-water": (2, 1, 1.0),
    }
    assert [i["slug"] for i in body["items"]] == ["alpha-power", "beta-rail", "gamma-water"]
    assert body["sort"] == "count" and body["next"] is None and body["limit"] == 20
    alpha = body["items"][0]
    assert alpha["label"] == "Alpha Power"
    assert alpha["links"] == {
        "self": "/v1/topics/alpha-power",
        "timeline": "/v1/topics/alpha-power/timeline",
        "signals": "/v1/signals?topic=alpha-power",
    }


async def test_sort_by_trending(http, windowed):
    body = (await http.get(f"/v1/topics?{WINDOW}&sort=trending")).json()
    assert [(i["slug"], i["trending"]) for i in body["items"]] == [
        ("beta-rail", 2.0),
        ("alpha-power", 1.5),
        ("gamma-water", 1.0),
    ]


@pytest.mark.parametrize("sort", ["count", "trending"])
async def test_keyset_pages_visit_every_topic_once(http, windowed, sort):
    whole = (await http.get(f"/v1/topics?{WINDOW}&sort={sort}")).json()["items"]
    first = (await http.get(f"/v1/topics?{WINDOW}&sort={sort}&limit=1")).json()
    assert first["next"].startswith("/v1/topics?") and "cursor=" in first["next"]
    paged = await all_pages(http, f"/v1/topics?{WINDOW}&sort={sort}&limit=1")
    assert [i["slug"] for i in paged] == [i["slug"] for i in whole]


async def test_window_parameters_combine(http, windowed):
    by_window = (await http.get("/v1/topics?since=2025-03-17&window=7d")).json()
    assert by_window["window"] == {"since": "2025-03-17T00:00:00Z", "until": "2025-03-24T00:00:00Z"}
    by_until = (await http.get("/v1/topics?until=2025-03-23&window=1w")).json()
    assert by_until["window"] == by_window["window"]  # a bare date as until includes that day
    assert by_until["items"] == by_window["items"]


async def test_the_default_window_is_the_last_seven_days_and_the_cursor_pins_it(http, db):
    now = datetime.now(UTC)
    await seed(db, "delta recent 1", ["Delta Recent"], now - timedelta(days=1))
    await seed(db, "delta recent 2", ["Delta Recent"], now - timedelta(days=2))
    await seed(db, "epsilon recent", ["Epsilon Recent"], now - timedelta(hours=3))
    await seed(db, "delta old", ["Delta Recent"], now - timedelta(days=8))
    first = (await http.get("/v1/topics?limit=1")).json()
    since = datetime.fromisoformat(first["window"]["since"])
    until = datetime.fromisoformat(first["window"]["until"])
    assert until - since == timedelta(days=7) and abs(until - now) < timedelta(minutes=1)
    pages, url = [], "/v1/topics?limit=1"
    while url:
        pages.append((await http.get(url)).json())
        url = pages[-1]["next"]
    assert len(pages) >= 2
    assert all(page["window"] == pages[0]["window"] for page in pages)  # the cursor pins the window
    counts = {i["slug"]: (i["count"], i["previous_count"]) for page in pages for i in page["items"]}
    assert counts["delta-recent"] == (2, 1) and counts["epsilon-recent"] == (1, 0)
    assert "alpha-power" not in counts


# --- bad parameters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("since=2025-03-20&until=2025-03-10", "inverted_range"),
        ("since=2025-03-20T00:00:00Z&until=2025-03-20T00:00:00Z", "inverted_range"),
        ("since=yesterday", "bad_parameter"),
        ("until=2025-13-01", "bad_parameter"),
        ("window=7x", "bad_parameter"),
        ("window=0d", "bad_parameter"),
        ("window=9999w", "bad_parameter"),
        ("since=2025-01-01&until=2025-02-01&window=7d", "bad_parameter"),
        ("cursor=garbage!", "bad_cursor"),
        (f"cursor={encode_cursor('entities', {'id': 1})}", "bad_cursor"),  # another endpoint's
        ("limit=0", None),
        ("limit=101", None),
        ("limit=ten", None),
        ("sort=popular", None),
    ],
)
async def test_bad_list_parameters_are_400_problems(http, query, reason):
    assert_problem(await http.get(f"/v1/topics?{query}"), 400, "bad_request", reason)


async def test_a_cursor_replayed_with_other_parameters_is_refused(http, windowed):
    first = (await http.get(f"/v1/topics?{WINDOW}&limit=1")).json()
    cursor = first["next"].split("cursor=")[1]
    response = await http.get(f"/v1/topics?{WINDOW}&limit=1&sort=trending&cursor={cursor}")
    assert_problem(response, 400, "bad_request", "bad_cursor")


async def test_topics_need_a_read_key(api):
    async with httpx.AsyncClient(base_url=api) as anonymous:
        assert_problem(await anonymous.get("/v1/topics"), 401, "unauthorized")


# --- one topic --------------------------------------------------------------------------------


async def test_a_topic_with_its_counts_and_newest_signals(http, db):
    now = datetime.now(UTC)
    ids = [
        await seed(db, f"zeta {i}", ["Zeta Grid"], now - timedelta(days=d))
        for i, d in enumerate([40, 20, 3, 0.5])
    ]
    response = await http.get("/v1/topics/zeta-grid")
    assert response.status_code == 200 and "content-location" not in response.headers
    body = response.json()
    assert (body["slug"], body["label"], body["aliases"]) == ("zeta-grid", "Zeta Grid", [])
    assert body["counts"] == {"last_24h": 1, "last_7d": 2, "last_30d": 3}
    assert [s["id"] for s in body["signals"]] == [str(i) for i in reversed(ids)]
    assert body["signals"][0]["title"] == "zeta 3"
    assert body["signals"][0]["topics"] == [{"slug": "zeta-grid", "label": "Zeta Grid"}]
    assert body["links"]["timeline"] == "/v1/topics/zeta-grid/timeline"


async def test_an_alias_answers_with_the_canonical_topic(http, db):
    await seed(db, "eta one", ["Eta Batteries"], W0)
    await seed(db, "eta two", ["Eta Battery"], W0)  # singular: an alias of eta-batteries
    response = await http.get("/v1/topics/eta-battery")
    assert response.status_code == 200
    assert response.headers["content-location"] == "/v1/topics/eta-batteries"
    body = response.json()
    assert body["slug"] == "eta-batteries" and body["aliases"] == ["eta-battery"]
    assert sorted(s["title"] for s in body["signals"]) == ["eta one", "eta two"]
    # A label-like spelling is normalised the way the model's labels are.
    spelled = await http.get("/v1/topics/Eta%20Batteries")
    assert spelled.status_code == 200 and spelled.json()["slug"] == "eta-batteries"


async def test_unknown_topics_are_404_problems(http):
    assert_problem(await http.get("/v1/topics/no-such-topic"), 404, "not_found", "unknown_topic")
    assert_problem(await http.get("/v1/topics/---"), 404, "not_found", "unknown_topic")
    assert_problem(await http.get("/v1/topics/no-such-topic/timeline"), 404, "not_found", "unknown_topic")


# --- timeline ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def timeline_topic(database_url: str) -> None:
    conn = await connect(database_url)
    try:
        jan = datetime(2025, 1, 1, tzinfo=UTC)  # a Wednesday
        for title, at, sentiment in [
            ("theta a", jan + timedelta(hours=1), 0.5),
            ("theta b", jan + timedelta(hours=23, minutes=59), -0.25),
            ("theta c", jan + timedelta(days=3, hours=12), 1.0),
            ("theta d", jan + timedelta(days=9), -1.0),
            ("theta e", jan - timedelta(days=1), 0.75),  # Tuesday before: week of Dec 30
        ]:
            await seed(conn, title, ["Theta Timeline"], at, sentiment=sentiment)
    finally:
        await conn.close()


async def test_a_daily_timeline_is_zero_filled_with_mean_sentiment(http, timeline_topic):
    body = (await http.get("/v1/topics/theta-timeline/timeline?since=2025-01-01&until=2025-01-10")).json()
    assert body["interval"] == "day" and body["topic"] == {
        "slug": "theta-timeline",
        "label": "Theta Timeline",
    }
    assert body["window"] == {"since": "2025-01-01T00:00:00Z", "until": "2025-01-11T00:00:00Z"}
    buckets = body["buckets"]
    assert [b["start"][:10] for b in buckets] == [f"2025-01-{d:02d}" for d in range(1, 11)]
    assert buckets[0] == {"start": "2025-01-01T00:00:00Z", "count": 2, "mean_sentiment": 0.125}
    assert buckets[3] == {"start": "2025-01-04T00:00:00Z", "count": 1, "mean_sentiment": 1.0}
    assert buckets[9] == {"start": "2025-01-10T00:00:00Z", "count": 1, "mean_sentiment": -1.0}
    empty = [b for i, b in enumerate(buckets) if i not in (0, 3, 9)]
    assert all(b["count"] == 0 and b["mean_sentiment"] is None for b in empty)


async def test_a_weekly_timeline_starts_on_mondays(http, timeline_topic):
    body = (
        await http.get("/v1/topics/theta-timeline/timeline?interval=week&since=2025-01-01&until=2025-01-19")
    ).json()
    assert body["window"]["since"] == "2024-12-30T00:00:00Z"  # rounded down to its Monday
    assert [(b["start"][:10], b["count"]) for b in body["buckets"]] == [
        ("2024-12-30", 4),
        ("2025-01-06", 1),
        ("2025-01-13", 0),
    ]
    for bucket in body["buckets"]:
        assert datetime.fromisoformat(bucket["start"]).weekday() == 0


async def test_default_timelines_are_30_days_or_26_weeks(http, timeline_topic):
    daily = (await http.get("/v1/topics/theta-timeline/timeline")).json()
    weekly = (await http.get("/v1/topics/theta-timeline/timeline?interval=week")).json()
    assert len(daily["buckets"]) == 30 and len(weekly["buckets"]) == 26
    today = datetime.now(UTC).date().isoformat()
    assert daily["buckets"][-1]["start"].startswith(today)


@pytest.mark.parametrize(
    ("query", "status", "reason"),
    [
        ("interval=month", 400, None),
        ("since=2025-02-01&until=2025-01-01", 400, "inverted_range"),
        ("since=2020-01-01&until=2025-01-01", 422, "too_many_buckets"),
        ("since=soon", 400, "bad_parameter"),
    ],
)
async def test_bad_timeline_parameters_are_problems(http, timeline_topic, query, status, reason):
    code = "bad_request" if status == 400 else "invalid_request"
    assert_problem(await http.get(f"/v1/topics/theta-timeline/timeline?{query}"), status, code, reason)


# --- query plans ------------------------------------------------------------------------------


async def explain(db: asyncpg.Connection, sql: str, *args: Any) -> str:
    """The plan with sequential scans priced out, as a tiny test table would otherwise get."""
    async with db.transaction():
        await db.execute("SET LOCAL enable_seqscan = off")
        rows = await db.fetch(f"EXPLAIN {sql}", *args)
    return "\n".join(r[0] for r in rows)


async def explain_query(db: asyncpg.Connection, name: str, **params: Any) -> str:
    query = getattr(queries, name)
    return await explain(db, query.sql, *[params[p] for p in query.params])


async def test_hot_topic_queries_use_their_indexes(db, windowed):
    # Fresh statistics and visibility map: the planner's choice must not depend on when
    # autovacuum last ran on this test database.
    await db.execute("VACUUM ANALYZE signals, topic_days")
    # windows that end mid-day: whole days come from the daily counts, the ends from signals
    since, until, previous_since = (
        W1 + timedelta(hours=6),
        W1 + timedelta(days=7, hours=6),
        W0 + timedelta(hours=6),
    )
    pieces = DayPieces.of(previous_since, since, until)
    assert pieces.day_from and pieces.raw_from
    window = {"since": since, "limit": 21, **pieces.params()}
    alpha = await topic_id(db, "alpha-power")
    # a topic-restricted key's counts read the same indexes (the restriction filters their rows)
    for name, extra in [
        ("count_topics_by_count", {"restrict_topics": None}),
        ("count_topics_by_trending", {"restrict_topics": None, "after_trending": None}),
        ("count_topics_by_count", {"restrict_topics": [alpha]}),
    ]:
        plan = await explain_query(db, name, after_count=None, after_id=None, **window, **extra)
        assert "using topic_days_day_idx" in plan and "using signals_current_feed_idx" in plan, plan
        assert "Seq Scan" not in plan, plan
    # A topic's timeline: its days by primary key; its partial days by the GIN index, the
    # window index or both, by selectivity.
    pieces = DayPieces.of(W0 + timedelta(hours=6), W1 + timedelta(hours=6))
    plan = await explain_query(
        db, "topic_timeline", interval="day", since=W0, until=W1, topic_id=alpha, **pieces.params()
    )
    assert "using topic_days_pkey" in plan and "Seq Scan" not in plan, plan
    plan = await explain_query(db, "topic_signal_counts", topic_id=alpha, now=W1)
    assert "Seq Scan on signals" not in plan, plan


async def test_openapi_describes_the_new_endpoints(http):
    paths = (await http.get("/schema/openapi.json")).json()["paths"]
    for path in (
        "/v1/topics",
        "/v1/topics/{slug}",
        "/v1/topics/{slug}/timeline",
        "/v1/admin/topics/{slug}/merge",
        "/v1/entities",
        "/v1/entities/{entity_id}",
        "/v1/signals/export",
    ):
        assert path in paths, path
    names = {p["name"] for p in paths["/v1/topics"]["get"]["parameters"]}
    assert {"since", "until", "window", "sort", "limit", "cursor"} <= names
    assert {"400", "401", "403"} <= set(paths["/v1/topics"]["get"]["responses"])
