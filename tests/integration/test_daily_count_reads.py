"""Topic, entity and timeline answers read from the daily counts together with the partial
days at a window's ends: each equals a count of the signals themselves, whatever the window's
ends, topic filters and key restrictions (sql/migrations/0017_daily_rollups.sql). Real
PostgreSQL, real sockets."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import asyncpg
import httpx
import pytest

from service.db.database import init_connection
from service.keys import service as keys_service
from service.topics.slugs import topic_ids_for_slugs
from tests.support import daily_counts, reads_api
from tests.support.daily_counts import D0, DAY
from tests.support.pages import all_pages
from tests.support.seeding import SeedSignal, seed_signal

# The API without its worker, the module's keys and a reader's client (fixtures of
# tests/support/reads_api.py and daily_counts.py), this module's own.
api, keys, http = reads_api.api, daily_counts.keys, reads_api.http


def recount_topics(rows: list[asyncpg.Record], since: datetime, until: datetime) -> dict[str, int]:
    found: dict[str, int] = {}
    for row in rows:
        if since <= row["created_at"] < until:
            for slug in row["slugs"]:
                found[slug] = found.get(slug, 0) + 1
    return found


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
async def spread(database_url: str) -> None:
    """120 signals at random minutes over 40 days from D0 + 60 days, on five topics and six
    entities, some re-analysed: windows can end anywhere inside a day."""
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    rng = random.Random(7)
    start = D0 + 60 * DAY
    topics = [f"Lambda {name}" for name in ("Grid", "Mines", "Ports", "Rail", "Water")]
    entities = [(f"Lambda Org {i}", "organization") for i in range(6)]
    try:
        for i in range(120):
            url = f"https://lambda.example/{i % 100}"  # twenty articles analysed twice
            await seed_signal(
                conn,
                SeedSignal(
                    title=f"lambda {i}",
                    topics=rng.sample(topics, rng.randint(1, 3)),
                    entities=rng.sample(entities, rng.randint(0, 3)),
                    created_at=start + timedelta(minutes=rng.randrange(40 * 24 * 60)),
                    sentiment=rng.choice([None, -0.5, 0.0, 0.25, 0.75]),
                    url=url,
                    text=f"lambda article {i} " * 30,
                ),
            )
    finally:
        await conn.close()


WINDOWS = [  # (since, until) after D0 + 60 days: mid-day ends, midnight ends, within one day
    (timedelta(days=9, hours=5, minutes=17), timedelta(days=23, hours=19, minutes=3)),
    (timedelta(days=10), timedelta(days=20)),
    (timedelta(days=14, hours=2), timedelta(days=14, hours=22)),
    (timedelta(days=3, hours=12), timedelta(days=39, hours=1)),
]


@pytest.mark.parametrize(("since", "until"), WINDOWS)
async def test_topic_and_entity_counts_equal_a_recount_of_the_signals(http, db, spread, since, until):
    start = D0 + 60 * DAY
    since_at, until_at = start + since, start + until
    previous_since = since_at - (until_at - since_at)
    rows = await db.fetch(
        """SELECT s.created_at,
                  array(SELECT t.slug FROM topics t WHERE t.id = ANY(s.topic_ids)) AS slugs,
                  array(SELECT e.name FROM entities e WHERE e.id = ANY(s.entity_ids)) AS names
           FROM signals s WHERE s.is_current"""
    )
    now_counts = recount_topics(rows, since_at, until_at)
    before_counts = recount_topics(rows, previous_since, since_at)
    assert now_counts  # the window holds signals
    for sort in ("count", "trending"):
        items = await all_pages(
            http, f"/v1/topics?since={iso(since_at)}&until={iso(until_at)}&sort={sort}&limit=2"
        )
        assert {i["slug"]: (i["count"], i["previous_count"]) for i in items} == {
            slug: (n, before_counts.get(slug, 0)) for slug, n in now_counts.items()
        }
    names: dict[str, int] = {}
    for row in rows:
        if since_at <= row["created_at"] < until_at:
            for name in row["names"]:
                names[name] = names.get(name, 0) + 1
    items = await all_pages(http, f"/v1/entities?since={iso(since_at)}&until={iso(until_at)}&limit=4")
    assert {i["name"]: i["count"] for i in items} == names


ON_TOPICS = [  # (topics asked for, the key's topics): entity counts over signals on one of each
    (["lambda-ports", "lambda-rail"], None),
    (None, ["lambda-ports", "lambda-rail"]),
    (["lambda-rail"], ["lambda-ports", "lambda-rail"]),
    # (asking for a topic outside the key's is answered as an unknown topic: test_restricted_existence)
]


@pytest.mark.parametrize(("asked", "allowed"), ON_TOPICS)
@pytest.mark.parametrize(("since", "until"), WINDOWS)
async def test_entity_counts_on_topics_equal_a_recount_of_their_signals(
    api, db, spread, since, until, asked, allowed
):
    """?topic= and a topic-restricted key count only the signals carrying one of the topics
    (read from the signals, not the daily counts), over the same windows; both together count
    the signals on one of each, as GET /v1/signals combines them."""
    start = D0 + 60 * DAY
    since_at, until_at = start + since, start + until
    asked_ids = await topic_ids_for_slugs(db, asked) if asked else None
    allowed_ids = await topic_ids_for_slugs(db, allowed) if allowed else None
    key = (
        await keys_service.create_key(db, name="lambda", scopes=["signals:read"], topic_ids=allowed_ids)
    ).key
    rows = await db.fetch(
        """SELECT array(SELECT e.name FROM entities e WHERE e.id = ANY(s.entity_ids)) AS names
           FROM signals s
           WHERE s.is_current AND s.created_at >= $1 AND s.created_at < $2
             AND ($3::bigint[] IS NULL OR s.topic_ids && $3)
             AND ($4::bigint[] IS NULL OR s.topic_ids && $4)""",
        since_at,
        until_at,
        asked_ids,
        allowed_ids,
    )
    names: dict[str, int] = {}
    for row in rows:
        for name in row["names"]:
            names[name] = names.get(name, 0) + 1
    assert names
    topics = "".join(f"&topic={slug}" for slug in asked or ())
    window = f"since={iso(since_at)}&until={iso(until_at)}"
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {key}"}) as http:
        items = await all_pages(http, f"/v1/entities?{window}&limit=4{topics}")
        assert {i["name"]: i["count"] for i in items} == names
        # by name: the entities named on the topics at any time, each with its window count
        named = await all_pages(http, f"/v1/entities?{window}&sort=name&limit=4{topics}")
    ever = await db.fetch(
        """SELECT DISTINCT e.name FROM signals s JOIN entities e ON e.id = ANY(s.entity_ids)
           WHERE s.is_current
             AND ($1::bigint[] IS NULL OR s.topic_ids && $1)
             AND ($2::bigint[] IS NULL OR s.topic_ids && $2)""",
        asked_ids,
        allowed_ids,
    )
    assert [i["name"] for i in named] == sorted(r["name"] for r in ever)
    assert {i["name"]: i["count"] for i in named if i["count"]} == names


async def test_a_topic_filter_is_checked_and_binds_the_cursor(http, spread):
    unknown = await http.get("/v1/entities", params={"topic": ["lambda-ports", "no-such-topic"]})
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["reason"] == "unknown_topic" and "no-such-topic" in unknown.json()["detail"]
    window = {"since": iso(D0 + 60 * DAY), "until": iso(D0 + 100 * DAY), "limit": 1}
    first = (await http.get("/v1/entities", params={**window, "topic": "lambda-ports"})).json()
    cursor = first["next"].split("cursor=")[1].split("&")[0]
    moved = await http.get("/v1/entities", params={**window, "topic": "lambda-rail", "cursor": cursor})
    assert moved.status_code == 400 and moved.json()["reason"] == "bad_cursor", moved.text
    followed = await http.get(first["next"])
    assert followed.status_code == 200 and followed.json()["items"][0]["id"] != first["items"][0]["id"]


@pytest.mark.parametrize("interval", ["day", "week"])
async def test_timelines_equal_a_recount_of_the_signals(http, db, spread, interval):
    start = D0 + 60 * DAY
    slug = "lambda-rail"
    body = (
        await http.get(
            f"/v1/topics/{slug}/timeline?interval={interval}&since={(start + 2 * DAY).date()}"
            f"&until={(start + 38 * DAY).date()}"
        )
    ).json()
    rows = await db.fetch(
        """SELECT s.created_at, s.sentiment FROM signals s JOIN topics t ON s.topic_ids @> ARRAY[t.id]
           WHERE s.is_current AND t.slug = $1""",
        slug,
    )
    assert body["buckets"]
    seen = 0
    for bucket in body["buckets"]:
        begin = datetime.fromisoformat(bucket["start"])
        end = begin + (DAY if interval == "day" else 7 * DAY)
        inside = [r["sentiment"] for r in rows if begin <= r["created_at"] < end]
        rated = [s for s in inside if s is not None]
        assert bucket["count"] == len(inside), bucket
        # rounded to 4 places by PostgreSQL (half away from zero), hence the tolerance
        expected = pytest.approx(sum(rated) / len(rated), abs=0.51e-4) if rated else None
        assert bucket["mean_sentiment"] == expected, bucket
        seen += len(inside)
    assert seen > 10
