"""A kept-alive connection the server drops as the next request goes out on it (its keep-alive
timeout ran out at that moment): the GET goes out again on a new connection instead of failing
the fetch. A real server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from service.ingest.fetch import Fetcher
from service.settings import Settings

PAGE = (
    b"<html><head><title>Kept alive</title></head><body><p>"
    + b"Words of an article. " * 40
    + b"</p></body></html>"
)


class ClosingServer:
    """Answers the first request on each connection with PAGE (HTTP/1.1, kept alive), and drops
    the connection on the second without answering: the moment a server's keep-alive timeout
    runs out just as the client sends its next request on that connection."""

    def __init__(self) -> None:
        self.connections = 0
        self.answered = 0
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await reader.readuntil(b"\r\n\r\n")
        head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(PAGE)}\r\n\r\n"
        writer.write(head.encode() + PAGE)
        await writer.drain()
        self.answered += 1
        await reader.readuntil(b"\r\n\r\n")  # the next request on the kept-alive connection
        writer.close()


@pytest.fixture
async def closing_server() -> AsyncIterator[ClosingServer]:
    server = ClosingServer()
    listener = await asyncio.start_server(server._serve, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield server


async def test_a_connection_dropped_as_the_next_request_goes_out_is_not_a_failed_fetch(
    closing_server, make_settings
):
    settings: Settings = make_settings()
    url = f"http://127.0.0.1:{closing_server.port}/a"
    async with Fetcher(settings) as fetcher:
        first = await fetcher.fetch_article(url)
        second = await fetcher.fetch_article(url + "?again")
    assert "Kept alive" in first.text and "Kept alive" in second.text
    assert closing_server.answered == 2 and closing_server.connections == 2
