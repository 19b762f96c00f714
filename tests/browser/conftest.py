"""A real Chromium for the reader pages: Debian's /usr/bin/chromium driven by Playwright
(Playwright's own browser download is not reachable here, and not needed). A missing browser
fails the tests with the command that installs it: a skipped browser test proves nothing."""

from __future__ import annotations

import ipaddress
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.support import reader_pages

CHROMIUM = os.environ.get("SIGNALS_CHROMIUM", "/usr/bin/chromium")  # another build: set its path
INSTALL = "apt-get update && apt-get install -y chromium"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


def chromium_path() -> str:
    """The system Chromium, or a failure that says how to install it."""
    found = shutil.which(CHROMIUM)
    if found is None:
        pytest.fail(f"Chromium is needed for the browser tests and {CHROMIUM} is missing: run `{INSTALL}`")
    return found


# The API with its worker and the world it serves (signals, stories, keys): fixtures of
# tests/support/reader_pages.py, each browser test module's own.
api, world = reader_pages.api, reader_pages.world


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    path = chromium_path()
    # As root (containers, CI) Chromium refuses to start without --no-sandbox.
    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=path, args=args)
        try:
            yield launched
        finally:
            await launched.close()


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "about", "blob"):
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Watch:
    """What a page did that a reader should never meet: console errors, uncaught exceptions,
    dialogs (a script ran), requests to anywhere but this machine (refused as well as noted)."""

    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

        async def on_dialog(dialog: Any) -> None:
            self.dialogs.append(dialog.message)
            await dialog.dismiss()

        page.on("dialog", on_dialog)

    def assert_clean(self) -> None:
        assert not self.errors, f"console errors: {self.errors}"
        assert not self.outside, f"requests leaving loopback: {self.outside}"
        assert not self.dialogs, f"a script ran: {self.dialogs}"


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest.fixture
async def watched(context: BrowserContext) -> tuple[Page, Watch]:
    watch = Watch()

    async def guard(route: Any) -> None:
        if is_loopback(route.request.url):
            await route.continue_()
        else:
            watch.outside.append(route.request.url)
            await route.abort()

    await context.route("**/*", guard)
    page = await context.new_page()
    watch.attach(page)
    return page, watch


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    """tests/browser/screenshots with SIGNALS_UPDATE_SCREENSHOTS=1 (the README's images),
    else the test's own temporary folder."""
    if os.environ.get("SIGNALS_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(exist_ok=True)
        return SCREENSHOTS
    return tmp_path
