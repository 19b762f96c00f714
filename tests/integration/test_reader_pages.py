"""Reader pages (/read/) over real sockets: the API with its worker and the LLM stub on loopback,
a real PostgreSQL. What the HTML says (parsed with lxml), who may read it, the read-key cookie
and its form, hostile article text, ETag/304 and the page headers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http.cookies import SimpleCookie
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import httpx
import lxml.html
import pytest

from service.app import create_app
from service.keys import service as keys
from tests.support.clients import connected, stub_llm
from tests.support.reader_world import (
    HOSTILE_EVIDENCE,
    HOSTILE_TITLE,
    RAIL_SIGNALS,
    SHOWCASE,
    SHOWCASE_DETAILS,
    build_world,
)
from tests.support.servers import running_asgi

pytestmark = pytest.mark.timeout(300)

PUBLIC_URL = "https://reader.example"


@pytest.fixture(scope="module")
def api(make_settings: Any, stub: SimpleNamespace) -> Iterator[str]:
    """Keys needed (no SIGNALS_PUBLIC_READ); runs the worker that writes the briefing."""
    settings = make_settings(**stub_llm(stub), llm_http_retries=0, digest_daily_at=None)
    with running_asgi(create_app(settings, worker=True)) as base:
        yield base


@pytest.fixture(scope="module")
def public_api(make_settings: Any) -> Iterator[str]:
    """SIGNALS_PUBLIC_READ=true behind an https public URL (as a proxy would serve it)."""
    with running_asgi(
        create_app(make_settings(public_read=True, public_url=PUBLIC_URL), worker=False)
    ) as base:
        yield base


@pytest.fixture(scope="module")
async def world(database_url: str, api: str) -> SimpleNamespace:
    return await build_world(database_url, api)


def origin(base: str) -> dict[str, str]:
    return {"Origin": base}


@asynccontextmanager
async def sign_in(base: str, key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client holding the read-key cookie, signed in through the form as a browser would."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        answer = await client.post("/read/login", data={"key": key, "next": "/read/"}, headers=origin(base))
        assert answer.status_code == 303, answer.text
        yield client


def doc(response: httpx.Response) -> Any:
    return lxml.html.fromstring(response.text)


def texts(tree: Any, xpath: str) -> list[str]:
    return [" ".join(e.text_content().split()) for e in tree.xpath(xpath)]


# --- access -------------------------------------------------------------------------------------


async def test_without_a_key_each_page_sends_the_reader_to_the_sign_in_form(api, world):
    async with httpx.AsyncClient(base_url=api) as http:
        for path in ("/read/", f"/read/signals/{world.showcase}", "/read/topics/rail?x=1",
                     f"/read/stories/{world.story}", f"/read/digests/{world.digest['id']}"):  # fmt: skip
            answer = await http.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"] == "/read/login?" + urlencode({"next": path})
            assert "set-cookie" not in answer.headers
            form_page = await http.get(answer.headers["location"])
            assert form_page.status_code == 200
            assert form_page.headers["content-type"].startswith("text/html")
            form = doc(form_page).xpath("//form[@action='/read/login']")[0]
            assert form.get("method") == "post"
            assert form.xpath(".//input[@name='next']/@value") == [path]
            assert form.xpath(".//input[@name='key']/@type") == ["password"]


async def test_a_revoked_key_in_the_cookie_is_forgotten(api, world, database_url):
    async with connected(database_url) as conn:
        doomed = await keys.create_key(conn, name="doomed", scopes=["signals:read"])
    async with sign_in(api, doomed.key) as http:
        assert (await http.get("/read/")).status_code == 200
        async with connected(database_url) as conn:
            await keys.revoke_key(conn, str(doomed.id))
        answer = await http.get("/read/")
        # the key cache may still hold it for a moment; once refused, it is cleared
        for _ in range(50):
            if answer.status_code == 303:
                break
            await asyncio.sleep(0.2)
            answer = await http.get("/read/")
        assert answer.status_code == 303
        assert "refused=1" in answer.headers["location"]
        assert SimpleCookie(answer.headers["set-cookie"])["signals_read_key"]["max-age"] == "0"
        form_page = await http.get(answer.headers["location"])
        assert doc(form_page).xpath("//*[@role='alert']")


async def test_signing_in_keeps_the_key_in_a_strict_httponly_cookie_never_in_a_url(api, world):
    async with httpx.AsyncClient(base_url=api) as http:
        target = f"/read/signals/{world.showcase}"
        answer = await http.post(
            "/read/login", data={"key": world.reader, "next": target}, headers=origin(api)
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == target
        header = answer.headers["set-cookie"]
        cookie = SimpleCookie(header)["signals_read_key"]
        assert cookie.value == world.reader
        assert cookie["httponly"] and cookie["samesite"].lower() == "strict" and cookie["path"] == "/read"
        assert not cookie["secure"]  # plain http on loopback; see the https test below
        assert world.reader not in answer.headers["location"]
        page = await http.get(target)
        assert page.status_code == 200
        assert world.reader not in page.text


async def test_the_cookie_is_secure_when_the_public_url_is_https(public_api, world):
    async with httpx.AsyncClient(base_url=public_api) as http:
        answer = await http.post("/read/login", data={"key": world.reader}, headers={"Origin": PUBLIC_URL})
        assert answer.status_code == 303
        assert SimpleCookie(answer.headers["set-cookie"])["signals_read_key"]["secure"]


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Origin": "null"}, {}, {"Sec-Fetch-Site": "cross-site"}],
    ids=["other-origin", "opaque-origin", "no-origin", "cross-site-fetch"],
)
async def test_sign_in_and_out_refuse_posts_from_other_sites(api, world, headers):
    async with httpx.AsyncClient(base_url=api) as http:
        for path in ("/read/login", "/read/logout"):
            answer = await http.post(path, data={"key": world.reader}, headers=headers)
            assert answer.status_code == 403, path
            assert "set-cookie" not in answer.headers


async def test_a_same_origin_fetch_without_origin_header_may_sign_in(api, world):
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.post(
            "/read/login", data={"key": world.reader}, headers={"Sec-Fetch-Site": "same-origin"}
        )
        assert answer.status_code == 303


@pytest.mark.parametrize("key", ["sk_live_nonsense", "", "x" * 500])
async def test_a_refused_key_shows_the_form_again_without_a_cookie(api, world, key):
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.post("/read/login", data={"key": key}, headers=origin(api))
        assert answer.status_code == 401
        assert "set-cookie" not in answer.headers
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert doc(answer).xpath("//*[@role='alert']")


async def test_programs_may_read_the_pages_with_a_bearer_header(api, world):
    async with httpx.AsyncClient(base_url=api) as http:
        good = await http.get(
            f"/read/signals/{world.showcase}", headers={"Authorization": f"Bearer {world.reader}"}
        )
        assert good.status_code == 200 and "set-cookie" not in good.headers
        bad = await http.get(
            f"/read/signals/{world.showcase}", headers={"Authorization": "Bearer sk_live_wrong"}
        )
        assert bad.status_code == 401 and bad.headers["www-authenticate"].startswith("Bearer")
        assert bad.headers["content-type"].startswith("text/html")


async def test_a_key_without_read_scope_is_refused(api, world):
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.post("/read/login", data={"key": world.no_read}, headers=origin(api))
        assert answer.status_code == 403
        assert "set-cookie" not in answer.headers


async def test_sign_out_forgets_the_key(api, world):
    async with sign_in(api, world.reader) as http:
        assert (await http.get("/read/")).status_code == 200
        answer = await http.post("/read/logout", headers=origin(api))
        assert answer.status_code == 303
        assert SimpleCookie(answer.headers["set-cookie"])["signals_read_key"]["max-age"] == "0"
        http.cookies.clear()
        assert (await http.get("/read/")).status_code == 303


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "/v1/signals"]
)
async def test_after_sign_in_only_reader_pages_are_destinations(api, world, target):
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.post(
            "/read/login", data={"key": world.reader, "next": target}, headers=origin(api)
        )
        assert answer.headers["location"] == "/read/"


async def test_public_read_needs_no_key_and_shows_public_content_only(public_api, world):
    async with httpx.AsyncClient(base_url=public_api) as http:
        assert (await http.get(f"/read/signals/{world.showcase}")).status_code == 200
        assert (await http.get(f"/read/signals/{world.supplied}")).status_code == 404


# --- visibility as on the JSON reads --------------------------------------------------------------


async def test_a_topic_restricted_key_reads_only_its_topics(api, world):
    async with sign_in(api, world.restricted) as http:
        front = doc(await http.get("/read/"))
        listed = texts(front, "//ul[@class='items']//h3")
        assert sorted(listed) == sorted(title for title, _ in RAIL_SIGNALS)
        assert (await http.get(f"/read/signals/{world.rail[1]}")).status_code == 200
        hidden = await http.get(f"/read/signals/{world.showcase}")
        assert hidden.status_code == 404 and "text/html" in hidden.headers["content-type"]
        assert (await http.get("/read/topics/water-networks")).status_code == 404
        assert (await http.get(f"/read/stories/{world.story}")).status_code == 404


async def test_supplied_content_is_its_suppliers_only(api, world):
    async with sign_in(api, world.reader) as reader, sign_in(api, world.writer) as writer:
        assert (await writer.get(f"/read/signals/{world.supplied}")).status_code == 200
        assert (await reader.get(f"/read/signals/{world.supplied}")).status_code == 404
        listed = doc(await reader.get("/read/")).xpath("//ul[@class='items']//h3/a/@href")
        assert f"/read/signals/{world.supplied}" not in listed


# --- what the pages say ---------------------------------------------------------------------------


async def test_the_signal_page_shows_every_card_section_in_order(api, world):
    async with sign_in(api, world.reader) as http:
        answer = await http.get(f"/read/signals/{world.showcase}")
    tree = doc(answer)
    assert tree.get("lang") == "en"
    assert texts(tree, "//h1") == [SHOWCASE["title"]]
    assert texts(tree, "//article//h2") == [
        "Explain like I’m five", "Deep analysis", "Impact assessment", "Key details",
        "Optimistic outlook", "Pessimistic outlook", "Topics and entities", "Related coverage", "Provenance",
    ]  # fmt: skip
    assert texts(tree, "//p[@class='standfirst']") == [SHOWCASE["summary"]]
    assert len(tree.xpath("//section[@id='analysis']/p")) == 2  # two paragraphs
    details = tree.xpath("//ol[@class='details']/li")
    assert len(details) == len(SHOWCASE_DETAILS)
    for item, (fact, evidence) in zip(details, SHOWCASE_DETAILS, strict=True):
        assert texts(item, ".//p[@class='fact']") == [fact]
        assert texts(item, ".//blockquote") == [evidence]
        assert item.xpath(".//figcaption/a/@href") == [
            "https://wend-valley-courier.example/2026/leak-sensors"
        ]
    assert tree.xpath("//section[@id='topics']//a/@href")[:2] == [
        "/read/topics/water-networks",
        "/read/topics/leak-detection",
    ]
    assert "/read/?q=Marrowby%20Water" in tree.xpath("//section[@id='topics']//a/@href")
    related = tree.xpath("//section[@id='related']")[0]
    assert f"/read/stories/{world.story}" in related.xpath(".//a/@href")
    first = related.xpath(".//ul/li")[0]
    assert first.xpath("./a/@href") == [f"/read/signals/{world.echo}"]
    assert texts(first, "./p[@class='reason']") == ["Same story · Both mention Marrowby Water"]
    assert texts(tree, "//footer[@id='provenance']//dd")[0].startswith("example-model-7b")
    assert (
        tree.xpath("//header[@class='site']")
        and tree.xpath("//main")
        and tree.xpath("//footer[@class='site']")
    )


async def test_a_hostile_article_renders_as_inert_text(api, world):
    async with sign_in(api, world.reader) as http:
        answer = await http.get(f"/read/signals/{world.hostile}")
        front = await http.get("/read/")
        briefing = await http.get(f"/read/digests/{world.digest['id']}")  # cites the hostile signal
    assert HOSTILE_TITLE in texts(doc(briefing), "//ol[@class='sources']/li/a")
    for page in (answer, front, briefing):
        tree = doc(page)
        assert not tree.xpath("//script"), "no script element, whatever the article says"
        assert not tree.xpath("//@*[starts-with(name(), 'on')]"), "no event handler attributes"
        assert not [h for h in tree.xpath("//@href") if not h.startswith(("/", "https://", "http://", "#"))]
    tree = doc(answer)
    assert texts(tree, "//h1") == [HOSTILE_TITLE]  # shown as text, quotes and all
    assert texts(tree, "//blockquote") == [HOSTILE_EVIDENCE]
    assert not tree.xpath("//b") and not tree.xpath("//img") and not tree.xpath("//i")
    assert "&lt;script&gt;" in answer.text


async def test_the_briefing_page_reads_like_the_digest_and_its_citations_resolve(api, world):
    async with sign_in(api, world.reader) as http:
        answer = await http.get(f"/read/digests/{world.digest['id']}")
        assert answer.status_code == 200
        tree = doc(answer)
        assert texts(tree, "//h1") == [world.digest["headline"]]
        assert texts(tree, "//p[@class='dek']") == [world.digest["dek"]]
        assert (
            f"{world.digest['reading_minutes']} min read"
            in texts(tree, "//article/header/p[@class='meta']")[0]
        )
        section_titles = texts(tree, "//article/section/h2")
        assert section_titles[: len(world.digest["sections"])] == [
            s["title"] for s in world.digest["sections"]
        ]
        cites = tree.xpath("//a[@class='cite']")
        assert cites, "the stub's sections cite signals with [n]"
        numbers = {c["n"]: c["signal_id"] for c in world.digest["citations"]}
        for link in cites:
            n = int(link.text_content().strip("[]"))
            assert link.get("href") == f"/read/signals/{numbers[n]}"
            assert (await http.get(link.get("href"))).status_code == 200
        if world.digest["quick_hits"]:
            assert "Quick hits" in section_titles
        latest = await http.get("/read/digests/latest?period=daily")
        assert texts(doc(latest), "//h1") == [world.digest["headline"]]
        assert (await http.get("/read/digests/latest?period=monthly")).status_code == 400
        weekly = await http.get("/read/digests/latest?period=weekly")
        assert weekly.status_code == 404 and "text/html" in weekly.headers["content-type"]
        front = doc(await http.get("/read/"))
        assert front.xpath(f"//section[@class='teaser']//a[@href='/read/digests/{world.digest['id']}']")


async def test_quick_hits_and_sources_link_to_their_signals(api, world):
    async with sign_in(api, world.reader) as http:
        tree = doc(await http.get(f"/read/digests/{world.showcase_briefing}"))
    hit = tree.xpath("//ul[@class='quick']/li")[0]
    assert hit.xpath(".//a[@class='cite']/@href") == [f"/read/signals/{world.rail[2]}"]
    sources = tree.xpath("//ol[@class='sources']/li/a[1]/@href")
    assert sources == [f"/read/signals/{i}" for i in (world.showcase, world.echo, *world.rail)]
    assert len(tree.xpath("//section[1]/p")) == 2  # paragraphs split at blank lines


async def test_the_topic_page_has_a_chart_newest_signals_and_neighbours(api, world):
    async with sign_in(api, world.reader) as http:
        tree = doc(await http.get("/read/topics/leak-detection"))
    assert texts(tree, "//h1") == ["Leak detection"]
    svg = tree.xpath("//svg[@role='img']")[0]
    bars = svg.xpath(".//rect")
    assert len(bars) >= 30 and any(float(b.get("height")) > 0 for b in bars)
    listed = tree.xpath("//section[@aria-labelledby='newest-h']//h3/a/@href")
    assert f"/read/signals/{world.showcase}" in listed
    neighbours = tree.xpath("//section[@aria-labelledby='neighbours-h']//a/@href")
    assert "/read/topics/water-networks" in neighbours and "/read/topics/rail" in neighbours


async def test_the_story_page_lists_every_outlets_report(api, world):
    async with sign_in(api, world.reader) as http:
        tree = doc(await http.get(f"/read/stories/{world.story}"))
    links = tree.xpath("//ul[@class='items']//h3/a/@href")
    assert set(links) == {f"/read/signals/{world.showcase}", f"/read/signals/{world.echo}"}
    assert {"The Wend Valley Courier: 1", "Northern Utility Weekly: 1"} <= set(
        texts(tree, "//section[@aria-labelledby='sources-h']//li")
    )


async def test_search_finds_signals_by_entity_name(api, world):
    async with sign_in(api, world.reader) as http:
        tree = doc(await http.get("/read/", params={"q": "Marrowby Water"}))
    assert f"/read/signals/{world.showcase}" in tree.xpath("//ul[@class='items']//h3/a/@href")


# --- headers, caching, the API's document ---------------------------------------------------------


async def test_pages_carry_a_strict_policy_and_answer_304_to_their_etag(api, world):
    async with sign_in(api, world.reader) as http:
        answer = await http.get(f"/read/signals/{world.showcase}")
        csp = answer.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp and "unsafe-inline" not in csp
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["content-type"] == "text/html; charset=utf-8"  # one charset
        assert answer.headers["cache-control"] == "private, no-cache"
        assert answer.headers["vary"] == "Cookie, Authorization"
        etag = answer.headers["etag"]
        again = await http.get(f"/read/signals/{world.showcase}", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        other = await http.get(f"/read/signals/{world.echo}", headers={"If-None-Match": etag})
        assert other.status_code == 200
        css = await http.get(doc(answer).xpath("//link[@rel='stylesheet']/@href")[0])
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert "@media print" in css.text


@pytest.mark.parametrize(
    "path", ["/read/nope", "/read/signals/not-an-id", "/read/topics/a/b", "/read/digests/x"]
)
async def test_a_path_no_reader_page_has_is_the_reader_s_own_404_page(api, world, path):
    """Not the API's problem+json: a person followed a link or typed an address."""
    async with sign_in(api, world.reader) as http:
        answer = await http.get(path)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert texts(doc(answer), "//h1") == ["Not found"]


async def test_reader_pages_stay_out_of_the_openapi_document(api):
    async with httpx.AsyncClient(base_url=api) as http:
        document = (await http.get("/schema/openapi.json")).json()
    assert not [path for path in document["paths"] if path == "/read" or path.startswith("/read/")]
