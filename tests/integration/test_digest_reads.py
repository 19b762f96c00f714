"""Reading briefings over real sockets (the API with its worker, the LLM stub, a real
PostgreSQL): a briefing on a topic (aliases, its webhook) and who may read it, lists with a
cursor, problems for bad reads, and the Atom, RSS and JSON feeds."""

from __future__ import annotations

from datetime import date, timedelta

import asyncpg
import feedparser
import httpx
import pytest
from standardwebhooks import Webhook as Verifier

from service.db.database import init_connection
from service.keys.service import create_key
from tests.support import clients, digests_api
from tests.support.digests_api import seed_day, write
from tests.support.receivers import Receiver, eventually, running_receiver

pytestmark = pytest.mark.timeout(180)


# The API with its worker, its keys and a writer's client (fixtures of
# tests/support/digests_api.py and clients.py), this module's own.
api, keys, client = digests_api.api, digests_api.keys, clients.client


# --- a briefing on a topic ----------------------------------------------------------------------


async def test_a_topic_briefing_uses_that_topics_signals_and_resolves_aliases(client, db):
    day = date(2026, 9, 6)
    with running_receiver() as receiver:
        await _topic_briefing(client, db, day, receiver)


async def _topic_briefing(
    client: httpx.AsyncClient, db: asyncpg.Connection, day: date, receiver: Receiver
) -> None:
    ids = await seed_day(db, day, 8, prefix="Foxtrot")  # topics rotate: 0 and 4 are AI infrastructure
    topic_id = await db.fetchval("SELECT id FROM topics WHERE slug = 'ai-infrastructure'")
    await db.execute(
        "INSERT INTO topic_aliases (alias, topic_id, source) VALUES ('ai-infra', $1, 'admin') "
        "ON CONFLICT DO NOTHING",
        topic_id,
    )
    subscription = (
        await client.post(
            "/v1/webhooks",
            json={
                "url": receiver.script("/digests"),
                "topics": ["ai-infrastructure"],
                "event_types": ["digest.published"],
            },
        )
    ).json()
    other = await client.post(
        "/v1/webhooks",
        json={"url": receiver.script("/other"), "topics": ["rail"], "event_types": ["digest.published"]},
    )
    assert "secret" in subscription and other.status_code == 201, other.text
    response = await write(client, day, topic="ai-infra")
    assert response.status_code == 201, response.text
    digest = response.json()
    assert digest["topic"] == {"slug": "ai-infrastructure", "label": "AI infrastructure"}
    assert {c["signal_id"] for c in digest["citations"]} == {str(ids[0]), str(ids[4])}
    assert "topic=ai-infrastructure" in digest["links"]["latest"]
    # Published to webhooks (recorded in the transaction that stored it): a subscriber on the
    # topic receives one signed digest.published event; one on another topic gets nothing.
    received = await eventually(lambda: receiver.received("/digests"), timeout=30)
    assert len(received) == 1 and receiver.received("/other") == []
    data = Verifier(subscription["secret"]).verify(received[0].body, received[0].headers)["data"]
    assert data["headline"] == digest["headline"] and data["version"] == 1
    latest = await client.get("/v1/digests/latest", params={"topic": "ai-infra", "date": day.isoformat()})
    assert latest.json()["id"] == digest["id"]
    general = await client.get("/v1/digests/latest", params={"date": day.isoformat()})
    assert general.status_code == 404  # only the topic briefing was written
    unknown = await write(client, day, topic="no-such-topic")
    assert unknown.status_code == 404 and unknown.json()["reason"] == "unknown_topic"


# --- reading ------------------------------------------------------------------------------------


async def test_listing_pages_with_a_cursor_newest_period_first(client, db, keys, api):
    for offset in range(5):
        day = date(2026, 7, 1) + timedelta(days=offset)
        await seed_day(db, day, 1, prefix=f"Kilo{offset}")
        assert (await write(client, day)).status_code == 201
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {keys.reader}"}) as reader:
        seen: list[str] = []
        url: str | None = "/v1/digests?period=daily&limit=2"
        while url:
            page = (await reader.get(url)).json()
            assert len(page["items"]) <= 2
            seen += [item["date"] for item in page["items"]]
            url = page["next"]
        assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen))
        assert {f"2026-07-0{i}" for i in range(1, 6)} <= set(seen)
        assert (
            await reader.post("/v1/digests", json={"period": "daily", "date": "2026-07-01"})
        ).status_code == 403


