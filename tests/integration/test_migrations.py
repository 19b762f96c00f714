import shutil
import uuid
from pathlib import Path

import asyncpg
import pytest

from service.db.embedded import with_database
from service.db.migrate import migrate
from service.db.paths import MIGRATIONS_DIR
from service.errors import StartupError


@pytest.fixture
async def empty_db(pg_maintenance_dsn: str):
    name = f"mig_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(pg_maintenance_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    conn = await asyncpg.connect(with_database(pg_maintenance_dsn, name))
    try:
        yield conn
    finally:
        await conn.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_migrations_apply_once_with_checksums_and_install_the_queue(empty_db):
    applied = await migrate(empty_db)
    files = sorted(p.stem for p in MIGRATIONS_DIR.glob("*.sql"))
    assert applied == files and files[0] == "0001_core"
    rows = await empty_db.fetch("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
    assert [r["name"] for r in rows] == files
    assert all(len(r["checksum"]) == 64 for r in rows)
    assert await empty_db.fetchval("SELECT to_regclass('pgqueuer') IS NOT NULL")
    assert await empty_db.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    assert await migrate(empty_db) == []


async def test_an_edited_applied_migration_stops_startup(empty_db, tmp_path: Path):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    await migrate(empty_db, folder)
    target = folder / "0001_core.sql"
    target.write_text(target.read_text() + "\n-- a later edit\n")
    with pytest.raises(StartupError, match=r"0001_core\.sql was edited after it was applied"):
        await migrate(empty_db, folder)


async def test_new_migrations_apply_in_order_and_a_failing_one_leaves_nothing(empty_db, tmp_path: Path):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    (folder / "9998_extra.sql").write_text("CREATE TABLE extra_a (id int);")
    (folder / "9999_broken.sql").write_text("CREATE TABLE extra_b (id int); SELECT no_such_function();")
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await migrate(empty_db, folder)
    versions = [
        r["version"] for r in await empty_db.fetch("SELECT version FROM schema_migrations ORDER BY 1")
    ]
    assert versions[-1] == 9998 and 9999 not in versions
    assert await empty_db.fetchval("SELECT to_regclass('extra_b')") is None  # rolled back whole


async def test_a_database_newer_than_the_code_is_refused(empty_db, tmp_path: Path):
    await migrate(empty_db)
    await empty_db.execute(
        "INSERT INTO schema_migrations (version, name, checksum) VALUES (999, '0999_future', 'x')"
    )
    with pytest.raises(StartupError, match="0999_future"):
        await migrate(empty_db)


def test_badly_named_migration_files_are_refused(tmp_path: Path):
    from service.db.migrate import load_migrations

    (tmp_path / "1_core.sql").write_text("SELECT 1;")
    with pytest.raises(StartupError, match=r"NNNN_name\.sql"):
        load_migrations(tmp_path)
