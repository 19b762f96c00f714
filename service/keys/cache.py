"""A short-lived, per-process cache of verified API keys.

Authentication would otherwise cost a database round trip on every request. Entries live
at most ``ttl`` seconds, and every revocation sends a NOTIFY that empties the caches of all
API processes at once; if the LISTEN connection is lost, the cache empties too. A process
with no listener does not cache at all.
"""

from __future__ import annotations

import time

from service.db.listener import Listener
from service.keys.repository import StoredKey

CHANNEL = "signals_keys_changed"


class KeyCache:
    def __init__(self, ttl: float = 30.0, max_entries: int = 10_000) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[bytes, tuple[StoredKey, float]] = {}
        self._enabled = False
        self._generation = 0

    async def start(self, listener: Listener) -> None:
        await listener.subscribe(CHANNEL, lambda _payload: self.clear(), on_lost=self.clear)
        self._enabled = True

    def get(self, key_hash: bytes) -> StoredKey | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if entry[1] < time.monotonic():
            self._entries.pop(key_hash, None)
            return None
        return entry[0]

    @property
    def generation(self) -> int:
        """Changes on every clear: read it before reading a key from the database."""
        return self._generation

    def put(self, key: StoredKey, generation: int | None = None) -> None:
        """Cache a verified key. With ``generation`` (read before the key was read), a key read
        before a change but verified after its NOTIFY emptied the cache is not kept: it may
        describe the key as it was before the change."""
        if not self._enabled or key.revoked:
            return
        if generation is not None and generation != self._generation:
            return
        if len(self._entries) >= self._max:
            self._entries.clear()  # crude but bounded; a full cache refills in one TTL
        self._entries[key.key_hash] = (key, time.monotonic() + self._ttl)

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()
