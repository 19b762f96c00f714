"""Alerts as a user manages them (issue 25, part 3): create, list, read, change, delete; owned
by the creating key as webhook endpoints are (another partner's key, a sibling key and a
keyless reader get 404 or 401; the partner's admin manages them); a topic-restricted key saves
queries within its topics only; bad queries are RFC 9457 problems. The API on loopback, a
real PostgreSQL; matching is tested in test_alerts_matching.py."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from service.app import create_app
from service.keys import service as keys
from service.topics.slugs import topic_ids_for_slugs
from tests.support.clients import connected, keyed_client
from tests.support.problems import assert_problem
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi
from tests.support.webhooks import create_webhook

pytestmark = pytest.mark.timeout(120)
SCOPES = ["signals:read", "webhooks:manage"]
NO_WEBHOOK = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def api(make_settings: Any) -> Iterator[str]:
    settings = make_settings(public_read=True, secret_key=Fernet.generate_key().decode())
    with running_asgi(create_app(settings, worker=False)) as base:
        yield base


@pytest.fixture(scope="module")
async def world(database_url: str) -> SimpleNamespace:
    async with connected(database_url) as conn:
        await seed_signal(
            conn, SeedSignal(title="Rail strike", topics=["Rail"], entities=[("Northline", "organization")])
        )
        await seed_signal(conn, SeedSignal(title="Port expansion", topics=["Ports"]))
        entity = await conn.fetchval("SELECT id FROM entities WHERE name = 'Northline'")
        acme = await keys.ensure_partner(conn, "Acme Alerts")
        rail_ids = await topic_ids_for_slugs(conn, ["rail"])
        made = {
            "admin": await keys.create_key(conn, name="acme-all", scopes=SCOPES, partner_id=acme["id"]),
            "rail": await keys.create_key(
                conn, name="acme-rail", scopes=SCOPES, partner_id=acme["id"], topic_ids=rail_ids
            ),
            "sibling": await keys.create_key(
                conn, name="acme-rail-2", scopes=SCOPES, partner_id=acme["id"], topic_ids=rail_ids
            ),
            "reader": await keys.create_key(
                conn, name="acme-feed", scopes=["signals:read"], partner_id=acme["id"]
            ),
            "stranger": await keys.create_key(conn, name="other", scopes=SCOPES),
            "writer": await keys.create_key(conn, name="writer", scopes=["signals:write"]),
        }
    return SimpleNamespace(keys={name: key.key for name, key in made.items()}, entity=entity)


def client(api: str, world: SimpleNamespace, name: str) -> httpx.AsyncClient:
    return keyed_client(api, world.keys[name], timeout=30)


async def create_alert(http: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await http.post("/v1/alerts", json=body)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/alerts/{response.json()['id']}"
    created: dict[str, Any] = response.json()
    return created


async def test_an_alert_is_created_read_listed_changed_and_deleted(api, world):
    async with client(api, world, "admin") as http:
        made = await create_alert(
            http,
            name="Rail news",
            query={"q": "strike", "topic": "rail", "entity": world.entity, "lang": "en"},
        )
        assert made["query"] == {
            "q": "strike", "topic": "rail", "entity": world.entity, "source": None, "lang": "en"
        }  # fmt: skip
        assert made["links"]["atom"] == f"/v1/feeds/alerts/{made['id']}.atom"
        assert (await http.get(made["links"]["self"])).json() == made
        others = [
            await create_alert(http, name=f"Alert {n}", query={"source": "The Harbour Courier"})
            for n in range(3)
        ]

        seen: list[str] = []
        url: str | None = "/v1/alerts?limit=2"
        while url:
            page = (await http.get(url)).json()
            assert len(page["items"]) <= 2
            seen += [item["id"] for item in page["items"]]
            url = page["next"]
        assert seen == [made["id"]] + [o["id"] for o in others]  # oldest first, each once

        changed = await http.patch(
            made["links"]["self"], json={"name": "Rail strikes", "query": {"q": "walkout"}}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["name"] == "Rail strikes"
        assert changed.json()["query"] == {
            "q": "walkout",
            "topic": None,
            "entity": None,
            "source": None,
            "lang": None,
        }

        assert (await http.delete(made["links"]["self"])).status_code == 204
        assert_problem(await http.get(made["links"]["self"]), 404, "not_found")
        assert_problem(await http.delete(made["links"]["self"]), 404, "not_found")


async def test_another_key_s_alert_is_not_found_but_the_partner_admin_manages_it(api, world):
    async with (
        client(api, world, "rail") as rail,
        client(api, world, "sibling") as sibling,
        client(api, world, "stranger") as stranger,
        client(api, world, "admin") as admin,
    ):
        made = await create_alert(rail, name="Mine", query={"q": "strike"})
        path = made["links"]["self"]
        for other in (sibling, stranger):
            assert_problem(await other.get(path), 404, "not_found")
            assert_problem(await other.patch(path, json={"name": "Theirs"}), 404, "not_found")
            assert_problem(await other.get(f"{path}/matches"), 404, "not_found")
            assert_problem(await other.get(made["links"]["atom"]), 404, "not_found")
            assert_problem(await other.delete(path), 404, "not_found")
            assert made["id"] not in {a["id"] for a in (await other.get("/v1/alerts")).json()["items"]}
        # the partner's admin (its key without a topic restriction) sees and changes it
        assert (await admin.get(path)).json()["api_key_id"] == made["api_key_id"]
        assert (await admin.patch(path, json={"name": "Renamed"})).json()["name"] == "Renamed"
        assert (await rail.get(path)).json()["name"] == "Renamed"
        # ... but keeps it within the topics of the key that owns it
        outside = await admin.patch(path, json={"query": {"topic": "ports"}})
        assert_problem(outside, 422, "invalid_request", "topic_not_allowed")
        inside = await admin.patch(path, json={"query": {"topic": "rail"}})
        assert inside.json()["query"]["topic"] == "rail"


async def test_an_unrestricted_read_only_key_manages_only_its_own_alerts(api, world):
    """A partner's admin needs webhooks:manage or admin: a read-only key (given to a feed
    reader, whose URL may leak) saves its own searches but cannot touch its siblings'."""
    async with client(api, world, "rail") as rail, client(api, world, "reader") as reader:
        made = await create_alert(rail, name="Not the reader's", query={"q": "strike"})
        path = made["links"]["self"]
        assert_problem(await reader.get(path), 404, "not_found")
        assert_problem(await reader.patch(path, json={"name": "Taken"}), 404, "not_found")
        assert_problem(await reader.delete(path), 404, "not_found")
        assert made["id"] not in {a["id"] for a in (await reader.get("/v1/alerts")).json()["items"]}
        own = await create_alert(reader, name="The reader's", query={"q": "strike"})
        assert (await reader.delete(own["links"]["self"])).status_code == 204
        assert (await rail.get(path)).json()["name"] == "Not the reader's"


