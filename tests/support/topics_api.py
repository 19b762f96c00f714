"""What the topic tests share: their weeks, their keys, how they store a signal and find a
topic (the reads and the admin merge are tested in two modules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest

from service.keys.service import create_key
from tests.support.seeding import SeedSignal, seed_signal

# Windows far from "now", so tests that use the default window do not see these signals.
W0 = datetime(2025, 3, 10, tzinfo=UTC)  # a Monday
W1 = W0 + timedelta(days=7)


async def topic_keys(database_url: str) -> SimpleNamespace:
    """A reader, a writer and an admin key."""
    conn = await asyncpg.connect(database_url)
    try:
        reader = await create_key(conn, name="reader", scopes=["signals:read"])
        writer = await create_key(conn, name="writer", scopes=["signals:read", "signals:write"])
        admin = await create_key(conn, name="admin", scopes=["admin"])
    finally:
        await conn.close()
    return SimpleNamespace(reader=reader.key, writer=writer.key, admin=admin.key)


@pytest.fixture(scope="module")
async def keys(database_url: str) -> SimpleNamespace:
    """The module's keys (topic_keys), as a fixture: a module takes it by assignment."""
    return await topic_keys(database_url)


async def seed(db: asyncpg.Connection, title: str, topics: list[str], at: datetime, **kw: Any) -> Any:
    return await seed_signal(db, SeedSignal(title=title, topics=topics, created_at=at, **kw))


async def topic_id(db: asyncpg.Connection, slug: str) -> int | None:
    value: int | None = await db.fetchval("SELECT id FROM topics WHERE slug = $1", slug)
    return value
