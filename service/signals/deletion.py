"""Deleting a signal (DELETE /v1/signals/{id}, admins only).

One transaction: the signal goes (a trigger leaves a tombstone in the change log, which sync
clients receive), its topic, entity, embedding and related links go with it, and the jobs
that produced it keep their history with no signal. When it was its article's current
version, the newest remaining version becomes current again (the change log records that
as an update), and the stories involved are recomputed (lead, count, dates).
"""

from __future__ import annotations

from uuid import UUID

from service.db.connections import Connection, Pool
from service.db.transactions import run_in_transaction
from service.errors import NotFound
from service.signals import repository


async def delete_signal(pool: Pool, signal_id: UUID, *, allowed_topics: tuple[int, ...] | None) -> None:
    """Delete one signal; 404 when it does not exist or lies outside ``allowed_topics``.
    A transaction PostgreSQL rolls back to break a deadlock runs again."""

    async def work(conn: Connection) -> None:
        # Story assignment takes this lock too: no relate job re-counts a story meanwhile.
        await repository.lock_story_assignment(conn)
        row = await repository.lock_signal_for_deletion(conn, signal_id)
        if row is None or (allowed_topics is not None and not set(row["topic_ids"]) & set(allowed_topics)):
            raise NotFound(f"no signal {signal_id}")
        # Triggers: signals_log_delete → a signal_changes tombstone; day counts (README "Architecture").
        await repository.delete_signal(conn, signal_id)
        touched = {row["story_id"]} - {None}
        if row["is_current"]:
            restored = await repository.restore_newest_version(conn, row["article_id"])
            if restored is not None:
                touched |= {restored["story_id"]} - {None}
        for story_id in touched:
            await repository.refresh_story(conn, story_id)

    await run_in_transaction(pool, work, what=f"deleting signal {signal_id}")
