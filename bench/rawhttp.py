"""A minimal HTTP/1.1 keep-alive client for latency benchmarks.

httpx spends 0.5-1 ms of Python per request (its request/response models, header
normalisation, the JSON decode the caller adds), which a benchmark of the *server* should not
count. This client writes a pre-built request line and reads the answer with the same C
parser the server uses (httptools): what it measures is, as nearly as a client in Python
can, the time the service takes to answer. It is the role `wrk` plays in other benchmarks,
kept in-process so the timings land next to the bare loop's.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode, urlsplit

import httptools


class RawResponse:
    __slots__ = ("body", "complete", "status")

    def __init__(self) -> None:
        self.status = 0
        self.body = bytearray()
        self.complete = False

    # httptools parser callbacks
    def on_body(self, data: bytes) -> None:
        self.body += data

    def on_message_complete(self) -> None:
        self.complete = True


class RawClient:
    """One keep-alive connection; one request at a time."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        fixed = {"Host": f"{self._host}:{self._port}", **(headers or {})}
        self._headers = "".join(f"{k}: {v}\r\n" for k, v in fixed.items()).encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> RawClient:
        await self._connect()
        return self

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self._host, self._port)

    async def __aexit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()

    @staticmethod
    def target(path: str, query: dict[str, object] | None = None) -> str:
        """The request target for ``path`` and ``query`` (build it outside a timed loop)."""
        return f"{path}?{urlencode(query, doseq=True)}" if query else path

    async def get(self, target: str) -> RawResponse:
        """GET ``target`` (path and query, as ``target()`` builds it); the whole answer.

        A connection the server closed while idle (its keep-alive timeout) is opened again
        and the request sent once more.
        """
        for attempt in (1, 2):
            if self._reader is None or self._writer is None:
                raise RuntimeError("use RawClient as an async context manager")
            self._writer.write(b"GET " + target.encode() + b" HTTP/1.1\r\n" + self._headers + b"\r\n")
            response = RawResponse()
            parser = httptools.HttpResponseParser(response)
            while not response.complete:
                data = await self._reader.read(65536)
                if not data:
                    break
                parser.feed_data(data)
            if response.complete:
                response.status = parser.get_status_code()
                return response
            self._writer.close()
            if attempt == 2 or response.body:
                raise ConnectionError("the server closed the connection mid-answer")
            await self._connect()
        raise AssertionError("unreachable")
