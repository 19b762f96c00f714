"""Briefings end to end over real sockets: the API (with its worker) and the LLM stub on
loopback, a real PostgreSQL; signals seeded through the pipeline's SQL on past days."""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import asyncpg
import feedparser
import httpx
import pytest
from cryptography.fernet import Fernet
from standardwebhooks import Webhook as Verifier

from service.app import create_app
from service.db.database import init_connection
from service.keys.service import create_key
from service.stories import repository as stories
from tests.support.receivers import Receiver, eventually, running_receiver
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi

pytestmark = pytest.mark.timeout(180)

BUDGET = 6000
TOPICS = ["AI infrastructure", "Energy policy", "Chips", "Rail"]


FERNET_KEY = Fernet.generate_key().decode()


@pytest.fixture(scope="module")
def api(make_settings: Any, stub: SimpleNamespace) -> Iterator[str]:
    settings = make_settings(
        openai_base_url=f"{stub.base}/v1",
        openai_api_key="test-key",
        llm_model="signals-stub",
        llm_http_retries=0,
        llm_timeout_seconds=10,
        digest_daily_at=None,  # the schedule has its own tests; here it must not fire
        digest_max_input_tokens=BUDGET,
        secret_key=FERNET_KEY,
    )
    with running_asgi(create_app(settings, worker=True)) as base:
        yield base


@pytest.fixture(scope="module")
async def keys(database_url: str) -> SimpleNamespace:
    conn = await asyncpg.connect(database_url)
    try:
        writer = await create_key(
            conn, name="writer", scopes=["signals:read", "signals:write", "webhooks:manage"]
        )
        reader = await create_key(conn, name="reader", scopes=["signals:read"])
    finally:
        await conn.close()
    return SimpleNamespace(writer=writer.key, reader=reader.key)


@pytest.fixture
async def client(api: str, keys: SimpleNamespace, stub: SimpleNamespace) -> AsyncIterator[httpx.AsyncClient]:
    stub.state.reset()
    async with httpx.AsyncClient(
        base_url=api, headers={"Authorization": f"Bearer {keys.writer}"}, timeout=60
    ) as http:
        yield http


def noon(day: date, minutes: int = 0) -> datetime:
    return datetime.combine(day, time(12), UTC) + timedelta(minutes=minutes)


async def seed_day(db: asyncpg.Connection, day: date, count: int, *, prefix: str, **extra: Any) -> list[UUID]:
    """``count`` signals on ``day``, with rotating topics and a few shared names."""
    ids = []
    for i in range(count):
        fields: dict[str, Any] = {
            "title": f"{prefix} headline {i}: a development worth a briefing",
            "summary": f"{prefix} claim {i}: what the article reports, in one sentence.",
            "topics": [TOPICS[i % len(TOPICS)]],
            "entities": [(f"{prefix} Company {i % 3}", "organization"), (f"{prefix} Person {i}", "person")],
            "created_at": noon(day, i),
            "key_details": [
                f"{prefix} fact {i}a about it.",
                f"{prefix} fact {i}b about it.",
                "A third fact.",
            ],
        }
        ids.append(await seed_signal(db, SeedSignal(**{**fields, **extra})))
    return ids


async def make_story(db: asyncpg.Connection, signal_ids: list[UUID]) -> UUID:
    """Put signals in one story through the stories SQL (what the relate job does)."""
    async with db.transaction():
        story_id = await stories.create_story(db, signal_ids[0])
        for signal_id in signal_ids:
            await stories.set_signal_story(db, signal_id, story_id)
        await stories.refresh_story(db, story_id)
    return story_id


async def write(client: httpx.AsyncClient, day: date, period: str = "daily", **body: Any) -> httpx.Response:
    return await client.post(
        "/v1/digests", json={"period": period, "date": day.isoformat(), **body}, headers={"Prefer": "wait=30"}
    )


def chat_calls(stub: SimpleNamespace) -> int:
    return int(stub.state.stats()["chat_completions"])


def markers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


# --- writing ------------------------------------------------------------------------------------


