"""The API that POST /v1/signals tests run against (its worker, the LLM stub), their keys and
client, and what they wait for and count; shared by the happy-path and the failure modules."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx

from service.app import create_app
from service.keys.service import create_key
from service.settings import Settings
from tests.support.servers import running_asgi


@contextmanager
def signals_api(make_settings: Callable[..., Settings], stub: SimpleNamespace) -> Iterator[str]:
    settings = make_settings(
        openai_base_url=f"{stub.base}/v1",
        openai_api_key="test-key",
        llm_model="signals-stub",
        llm_http_retries=1,
        llm_timeout_seconds=3,
        job_heartbeat_seconds=10,
        # Passing model failures fail at once here; test_job_retries.py covers `retrying`.
        job_retry_schedule=[],
    )
    with running_asgi(create_app(settings, worker=True)) as base:
        yield base


async def writer_and_reader_keys(database_url: str) -> SimpleNamespace:
    conn = await asyncpg.connect(database_url)
    try:
        writer = await create_key(conn, name="writer", scopes=["signals:read", "signals:write"])
        reader = await create_key(conn, name="reader", scopes=["signals:read"])
    finally:
        await conn.close()
    return SimpleNamespace(writer=writer.key, reader=reader.key)


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
