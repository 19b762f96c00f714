"""Content a caller supplies (``text`` or ``html``) is private to its supplier (issue 21, item 1;
service/keys/suppliers.py): what is made of it reaches the supplier's keys and admin keys, and
nobody else by any read, list, feed, export, sync, webhook, story, related list, count or
briefing. Another partner's key, a key without a partner and a keyless public reader get what
they would get if it did not exist.

One world, built through the real API, worker, LLM stub, fake article site and webhook
receiver: partner P2 fetches a page (public); partner P1 supplies a text that shares a company
and a topic with it and names a topic ("quorvex pylons") and an entity ("Quorvex Grid
Partners") nothing else names; a key without a partner (KX) supplies a text of its own.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from service.keys import service as keys
from tests.support import webhooks
from tests.support.articles import article_page, article_text
from tests.support.clients import connected, keyed_client
from tests.support.db_snapshot import settle
from tests.support.receivers import Receiver
from tests.support.webhooks import create_webhook

pytestmark = pytest.mark.timeout(300)

MARKER = "quorvex"
TOPIC, ENTITY, SHARED_COMPANY = "quorvex-pylons", "Quorvex Grid Partners", "Halvorsen Robotics"
SUPPLIED = [
    "Halvorsen Robotics has quietly ordered a fleet of quorvex pylons for its new plant in Wrenfield, "
    "according to a supplier memo.",
    "The quorvex pylons would carry power from a private substation run by Quorvex Grid Partners, the "
    "memo says.",
    "Engineers at Quorvex Grid Partners said the quorvex pylons can be raised in a single week with a "
    "small crew.",
    "The construction schedule for the plant has not changed, a spokesperson for Halvorsen Robotics "
    "said on Tuesday.",
    "Neighbours have not yet been told about the quorvex pylons, and the council has received no "
    "formal application.",
    "Investment in the substation is expected to reach forty million, shared between the two "
    "companies over three years.",
    "Critics warned that the pylons would stand close to a school playing field and asked for an "
    "independent survey.",
    "The memo adds that testing will begin in the autumn, once the foundations have settled and "
    "inspectors have signed off.",
]
WAIT = {"Prefer": "wait=30"}
OUTSIDERS = ("k2", "kx", "public")
"""Readers that must not learn the P1 text exists: another partner, a key without a partner, no key."""


api = webhooks.api


@pytest.fixture(scope="module")
async def world(api: str, database_url: str, site: Any, receiver: Receiver) -> SimpleNamespace:
    scopes = ["signals:read", "signals:write", "webhooks:manage"]
    async with connected(database_url) as conn:
        p1 = await keys.ensure_partner(conn, "Supplier One")
        p2 = await keys.ensure_partner(conn, "Partner Two")
        made = {
            "k1": await keys.create_key(conn, name="p1", scopes=scopes, partner_id=p1["id"]),
            "ro1": await keys.create_key(conn, name="p1-read", scopes=["signals:read"], partner_id=p1["id"]),
            "k2": await keys.create_key(conn, name="p2", scopes=scopes, partner_id=p2["id"]),
            "kx": await keys.create_key(conn, name="loose", scopes=scopes),
            "admin": await keys.create_key(conn, name="ops", scopes=["admin"]),
        }
        w = SimpleNamespace(keys={name: key.key for name, key in made.items()})
        for name in ("k1", "k2", "kx", "admin"):
            async with keyed_client(api, w.keys[name]) as http:
                await create_webhook(http, receiver.script(f"/{name}"))
        async with keyed_client(api, w.keys["k2"]) as k2:
            page_url = site.set_page("/news/plant", article_page(51))
            fetched = await k2.post("/v1/signals", json={"url": page_url}, headers=WAIT)
            assert fetched.status_code == 201, fetched.text
            w.fetched = fetched.json()
        async with keyed_client(api, w.keys["k1"]) as k1:
            body = {
                "text": "\n".join(SUPPLIED),
                "title": "Quorvex memo",
                "url": "https://memo.example/pylons",
            }
            supplied = await k1.post("/v1/signals", json=body, headers=WAIT)
            assert supplied.status_code == 201, supplied.text
            w.supplied = supplied.json()
        assert TOPIC in {t["slug"] for t in w.supplied["topics"]}, w.supplied["topics"]
        async with keyed_client(api, w.keys["kx"]) as kx:
            title, paragraphs = article_text(53)
            body = {"text": "\n".join(paragraphs), "title": title}
            loose = await kx.post("/v1/signals", json=body, headers=WAIT)
            assert loose.status_code == 201, loose.text
            w.loose = loose.json()
        await settle(conn)
        w.entity = await conn.fetchval("SELECT id FROM entities WHERE name = $1", ENTITY)
        w.company = await conn.fetchval("SELECT id FROM entities WHERE name = $1", SHARED_COMPANY)
        return w


@pytest.fixture
async def clients(api: str, world: SimpleNamespace) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    opened = {name: keyed_client(api, key) for name, key in world.keys.items()}
    opened["public"] = httpx.AsyncClient(base_url=api, timeout=60)
    try:
        yield opened
    finally:
        for http in opened.values():
            await http.aclose()


def shape(response: httpx.Response, *asked: str) -> tuple[Any, ...]:
    """Status, and a problem's code, reason and detail with the asked-for values blanked."""
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return (response.status_code,)
    body = response.json()
    detail = str(body.get("detail", ""))
    for value in asked:
        detail = detail.replace(value, "<value>")
    return (response.status_code, body.get("code"), body.get("reason"), detail)


