"""A fake article website: a real HTTP server on loopback whose pages tests set up."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.support.servers import running_asgi


@dataclass
class Page:
    body: bytes
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering (a slow site)."""


class FakeSite:
    """An ASGI app serving ``pages[path]``; counts requests per path."""

    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.hits: dict[str, int] = {}
        self.base_url = ""

    def set_page(self, path: str, html: str | bytes, **kwargs: Any) -> str:
        body = html.encode() if isinstance(html, str) else html
        self.pages[path] = Page(body=body, **kwargs)
        return self.base_url + path

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path = scope["path"]
        self.hits[path] = self.hits.get(path, 0) + 1
        page = self.pages.get(path) or Page(b"<h1>not found</h1>", status=404)
        if page.delay:
            await asyncio.sleep(page.delay)
        headers = [(b"content-type", page.content_type.encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in page.headers.items()]
        await send({"type": "http.response.start", "status": page.status, "headers": headers})
        await send({"type": "http.response.body", "body": page.body})


@contextmanager
def running_site(host: str = "127.0.0.1") -> Iterator[FakeSite]:
    site = FakeSite()
    with running_asgi(site, host) as base_url:
        site.base_url = base_url
        yield site