async def test_a_day_becomes_a_briefing_whose_citations_all_resolve(client, db, stub):
    day = date(2026, 9, 1)
    ids = await seed_day(db, day, 8, prefix="Alpha")
    await make_story(db, ids[:3])  # three outlets, one event: the newest of them leads
    response = await write(client, day)
    assert response.status_code == 201, response.text
    digest = response.json()
    assert response.headers["location"] == f"/v1/digests/{digest['id']}"
    assert digest["period"] == "daily" and digest["date"] == "2026-09-01" and digest["version"] == 1
    assert digest["headline"] and digest["dek"] and digest["opening"]
    assert 3 <= len(digest["sections"]) <= 5
    assert digest["reading_minutes"] == max(1, math.ceil(digest["word_count"] / 230))

    citations = {c["n"]: c for c in digest["citations"]}
    assert sorted(citations) == list(range(1, len(citations) + 1))
    for section in digest["sections"]:
        cited = markers(section["body"])
        assert cited and cited <= set(citations), section
        assert {citations[n]["signal_id"] for n in cited} == set(section["signal_ids"])
        for paragraph in section["body"].split("\n\n"):
            assert markers(paragraph), paragraph
    for hit in digest["quick_hits"]:
        assert hit["signal_id"] in {c["signal_id"] for c in citations.values()}
        assert hit["title"] and hit["url"]
    for citation in citations.values():
        signal = (await client.get(citation["links"]["signal"])).json()
        assert signal["title"] == citation["title"]
        assert signal["source"]["url"] == citation["url"]

    # One per story: of the three reports only the lead is in the briefing.
    cited_ids = {UUID(c["signal_id"]) for c in citations.values()}
    assert len(cited_ids & set(ids[:3])) == 1 and ids[2] in cited_ids
    assert cited_ids == {ids[2], *ids[3:]}

    provenance = digest["provenance"]
    assert provenance["kind"] == "llm" and provenance["trigger"] == "request"
    assert provenance["llm_calls"] == 2 and chat_calls(stub) == 2
    assert provenance["input_tokens"] > 0 and provenance["output_tokens"] > 0
    assert provenance["signals_considered"] == 8 and provenance["stories_considered"] == 6
    assert provenance["signals_included"] == 6 and provenance["input_token_budget"] == BUDGET
    assert digest["links"]["signals"].startswith("/v1/signals?since=2026-09-01&until=2026-09-01")


async def test_an_invented_id_is_rejected_and_re_asked(client, db, stub):
    day = date(2026, 9, 2)
    await seed_day(db, day, 4, prefix="Bravo")
    stub.state.push_faults([{"kind": "invented_ids"}])  # the plan cites s999
    response = await write(client, day)
    assert response.status_code == 201, response.text
    requests = stub.state.stats()["requests"]
    assert [r["fault"] for r in requests] == ["invented_ids", None, None]
    assert [r["schema"] for r in requests] == ["DigestPlan", "DigestPlan", "DigestDraft"]
    assert requests[1]["messages"] > requests[0]["messages"]  # the re-ask carries the error
    assert response.json()["provenance"]["llm_calls"] == 3

    stub.state.reset()
    stub.state.push_faults([{"kind": "delay", "seconds": 0}, {"kind": "invented_ids"}])  # the text cites s999
    again = await write(client, day)
    assert again.status_code == 201, again.text
    assert [r["schema"] for r in stub.state.stats()["requests"]] == [
        "DigestPlan",
        "DigestDraft",
        "DigestDraft",
    ]
    assert "s999" not in again.text and again.json()["version"] == 2


async def test_a_model_that_keeps_inventing_fails_the_job(client, db, stub):
    day = date(2026, 9, 3)
    await seed_day(db, day, 3, prefix="Charlie")
    stub.state.push_faults([{"kind": "invented_ids"}] * 3)  # every attempt of the plan
    response = await write(client, day)
    assert response.status_code == 502, response.text
    problem = response.json()
    assert problem["code"] == "llm_invalid_output" and problem["job"].startswith("/v1/digests/jobs/")
    job = (await client.get(problem["job"])).json()
    assert job["status"] == "failed" and job["error"]["code"] == "llm_invalid_output"
    assert (await client.get("/v1/digests/latest", params={"date": day.isoformat()})).status_code == 404


async def test_an_empty_day_costs_nothing_and_answers_404(client, stub):
    response = await write(client, date(2026, 8, 1))
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["reason"] == "no_signals" and "1 August 2026" in response.json()["detail"]
    latest = await client.get("/v1/digests/latest", params={"period": "daily", "date": "2026-08-01"})
    assert latest.status_code == 404 and latest.json()["reason"] == "no_digest"
    assert chat_calls(stub) == 0


