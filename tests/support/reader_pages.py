"""The reader pages' servers and a browser's ways with them (the sign-in cookie, parsed HTML),
shared by the modules that test the pages' access rules and what the pages say."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import SimpleNamespace
from typing import Any

import httpx
import lxml.html

from service.app import create_app
from service.settings import Settings
from tests.support.clients import stub_llm
from tests.support.servers import running_asgi

PUBLIC_URL = "https://reader.example"


@contextmanager
def reader_api(make_settings: Callable[..., Settings], stub: SimpleNamespace) -> Iterator[str]:
    """Keys needed (no SIGNALS_PUBLIC_READ); runs the worker that writes the briefing."""
    settings = make_settings(**stub_llm(stub), llm_http_retries=0, digest_daily_at=None)
    with running_asgi(create_app(settings, worker=True)) as base:
        yield base


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
