"""What runs SQL: one connection, the pool, or either; typed by asyncpg-stubs (test extra).

A function takes the narrowest of the three that its body relies on:

- ``Pool`` when it borrows connections itself (``pool.acquire()``, ``run_in_transaction``);
- ``Connection`` when its statements must share one session: it opens a transaction, or
  runs inside its caller's (row locks, ``SET LOCAL``, advisory locks held to the commit);
- ``Executor`` when each statement stands alone: the caller may hand it the pool (a
  connection per statement) or the connection of its transaction.
"""

from __future__ import annotations

from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Pool: TypeAlias = asyncpg.Pool
Connection: TypeAlias = "asyncpg.Connection | PoolConnectionProxy"
"""A dedicated connection (``Database.connect``) or one borrowed from the pool."""
Executor: TypeAlias = "Connection | asyncpg.Pool"