async def everything(http: httpx.AsyncClient, w: SimpleNamespace) -> dict[str, str]:
    """Every list-like answer a reader can get about signals, by route."""
    answers = {}
    for path, params in (
        ("/v1/signals", {"limit": 100}),
        ("/v1/signals", {"limit": 100, "include": "card"}),
        ("/v1/signals", {"limit": 100, "collapse": "story"}),
        ("/v1/signals", {"q": MARKER}),
        ("/v1/signals", {"q": f"{MARKER} pylons", "sort": "relevance"}),
        ("/v1/signals/export", {"format": "ndjson"}),
        ("/v1/signals/export", {"format": "csv"}),
        ("/v1/feeds/signals.atom", {}),
        ("/v1/feeds/signals.rss", {}),
        ("/v1/feeds/signals.json", {}),
        ("/v1/sync/signals", {"limit": 1000}),
        ("/v1/stories", {"limit": 100}),
        ("/v1/topics", {"limit": 100}),
        ("/v1/topics", {"limit": 100, "sort": "trending"}),
        ("/v1/entities", {"limit": 100}),
        ("/v1/entities", {"limit": 100, "sort": "name"}),
        ("/v1/entities", {"q": "Quorvex Grid"}),
        (f"/v1/signals/{w.fetched['id']}", {}),
        (f"/v1/signals/{w.fetched['id']}/related", {}),
        (f"/v1/entities/{w.company}", {}),
        ("/v1/topics/plant", {}),
    ):
        response = await http.get(path, params=params)
        assert response.status_code == 200, (path, params, response.text)
        answers[f"{path}?{params}"] = response.text
    return answers


# --- reads by id ------------------------------------------------------------------------------------


async def test_a_supplied_signal_and_article_exist_only_for_their_supplier_and_admins(world, clients):
    w = world
    paths = [
        f"/v1/signals/{w.supplied['id']}",
        f"/v1/articles/{w.supplied['article_id']}",
        f"/v1/signals/{w.supplied['id']}/related",
    ]
    for reader in ("k1", "ro1", "admin"):
        for path in paths:
            assert (await clients[reader].get(path)).status_code == 200, (reader, path)
    missing_id = "00000000-0000-4000-8000-000000000000"
    for reader in OUTSIDERS:
        for path in paths:
            answer = await clients[reader].get(path)
            asked = path.split("/")[3]
            unknown = await clients[reader].get(path.replace(asked, missing_id))
            assert shape(answer, asked) == shape(unknown, missing_id), (reader, path, answer.text)
            assert answer.status_code == 404 and MARKER not in answer.text.casefold()
    # a key without a partner is a supplier of its own: its text is its own, not P1's
    loose = f"/v1/signals/{w.loose['id']}"
    assert (await clients["kx"].get(loose)).status_code == 200
    for reader in ("k1", "k2", "public"):
        assert (await clients[reader].get(loose)).status_code == 404, reader


