"""Webhook receivers for tests: a real HTTP server on loopback whose answers tests script per
path, recording every request (headers, body, arrival time, the status it answered)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.support.servers import running_asgi


@dataclass(frozen=True)
class Answer:
    """One scripted answer: wait ``delay`` seconds, then answer ``status`` with ``headers``."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int
    """What the receiver answered (set once the answer was sent)."""


class Receiver:
    """An ASGI app: ``script(path, answers...)`` queues answers for a path (then 200s)."""

    def __init__(self) -> None:
        self.base_url = ""
        self._scripts: dict[str, list[Answer]] = {}
        self._received: list[Received] = []
        self._lock = threading.Lock()

    def script(self, path: str, *answers: Answer) -> str:
        with self._lock:
            self._scripts[path] = list(answers)
        return self.base_url + path

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self._received if path is None or r.path == path]

    def _next(self, path: str) -> Answer:
        with self._lock:
            queue = self._scripts.get(path)
            return queue.pop(0) if queue else Answer()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        arrived = time.monotonic()
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        answer = self._next(scope["path"])
        if answer.delay:
            await asyncio.sleep(answer.delay)
        headers = [(k.lower().encode(), v.encode()) for k, v in answer.headers.items()]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})
        record = Received(
            path=scope["path"],
            headers={k.decode().lower(): v.decode() for k, v in scope["headers"]},
            body=body,
            at=arrived,
            status=answer.status,
        )
        with self._lock:
            self._received.append(record)


@contextmanager
def running_receiver(host: str = "127.0.0.1") -> Iterator[Receiver]:
    receiver = Receiver()
    with running_asgi(receiver, host) as base_url:
        receiver.base_url = base_url
        yield receiver


class ConnectionCounter:
    """A TCP listener that only counts the connections it accepts (and closes them)."""

    def __init__(self) -> None:
        self.accepted = 0
        self.port = 0

    async def _on_connect(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


@contextlib.asynccontextmanager
async def counting_listener(host: str) -> AsyncIterator[ConnectionCounter]:
    counter = ConnectionCounter()
    server = await asyncio.start_server(counter._on_connect, host, 0)
    counter.port = server.sockets[0].getsockname()[1]
    try:
        yield counter
    finally:
        server.close()
        await server.wait_closed()


async def eventually(check: Any, timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Await ``check()`` (sync or async) until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout} s")
        await asyncio.sleep(interval)
