"""The reader pages as a person sees them in Chromium: signing in through the form, every
section and evidence quote visible, citations that open their signals, no console errors, no
request leaving this machine, no script running whatever an article says; phone and print
layouts; screenshots of the signal and briefing pages (the README's images)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.browser.conftest import Watch
from tests.support.reader_world import HOSTILE_EVIDENCE, HOSTILE_TITLE, SHOWCASE, SHOWCASE_DETAILS

pytestmark = pytest.mark.timeout(300)

SECTIONS = [
    "Explain like I’m five", "Deep analysis", "Impact assessment", "Key details",
    "Optimistic outlook", "Pessimistic outlook", "Topics and entities", "Related coverage", "Provenance",
]  # fmt: skip


async def sign_in(page: Page, api: str, key: str, path: str = "/read/") -> None:
    """Open ``path``, meet the sign-in form, type the key, and land back on ``path``."""
    await page.goto(api + path)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to read")
    await page.get_by_label("Read key").fill(key)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(api + path)


async def test_a_reader_signs_in_and_reads_a_whole_signal_card(
    api: str,
    world: SimpleNamespace,
    watched: tuple[Page, Watch],
    context: BrowserContext,
    screenshot_dir: Path,
    tmp_path: Path,
):
    page, watch = watched
    await sign_in(page, api, world.reader, f"/read/signals/{world.showcase}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(SHOWCASE["title"])
    headings = page.locator("article h2")
    await expect(headings).to_have_text(SECTIONS)
    for fact, evidence in SHOWCASE_DETAILS:
        item = page.locator("ol.details > li", has_text=fact)
        await expect(item.locator("blockquote")).to_be_visible()
        await expect(item.locator("blockquote")).to_have_text(evidence)
        await expect(item.get_by_role("link", name="The Wend Valley Courier")).to_have_attribute(
            "href", "https://wend-valley-courier.example/2026/leak-sensors"
        )
    cookie = next(c for c in await context.cookies() if c["name"] == "signals_read_key")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/read"
    assert world.reader not in page.url
    await page.screenshot(path=str(screenshot_dir / "signal-page.png"), full_page=True)

    await page.get_by_role("link", name="Leak detection").first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Leak detection")
    await expect(page.get_by_role("img", name="Leak detection: signals per day")).to_be_visible()
    await page.screenshot(path=str(tmp_path / "topic-page.png"), full_page=True)
    watch.assert_clean()


async def test_the_briefing_reads_like_a_digest_and_each_citation_opens_its_signal(
    api: str, world: SimpleNamespace, watched: tuple[Page, Watch], screenshot_dir: Path
):
    page, watch = watched
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {world.reader}"}) as http:
        digest = (await http.get(f"/v1/digests/{world.showcase_briefing}")).raise_for_status().json()
    await sign_in(page, api, world.reader, f"/read/digests/{digest['id']}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(digest["headline"])
    await expect(page.locator(".dek")).to_have_text(digest["dek"])
    for section in digest["sections"]:
        await expect(page.get_by_role("heading", level=2, name=section["title"])).to_be_visible()
    await expect(page.get_by_role("heading", level=2, name="Quick hits")).to_be_visible()
    await page.screenshot(path=str(screenshot_dir / "briefing-page.png"), full_page=True)

    cites = page.locator("a.cite")
    count = await cites.count()
    assert count > 0
    titles = {c["signal_id"]: c["title"] for c in digest["citations"]}
    hrefs = [await cites.nth(i).get_attribute("href") for i in range(count)]
    for href in dict.fromkeys(hrefs):
        assert href is not None
        answer = await page.request.get(api + href)
        assert answer.status == 200, href
    first = hrefs[0]
    assert first is not None
    await cites.first.click()
    await page.wait_for_url(api + first)
    await expect(page.get_by_role("heading", level=1)).to_have_text(titles[first.rsplit("/", 1)[1]])
    watch.assert_clean()


@pytest.mark.parametrize(
    "path",
    [
        "/read/",
        "/read/signals/{showcase}",
        "/read/signals/{hostile}",
        "/read/topics/water-networks",
        "/read/stories/{story}",
        "/read/digests/latest?period=daily",
        "/read/?q=Marrowby",
        "/read/login",
    ],
)
async def test_each_page_loads_clean(
    api: str, world: SimpleNamespace, watched: tuple[Page, Watch], path: str
):
    page, watch = watched
    await sign_in(page, api, world.reader)
    target = path.format(showcase=world.showcase, hostile=world.hostile, story=world.story)
    answer = await page.goto(api + target)
    assert answer is not None and answer.status == 200
    assert await page.locator("html").get_attribute("lang") == "en"
    await expect(page.get_by_role("main")).to_be_visible()
    await expect(page.get_by_role("heading", level=1)).to_have_count(1)
    await expect(page.locator("link[rel=stylesheet]")).to_have_count(1)
    # the stylesheet applied (a CSP refusal would leave the browser's default margin)
    assert await page.evaluate("getComputedStyle(document.body).margin") == "0px"
    watch.assert_clean()


async def test_a_hostile_article_stays_text(api: str, world: SimpleNamespace, watched: tuple[Page, Watch]):
    page, watch = watched
    await sign_in(page, api, world.reader, f"/read/signals/{world.hostile}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(HOSTILE_TITLE)
    await expect(page.locator("blockquote")).to_have_text(HOSTILE_EVIDENCE)
    assert await page.title() != "pwned"
    assert await page.locator("script, img, a[href^='javascript']").count() == 0
    watch.assert_clean()


async def test_phone_and_print_layouts(
    api: str, world: SimpleNamespace, context: BrowserContext, tmp_path: Path
):
    page = await context.new_page()
    await page.set_viewport_size({"width": 375, "height": 800})
    await sign_in(page, api, world.reader, f"/read/signals/{world.showcase}")
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, "nothing wider than a phone screen"
    await page.screenshot(path=str(tmp_path / "signal-phone.png"), full_page=True)
    await page.emulate_media(media="print")
    await expect(page.locator("header.site")).to_be_hidden()
    await expect(page.locator("blockquote").first).to_be_visible()
    pdf = await page.pdf()
    assert pdf.startswith(b"%PDF")
