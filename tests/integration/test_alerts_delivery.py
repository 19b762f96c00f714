"""What a match delivers (issue 25, part 3): an ``alert.matched`` Standard Webhooks event to the
alert's endpoint, signed with the endpoint's secret, and an entry in the alert's Atom and JSON
feeds; and what content a caller supplied matches only alerts of keys that may see it
(service/keys/suppliers.py). The API with its worker (matcher, dispatcher, sender), the LLM
stub, a webhook receiver, all on loopback, a real PostgreSQL."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import feedparser
import pytest
from standardwebhooks import Webhook as Verifier

from service.keys import service as keys
from tests.support import webhooks
from tests.support.articles import article_text
from tests.support.clients import connected, keyed_client
from tests.support.problems import assert_problem
from tests.support.receivers import Receiver, eventually
from tests.support.webhooks import create_webhook

pytestmark = pytest.mark.timeout(180)
MARKER = "zephyrine"
SUPPLIED = [
    "Harwick Mills has ordered zephyrine turbines for its river plant, according to a memo seen by staff.",
    "The zephyrine turbines would replace two older units that have run since the plant opened.",
    "Engineers said the zephyrine design can be installed within a month by a small crew.",
    "A spokesperson for Harwick Mills said the plant's output would not change during the work.",
    "The memo adds that testing will begin in the spring once inspectors have signed off.",
]
WAIT = {"Prefer": "wait=30"}
MATCHER_DONE = """SELECT NOT EXISTS (SELECT 1 FROM signal_changes s, alert_match_cursor c
                                     WHERE (s.xid, s.id) > (c.xid, c.id))"""


api = webhooks.api


@pytest.fixture(scope="module")
async def world(api: str, database_url: str, receiver: Receiver) -> SimpleNamespace:
    scopes = ["signals:read", "signals:write", "webhooks:manage"]
    async with connected(database_url) as conn:
        p1 = await keys.ensure_partner(conn, "Supplier One")
        p2 = await keys.ensure_partner(conn, "Partner Two")
        made = {
            "k1": await keys.create_key(conn, name="p1", scopes=scopes, partner_id=p1["id"]),
            "k2": await keys.create_key(conn, name="p2", scopes=scopes, partner_id=p2["id"]),
        }
    w = SimpleNamespace(keys={name: key.key for name, key in made.items()}, hooks={}, alerts={})
    for name in ("k1", "k2"):
        async with keyed_client(api, w.keys[name]) as http:
            # subscribed to no signal event: what arrives is the alert's alone
            w.hooks[name] = await create_webhook(
                http, receiver.script(f"/{name}"), event_types=["digest.published"]
            )
            made_alert = await http.post(
                "/v1/alerts",
                json={"name": f"{name} watches", "query": {"q": MARKER}, "webhook_id": w.hooks[name]["id"]},
            )
            assert made_alert.status_code == 201, made_alert.text
            w.alerts[name] = made_alert.json()
    async with keyed_client(api, w.keys["k1"]) as k1:
        _, story = article_text(61)  # long enough to analyse
        body = {
            "text": "\n".join(SUPPLIED + story),
            "title": "Zephyrine memo",
            "url": "https://memo.example/turbines",
        }
        supplied = await k1.post("/v1/signals", json=body, headers=WAIT)
        assert supplied.status_code == 201, supplied.text
        w.signal = supplied.json()
    return w


async def test_a_match_is_sent_as_a_signed_alert_matched_event(world, receiver):
    received = await eventually(lambda: receiver.received("/k1"), timeout=30)
    assert len(received) == 1
    event = Verifier(world.hooks["k1"]["secret"]).verify(received[0].body, received[0].headers)
    assert event["type"] == "alert.matched"
    assert event["data"]["alert"] == {"id": world.alerts["k1"]["id"], "name": "k1 watches"}
    assert event["data"]["signal"]["id"] == world.signal["id"]
    assert event["data"]["signal"]["related"] == []


async def test_supplied_content_matches_only_alerts_of_its_supplier(api, world, receiver, database_url):
    async with connected(database_url) as conn:
        await eventually(lambda: conn.fetchval(MATCHER_DONE), timeout=30)
        rows = await conn.fetch("SELECT alert_id::text FROM alert_matches")
    assert [r["alert_id"] for r in rows] == [world.alerts["k1"]["id"]]
    assert receiver.received("/k2") == []
    async with keyed_client(api, world.keys["k2"]) as k2:
        page = (await k2.get(f"/v1/alerts/{world.alerts['k2']['id']}/matches")).json()
    assert page["items"] == []
    async with keyed_client(api, world.keys["k1"]) as k1:
        mine = (await k1.get(f"/v1/alerts/{world.alerts['k1']['id']}/matches")).json()
    assert [m["signal_id"] for m in mine["items"]] == [world.signal["id"]]


async def test_the_alert_feed_lists_its_matches(api, world):
    alert = world.alerts["k1"]
    async with keyed_client(api, world.keys["k1"]) as k1:
        atom = await eventually(lambda: _with_entries(k1.get(alert["links"]["atom"])), timeout=30)
        again = await k1.get(alert["links"]["atom"], headers={"If-None-Match": atom.headers["etag"]})
        as_json = await k1.get(alert["links"]["json"])
        assert_problem(await k1.get(f"/v1/feeds/alerts/{alert['id']}.rss"), 400, reason="bad_parameter")
    assert atom.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(atom.content)
    assert not parsed.bozo, parsed.bozo_exception
    assert [e.id for e in parsed.entries] == [f"urn:uuid:{world.signal['id']}"]
    assert parsed.feed.title == "Signals alert: k1 watches"
    assert again.status_code == 304
    # feedparser 6.0 reads no JSON Feed: check the 1.1 fields and the same id
    assert as_json.headers["content-type"].startswith("application/feed+json")
    body = as_json.json()
    assert body["version"] == "https://jsonfeed.org/version/1.1"
    assert [i["id"] for i in body["items"]] == [f"urn:uuid:{world.signal['id']}"]


async def test_a_feed_reader_s_key_in_the_url_must_manage_the_alert(api, world):
    alert = world.alerts["k1"]
    async with keyed_client(api, "unused") as http:
        http.headers.pop("Authorization")
        # another partner's key: not found, as for any alert it does not manage
        other = await http.get(alert["links"]["atom"], params={"key": world.keys["k2"]})
        owner = await http.get(alert["links"]["atom"], params={"key": world.keys["k1"]})
        keyless = await http.get(alert["links"]["atom"])
    assert_problem(other, 404, "not_found")
    assert owner.status_code == 200 and world.keys["k1"] not in owner.text
    assert_problem(keyless, 401, "unauthorized")


async def _with_entries(response_coroutine: Any) -> Any:
    response = await response_coroutine
    assert response.status_code == 200, response.text
    return response if feedparser.parse(response.content).entries else None
