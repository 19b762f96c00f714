"""Slow clients against the server as `signals serve` runs it (service.server): connections
trickling their headers or their body one byte at a time do not delay anyone else, and the
server answers them 408 and closes them at the deadline; oversized headers get 431."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from service.server import MAX_HEADER_BYTES
from tests.support.clients import keyed_client
from tests.support.keys import new_key
from tests.support.serving import serving

pytestmark = pytest.mark.timeout(120)

HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 3.0
SLOW_CLIENTS = 20
# Closing is checked against the deadline plus this much (scheduling on a 2-core machine).
GRACE = 2.0


@pytest.fixture(scope="module")
def api(make_settings: Any) -> Iterator[str]:
    settings = make_settings(
        rate_limit=False,
        log_level="WARNING",
        request_header_timeout_seconds=HEADER_TIMEOUT,
        request_body_timeout_seconds=BODY_TIMEOUT,
    )
    with serving(settings) as base:
        yield base


@pytest.fixture(scope="module")
async def writer(database_url: str) -> str:
    return await new_key(database_url, name="slow writer", scopes=["signals:read", "signals:write"])


async def healthz_seconds(http: httpx.AsyncClient, times: int = 5) -> list[float]:
    """Latencies of ``times`` GET /healthz on fresh connections (a slow client ties up a
    connection slot, not a request already in flight)."""
    latencies = []
    for _ in range(times):
        started = time.monotonic()
        response = await http.get("/healthz", headers={"Connection": "close"})
        latencies.append(time.monotonic() - started)
        assert response.status_code == 200
    return latencies


class SlowClient:
    """A raw connection that sends ``head`` at once, then one byte of ``drip`` per ``every``
    seconds until the server closes it; records what the server answered and when."""

    def __init__(self, base: str, head: bytes, drip: bytes, every: float = 0.5) -> None:
        self.address = urlsplit(base)
        self.head, self.drip, self.every = head, drip, every
        self.answer = b""
        self.opened = self.closed = 0.0

    async def run(self) -> None:
        reader, writer = await asyncio.open_connection(self.address.hostname, self.address.port)
        self.opened = time.monotonic()
        writer.write(self.head)
        reading = asyncio.create_task(self._read_until_closed(reader))
        try:
            for byte in self.drip:
                done, _ = await asyncio.wait({reading}, timeout=self.every)
                if done:
                    break
                writer.write(bytes([byte]))
                try:
                    await writer.drain()
                except ConnectionError:
                    break
            await asyncio.wait_for(reading, timeout=30)
        finally:
            writer.close()

    async def _read_until_closed(self, reader: asyncio.StreamReader) -> None:
        try:
            while chunk := await reader.read(65536):
                self.answer += chunk
        except ConnectionError:
            pass  # a reset after the answer: closed all the same
        self.closed = time.monotonic()

    @property
    def status(self) -> int | None:
        line = self.answer.split(b"\r\n", 1)[0].split()
        return int(line[1]) if len(line) > 1 and line[1].isdigit() else None


def slow_headers(base: str) -> SlowClient:
    host = urlsplit(base).netloc.encode()
    return SlowClient(base, b"GET /healthz HTTP/1.1\r\nHost: " + host + b"\r\nX-Slow: ", b"a" * 1000)


def slow_body(base: str, key: str) -> SlowClient:
    host = urlsplit(base).netloc.encode()
    head = (
        b"POST /v1/signals HTTP/1.1\r\nHost: "
        + host
        + b"\r\nAuthorization: Bearer "
        + key.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    )
    return SlowClient(base, head, b'{"text": "' + b"a" * 1000)


async def test_slow_clients_delay_no_one_and_are_closed_at_the_deadline(api, writer):
    async with httpx.AsyncClient(base_url=api, timeout=10) as http:
        quiet = statistics.median(await healthz_seconds(http))
        clients = [slow_headers(api) for _ in range(SLOW_CLIENTS)]
        clients += [slow_body(api, writer) for _ in range(SLOW_CLIENTS)]
        tasks = [asyncio.create_task(c.run()) for c in clients]
        await asyncio.sleep(1.0)  # every slow connection open and dripping
        assert not any(task.done() for task in tasks), "a slow client was cut off before its deadline"
        busy = await healthz_seconds(http)
        # A behaviour check, not a benchmark: /healthz is not held up behind 40 slow clients.
        assert max(busy) < max(1.0, 20 * quiet), (quiet, busy)
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)

    for client in clients[:SLOW_CLIENTS]:  # headers never completed: 408 at the header deadline
        assert client.status == 408, client.answer[:200]
        assert b'"code":"request_timeout"' in client.answer
        assert client.closed - client.opened < HEADER_TIMEOUT + GRACE
    for client in clients[SLOW_CLIENTS:]:  # the handler waited for the body: 408 at the body deadline
        assert client.status == 408, client.answer[:200]
        assert b"application/problem+json" in client.answer and b"x-request-id:" in client.answer.lower()
        assert client.closed - client.opened < BODY_TIMEOUT + GRACE


async def test_a_client_that_connects_and_says_nothing_is_closed(api):
    client = SlowClient(api, b"", b"")
    await asyncio.wait_for(client.run(), timeout=HEADER_TIMEOUT + GRACE + 5)
    assert client.status == 408
    assert client.closed - client.opened < HEADER_TIMEOUT + GRACE


async def test_a_kept_alive_connection_gets_a_new_header_deadline_per_request(api):
    host = urlsplit(api).netloc.encode()
    request = b"GET /healthz HTTP/1.1\r\nHost: " + host + b"\r\n\r\n"
    # Two quick requests, then the third trickled: only the third is timed out.
    client = SlowClient(api, request + request + b"GET /healthz HTTP/1.1\r\nX-Slow: ", b"a" * 1000)
    await client.run()
    answers = client.answer.split(b"HTTP/1.1 ")[1:]
    assert [a[:3] for a in answers] == [b"200", b"200", b"408"]


async def test_requests_within_the_deadlines_are_served(api, writer):
    host = urlsplit(api).netloc.encode()
    # Headers in pieces over 1 s (under the 2 s deadline) are one normal request.
    client = SlowClient(api, b"GET /healthz HTTP/1.1\r\nHost: " + host, b"\r\n\r\n", every=0.3)
    await client.run()
    assert client.status == 200
    async with keyed_client(api, writer, timeout=10) as http:
        response = await http.post("/v1/signals", content=b"{}")
        assert response.status_code in (400, 422, 503)  # answered, not timed out


async def test_oversized_headers_are_431(api):
    async with httpx.AsyncClient(base_url=api, timeout=10) as http:
        response = await http.get("/healthz", headers={"X-Big": "a" * (MAX_HEADER_BYTES + 1)})
    assert response.status_code == 431
    assert response.json()["code"] == "headers_too_large"
