"""The verified-key cache never keeps a key read before a change it was told about."""

from __future__ import annotations

from uuid import uuid4

from service.keys.cache import KeyCache
from service.keys.repository import StoredKey


def stored() -> StoredKey:
    return StoredKey(
        id=uuid4(),
        name="k",
        prefix="sk_live_abcdefgh",
        key_hash=b"h" * 32,
        scopes=["signals:read"],
        revoked=False,
        last_used_at=None,
    )


def enabled_cache() -> KeyCache:
    cache = KeyCache()
    cache._enabled = True  # as after start(): a listener empties it on every change
    return cache


def test_a_key_read_before_a_clear_is_not_cached_after_it():
    cache = enabled_cache()
    key = stored()
    generation = cache.generation  # the request reads this, then the key from the database...
    cache.clear()  # ...while a NOTIFY for a change to the key arrives
    cache.put(key, generation)
    assert cache.get(key.key_hash) is None
    cache.put(key, cache.generation)  # a read after the change is kept
    assert cache.get(key.key_hash) == key


def test_clearing_drops_every_entry():
    cache = enabled_cache()
    key = stored()
    cache.put(key, cache.generation)
    cache.clear()
    assert cache.get(key.key_hash) is None
