"""A short-lived, per-process cache of verified API keys.

Authentication would otherwise cost a database round trip on every request. Entries live
at most ``ttl`` seconds, and every revocation sends a NOTIFY that empties the caches of all
API processes at once; if the LISTEN connection is lost, the cache empties too. A process
with no listener does not cache at all.
"""

from __future__ import annotations

from service.db.cache import NotifiedCache
from service.keys.repository import StoredKey

CHANNEL = "signals_keys_changed"


class KeyCache(NotifiedCache[bytes, StoredKey]):
    def __init__(self, ttl: float = 30.0, max_entries: int = 10_000) -> None:
        super().__init__(CHANNEL, ttl, max_entries)

    def put(self, key: StoredKey, generation: int | None = None) -> None:
        """Cache a verified key (never a revoked one); ``generation`` as in ``store``."""
        if not key.revoked:
            self.store(key.key_hash, key, generation)