async def test_a_keyless_or_writing_only_caller_cannot_use_alerts(api, world):
    async with httpx.AsyncClient(base_url=api, timeout=30) as public, client(api, world, "writer") as writer:
        # SIGNALS_PUBLIC_READ lets keyless GETs through; alerts belong to keys
        assert_problem(await public.get("/v1/alerts"), 401, "unauthorized")
        assert_problem(await public.post("/v1/alerts", json={"name": "x", "query": {"q": "rail"}}), 401)
        assert_problem(await writer.get("/v1/alerts"), 403)


async def test_a_restricted_key_saves_queries_within_its_topics_only(api, world):
    async with client(api, world, "rail") as rail:
        outside = await rail.post("/v1/alerts", json={"name": "Ports", "query": {"topic": "ports"}})
        unknown = await rail.post("/v1/alerts", json={"name": "None", "query": {"topic": "no-such-topic"}})
        # a topic outside its topics is refused exactly as an unknown one: nothing leaks
        assert_problem(outside, 422, "invalid_request", "unknown_topic")
        assert_problem(unknown, 422, "invalid_request", "unknown_topic")
        assert outside.json()["detail"].replace("ports", "?") == unknown.json()["detail"].replace(
            "no-such-topic", "?"
        )
        made = await create_alert(rail, name="Rail", query={"topic": "rail"})
        patched = await rail.patch(made["links"]["self"], json={"query": {"topic": "ports"}})
        assert_problem(patched, 422, "invalid_request", "unknown_topic")
        assert (await rail.get(made["links"]["self"])).json()["query"]["topic"] == "rail"


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"name": "x", "query": {}}, 422, "empty_query"),
        ({"name": "x", "query": {"q": "the and of"}}, 422, "no_search_words"),
        ({"name": "x", "query": {"entity": 987654321}}, 422, "unknown_entity"),
        ({"name": "x", "query": {"q": "rail"}, "webhook_id": NO_WEBHOOK}, 422, "unknown_webhook"),
        ({"name": "", "query": {"q": "rail"}}, 400, None),
        ({"name": "x", "query": {"q": "rail", "colour": "red"}}, 400, None),
        ({"name": "x", "query": {"lang": "not a language"}}, 400, None),
        ({"name": "x", "query": {"q": "x" * 501}}, 400, None),
    ],
)  # fmt: skip
async def test_a_query_that_cannot_be_saved_is_a_problem(api, world, body, status, reason):
    async with client(api, world, "admin") as http:
        assert_problem(await http.post("/v1/alerts", json=body), status, reason=reason)


async def test_an_alert_delivers_only_to_an_endpoint_of_its_own_key(api, world, receiver):
    async with client(api, world, "rail") as rail, client(api, world, "stranger") as stranger:
        mine = await create_webhook(rail, receiver.script("/rail"))
        theirs = await create_webhook(stranger, receiver.script("/other"))
        made = await create_alert(rail, name="Hooked", query={"q": "strike"}, webhook_id=mine["id"])
        assert made["webhook_id"] == mine["id"]
        refused = await rail.patch(made["links"]["self"], json={"webhook_id": theirs["id"]})
        assert_problem(refused, 422, "invalid_request", "unknown_webhook")
        cleared = await rail.patch(made["links"]["self"], json={"webhook_id": None})
        assert cleared.json()["webhook_id"] is None
