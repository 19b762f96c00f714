import hashlib

import pytest

from service.errors import Forbidden, InvalidRequest, Unauthorized
from service.keys import service as keys


async def test_a_key_is_shown_once_and_stored_only_as_a_hash(db):
    created = await keys.create_key(db, name="frontend", scopes=["signals:read"])
    assert created.key.startswith("sk_live_") and len(created.key) == len("sk_live_") + 43
    assert created.key.startswith(created.prefix)
    row = await db.fetchrow("SELECT * FROM api_keys WHERE id = $1", created.id)
    stored = " ".join(str(v) for v in row.values())
    assert created.key not in stored
    assert bytes(row["key_hash"]) == hashlib.sha256(created.key.encode()).digest()
    listed = [k for k in await keys.list_keys(db) if k.id == created.id]
    assert listed and not hasattr(listed[0], "key")


async def test_authentication_accepts_live_keys_and_records_use(db):
    created = await keys.create_key(db, name="partner", scopes=["signals:read", "signals:write"])
    key = await keys.authenticate(db, f"Bearer {created.key}")
    assert key.id == created.id and key.scopes == ["signals:read", "signals:write"]
    assert await db.fetchval("SELECT last_used_at IS NOT NULL FROM api_keys WHERE id = $1", created.id)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("Basic abc", "malformed"),
        ("Bearer ", "malformed"),
        ("Bearer sk_live_short", "malformed"),
        ("Bearer " + "sk_live_" + "A" * 43, "unknown"),
    ],
)
async def test_bad_credentials_are_401_with_a_reason(db, header, reason):
    with pytest.raises(Unauthorized) as info:
        await keys.authenticate(db, header)
    assert info.value.reason == reason
    assert info.value.headers()["WWW-Authenticate"].startswith("Bearer")


async def test_revoked_keys_stop_working(db):
    created = await keys.create_key(db, name="leaked", scopes=["admin"])
    revoked = await keys.revoke_key(db, created.prefix)
    assert [k.id for k in revoked] == [created.id] and revoked[0].revoked_at is not None
    with pytest.raises(Unauthorized) as info:
        await keys.authenticate(db, f"Bearer {created.key}")
    assert info.value.reason == "revoked"
    assert await keys.revoke_key(db, "sk_live_nomatch") == []


async def test_scopes_are_checked_and_admin_holds_all(db):
    reader = await keys.authenticate(
        db, f"Bearer {(await keys.create_key(db, name='r', scopes=['signals:read'])).key}"
    )
    admin = await keys.authenticate(
        db, f"Bearer {(await keys.create_key(db, name='a', scopes=['admin'])).key}"
    )
    keys.require_scope(reader, "signals:read")
    with pytest.raises(Forbidden):
        keys.require_scope(reader, "signals:write")
    keys.require_scope(admin, "signals:write")


async def test_unknown_scopes_are_refused(db):
    with pytest.raises(InvalidRequest, match="unknown scopes"):
        await keys.create_key(db, name="x", scopes=["signals:read", "root"])


async def test_a_cached_key_needs_no_database_and_revocation_empties_the_cache(database_url):
    import asyncio

    import asyncpg

    from service.db.listener import Listener
    from service.keys.cache import KeyCache

    listener = Listener(lambda: asyncpg.connect(database_url))
    await listener.start()
    cache = KeyCache(ttl=60)
    await cache.start(listener)
    conn = await asyncpg.connect(database_url)
    try:
        created = await keys.create_key(conn, name="cached", scopes=["signals:read"])
        header = f"Bearer {created.key}"
        first = await keys.authenticate(conn, header, cache)
        closed = await asyncpg.connect(database_url)
        await closed.close()
        assert (await keys.authenticate(closed, header, cache)).id == first.id  # no round trip
        await keys.revoke_key(conn, str(created.id))
        for _ in range(100):
            if cache.get(keys.hash_key(created.key)) is None:
                break
            await asyncio.sleep(0.01)
        with pytest.raises(Unauthorized) as info:
            await keys.authenticate(conn, header, cache)
        assert info.value.reason == "revoked"
    finally:
        await conn.close()
        await listener.stop()


async def test_a_lost_listen_connection_empties_the_cache_and_a_stop_does_not(database_url):
    import asyncio

    import asyncpg

    from service.db.listener import Listener
    from service.keys.cache import KeyCache

    async def started() -> tuple[Listener, KeyCache, list[asyncpg.Connection]]:
        opened: list[asyncpg.Connection] = []

        async def connect() -> asyncpg.Connection:
            opened.append(await asyncpg.connect(database_url))
            return opened[-1]

        listener = Listener(connect)
        await listener.start()
        cache = KeyCache(ttl=60)
        await cache.start(listener)
        return listener, cache, opened

    lost, lost_cache, connections = await started()
    generation = lost_cache.generation
    connections[0].terminate()  # the connection dies under the listener
    for _ in range(100):
        if lost_cache.generation != generation:
            break
        await asyncio.sleep(0.01)
    assert lost_cache.generation == generation + 1  # emptied: notifications may have been missed
    await lost.stop()
    stopped, stopped_cache, _ = await started()
    generation = stopped_cache.generation
    await stopped.stop()  # closing on purpose loses nothing
    await asyncio.sleep(0.2)
    assert stopped_cache.generation == generation


async def test_without_a_listener_nothing_is_cached(db):
    from service.keys.cache import KeyCache

    cache = KeyCache()
    created = await keys.create_key(db, name="uncached", scopes=["signals:read"])
    await keys.authenticate(db, f"Bearer {created.key}", cache)
    assert cache.get(keys.hash_key(created.key)) is None
