"""Reader pages (/read/) over real sockets: the API with its worker and the LLM stub on loopback,
a real PostgreSQL. What the HTML says (parsed with lxml), hostile article text, ETag/304 and
the page headers; who may read them is tests/integration/test_reader_access.py's."""

from __future__ import annotations

import httpx
import pytest

from tests.support import reader_pages
from tests.support.reader_pages import doc, sign_in, texts
from tests.support.reader_world import HOSTILE_EVIDENCE, HOSTILE_TITLE, SHOWCASE, SHOWCASE_DETAILS

pytestmark = pytest.mark.timeout(300)


# The API with its worker and the world it serves (signals, stories, keys): fixtures of
# tests/support/reader_pages.py, this module's own.
api, world = reader_pages.api, reader_pages.world


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
