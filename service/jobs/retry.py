"""A job handler asking to run again later: pgqueuer keeps the queue entry and hands it out
again after ``seconds`` (service.jobs.worker turns this into its RetryRequested); and a
handler's long model call cut short when its worker stops, so the job can go back at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class RetryLater(Exception):
    """Run this queue entry again in ``seconds``; the handler has already recorded why."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(f"retry in {seconds:g}s: {reason}")
        self.seconds = seconds
        self.reason = reason


class Stopping(Exception):
    """The worker is stopping while the model is still answering."""


async def unless_stopping(call: Coroutine[Any, Any, T], stopping: asyncio.Event | None) -> T:
    """``call``'s result, unless ``stopping`` is set first: then the call is cancelled and
    ``Stopping`` raised, so shutdown does not wait out a model call (up to SIGNALS_LLM_TIMEOUT)."""
    if stopping is None:
        return await call
    task = asyncio.ensure_future(call)
    stopper = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    raise Stopping()
