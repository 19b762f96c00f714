"""Before-and-after pictures of the tables a request could change, to prove it changed nothing
(or nothing it should not have). Each row is kept as its JSON form, minus the columns that
background bookkeeping moves whatever the request was (last use of a key, re-fetch times,
story placement, delivery attempts)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg

TABLES: dict[str, str] = {
    "partners": "id",
    "api_keys": "id",
    "topics": "id",
    "topic_aliases": "alias",
    "articles": "id",
    "signals": "id",
    "jobs": "id",
    "digests": "id",
    "digest_jobs": "id",
    "webhooks": "id",
    "webhook_deliveries": "id",
    "alerts": "id",
}
"""Table -> its key column."""

VOLATILE: dict[str, list[str]] = {
    "api_keys": ["last_used_at"],
    # fetching a public page again refreshes these whoever asks
    "articles": ["fetched_at", "updated_at"],
    # the relate step places new signals in stories and may move a story's lead
    "signals": ["story_id", "is_story_lead", "related_at"],
    # writing a briefing again is a new version: the older one stops being the latest
    "digests": ["is_latest"],
    "webhook_deliveries": [
        "state",
        "attempts",
        "next_attempt_at",
        "lease_until",
        "last_status_code",
        "last_error",
        "updated_at",
        "delivered_at",
    ],
}

Snapshot = dict[str, dict[str, str]]
"""Table -> key -> the row as JSON text (without its volatile columns)."""


async def snapshot(conn: asyncpg.Connection) -> Snapshot:
    taken: Snapshot = {}
    for table, key in TABLES.items():
        rows = await conn.fetch(
            f"SELECT t.{key}::text AS k, (to_jsonb(t) - $1::text[])::text AS row FROM {table} t",
            VOLATILE.get(table, []),
        )
        taken[table] = {r["k"]: r["row"] for r in rows}
    return taken


@dataclass
class Diff:
    added: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    changed: list[tuple[str, str, list[str]]] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)

    def describe(self, *, added: bool = True) -> str:
        parts = [f"{t} {k} changed ({', '.join(cols)})" for t, k, cols in self.changed]
        parts += [f"{t} {k} removed" for t, k in self.removed]
        if added:
            parts += [f"{t} {k} added" for t, k, _ in self.added]
        return "; ".join(parts)


def diff(before: Snapshot, after: Snapshot) -> Diff:
    result = Diff()
    for table, rows in after.items():
        old = before.get(table, {})
        for key, row in rows.items():
            if key not in old:
                result.added.append((table, key, json.loads(row)))
            elif old[key] != row:
                was, now = json.loads(old[key]), json.loads(row)
                cols = sorted(c for c in set(was) | set(now) if was.get(c) != now.get(c))
                result.changed.append((table, key, cols))
        result.removed += [(table, key) for key in old if key not in rows]
    return result


async def settle(conn: asyncpg.Connection, timeout: float = 30.0) -> None:
    """Wait until the worker has nothing left: no queued or running job (analyses, relate
    steps, briefings), every webhook event fanned out, no delivery waiting to be sent."""
    deadline = time.monotonic() + timeout
    while True:
        busy = await conn.fetchval(
            """SELECT (SELECT count(*) FROM pgqueuer)
                    + (SELECT count(*) FROM webhook_deliveries WHERE state IN ('pending', 'sending'))
                    + (SELECT count(*) FROM webhook_events e, webhook_dispatch_cursor c
                       WHERE (e.xid, e.id) > (c.xid, c.id))"""
        )
        if busy == 0:
            return
        assert time.monotonic() < deadline, f"the worker did not settle in {timeout} s ({busy} left)"
        await asyncio.sleep(0.05)