async def test_a_one_signal_day_is_a_template_with_no_model_call(client, db, stub):
    day = date(2026, 9, 4)
    [only] = await seed_day(db, day, 1, prefix="Delta")
    response = await write(client, day)
    assert response.status_code == 201, response.text
    digest = response.json()
    assert digest["provenance"]["kind"] == "template" and digest["provenance"]["llm_calls"] == 0
    assert chat_calls(stub) == 0
    assert digest["headline"].startswith("Delta headline 0") and len(digest["sections"]) == 1
    assert digest["quick_hits"] == [] and [c["signal_id"] for c in digest["citations"]] == [str(only)]


async def test_regenerating_a_period_keeps_every_version(client, db):
    day = date(2026, 9, 5)
    await seed_day(db, day, 2, prefix="Echo")
    first = (await write(client, day)).json()
    second = (await write(client, day)).json()
    assert (first["version"], second["version"]) == (1, 2) and first["id"] != second["id"]
    old = (await client.get(f"/v1/digests/{first['id']}")).json()
    assert old["is_latest"] is False and old["version"] == 1
    latest = (await client.get("/v1/digests/latest", params={"date": day.isoformat()})).json()
    assert latest["id"] == second["id"] and latest["is_latest"] is True
    every = (await client.get("/v1/digests", params={"versions": "all", "limit": 100})).json()["items"]
    assert {first["id"], second["id"]} <= {d["id"] for d in every}
    current = (await client.get("/v1/digests", params={"limit": 100})).json()["items"]
    assert second["id"] in {d["id"] for d in current} and first["id"] not in {d["id"] for d in current}


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


async def test_the_token_budget_is_respected(client, db, stub):
    day = date(2026, 9, 7)
    long_fact = "A long key fact that goes on and on about the matter at hand, with figures. " * 5
    await seed_day(db, day, 40, prefix="Golf", key_details=[long_fact] * 4)
    response = await write(client, day)
    assert response.status_code == 201, response.text
    provenance = response.json()["provenance"]
    assert provenance["stories_considered"] == 40
    assert 2 <= provenance["signals_included"] < 30  # the budget cut below SIGNALS_DIGEST_MAX_SIGNALS
    requests = stub.state.stats()["requests"]
    assert len(requests) == 2
    assert all(r["prompt_tokens"] <= BUDGET for r in requests), [r["prompt_tokens"] for r in requests]


async def test_without_prefer_the_answer_is_a_job_to_follow(client, db):
    day = date(2026, 9, 8)
    await seed_day(db, day, 2, prefix="Hotel")
    response = await client.post("/v1/digests", json={"period": "daily", "date": day.isoformat()})
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == job["links"]["self"] == f"/v1/digests/jobs/{job['id']}"
    for _ in range(300):
        job = (await client.get(job["links"]["self"])).json()
        if job["status"] in ("done", "failed"):
            break
        await __import__("asyncio").sleep(0.1)
    assert job["status"] == "done" and job["trigger"] == "request"
    assert (await client.get(job["links"]["digest"])).json()["id"] == job["digest_id"]


async def test_a_weekly_briefing_covers_monday_to_sunday(client, db):
    await seed_day(db, date(2026, 9, 14), 2, prefix="India")  # a Monday
    await seed_day(db, date(2026, 9, 20), 2, prefix="Juliet")  # its Sunday
    response = await write(client, date(2026, 9, 17), period="weekly")
    assert response.status_code == 201, response.text
    digest = response.json()
    assert (digest["date"], digest["last_day"]) == ("2026-09-14", "2026-09-20")
    assert digest["provenance"]["signals_considered"] == 4


async def test_future_periods_and_bad_bodies_are_problems(client):
    future = await write(client, datetime.now(UTC).date() + timedelta(days=2))
    assert future.status_code == 422 and future.json()["reason"] == "future_period"
    for body in ({"period": "monthly", "date": "2026-09-01"}, {"period": "daily", "date": "yesterday"}, {}):
        bad = await client.post("/v1/digests", json=body)
        assert bad.status_code == 400, body
        assert bad.headers["content-type"].startswith("application/problem+json")


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
