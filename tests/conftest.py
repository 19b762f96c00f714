"""Shared fixtures: one real PostgreSQL per run (embedded, or DATABASE_URL), migrated once
into a template database; each test module gets its own copy of the template."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from ipaddress import ip_network
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest

from service.db.database import init_connection
from service.db.embedded import EmbeddedServer, with_database
from service.db.migrate import migrate
from service.llmstub import StubState, create_stub_app
from service.settings import Settings
from tests.support.leftovers import (  # noqa: F401  (hooks: the run fails if it leaves a process)
    pytest_configure,
    pytest_sessionfinish,
    pytest_terminal_summary,
)
from tests.support.receivers import Receiver, running_receiver
from tests.support.servers import running_asgi
from tests.support.site import FakeSite, running_site

TEMPLATE = "signals_test_template"


@pytest.fixture(scope="session")
def pg_maintenance_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A DSN of the server's maintenance database."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    server = EmbeddedServer(tmp_path_factory.mktemp("pg"))
    dsn = server.start()
    try:
        yield dsn
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def template_database(pg_maintenance_dsn: str) -> str:
    """A freshly migrated database that test databases are copied from."""
    conn = await asyncpg.connect(pg_maintenance_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    finally:
        await conn.close()
    template_conn = await asyncpg.connect(with_database(pg_maintenance_dsn, TEMPLATE))
    try:
        await migrate(template_conn)
    finally:
        await template_conn.close()
    return TEMPLATE


async def create_test_database(maintenance_dsn: str, template: str) -> str:
    name = f"test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(maintenance_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()
    return with_database(maintenance_dsn, name)


@pytest.fixture(scope="module")
async def database_url(pg_maintenance_dsn: str, template_database: str) -> AsyncIterator[str]:
    """A private, migrated database for one test module."""
    dsn = await create_test_database(pg_maintenance_dsn, template_database)
    yield dsn
    conn = await asyncpg.connect(pg_maintenance_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{dsn.split("/")[-1].split("?")[0]}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the module's database, for setting up and checking state."""
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A small pool on the module's database, set up as the service's (jsonb as values)."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2, init=init_connection)
    try:
        yield pool
    finally:
        await pool.close()


LOOPBACK_V4 = ip_network("127.0.0.1/32")


@pytest.fixture(scope="module")
def make_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Settings]:
    """Settings for a test: the module's database, loopback fake sites allowed, small pools."""
    data_dir: Path = tmp_path_factory.mktemp("data")

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "data_dir": data_dir,
            "fetch_allowed_networks": [LOOPBACK_V4],
            "extract_workers": 2,
            "db_pool_max": 5,
            "openai_base_url": None,
            "openai_api_key": None,
            "llm_model": None,
            # Rate limits stay on (every test runs through the limiter) but far above what any
            # test sends; tests of the limiter itself set their own.
            "rate_per_second": 10_000.0,
            "rate_burst": 100_000,
            "public_rate_per_second": 10_000.0,
            "public_rate_burst": 100_000,
        }
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture(scope="module")
def stub() -> Iterator[SimpleNamespace]:
    """The development LLM stub on loopback: ``.base`` (URL) and ``.state`` (faults, stats)."""
    state = StubState()
    with running_asgi(create_stub_app(state)) as base:
        yield SimpleNamespace(state=state, base=base)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """A webhook endpoint on loopback that records what it is sent (tests/support/webhooks.py)."""
    with running_receiver() as server:
        yield server


@pytest.fixture(scope="module")
def site() -> Iterator[FakeSite]:
    """A fake article website on loopback whose pages tests set."""
    with running_site() as fake:
        yield fake