# --- lists, search, exports, feeds, sync, stories, counts -------------------------------------------


async def test_no_list_feed_export_sync_or_aggregate_shows_it_to_anyone_else(world, clients):
    w = world
    mine = await everything(clients["k1"], w)
    for route in (
        "/v1/signals?{'limit': 100}",
        "/v1/signals?{'limit': 100, 'collapse': 'story'}",
        "/v1/signals?{'q': 'quorvex'}",
        "/v1/signals/export?{'format': 'csv'}",
        "/v1/feeds/signals.atom?{}",
        "/v1/sync/signals?{'limit': 1000}",
    ):
        assert w.supplied["id"] in mine[route], route  # its supplier sees it
    for reader in OUTSIDERS:
        for route, text in (await everything(clients[reader], w)).items():
            assert MARKER not in text.casefold(), (reader, route)
            assert w.supplied["id"] not in text and w.supplied["article_id"] not in text, (reader, route)
        fetched = await clients[reader].get("/v1/signals", params={"limit": 100})
        assert w.fetched["id"] in fetched.text  # (the public signal is there for everyone)


async def test_counts_and_briefings_are_made_of_public_signals_only(world, clients, db):
    w = world
    for reader in ("k1", "k2", "admin"):
        entity = (await clients[reader].get(f"/v1/entities/{w.company}")).json()
        assert entity["counts"]["last_24h"] == 1, reader  # the fetched signal, not the supplied one
        topics = (await clients[reader].get("/v1/topics", params={"limit": 100})).json()["items"]
        assert TOPIC not in {t["slug"] for t in topics}, reader
        assert {t["slug"]: t["count"] for t in topics}.get("plant") == 1, reader
    topic_rows = await db.fetchval(
        "SELECT count(*) FROM topic_days d JOIN topics t ON t.id = d.topic_id WHERE t.slug = $1", TOPIC
    )
    assert topic_rows == 0
    today = datetime.now(UTC).date().isoformat()
    written = await clients["k1"].post("/v1/digests", json={"period": "daily", "date": today}, headers=WAIT)
    assert written.status_code == 201, written.text
    digest = written.json()
    assert MARKER not in json.dumps(digest).casefold()
    assert w.supplied["id"] not in json.dumps(digest) and w.fetched["id"] in json.dumps(digest)


# --- topics and entities only supplied content names ----------------------------------------------


