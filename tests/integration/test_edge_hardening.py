"""Holes at the edge of the API, over real sockets with a real PostgreSQL: page metadata that
carries markup or a javascript: image, links built from a client's Host header, and HEAD."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import feedparser
import httpx
import pytest

from service.app import create_app
from service.keys.service import create_key
from tests.support.clients import connected, keyed_client, stub_llm
from tests.support.problems import PROBLEM, assert_problem
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi

pytestmark = pytest.mark.timeout(180)

PAGES = Path(__file__).parents[1] / "fixtures" / "pages"
PUBLIC_URL = "https://signals.example/api"
EVIL = {"Host": "evil.example", "X-Forwarded-Host": "evil2.example", "Forwarded": "host=evil3.example"}


@pytest.fixture(scope="module")
def api(make_settings: Any, stub: SimpleNamespace) -> Iterator[str]:
    settings = make_settings(**stub_llm(stub))
    with running_asgi(create_app(settings, worker=True)) as base:
        yield base


@pytest.fixture(scope="module")
def public_api(make_settings: Any) -> Iterator[str]:
    """The same database served with SIGNALS_PUBLIC_URL and keyless public reads."""
    settings = make_settings(public_url=PUBLIC_URL, public_read=True)
    with running_asgi(create_app(settings, worker=False)) as base:
        yield base


@pytest.fixture(scope="module")
async def world(database_url: str) -> SimpleNamespace:
    async with connected(database_url) as conn:
        signals = [
            await seed_signal(
                conn,
                SeedSignal(
                    title=f"Harbour story {i}",
                    topics=["Ports", "Shipping"],
                    entities=[("Acme Ports", "organization")],
                    created_at=datetime.combine(date(2026, 9, 1 + i), time(12), UTC),
                ),
            )
            for i in range(2)
        ]
        admin = await create_key(conn, name="admin", scopes=["admin"])
    return SimpleNamespace(signals=[str(s) for s in signals], key=admin.key)


@pytest.fixture
async def client(api: str, world: SimpleNamespace) -> AsyncIterator[httpx.AsyncClient]:
    async with keyed_client(api, world.key) as http:
        yield http


# --- page metadata -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("javascript:alert(document.cookie)", None),
        ("data:image/png;base64,iVBORw0KGgo=", None),
        ("https://user:secret@cdn.example/ferry.jpg", None),
        ("/img/ferry.jpg?w=800", "{site}/img/ferry.jpg?w=800"),
    ],
)
async def test_page_metadata_is_plain_text_and_the_image_an_http_url(client, site, image, expected):
    html = (PAGES / "hostile_metadata.html").read_text().replace("javascript:alert(document.cookie)", image)
    url = site.set_page(f"/local/ferries-{abs(hash(image))}", html)
    response = await client.post("/v1/signals", json={"url": url}, headers={"Prefer": "wait=30"})
    assert response.status_code == 201, response.text
    source = response.json()["source"]
    article = (await client.get(response.json()["links"]["article"])).json()
    for meta in (source, article):
        assert meta["image"] == (expected.format(site=site.base_url) if expected else None)
        assert meta["site_name"] == "The Estuary Gazette & Post"
        assert meta["author"] == "Priya Lindqvist"
    assert article["title"] == "Kestwick ferry operator orders two battery-electric boats"
    assert article["description"] == "A ferry operator commits to electric boats on the estuary crossing."
    for value in (article["title"], article["site_name"], article["description"]):
        assert "<" not in value and ">" not in value and "&lt;" not in value


# --- links never come from the Host header -------------------------------------------------------


async def write_digests(client: httpx.AsyncClient) -> None:
    for day in ("2026-09-01", "2026-09-02"):  # one signal each: a template, no model call
        response = await client.post(
            "/v1/digests", json={"period": "daily", "date": day}, headers={"Prefer": "wait=30", **EVIL}
        )
        assert response.status_code == 201, response.text
        assert "evil" not in str(response.headers) and "evil" not in response.text


FEEDS = [f"/v1/feeds/{kind}.{fmt}" for kind in ("signals", "digests") for fmt in ("atom", "rss", "json")]
PAGED = ["/v1/signals", "/v1/digests", "/v1/topics", "/v1/entities", "/v1/sync/signals"]


async def answers_with_evil_host(http: httpx.AsyncClient) -> dict[str, httpx.Response]:
    answers = {path: await http.get(path, headers=EVIL) for path in FEEDS}
    answers |= {path: await http.get(path, params={"limit": 1}, headers=EVIL) for path in PAGED}
    answers["/schema/openapi.json"] = await http.get("/schema/openapi.json", headers=EVIL)
    for path, response in answers.items():
        assert response.status_code == 200, (path, response.text)
        assert "evil" not in response.text and "evil" not in str(response.headers), path
    for path in PAGED:
        next_link = answers[path].json()["next"]
        assert next_link is None or next_link.startswith(f"{path}?"), path  # relative: no host at all
    assert all(answers[path].json()["next"] for path in ("/v1/signals", "/v1/digests", "/v1/topics"))
    return answers


async def test_without_a_public_url_links_are_relative_and_ids_are_urns(client):
    await write_digests(client)
    answers = await answers_with_evil_host(client)
    for kind in ("signals", "digests"):
        atom = feedparser.parse(answers[f"/v1/feeds/{kind}.atom"].content)
        assert not atom.bozo and atom.feed.id.startswith("urn:uuid:")
        assert [link.href for link in atom.feed.links if link.rel == "self"] == [f"/v1/feeds/{kind}.atom"]
        assert atom.entries and all(entry.id.startswith("urn:uuid:") for entry in atom.entries)
        rss = feedparser.parse(answers[f"/v1/feeds/{kind}.rss"].content)
        assert not rss.bozo and rss.entries
        feed = answers[f"/v1/feeds/{kind}.json"].json()
        assert feed["feed_url"] == f"/v1/feeds/{kind}.json"
        assert feed["home_page_url"] == f"/v1/{kind}"
    digest_feed = answers["/v1/feeds/digests.json"].json()
    assert all(item["url"].startswith("/v1/digests/") for item in digest_feed["items"])
    # The same feed id whatever host the feed is reached by.
    again = await client.get("/v1/feeds/signals.atom", headers={"Host": "other.example"})
    assert (
        feedparser.parse(again.content).feed.id
        == feedparser.parse(answers["/v1/feeds/signals.atom"].content).feed.id
    )


async def test_with_a_public_url_absolute_links_use_it(client, public_api):
    await write_digests(client)
    async with httpx.AsyncClient(base_url=public_api, timeout=30) as http:  # keyless public reads
        answers = await answers_with_evil_host(http)
    for kind in ("signals", "digests"):
        atom = feedparser.parse(answers[f"/v1/feeds/{kind}.atom"].content)
        assert atom.feed.id == f"{PUBLIC_URL}/v1/feeds/{kind}.atom"
        feed = answers[f"/v1/feeds/{kind}.json"].json()
        assert feed["feed_url"] == f"{PUBLIC_URL}/v1/feeds/{kind}.json"
        assert feed["home_page_url"] == f"{PUBLIC_URL}/v1/{kind}"
    digest_feed = answers["/v1/feeds/digests.json"].json()
    assert digest_feed["items"] and all(
        item["url"].startswith(f"{PUBLIC_URL}/v1/digests/") for item in digest_feed["items"]
    )


# --- HEAD -------------------------------------------------------------------------------------------

_VARYING = {"date", "x-request-id", "ratelimit"}


def comparable(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower() not in _VARYING}


@pytest.mark.parametrize(
    "path",
    [
        "/healthz",
        "/v1/signals/{signal}",
        "/v1/signals?limit=1",
        "/v1/feeds/signals.atom",
        "/v1/signals/00000000-0000-4000-8000-000000000000",  # 404 problem
        "/v1/no-such-route",  # 404 for an unknown path
    ],
)
async def test_head_answers_as_get_without_a_body(client, world, path):
    path = path.format(signal=world.signals[0])
    got = await client.get(path)
    head = await client.head(path)
    assert head.status_code == got.status_code
    assert head.content == b""
    assert comparable(head) == comparable(got)
    assert int(head.headers["content-length"]) == len(got.content)
    assert head.headers["x-request-id"]
    if got.status_code == 404:
        assert head.headers["content-type"] == PROBLEM


async def test_head_honours_etags_and_authentication(api, client, world):
    path = f"/v1/signals/{world.signals[0]}"
    etag = (await client.head(path)).headers["etag"]
    assert etag == (await client.get(path)).headers["etag"]
    cached = await client.head(path, headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b""
    feed = await client.head("/v1/feeds/signals.rss")
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/rss+xml")
    again = await client.head("/v1/feeds/signals.rss", headers={"If-None-Match": feed.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    async with httpx.AsyncClient(base_url=api) as anonymous:
        refused = await anonymous.head(path)
        assert refused.status_code == 401 and refused.content == b""
        assert refused.headers["content-type"] == PROBLEM


async def test_head_is_a_read_and_other_methods_still_answer_405(client, public_api):
    async with httpx.AsyncClient(base_url=public_api) as anonymous:
        # Keyless public reads are GET and HEAD only: HEAD is served from the public bucket.
        head = await anonymous.head("/v1/signals")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["ratelimit-policy"].startswith('"public"')
        assert_problem(await anonymous.post("/v1/signals", json={"text": "x"}), 401)
    # A route without GET does not gain HEAD; methods nobody routes stay 405.
    assert (await client.head("/v1/admin/topics/ports/merge")).status_code == 405
    assert_problem(await client.put("/v1/signals"), 405, "method_not_allowed")
