"""The API that POST /v1/signals tests run against (its worker, the LLM stub), their keys, and
what they wait for and count; shared by the happy-path and the failure modules (their writer's
client is tests/support/clients.py's ``client``).

``api`` and ``keys`` are fixtures: a module takes them by assignment (``api = signals_api.api``)
and they are then that module's own, one API and one set of keys per module."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import pytest

from service.app import create_app
from service.keys.service import create_key
from service.settings import Settings
from tests.support.clients import stub_llm
from tests.support.servers import running_asgi


@pytest.fixture(scope="module")
def api(make_settings: Callable[..., Settings], stub: SimpleNamespace) -> Iterator[str]:
    """The API with its worker, its model calls sent to the ``stub``."""
    settings = make_settings(
        **stub_llm(stub),
        llm_http_retries=1,
        llm_timeout_seconds=3,
        job_heartbeat_seconds=10,
        # Passing model failures fail at once here; test_job_retries.py covers `retrying`.
        job_retry_schedule=[],
    )
    with running_asgi(create_app(settings, worker=True)) as base:
        yield base


async def writer_and_reader_keys(database_url: str, *more_writer_scopes: str) -> SimpleNamespace:
    """A reader, and a writer (signals:read and signals:write, and ``more_writer_scopes``)."""
    conn = await asyncpg.connect(database_url)
    try:
        writer = await create_key(
            conn, name="writer", scopes=["signals:read", "signals:write", *more_writer_scopes]
        )
        reader = await create_key(conn, name="reader", scopes=["signals:read"])
    finally:
        await conn.close()
    return SimpleNamespace(writer=writer.key, reader=reader.key)


@pytest.fixture(scope="module")
async def keys(database_url: str) -> SimpleNamespace:
    return await writer_and_reader_keys(database_url)


async def wait_job(client: httpx.AsyncClient, job_id: str, seconds: float = 60) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        job = (await client.get(f"/v1/jobs/{job_id}")).json()
        if job["status"] in ("done", "failed"):
            return job
        assert asyncio.get_running_loop().time() < deadline, f"job stuck in {job['status']}"
        await asyncio.sleep(0.1)


async def count(db: asyncpg.Connection, table: str) -> int:
    return int(await db.fetchval(f"SELECT count(*) FROM {table}"))


def chat_calls(stub: SimpleNamespace) -> int:
    return int(stub.state.stats()["chat_completions"])
