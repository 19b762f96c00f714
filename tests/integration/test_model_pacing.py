"""The model-call pacing (service.analysis.pacing) against a real OpenAI-compatible server on a
loopback socket: the cap on requests in flight, and one shared backoff on 429."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from service.analysis.pacing import ModelPacing, retry_after_seconds
from tests.support.servers import running_asgi

ANSWER = (
    b'{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
    b'"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}'
)


class Provider:
    """A chat-completions endpoint that answers after ``delay`` and can answer 429 first."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.limited: list[float] = []  # Retry-After values still to answer with, in order
        self.arrivals: list[tuple[float, int]] = []  # (time, status answered)
        self.in_flight = 0
        self.most_in_flight = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        while (await receive()).get("more_body"):
            pass
        now = time.monotonic()
        if self.limited:
            retry_after = self.limited.pop(0)
            self.arrivals.append((now, 429))
            headers = [(b"content-type", b"application/json"), (b"retry-after", str(retry_after).encode())]
            await send({"type": "http.response.start", "status": 429, "headers": headers})
            await send({"type": "http.response.body", "body": b'{"error":{"message":"slow down"}}'})
            return
        self.arrivals.append((now, 200))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": ANSWER})


@pytest.fixture
def provider() -> Iterator[tuple[Provider, str]]:
    fake = Provider(delay=0.2)
    with running_asgi(fake) as base:
        yield fake, base


async def _calls(base: str, pacing: ModelPacing, count: int) -> None:
    client = openai.AsyncOpenAI(base_url=f"{base}/v1", api_key="k", max_retries=2, timeout=10)
    pacing.install(client)

    async def one() -> None:
        async with pacing.call():
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])

    try:
        await asyncio.gather(*(one() for _ in range(count)))
    finally:
        await client.close()


async def test_no_more_calls_in_flight_than_the_cap(provider: tuple[Provider, str]) -> None:
    fake, base = provider
    await _calls(base, ModelPacing(3), 10)
    assert len(fake.arrivals) == 10
    assert fake.most_in_flight == 3  # reached (calls overlap) and never passed


async def test_a_429_pauses_every_call_and_halves_the_cap(provider: tuple[Provider, str]) -> None:
    """The first request is answered 429 with Retry-After: 1. No request of any call (the
    limited one's own retry included) may reach the server within that second, and the cap
    halves: the worker slows down as one, instead of each call retrying on its own."""
    fake, base = provider
    fake.limited = [1.0]
    pacing = ModelPacing(4)
    await _calls(base, pacing, 8)
    limited_at = next(t for t, status in fake.arrivals if status == 429)
    first_wave = [t for t, status in fake.arrivals if status == 200 and t < limited_at + 0.5]
    later = [t for t, status in fake.arrivals if status == 200 and t >= limited_at + 0.5]
    assert len(first_wave) == 3  # the other three calls already in flight were sent at once
    assert len(later) == 5  # the limited call's retry and the four queued calls
    assert min(later) - limited_at >= 0.95
    assert len(fake.arrivals) == 9  # one 429, nine answers in all: nobody retried on its own
    assert pacing.rate_limited == 1
    assert 2 <= pacing.allowed <= 4  # halved to 2, then grew back one answer at a time


async def test_a_burst_of_429s_halves_the_cap_once() -> None:
    clock = [100.0]
    pacing = ModelPacing(32, clock=lambda: clock[0])
    for _ in range(10):  # ten calls in flight all meet the same 429 moment
        pacing.note_rate_limited(2.0)
    assert pacing.allowed == 16
    assert pacing.pause_remaining() == 2.0
    pacing.note_answered()
    assert pacing.allowed == 17
    clock[0] += 2.5
    pacing.note_rate_limited(None)  # a later 429 without Retry-After: a pause of its own
    assert (pacing.allowed, pacing.pause_remaining()) == (8, 1.0)
    pacing.note_rate_limited(None)  # the next one in a row doubles it, and counts in the same pause
    assert (pacing.allowed, pacing.pause_remaining()) == (8, 2.0)
    for _ in range(30):
        pacing.note_answered()
    assert pacing.allowed == 32


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, 10.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_is_read_as_servers_send_it(headers: dict[str, str], seconds: float | None) -> None:
    now = 1445412480.0  # 07:28:00 that day
    assert retry_after_seconds(headers, now=now) == seconds
