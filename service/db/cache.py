"""Per-process caches that every process empties at once when the data behind them changes.

A writer sends a NOTIFY on the cache's channel in the transaction that changes the data; the
one LISTEN connection of each process (``service.db.listener``) delivers it when that commits
and the cache empties. Entries also expire after ``ttl`` seconds, and if the LISTEN
connection is lost (notifications may have been missed) the cache empties too. A process
with no listener does not cache at all: nothing would tell it of a change.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Generic, TypeVar

from service.db.listener import Listener

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class NotifiedCache(Generic[K, V]):
    def __init__(self, channel: str, ttl: float, max_entries: int = 10_000) -> None:
        self.channel = channel
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[K, tuple[V, float]] = {}
        self._enabled = False
        self._generation = 0

    async def start(self, listener: Listener) -> None:
        await listener.subscribe(self.channel, lambda _payload: self.clear(), on_lost=self.clear)
        self._enabled = True

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] < time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry[0]

    @property
    def generation(self) -> int:
        """Changes on every clear: read it before reading the value from the database."""
        return self._generation

    def store(self, key: K, value: V, generation: int | None = None) -> None:
        """Cache ``value``. With ``generation`` (read before the value was read), a value read
        before a change but stored after its NOTIFY emptied the cache is not kept: it may
        describe the data as it was before the change."""
        if not self._enabled:
            return
        if generation is not None and generation != self._generation:
            return
        if len(self._entries) >= self._max:
            self._entries.clear()  # crude but bounded; a full cache refills in one TTL
        self._entries[key] = (value, time.monotonic() + self._ttl)

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()
