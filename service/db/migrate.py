"""Applies sql/migrations/NNNN_name.sql in order, once each, recorded with a checksum.

An already-applied migration whose file changed is a startup error: released migrations are
never edited, a new numbered file is added instead. pgqueuer's own schema is installed (or
upgraded) after ours, under the same lock.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from pgqueuer import AsyncpgDriver, Queries

from service.db.paths import MIGRATIONS_DIR
from service.db.queries import queries
from service.errors import StartupError

log = logging.getLogger(__name__)

_FILE_RE = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str
    checksum: str


def load_migrations(folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in version order; a malformed or duplicate name is an error."""
    found: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = _FILE_RE.match(path.name)
        if not match:
            raise StartupError(f"migration file {path.name} is not named NNNN_name.sql")
        version = int(match["version"])
        if version in found:
            raise StartupError(f"two migration files share version {version:04d}")
        sql = path.read_text(encoding="utf-8")
        found[version] = Migration(
            version=version,
            name=path.stem,
            sql=sql,
            checksum=hashlib.sha256(sql.encode()).hexdigest(),
        )
    return [found[v] for v in sorted(found)]


async def migrate(conn: asyncpg.Connection, folder: Path = MIGRATIONS_DIR) -> list[str]:
    """Bring the database up to date; return the names of the migrations applied now."""
    migrations = load_migrations(folder)
    await queries.lock_migrations.fetchval(conn)
    try:
        if not await queries.vector_extension_available.fetchval(conn):
            raise StartupError(
                "the PostgreSQL server lacks the pgvector extension ('vector'). Install pgvector "
                "on that server (every major managed PostgreSQL offers it), or unset DATABASE_URL "
                "to use the embedded PostgreSQL, which ships it."
            )
        await queries.create_migrations_table.execute(conn)
        applied = {row["version"]: row for row in await queries.list_applied_migrations.fetch(conn)}
        known = {m.version for m in migrations}
        for version, row in applied.items():
            if version not in known:
                raise StartupError(
                    f"the database has migration {row['name']} which this code does not know; "
                    "run a version of the service at least as new as the one that applied it"
                )
        done: list[str] = []
        for migration in migrations:
            stored = applied.get(migration.version)
            if stored is not None:
                if stored["checksum"] != migration.checksum:
                    raise StartupError(
                        f"migration {migration.name}.sql was edited after it was applied "
                        f"(applied checksum {stored['checksum'][:12]}…, file {migration.checksum[:12]}…). "
                        "Restore the file and add a new numbered migration for the change."
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await queries.record_migration.execute(
                    conn, version=migration.version, name=migration.name, checksum=migration.checksum
                )
            log.info("applied migration %s", migration.name)
            done.append(migration.name)
        await _install_queue_schema(conn)
        return done
    finally:
        await queries.unlock_migrations.fetchval(conn)


async def _install_queue_schema(conn: asyncpg.Connection) -> None:
    pgq = Queries(AsyncpgDriver(conn))
    if await pgq.schema_is_installed():
        await pgq.upgrade()
    else:
        await pgq.install()
        log.info("installed the pgqueuer job queue schema")
