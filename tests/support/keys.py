"""API keys for tests, made the way `signals keys create` makes them."""

from __future__ import annotations

import asyncpg

from service.keys.service import create_key


async def new_key(database_url: str, *, name: str, scopes: list[str]) -> str:
    """A new key's secret, created on a connection of its own."""
    conn = await asyncpg.connect(database_url)
    try:
        return (await create_key(conn, name=name, scopes=scopes)).key
    finally:
        await conn.close()
