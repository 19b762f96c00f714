"""The embedded PostgreSQL runs on settings sized to the machine, not the stock 128 MB."""

from __future__ import annotations

import os
import re
from pathlib import Path

import asyncpg
import pytest

from service.db.embedded import CONF_NAME, memory_bytes, server_conf, write_conf

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")), reason="a DATABASE_URL server is tuned by whoever runs it"
)


def _conf_value(conf: str, name: str) -> str:
    match = re.search(rf"^{name} = '?([^'\n]+)'?$", conf, re.MULTILINE)
    assert match, name
    return match.group(1)


def test_settings_scale_with_memory_and_cap() -> None:
    small, big, huge = (server_conf(gib * 1024**3) for gib in (1, 24, 512))
    assert _conf_value(small, "shared_buffers") == "256MB"
    assert _conf_value(big, "shared_buffers") == "4096MB"  # a quarter of 24 GB, capped at 4 GB
    assert _conf_value(huge, "shared_buffers") == "4096MB"
    assert _conf_value(small, "work_mem") == "4MB"
    assert _conf_value(big, "work_mem") == "16MB"
    assert _conf_value(big, "effective_cache_size") == "12288MB"
    assert _conf_value(big, "jit") == "off"


def test_writing_the_settings_is_idempotent(tmp_path: Path) -> None:
    (tmp_path / "postgresql.conf").write_text("max_connections = 100\n")
    assert write_conf(tmp_path, 8 * 1024**3) is True
    assert write_conf(tmp_path, 8 * 1024**3) is False
    main = (tmp_path / "postgresql.conf").read_text()
    assert main.count(f"include_if_exists = '{CONF_NAME}'") == 1
    assert main.startswith("max_connections = 100\n")
    assert write_conf(tmp_path, 16 * 1024**3) is True  # more memory: new values
    assert "4096MB" in (tmp_path / CONF_NAME).read_text()


def test_a_missing_data_folder_is_left_alone(tmp_path: Path) -> None:
    assert write_conf(tmp_path / "nothing-here") is False
    assert not (tmp_path / "nothing-here").exists()


async def test_a_new_embedded_server_runs_on_them_from_its_first_start(pg_maintenance_dsn: str) -> None:
    conf = server_conf(memory_bytes())
    conn = await asyncpg.connect(pg_maintenance_dsn)
    try:
        # shared_buffers takes effect only at server start: proves the first-start restart
        shown = await conn.fetchval(
            "SELECT setting::bigint * 8192 / 1048576 FROM pg_settings WHERE name = 'shared_buffers'"
        )
        assert f"{shown}MB" == _conf_value(conf, "shared_buffers")
        assert await conn.fetchval("SHOW jit") == "off"
        assert await conn.fetchval("SHOW random_page_cost") == "1.1"
    finally:
        await conn.close()


def test_a_folder_we_may_not_write_keeps_its_settings(tmp_path: Path) -> None:
    (tmp_path / "postgresql.conf").mkdir()  # reading it as a file fails like a foreign folder would
    assert write_conf(tmp_path, 8 * 1024**3) is False
