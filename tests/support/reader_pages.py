"""The reader pages' servers and a browser's ways with them (the sign-in cookie, parsed HTML),
shared by the modules that test the pages' access rules and what the pages say; and their
fixtures, ``api`` (with its worker) and ``world`` (tests/support/reader_world.py). A module takes
those by assignment (``api = reader_pages.api``); they are then that module's own, as if
written there: one server and one world per module."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import SimpleNamespace
from typing import Any

import httpx
import lxml.html
import pytest

from service.app import create_app
from service.settings import Settings
from tests.support.clients import stub_llm
from tests.support.reader_world import build_world
from tests.support.servers import running_asgi

PUBLIC_URL = "https://reader.example"


@pytest.fixture(scope="module")
def api(make_settings: Callable[..., Settings], stub: SimpleNamespace) -> Iterator[str]:
    """Keys needed (no SIGNALS_PUBLIC_READ); runs the worker that writes the briefing."""
    settings = make_settings(**stub_llm(stub), llm_http_retries=0, digest_daily_at=None)
    with running_asgi(create_app(settings, worker=True)) as base:
        yield base


@pytest.fixture(scope="module")
async def world(database_url: str, api: str) -> SimpleNamespace:
    return await build_world(database_url, api)


@contextmanager
def public_reader_api(make_settings: Callable[..., Settings]) -> Iterator[str]:
    """SIGNALS_PUBLIC_READ=true behind an https public URL (as a proxy would serve it)."""
    with running_asgi(
        create_app(make_settings(public_read=True, public_url=PUBLIC_URL), worker=False)
    ) as base:
        yield base


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
