"""A topic-restricted key cannot tell a hidden topic or entity from a missing one.

Every route that takes a topic (by slug or alias) or an entity from the caller answers a key
restricted to other topics exactly as it answers a name that does not exist: same status,
headers and body, byte for byte, once the name asked for is set aside. The unrestricted key
still gets the real answers. The API (with its worker) and the LLM stub run on loopback.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from service.app import create_app
from service.keys import service as keys
from tests.support.clients import connected, keyed_client, stub_llm
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi

pytestmark = pytest.mark.timeout(180)

DAY = (datetime.now(UTC) - timedelta(days=2)).date()
HIDDEN_ENTITY_FLOOR = 700_000
"""Entities named only on the hidden topic get ids from here: a number that cannot be mistaken
for any other part of an answer when the asked-for name is set aside."""
UNKNOWN = {"topic": "nowheres", "alias": "absent", "entity": "799999"}
"""Names that do not exist, as long as the hidden names they stand in for (so lengths match)."""
REQUEST_ID = "existence-probe"
VARYING_HEADERS = {"date", "ratelimit"}
"""Headers that differ between any two requests (the clock, the tokens left in the bucket)."""
ASKED = "<asked>"


@pytest.fixture(scope="module")
def api(make_settings: Any, stub: SimpleNamespace) -> Iterator[str]:
    settings = make_settings(
        **stub_llm(stub),
        llm_http_retries=0,
        digest_daily_at=None,
        secret_key=Fernet.generate_key().decode(),
    )
    with running_asgi(create_app(settings, worker=True)) as base:
        yield base


def _noon(day: date, minutes: int) -> datetime:
    return datetime.combine(day, time(12), UTC) + timedelta(minutes=minutes)


@pytest.fixture(scope="module")
async def world(api: str, database_url: str) -> SimpleNamespace:
    """Harbours (the restricted key's topic, "harbour" an alias of it) and Quarries (hidden,
    "quarry" an alias of it), entities on either side and on both, and briefings of each."""
    async with connected(database_url) as conn:
        org = "organization"
        signals = {
            "h1": ("Harbour dredging begins", ["Harbours"], [("Dock Co", org), ("Shared Org", org)]),
            "h2": ("Harbour fees rise", ["Harbour"], [("Dock Co", org)]),
            "both": ("Ore ships by sea", ["Harbours", "Quarries"], [("Cargo Line", org)]),
        }
        ids = {}
        for minute, (name, (title, topics, entities)) in enumerate(signals.items()):
            seed = SeedSignal(title=title, topics=topics, entities=entities, created_at=_noon(DAY, minute))
            ids[name] = await seed_signal(conn, seed)
        await conn.execute("SELECT setval(pg_get_serial_sequence('entities', 'id'), $1)", HIDDEN_ENTITY_FLOOR)
        hidden_only = [
            ("q1", "Quarry permits granted", ["Quarries"], [("Hidden Ltd", org), ("Shared Org", org)]),
            ("q2", "Quarry blast inquiry", ["Quarry"], [("Hidden Ltd", org)]),
        ]
        for minute, (name, title, topics, entities) in enumerate(hidden_only, start=10):
            seed = SeedSignal(title=title, topics=topics, entities=entities, created_at=_noon(DAY, minute))
            ids[name] = await seed_signal(conn, seed)
        aliases = dict(await conn.fetch("SELECT alias, topic_id FROM topic_aliases"))
        topic_of = dict(await conn.fetch("SELECT slug, id FROM topics"))
        assert aliases == {"harbour": topic_of["harbours"], "quarry": topic_of["quarries"]}
        entity = dict(await conn.fetch("SELECT name, id FROM entities"))
        assert entity["Hidden Ltd"] > HIDDEN_ENTITY_FLOOR and int(UNKNOWN["entity"]) not in entity.values()
        scopes = ["signals:read", "signals:write", "webhooks:manage"]
        restricted = await keys.create_key(
            conn, name="harbours-only", scopes=scopes, topic_ids=[topic_of["harbours"]]
        )
        everything = await keys.create_key(conn, name="everything", scopes=scopes)
    # briefings written as a client writes them: the general one and one per topic
    digests = {}
    async with keyed_client(api, everything.key) as http:
        for name, topic in (("general", None), ("harbours", "harbours"), ("quarries", "quarries")):
            body = {"period": "daily", "date": DAY.isoformat()} | ({"topic": topic} if topic else {})
            written = await http.post("/v1/digests", json=body, headers={"Prefer": "wait=30"})
            assert written.status_code == 201, written.text
            digests[name] = written.json()["id"]
    async with connected(database_url) as conn:
        quarries_job = await conn.fetchval(
            "SELECT id FROM digest_jobs WHERE topic_id = $1", topic_of["quarries"]
        )
    return SimpleNamespace(
        signals={k: str(v) for k, v in ids.items()},
        topic_of=topic_of,
        entity=entity,
        digests=digests,
        quarries_job=str(quarries_job),
        restricted=restricted.key,
        everything=everything.key,
    )


@dataclass(frozen=True)
class Case:
    """One way of naming a topic or entity: ``{}`` in the path, params or body is the name."""

    name: str
    kind: str
    """topic, alias, entity, digest (a quarries briefing), general (the general briefing), job."""
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    real: int = 200
    """What the unrestricted key is answered."""

    def request(self, token: str) -> dict[str, Any]:
        def fill(value: Any) -> Any:
            if isinstance(value, str):
                return value.replace("{}", token)
            if isinstance(value, list):
                return [fill(v) for v in value]
            if isinstance(value, dict):
                return {k: fill(v) for k, v in value.items()}
            return value

        request: dict[str, Any] = {
            "method": "POST" if self.body is not None else "GET",
            "url": fill(self.path),
            "params": fill(self.params),
        }
        if self.body is not None:
            request["json"] = fill(self.body)
        return request


def _cases() -> list[Case]:
    day = DAY.isoformat()
    cases = []
    for kind in ("topic", "alias"):
        cases += [
            Case(f"signals-{kind}", kind, "/v1/signals", {"topic": "{}"}),
            Case(f"signals-mixed-{kind}", kind, "/v1/signals", {"topic": ["harbours", "{}"]}),
            Case(
                f"signals-all-cards-{kind}",
                kind,
                "/v1/signals",
                {"topic": ["{}", "harbours"], "topic_match": "all", "include": "card"},
            ),
            Case(f"export-ndjson-{kind}", kind, "/v1/signals/export", {"topic": "{}"}),
            Case(f"export-csv-{kind}", kind, "/v1/signals/export", {"topic": "{}", "format": "csv"}),
            Case(f"topic-{kind}", kind, "/v1/topics/{}"),
            Case(f"timeline-{kind}", kind, "/v1/topics/{}/timeline", {"interval": "week"}),
            Case(f"entities-{kind}", kind, "/v1/entities", {"topic": "{}"}),
            Case(f"entities-by-name-{kind}", kind, "/v1/entities", {"topic": "{}", "sort": "name"}),
            Case(f"digests-{kind}", kind, "/v1/digests", {"topic": "{}"}),
            Case(f"digests-latest-{kind}", kind, "/v1/digests/latest", {"topic": "{}"}),
            Case(f"digests-latest-day-{kind}", kind, "/v1/digests/latest", {"topic": "{}", "date": day}),
            Case(
                f"write-digest-{kind}",
                kind,
                "/v1/digests",
                body={"period": "daily", "date": day, "topic": "{}"},
                real=202,
            ),
            Case(
                f"webhook-{kind}",
                kind,
                "/v1/webhooks",
                body={"url": "http://127.0.0.1:9/hook", "topics": ["{}"], "event_types": ["signal.created"]},
                real=201,
            ),
        ]
        for fmt in ("atom", "rss", "json"):
            cases += [
                Case(f"signal-feed-{fmt}-{kind}", kind, f"/v1/feeds/signals.{fmt}", {"topic": "{}"}),
                Case(f"digest-feed-{fmt}-{kind}", kind, f"/v1/feeds/digests.{fmt}", {"topic": "{}"}),
            ]
    cases += [
        Case("signals-entity", "entity", "/v1/signals", {"entity": "{}"}),
        Case("signals-entity-cards", "entity", "/v1/signals", {"entity": "{}", "include": "card"}),
        Case("export-entity", "entity", "/v1/signals/export", {"entity": "{}", "format": "csv"}),
        Case("entity", "entity", "/v1/entities/{}"),
        Case("digest", "digest", "/v1/digests/{}"),
        Case("general-digest", "general", "/v1/digests/{}"),
        Case("digest-job", "job", "/v1/digests/jobs/{}"),
    ]
    cases += [
        Case(f"signal-feed-{fmt}-entity", "entity", f"/v1/feeds/signals.{fmt}", {"entity": "{}"})
        for fmt in ("atom", "rss", "json")
    ]
    return cases


CASES = _cases()


def _hidden(world: SimpleNamespace, kind: str) -> str:
    return {
        "topic": "quarries",
        "alias": "quarry",
        "entity": str(world.entity["Hidden Ltd"]),
        "digest": world.digests["quarries"],
        "general": world.digests["general"],
        "job": world.quarries_job,
    }[kind]


def _unknown(kind: str) -> str:
    # ids that exist nowhere: fresh random uuids
    return UNKNOWN[kind] if kind in UNKNOWN else str(uuid.uuid4())


async def _answer(http: httpx.AsyncClient, case: Case, token: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers that do not vary by themselves, and body, with ``token`` set aside."""
    response = await http.request(**case.request(token), headers={"X-Request-ID": REQUEST_ID})
    headers = {
        name: value.replace(token, ASKED)
        for name, value in response.headers.items()
        if name.lower() not in VARYING_HEADERS
    }
    return response.status_code, headers, response.content.replace(token.encode(), ASKED.encode())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_a_restricted_key_gets_the_unknown_answer_for_what_it_may_not_see(api, world, case):
    hidden, unknown = _hidden(world, case.kind), _unknown(case.kind)
    assert len(hidden) == len(unknown)  # so Content-Length compares too
    async with keyed_client(api, world.restricted, timeout=30) as http:
        hidden_answer = await _answer(http, case, hidden)
        unknown_answer = await _answer(http, case, unknown)
    assert hidden_answer == unknown_answer
    status, headers, body = hidden_answer
    assert status in (404, 422), body  # the unknown answer: nothing about what exists
    assert headers["content-type"].startswith("application/problem+json")
    for label in (b"Quarries", b"Hidden Ltd"):
        assert label not in body


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_the_unrestricted_key_gets_the_real_answer(api, world, case):
    async with keyed_client(api, world.everything, timeout=30) as http:
        response = await http.request(**case.request(_hidden(world, case.kind)))
        unknown = await http.request(**case.request(_unknown(case.kind)))
    assert response.status_code == case.real, response.text
    assert unknown.status_code in (404, 422), unknown.text