async def test_reads_answer_problems_for_bad_parameters_and_unknown_ids(client):
    cases = [
        ("/v1/digests", {"period": "monthly"}, 400),
        ("/v1/digests", {"limit": "0"}, 400),
        ("/v1/digests", {"cursor": "not-a-cursor"}, 400),
        ("/v1/digests", {"topic": "no-such-topic"}, 404),
        ("/v1/digests/latest", {"period": "weekly", "date": "2020-01-01"}, 404),
        ("/v1/digests/latest", {"date": "2026-13-45"}, 400),
        ("/v1/digests/00000000-0000-4000-8000-000000000000", {}, 404),
        ("/v1/digests/jobs/00000000-0000-4000-8000-000000000000", {}, 404),
        ("/v1/digests/not-a-uuid", {}, 404),
    ]
    for path, params, status in cases:
        response = await client.get(path, params=params)
        assert response.status_code == status, (path, params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    other_query = (await client.get("/v1/digests", params={"limit": 1})).json()["next"]
    assert other_query is not None
    token = other_query.split("cursor=")[1]
    mismatched = await client.get("/v1/digests", params={"limit": 1, "period": "weekly", "cursor": token})
    assert mismatched.status_code == 400 and mismatched.json()["reason"] == "bad_cursor"


async def test_feeds_are_valid_with_stable_ids_and_etags(client, api, keys):
    latest = (await client.get("/v1/digests/latest")).json()
    guid = f"urn:uuid:{latest['id']}"
    first = latest["citations"][0]

    ids = {}
    for fmt, version in (("atom", "atom10"), ("rss", "rss20")):
        response = await client.get(f"/v1/feeds/digests.{fmt}", params={"period": "daily"})
        assert response.status_code == 200, response.text
        parsed = feedparser.parse(response.content)
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert parsed.version == version
        ids[fmt] = [entry.id for entry in parsed.entries]
        assert guid in ids[fmt] and len(ids[fmt]) == len(set(ids[fmt]))
        entry = parsed.entries[ids[fmt].index(guid)]
        assert entry.title == latest["headline"]
        text = entry.content[0].value
        assert "[1]" in text and f"[1] {first['title']} — {first['url']}" in text  # claims lead to sources
    assert ids["atom"] == ids["rss"]

    # feedparser 6.0 reads no JSON Feed: check the 1.1 required fields and the same ids.
    json_response = await client.get("/v1/feeds/digests.json", params={"period": "daily"})
    assert json_response.headers["content-type"].startswith("application/feed+json")
    feed = json_response.json()
    assert feed["version"] == "https://jsonfeed.org/version/1.1" and feed["title"]
    assert [item["id"] for item in feed["items"]] == ids["atom"]
    # Relative without SIGNALS_PUBLIC_URL (never built from the request's Host).
    assert all(item["content_text"] and item["url"].startswith("/v1/digests/") for item in feed["items"])

    response = await client.get("/v1/feeds/digests.atom", params={"period": "daily"})
    tag = response.headers["etag"]
    again = await client.get(
        "/v1/feeds/digests.atom", params={"period": "daily"}, headers={"If-None-Match": tag}
    )
    assert again.status_code == 304 and again.headers["etag"] == tag and again.content == b""
    assert (await client.get("/v1/feeds/digests.atom", params={"topic": "nope"})).status_code == 404
    # Feed readers without headers pass the key in the URL, as for signal feeds.
    async with httpx.AsyncClient(base_url=api) as reader:
        assert (await reader.get("/v1/feeds/digests.atom", params={"key": keys.reader})).status_code == 200
        assert (await reader.get("/v1/feeds/digests.atom")).status_code == 401


async def test_a_topic_restricted_key_sees_only_its_topics_briefings(api, database_url, client):
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        topic_id = await conn.fetchval("SELECT id FROM topics WHERE slug = 'ai-infrastructure'")
        restricted = await create_key(
            conn, name="partner", scopes=["signals:read", "signals:write"], topic_ids=[topic_id]
        )
    finally:
        await conn.close()
    async with httpx.AsyncClient(
        base_url=api, headers={"Authorization": f"Bearer {restricted.key}"}
    ) as partner:
        general = (await client.get("/v1/digests/latest")).json()
        assert (await partner.get(f"/v1/digests/{general['id']}")).status_code == 404
        assert (await partner.get("/v1/digests")).json()["items"] == []
        mine = (await partner.get("/v1/digests", params={"topic": "ai-infrastructure"})).json()["items"]
        assert mine and all(item["topic"]["slug"] == "ai-infrastructure" for item in mine)
        refused = await partner.post("/v1/digests", json={"period": "daily", "date": "2026-09-06"})
        assert refused.status_code == 403
