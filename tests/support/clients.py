"""Clients the integration tests open: the API with a key (and the ``client`` fixture, a writer's),
PostgreSQL set up as the service sets it up, and the settings that point the API at the LLM stub."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import pytest

from service.db.database import init_connection


def keyed_client(api: str, key: str, *, timeout: float = 60) -> httpx.AsyncClient:
    """An API client that sends ``key`` as its bearer token on every request."""
    return httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=timeout)


def stub_llm(stub: SimpleNamespace) -> dict[str, Any]:
    """The settings that send the API's model calls to the ``stub`` fixture's LLM stub."""
    return {"openai_base_url": f"{stub.base}/v1", "openai_api_key": "test-key", "llm_model": "signals-stub"}


@asynccontextmanager
async def connected(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of its own to ``database_url``, set up as the service's, closed on exit."""
    conn = await asyncpg.connect(database_url)
    try:
        await init_connection(conn)
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def client(api: str, keys: SimpleNamespace, stub: SimpleNamespace) -> AsyncIterator[httpx.AsyncClient]:
    """The writer's client of the module's ``api`` (its ``keys``), with the stub's faults and
    stats cleared; a module takes it by assignment (``client = clients.client``)."""
    stub.state.reset()
    async with keyed_client(api, keys.writer) as http:
        yield http
