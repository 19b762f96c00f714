"""The fetcher tests' article site: a raw ASGI app on a real socket (served by uvicorn,
tests/support/servers.py) whose every route controls exactly which headers and bytes go out
and when: encodings, compression (a gzip bomb too), redirects, oversized and trickling bodies.
The pipeline's tests use the simpler site of tests/support/site.py."""

from __future__ import annotations

import asyncio
import codecs
import gzip
import time
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

from tests.support.servers import running_asgi

ARTICLE = "<!DOCTYPE html><html><head><title>Köln</title></head><body><p>Grüße aus Köln</p></body></html>"
CYRILLIC = (
    "Городской совет утвердил бюджет на следующий год. Расходы на образование и "
    "здравоохранение выросли, а строительство новой линии метро начнётся весной. "
) * 4
LATIN1_PAGE = (
    b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'
    b"</head><body><p>Caf\xe9 cr\xe8me \x93quoted\x94</p></body></html>"
)
MIB = 1024 * 1024
CAP = MIB


def _gzip_bomb(inflated_size: int) -> bytes:
    """A gzip body of a few hundred KiB that inflates to ``inflated_size`` bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    parts = [compressor.compress(b"<html><body>")]
    block = b" " * MIB
    parts += [compressor.compress(block) for _ in range(inflated_size // MIB)]
    parts.append(compressor.flush())
    return b"".join(parts)


GZIP_BOMB = _gzip_bomb(256 * MIB)


Headers = list[tuple[str, str]]
HTML: Headers = [("content-type", "text/html; charset=utf-8")]


def _deflate_raw(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)  # no zlib header
    return compressor.compress(data) + compressor.flush()


# path -> (status, headers, body) for pages that are the same every time
PAGES: dict[str, tuple[int, Headers, bytes]] = {
    "/article": (200, HTML, ARTICLE.encode()),
    "/no-location": (302, [], b""),
    "/plain": (200, [("content-type", "text/plain")], b"Plain words.\n"),
    "/xhtml": (200, [("content-type", "application/xhtml+xml")], ARTICLE.encode()),
    "/pdf": (200, [("content-type", "application/pdf")], b"%PDF-1.7\n"),
    "/untyped-html": (200, [], b"\n  " + ARTICLE.encode()),
    "/untyped-binary": (200, [], b"%PDF-1.7\n\x00\x01\x02"),
    "/latin1": (200, [("content-type", "text/html")], LATIN1_PAGE),
    "/bom": (
        200,
        [("content-type", "text/html; charset=iso-8859-1")],
        codecs.BOM_UTF8 + ARTICLE.encode(),
    ),
    "/cyrillic": (200, [("content-type", "text/plain")], CYRILLIC.encode("cp1251")),
    "/gzip": (200, [*HTML, ("content-encoding", "gzip")], gzip.compress(ARTICLE.encode())),
    "/deflate-raw": (200, [*HTML, ("content-encoding", "deflate")], _deflate_raw(ARTICLE.encode())),
    "/gzip-bomb": (200, [*HTML, ("content-encoding", "gzip")], GZIP_BOMB),
    "/brotli": (200, [*HTML, ("content-encoding", "br")], b"\x0b\x02\x80"),
}


class FakeSite:
    """An article site on a real socket. ``requests`` records (path, headers) per request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.base_url = ""

    def hits(self, path: str) -> int:
        return sum(1 for seen, _ in self.requests if seen == path)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path: str = scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append((path, headers))
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        await self._route(path, query, receive, send)

    async def _route(self, path: str, query: dict[str, str], receive: Any, send: Any) -> None:
        if path in PAGES:
            await _respond(send, *PAGES[path])
        elif path.startswith("/chain/"):
            left = int(path.rsplit("/", 1)[1])
            if left:
                await _respond(send, 302, [("location", f"/chain/{left - 1}")], b"")
            else:
                await _respond(send, *PAGES["/article"])
        elif path == "/to":
            await _respond(send, 302, [("location", query["url"])], b"")
        elif path.startswith("/status/"):
            await _respond(send, int(path.rsplit("/", 1)[1]), HTML, b"<h1>upstream error</h1>")
        elif path == "/big-declared":
            # Declares a huge body, sends a little and waits: only an early refusal is quick.
            await _start(send, 200, [*HTML, ("content-length", str(10**12))])
            await send({"type": "http.response.body", "body": b"<html>", "more_body": True})
            await _wait_for_disconnect(receive, 30)
        elif path == "/big-streamed":
            await _start(send, 200, HTML)  # no Content-Length: chunked
            for _ in range(2 * CAP // 65536 + 1):
                await send({"type": "http.response.body", "body": b"a" * 65536, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        elif path == "/trickle":
            await _start(send, 200, HTML)
            for _ in range(300):  # one byte every 0.1 s: never idle long enough for a read timeout
                await send({"type": "http.response.body", "body": b" ", "more_body": True})
                if await _wait_for_disconnect(receive, 0.1):
                    return
            await send({"type": "http.response.body", "body": b""})
        else:
            await _respond(send, 404, HTML, b"<h1>not found</h1>")


async def _start(send: Any, status: int, headers: Headers) -> None:
    raw = [(k.encode(), v.encode()) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})


async def _respond(send: Any, status: int, headers: Headers, body: bytes) -> None:
    await _start(send, status, [*headers, ("content-length", str(len(body)))])
    await send({"type": "http.response.body", "body": body})


async def _wait_for_disconnect(receive: Any, seconds: float) -> bool:
    """True once the client has gone; False after ``seconds`` without that."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = await asyncio.wait_for(receive(), left)
        except TimeoutError:
            return False
        if message["type"] == "http.disconnect":
            return True
    return False


def serve_site(host: str) -> Iterator[FakeSite]:
    site = FakeSite()
    with running_asgi(site, host) as base_url:
        site.base_url = base_url
        yield site
