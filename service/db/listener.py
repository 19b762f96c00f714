"""One LISTEN connection per process, shared by everything that waits for notifications."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg

log = logging.getLogger(__name__)

Callback = Callable[[str], None]


class Listener:
    """Subscribes callbacks to PostgreSQL NOTIFY channels over one dedicated connection.

    If the connection dies, ``on_lost`` callbacks run (caches drop what they hold, since
    notifications may have been missed); waiters fall back to their own polling.
    """

    def __init__(self, connect: Callable[[], Awaitable[asyncpg.Connection]]) -> None:
        self._connect = connect
        self._conn: asyncpg.Connection | None = None
        self._on_lost: list[Callable[[], None]] = []

    async def start(self) -> None:
        self._conn = await self._connect()
        self._conn.add_termination_listener(self._terminated)

    async def stop(self) -> None:
        if self._conn is not None:
            # closing on purpose is not a lost connection: no warning, caches keep what they hold
            self._conn.remove_termination_listener(self._terminated)
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    async def subscribe(
        self, channel: str, callback: Callback, on_lost: Callable[[], None] | None = None
    ) -> None:
        """Call ``callback(payload)`` for every notification on ``channel``."""
        assert self._conn is not None, "Listener.start() first"

        def deliver(_conn: object, _pid: int, _channel: str, payload: object) -> None:
            callback(str(payload))  # always a str: asyncpg types it as object

        await self._conn.add_listener(channel, deliver)
        if on_lost is not None:
            self._on_lost.append(on_lost)

    def _terminated(self, _conn: object) -> None:
        log.warning("the LISTEN connection was lost; notifications may have been missed")
        for callback in self._on_lost:
            callback()
