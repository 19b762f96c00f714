"""How fast one process asks the model: a cap on requests in flight, and one shared backoff.

Model calls are I/O: a worker holds as many in flight as the endpoint allows
(SIGNALS_LLM_MAX_CONCURRENCY), whatever else it does. When the provider answers 429, every
call of the process waits out the same pause (its ``Retry-After``, else a doubling one),
and the cap halves, growing back by one with each answer that is not a 429: the whole
worker slows down, instead of each call in flight retrying on its own and meeting the next
429. The pause applies to every HTTP request the openai client sends, its own retries
included (``install`` hooks it into the client); the cap applies to whole calls
(``Analyzer.pacing``).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

log = logging.getLogger(__name__)

FIRST_PAUSE_SECONDS = 1.0
"""Pause after a 429 without Retry-After; each further 429 in a row doubles it."""
MAX_PAUSE_SECONDS = 60.0
"""Longest pause one 429 imposes (a Retry-After beyond this is taken as this)."""


class ModelPacing:
    """Shared by every model call of one process (one event loop)."""

    def __init__(self, max_concurrency: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.limit = max_concurrency
        self.allowed = max_concurrency
        """The cap now: ``limit``, or less after 429s."""
        self.in_flight = 0
        self.resume_at = 0.0
        """Clock time before which no request is sent."""
        self.rate_limited = 0
        """429 answers seen (for logs and tests)."""
        self._clock = clock
        self._streak = 0
        self._cut_until = 0.0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @contextlib.asynccontextmanager
    async def call(self) -> AsyncIterator[None]:
        """Hold one of the ``allowed`` slots for a whole call (its HTTP retries included)."""
        await self._acquire()
        try:
            yield
        finally:
            self.in_flight -= 1
            self._wake()

    def install(self, client: Any) -> None:
        """Hook the pause and the 429 watch into an openai client's HTTP client: its event hooks
        run for every request it sends, retries included."""
        hooks = client._client.event_hooks  # openai keeps its httpx client here
        hooks["request"].append(self._before_request)
        hooks["response"].append(self._after_response)

    def pause_remaining(self) -> float:
        return max(0.0, self.resume_at - self._clock())

    def note_rate_limited(self, retry_after: float | None) -> None:
        """A 429: pause everyone for ``retry_after`` (or a doubling pause) and halve the cap,
        once per pause: a burst of 429s answering the same moment counts as one."""
        self.rate_limited += 1
        self._streak += 1
        pause = retry_after if retry_after is not None else FIRST_PAUSE_SECONDS * 2 ** (self._streak - 1)
        pause = min(max(pause, 0.0), MAX_PAUSE_SECONDS)
        now = self._clock()
        self.resume_at = max(self.resume_at, now + pause)
        if now >= self._cut_until:
            self.allowed = max(1, self.allowed // 2)
            self._cut_until = self.resume_at
            log.warning(
                "the model server answered 429: every call waits %.1f s; at most %d in flight now",
                pause, self.allowed,
            )  # fmt: skip

    def note_answered(self) -> None:
        """An answer that is not a 429: the cap grows back by one."""
        self._streak = 0
        if self.allowed < self.limit:
            self.allowed += 1
            self._wake()

    # --- internals ---

    async def _acquire(self) -> None:
        while True:
            pause = self.pause_remaining()
            if pause > 0:
                await asyncio.sleep(pause)
                continue
            if self.in_flight < self.allowed:
                self.in_flight += 1
                return
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)

    def _wake(self) -> None:
        free = self.allowed - self.in_flight
        while free > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1

    async def _before_request(self, _request: Any) -> None:
        # A loop, not an Event: another 429 may lengthen the pause while we sleep.
        while (pause := self.pause_remaining()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(pause)

    async def _after_response(self, response: Any) -> None:
        if response.status_code == 429:
            self.note_rate_limited(retry_after_seconds(response.headers))
        elif response.status_code < 500:
            self.note_answered()


def retry_after_seconds(headers: Any, *, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` (or ``retry-after-ms``) header asks for; None without one."""
    millis = headers.get("retry-after-ms")
    if millis:
        with contextlib.suppress(ValueError):
            value = float(millis) / 1000
            if math.isfinite(value) and value >= 0:
                return value
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - (time.time() if now is None else now))
    return value if math.isfinite(value) and value >= 0 else None