async def test_a_topic_or_entity_only_supplied_content_names_is_unknown_to_others(world, clients, receiver):
    w = world
    probes = [
        ("/v1/topics/{topic}", {}),
        ("/v1/topics/{topic}/timeline", {}),
        ("/v1/signals", {"topic": "{topic}"}),
        ("/v1/entities", {"topic": "{topic}"}),
        ("/v1/feeds/signals.json", {"topic": "{topic}"}),
        ("/v1/entities/{entity}", {}),
        ("/v1/signals", {"entity": "{entity}"}),
    ]

    def render(template: str, topic: str, entity: int) -> str:
        return template.replace("{topic}", topic).replace("{entity}", str(entity))

    for path, params in probes:
        for reader in ("k1", "ro1", "admin"):
            answer = await clients[reader].get(
                render(path, TOPIC, w.entity),
                params={k: render(v, TOPIC, w.entity) for k, v in params.items()},
            )
            assert answer.status_code == 200, (reader, path, params, answer.text)
        for reader in OUTSIDERS:
            hidden = await clients[reader].get(
                render(path, TOPIC, w.entity),
                params={k: render(v, TOPIC, w.entity) for k, v in params.items()},
            )
            unknown = await clients[reader].get(
                render(path, "no-such-topic", 2_000_000_000),
                params={k: render(v, "no-such-topic", 2_000_000_000) for k, v in params.items()},
            )
            assert hidden.status_code == 404, (reader, path, hidden.text)
            assert shape(hidden, TOPIC, str(w.entity)) == shape(unknown, "no-such-topic", "2000000000"), (
                reader, path, hidden.text, unknown.text,
            )  # fmt: skip
    for reader in OUTSIDERS:
        found = (await clients[reader].get("/v1/entities", params={"q": "Quorvex", "sort": "name"})).json()
        assert not found["items"], reader
    # a webhook may not subscribe to it either: "unknown topics", as for one that does not exist
    hook = receiver.script("/k2-topic")
    refused = await clients["k2"].post("/v1/webhooks", json={"url": hook, "topics": [TOPIC]})
    unknown = await clients["k2"].post("/v1/webhooks", json={"url": hook, "topics": ["no-such-topic"]})
    assert refused.status_code == 422 and refused.json()["reason"] == "unknown_topic", refused.text
    assert shape(refused, TOPIC) == shape(unknown, "no-such-topic")
    assert (
        await clients["k1"].post("/v1/webhooks", json={"url": hook, "topics": [TOPIC]})
    ).status_code == 201
    named = (await clients["k1"].get("/v1/entities", params={"q": "Quorvex"})).json()["items"]
    assert [e["id"] for e in named] == [w.entity]


# --- relating, webhooks, sync tombstones ----------------------------------------------------------


async def test_relating_keeps_supplied_signals_out_of_stories_and_others_related_lists(world, clients, db):
    w = world
    row = await db.fetchrow(
        "SELECT story_id, is_story_lead FROM signals WHERE id = $1::uuid", w.supplied["id"]
    )
    assert row["story_id"] is None and row["is_story_lead"]
    linked_to = await db.fetchval(
        "SELECT count(*) FROM signal_related WHERE related_id = $1::uuid", w.supplied["id"]
    )
    assert linked_to == 0
    # its own card links to public coverage: the fetched report on the same company
    own = (await clients["k1"].get(f"/v1/signals/{w.supplied['id']}/related")).json()["items"]
    assert w.fetched["id"] in {item["id"] for item in own}, own
    public = (await clients["k1"].get(f"/v1/signals/{w.fetched['id']}/related")).json()["items"]
    assert w.supplied["id"] not in {item["id"] for item in public}


async def test_webhooks_announce_supplied_signals_to_their_supplier_only(world, receiver):
    w = world

    def announced(path: str) -> set[str]:
        return {json.loads(r.body)["data"]["signal"]["id"] for r in receiver.received(path)}

    assert w.supplied["id"] in announced("/k1") and w.fetched["id"] in announced("/k1")
    assert w.loose["id"] in announced("/kx") and w.loose["id"] not in announced("/k1")
    for outsider in ("/k2", "/kx", "/admin"):
        assert w.fetched["id"] in announced(outsider), outsider  # (the public one reaches everyone)
        assert w.supplied["id"] not in announced(outsider), outsider


async def test_sync_gives_changes_and_tombstones_of_supplied_signals_to_their_supplier_only(
    world, clients, db
):
    w = world
    before = {}
    for name in ("kx", "k1", "k2"):
        start = await clients[name].get("/v1/sync/signals", params={"limit": 1000})
        before[name] = start.json()["cursor"]
    assert (await clients["admin"].delete(f"/v1/signals/{w.loose['id']}")).status_code == 204
    await settle(db)
    for name, sees in (("kx", True), ("k1", False), ("k2", False)):
        page = (await clients[name].get("/v1/sync/signals", params={"cursor": before[name]})).json()
        tombstones = {item["signal_id"] for item in page["items"] if item["kind"] == "deleted"}
        assert (w.loose["id"] in tombstones) is sees, (name, page)
