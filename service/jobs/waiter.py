"""Waiting for a job to finish (``Prefer: wait=N``) without polling.

A trigger on ``jobs`` notifies ``signals_job_finished`` with the job id when it reaches
done or failed; one listening connection per API process wakes the waiters. A slow poll
backs it up, so a lost notification (listener reconnecting) costs a second, not a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Container
from typing import Protocol, TypeVar
from uuid import UUID

from service.db.listener import Listener

log = logging.getLogger(__name__)

CHANNEL = "signals_job_finished"
_POLL_SECONDS = 1.0


class _Job(Protocol):
    @property
    def id(self) -> UUID: ...
    @property
    def status(self) -> str: ...


J = TypeVar("J", bound=_Job)


class JobWaiter:
    def __init__(self) -> None:
        self._events: dict[UUID, set[asyncio.Event]] = defaultdict(set)

    async def start(self, listener: Listener) -> None:
        await listener.subscribe(CHANNEL, self._on_notify)

    def _on_notify(self, payload: str) -> None:
        try:
            job_id = UUID(payload)
        except ValueError:
            return
        for event in self._events.get(job_id, ()):
            event.set()

    async def wait(self, job_id: UUID, seconds: float, is_final: Callable[[], Awaitable[bool]]) -> bool:
        """Wait up to ``seconds`` for the job to finish; True if it did.

        ``is_final`` re-reads the job: checked after registering (no lost wake-up between
        the caller's read and our listen) and on every wake-up or poll tick.
        """
        event = asyncio.Event()
        self._events[job_id].add(event)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + seconds
            while True:
                if await is_final():
                    return True
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), timeout=min(remaining, _POLL_SECONDS))
                event.clear()
        finally:
            self._events[job_id].discard(event)
            if not self._events[job_id]:
                del self._events[job_id]

    async def until_final(
        self, job: J, seconds: float, reload: Callable[[], Awaitable[J]], final: Container[str]
    ) -> J:
        """``job`` once its status is in ``final``, or as it stands after ``seconds``;
        ``reload`` reads it again (analysis jobs and briefing jobs share this)."""
        if job.status in final or seconds <= 0:
            return job
        latest = job

        async def is_final() -> bool:
            nonlocal latest
            latest = await reload()
            return latest.status in final

        await self.wait(job.id, seconds, is_final)
        return latest
