"""The database a process talks to: embedded or DATABASE_URL, migrated, with one pool."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
import msgspec

from service.db.embedded import DATABASE_NAME, EmbeddedServer, ensure_database
from service.db.migrate import migrate
from service.errors import StartupError
from service.settings import Settings

log = logging.getLogger(__name__)

_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.Decoder().decode


SERVER_SETTINGS = {
    # The list queries hold optional filters ("$1 IS NULL OR ..."): a cached generic plan
    # would serve every filter combination with one plan. Custom plans fold the unused
    # filters away and let each combination use its index.
    "plan_cache_mode": "force_custom_plan",
    # JIT compiles big estimated plans at tens of milliseconds per query: wrong for an API.
    "jit": "off",
}


async def init_connection(conn: asyncpg.Connection) -> None:
    """Per-connection setup: json/jsonb travel as Python values, encoded by msgspec."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name,
            encoder=lambda value: _json_encode(value).decode(),
            decoder=_json_decode,
            schema="pg_catalog",
        )


async def reset_connection(conn: asyncpg.Connection) -> None:
    """Pool release hook. asyncpg's default resets every connection on release (a round trip:
    unlock advisory locks, UNLISTEN, RESET ALL), which doubled the cost of a one-query
    request. Pool connections never LISTEN, lock or SET (dedicated connections do that), so
    only a connection left inside a transaction needs the full reset."""
    if conn.is_in_transaction():
        await conn.reset()


class Database:
    """Owns the DSN, the embedded server handle (if any) and the connection pool."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dsn: str | None = None
        self._pool: asyncpg.Pool | None = None
        self._embedded: EmbeddedServer | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("Database.open() has not run")
        return self._pool

    async def open(self, *, run_migrations: bool = True) -> None:
        """Resolve the server, apply migrations, open the pool. Errors say what to fix."""
        if self.settings.database_url:
            self.dsn = self.settings.database_url
        else:
            self._embedded = EmbeddedServer(self.settings.data_dir)
            maintenance = await asyncio.to_thread(self._embedded.start)
            self.dsn = await ensure_database(maintenance, DATABASE_NAME)
        try:
            if run_migrations:
                conn = await asyncpg.connect(self.dsn)
                try:
                    applied = await migrate(conn)
                finally:
                    await conn.close()
                if applied:
                    log.info("database migrated: %s", ", ".join(applied))
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=1,
                max_size=self.settings.db_pool_max,
                init=init_connection,
                reset=reset_connection,
                server_settings=SERVER_SETTINGS,
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # The DSN may hold a password: name the error, never the DSN.
            raise StartupError(
                f"cannot use the database ({type(exc).__name__}: {exc}). "
                "Check DATABASE_URL, or unset it to use the embedded PostgreSQL."
            ) from exc

    async def connect(self) -> asyncpg.Connection:
        """A dedicated connection outside the pool (LISTEN, the queue worker)."""
        assert self.dsn is not None
        conn: asyncpg.Connection = await asyncpg.connect(self.dsn, server_settings=SERVER_SETTINGS)
        await init_connection(conn)
        return conn

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self._embedded is not None:
            await asyncio.to_thread(self._embedded.stop)
            self._embedded = None

    async def __aenter__(self) -> Database:
        await self.open()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
