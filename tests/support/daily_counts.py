"""What the daily-count tests share: their days and their keys (the counts kept, and the
aggregates read from them, are tested in two modules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from tests.support.keys import new_key

# Days of their own: no other module's signals share a test database anyway, and no
# default ("last 7 days") window reaches them.
D0 = datetime(2023, 5, 1, tzinfo=UTC)
DAY = timedelta(days=1)


async def analyst_keys(database_url: str) -> SimpleNamespace:
    return SimpleNamespace(
        reader=await new_key(database_url, name="reader", scopes=["signals:read"]),
        admin=await new_key(database_url, name="admin", scopes=["admin"]),
    )


@pytest.fixture(scope="module")
async def keys(database_url: str) -> SimpleNamespace:
    """The module's keys (analyst_keys), as a fixture: a module takes it by assignment."""
    return await analyst_keys(database_url)