async def test_answers_name_only_what_the_key_may_see(api, world):
    async with keyed_client(api, world.everything, timeout=30) as http:
        feed = (await http.get("/v1/feeds/digests.json", params={"topic": "quarry"})).json()
        entity = (await http.get(f"/v1/entities/{world.entity['Hidden Ltd']}")).json()
        latest = (await http.get("/v1/digests/latest", params={"topic": "quarries"})).json()
    assert feed["title"].endswith(": Quarries") and entity["name"] == "Hidden Ltd"
    assert latest["topic"] == {"slug": "quarries", "label": "Quarries"}
    async with keyed_client(api, world.restricted, timeout=30) as http:
        # its own topic, by slug or alias, and the entities its signals name
        own = await http.get("/v1/topics/harbour")
        assert own.status_code == 200 and own.headers["content-location"] == "/v1/topics/harbours"
        listed = (await http.get("/v1/signals", params={"topic": "harbour", "limit": 100})).json()["items"]
        assert {i["id"] for i in listed} == {world.signals[k] for k in ("h1", "h2", "both")}
        shared = world.entity["Shared Org"]
        named = (await http.get("/v1/signals", params={"entity": shared})).json()["items"]
        assert [i["id"] for i in named] == [world.signals["h1"]]
        assert (await http.get(f"/v1/entities/{shared}")).status_code == 200
        feed = (await http.get("/v1/feeds/digests.json", params={"topic": "harbour"})).json()
        assert feed["title"].endswith(": Harbours")
        assert [i["id"] for i in feed["items"]] == [f"urn:uuid:{world.digests['harbours']}"]
        # nothing lists or finds what lives on the hidden topic only
        topics = (await http.get("/v1/topics", params={"window": "30d", "sort": "trending"})).json()
        assert [(t["slug"], t["count"]) for t in topics["items"]] == [("harbours", 3)]
        for params in ({"q": "Hidden"}, {"sort": "name", "limit": 100}, {"window": "30d", "limit": 100}):
            names = {e["name"] for e in (await http.get("/v1/entities", params=params)).json()["items"]}
            assert "Hidden Ltd" not in names, params
        found = (await http.get("/v1/entities", params={"q": "Shared", "window": "30d"})).json()["items"]
        assert [(e["name"], e["count"]) for e in found] == [("Shared Org", 1)]


async def test_no_briefing_job_is_created_for_a_hidden_topic(api, world, db):
    count = "SELECT count(*) FROM digest_jobs WHERE topic_id = $1"
    before = await db.fetchval(count, world.topic_of["quarries"])
    async with keyed_client(api, world.restricted, timeout=30) as http:
        for topic in ("quarries", "quarry", "Quarries"):
            body = {"period": "daily", "date": DAY.isoformat(), "topic": topic}
            refused = await http.post("/v1/digests", json=body, headers={"Prefer": "wait=5"})
            assert refused.status_code == 404 and refused.json()["reason"] == "unknown_topic"
        # its own topic is written; a general briefing stays refused, as before
        own = {"period": "daily", "date": DAY.isoformat(), "topic": "harbour"}
        assert (await http.post("/v1/digests", json=own)).status_code == 202
        general = await http.post("/v1/digests", json={"period": "daily", "date": DAY.isoformat()})
        assert general.status_code == 403
    assert await db.fetchval(count, world.topic_of["quarries"]) == before
