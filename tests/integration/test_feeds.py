"""GET /v1/feeds/signals.{atom,rss,json} over real sockets: valid feeds (feedparser, the JSON Feed
1.1 rules) with hostile content, stable GUIDs, filters, conditional GET, and ?key=."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import asyncpg
import feedparser
import httpx
import pytest

from service.app import create_app
from service.db.database import init_connection
from service.keys import service as keys
from service.topics.slugs import topic_ids_for_slugs
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi

pytestmark = pytest.mark.timeout(120)

HOSTILE_TITLE = "<script>alert('owned')</script> Ports \x01\x02\x0b\x1f & \"quotes\" \ufffe"
LONG_TITLE = "Longest headline " + "x" * 10_000
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


@pytest.fixture(scope="module")
def api(make_settings: Any) -> Iterator[str]:
    with running_asgi(create_app(make_settings(rate_limit=False), worker=False)) as base:
        yield base


@pytest.fixture(scope="module")
def public_api(make_settings: Any) -> Iterator[str]:
    with running_asgi(create_app(make_settings(rate_limit=False, public_read=True), worker=False)) as base:
        yield base


@pytest.fixture(scope="module")
async def world(database_url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        hostile = await seed_signal(
            conn,
            SeedSignal(
                title=HOSTILE_TITLE,
                summary="Summary with <b>markup</b>, a bell \x07 and a form feed \x0c inside.",
                topics=["Ports"],
                site_name="Evil <Site> \x01",
            ),
        )
        long = await seed_signal(conn, SeedSignal(title=LONG_TITLE, topics=["Ports"]))
        rail = await seed_signal(
            conn,
            SeedSignal(title="Rail freight grows", topics=["Rail"], entities=[("Acme Rail", "organization")]),
        )
        reader = await keys.create_key(conn, name="feeds", scopes=["signals:read"])
        manager = await keys.create_key(conn, name="hooks only", scopes=["webhooks:manage"])
        rail_key = await keys.create_key(
            conn,
            name="rail feed",
            scopes=["signals:read"],
            topic_ids=await topic_ids_for_slugs(conn, ["rail"]),
        )
        entity_id = await conn.fetchval("SELECT id FROM entities WHERE name = 'Acme Rail'")
    finally:
        await conn.close()
    return {
        "hostile": str(hostile),
        "long": str(long),
        "rail": str(rail),
        "reader": reader.key,
        "manager": manager.key,
        "rail_key": rail_key.key,
        "entity": entity_id,
    }


def validate_json_feed(feed: dict[str, Any]) -> None:
    """The JSON Feed 1.1 rules this API relies on (https://jsonfeed.org/version/1.1)."""
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(feed["title"], str) and feed["title"]
    assert isinstance(feed["items"], list)
    for name in ("home_page_url", "feed_url", "description"):
        assert name not in feed or isinstance(feed[name], str)
    ids = [item["id"] for item in feed["items"]]
    assert all(isinstance(i, str) and i for i in ids) and len(ids) == len(set(ids)), (
        "item ids must be unique strings"
    )
    for item in feed["items"]:
        assert isinstance(item.get("content_text"), str) or isinstance(item.get("content_html"), str)
        for name in ("url", "external_url", "title", "summary", "language"):
            assert name not in item or isinstance(item[name], str)
        for name in ("date_published", "date_modified"):
            if name in item:
                assert RFC3339.match(item[name]), item[name]
                datetime.fromisoformat(item[name].replace("Z", "+00:00"))
        if "tags" in item:
            assert all(isinstance(tag, str) for tag in item["tags"])
        for author in item.get("authors", []):
            assert {"name", "url", "avatar"} & set(author)
        for value in (item.get("title", ""), item["content_text"]):
            assert not CONTROL.search(value)


async def get(api: str, path: str, key: str | None = None, **kwargs: Any) -> httpx.Response:
    headers = kwargs.pop("headers", {})
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        return await http.get(path, headers=headers, **kwargs)


@pytest.mark.parametrize("fmt", ["atom", "rss"])
async def test_xml_feeds_are_valid_with_hostile_content(api, world, fmt):
    response = await get(api, f"/v1/feeds/signals.{fmt}", world["reader"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(f"application/{fmt}+xml")
    body = response.content
    assert b"<script" not in body, "markup from an article reached the feed unescaped"
    assert not CONTROL.search(body.decode()), "a control character reached the XML"
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    guids = [entry.id for entry in parsed.entries]
    assert len(guids) == len(set(guids))
    assert f"urn:uuid:{world['hostile']}" in guids and f"urn:uuid:{world['long']}" in guids
    by_id = {entry.id: entry for entry in parsed.entries}
    hostile = by_id[f"urn:uuid:{world['hostile']}"]
    assert "alert('owned')" in hostile.title and "\x01" not in hostile.title
    long = by_id[f"urn:uuid:{world['long']}"]
    assert len(long.title) <= 300 and long.title.startswith("Longest headline")
    if fmt == "rss":
        # description is HTML by convention: the article's markup arrives as escaped text
        assert "&lt;b&gt;markup&lt;/b&gt;" in hostile.description
    else:
        assert "<b>markup</b>" in hostile.content[0].value and hostile.content[0].type == "text/plain"


async def test_json_feed_follows_the_1_1_rules(api, world):
    response = await get(api, "/v1/feeds/signals.json", world["reader"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/feed+json")
    feed = response.json()
    validate_json_feed(feed)
    by_id = {item["id"]: item for item in feed["items"]}
    hostile = by_id[f"urn:uuid:{world['hostile']}"]
    assert hostile["title"].startswith("<script>") and "\x01" not in hostile["title"]
    assert hostile["authors"] == [{"name": "Evil <Site> "}]
    assert hostile["tags"] == ["Ports"]
    assert len(by_id[f"urn:uuid:{world['long']}"]["title"]) <= 300


async def test_guids_are_the_same_in_every_format(api, world):
    atom = feedparser.parse((await get(api, "/v1/feeds/signals.atom", world["reader"])).content)
    rss = feedparser.parse((await get(api, "/v1/feeds/signals.rss", world["reader"])).content)
    json_feed = (await get(api, "/v1/feeds/signals.json", world["reader"])).json()
    atom_ids = [e.id for e in atom.entries]
    assert atom_ids == [e.id for e in rss.entries] == [i["id"] for i in json_feed["items"]]


async def test_etag_and_last_modified_answer_304(api, world, database_url):
    first = await get(api, "/v1/feeds/signals.atom", world["reader"])
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = await get(api, "/v1/feeds/signals.atom", world["reader"], headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    weak = await get(
        api, "/v1/feeds/signals.atom", world["reader"], headers={"If-None-Match": f'"x", W/{etag}'}
    )
    assert weak.status_code == 304
    since = await get(api, "/v1/feeds/signals.atom", world["reader"], headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    stale = await get(api, "/v1/feeds/signals.atom", world["reader"], headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        await seed_signal(conn, SeedSignal(title="Something new", topics=["Ports"]))
    finally:
        await conn.close()
    changed = await get(api, "/v1/feeds/signals.atom", world["reader"], headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


async def test_filters_follow_the_listing(api, world):
    by_topic = (await get(api, "/v1/feeds/signals.json", world["reader"], params={"topic": "rail"})).json()
    assert [item["id"] for item in by_topic["items"]] == [f"urn:uuid:{world['rail']}"]
    assert "rail" in by_topic["title"]
    by_entity = (
        await get(api, "/v1/feeds/signals.json", world["reader"], params={"entity": world["entity"]})
    ).json()
    assert [item["id"] for item in by_entity["items"]] == [f"urn:uuid:{world['rail']}"]
    unknown = await get(api, "/v1/feeds/signals.rss", world["reader"], params={"topic": "no-such-topic"})
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith(
        "application/problem+json"
    )


async def test_the_key_may_travel_as_a_query_parameter_and_is_never_echoed(api, world):
    response = await get(api, "/v1/feeds/signals.atom", params={"key": world["reader"], "topic": "ports"})
    assert response.status_code == 200
    assert world["reader"] not in response.text and "key=" not in response.text
    parsed = feedparser.parse(response.content)
    assert [link.href for link in parsed.feed.links if link.rel == "self"] == [
        "/v1/feeds/signals.atom?topic=ports"
    ]
    restricted = (await get(api, "/v1/feeds/signals.json", params={"key": world["rail_key"]})).json()
    assert [item["id"] for item in restricted["items"]] == [f"urn:uuid:{world['rail']}"]
    for params, status in (({}, 401), ({"key": "sk_live_nope"}, 401), ({"key": world["manager"]}, 403)):
        refused = await get(api, "/v1/feeds/signals.json", params=params)
        assert refused.status_code == status
        assert refused.headers["content-type"].startswith("application/problem+json")
    # other routes ignore ?key=
    assert (await get(api, "/v1/signals", params={"key": world["reader"]})).status_code == 401


async def test_public_read_needs_no_key(public_api, world):
    response = await get(public_api, "/v1/feeds/signals.rss")
    assert response.status_code == 200 and not feedparser.parse(response.content).bozo


async def test_feeds_are_documented_with_both_ways_to_send_the_key(api):
    document = (await get(api, "/schema/openapi.json")).json()
    assert document["components"]["securitySchemes"]["feed_key"] == {
        "type": "apiKey",
        "name": "key",
        "in": "query",
        "description": "The API key as a query parameter, on feed URLs only (for feed readers)",
    }
    for fmt in ("atom", "rss", "json"):
        operation = document["paths"][f"/v1/feeds/signals.{fmt}"]["get"]
        assert operation["security"] == [{"bearer": []}, {"feed_key": []}]
        assert {"304", "401", "403", "404"} <= set(operation["responses"])
