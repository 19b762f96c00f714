"""Storing a signal with its topic and entity ids in the insert (now) against inserting it
bare and setting the two id arrays by updates afterwards (before), side by side.

    .venv/bin/python -m bench.store_signal --data-dir /tmp/signals-bench-1m [--writes 400]

Before, the pipeline inserted the signal, then linked its topics (``UPDATE signals SET
topic_ids``) and its entities (``UPDATE signals SET entity_ids``). Both arrays are in the
signal's indexes, so each update wrote a new version of the wide row and new entries in
every index, the full-text GIN index (every word of the article) among them. Now the ids are
resolved first and the row is written once. Both variants store through
tests/support/seeding.py (without its created_at update), in rolled-back transactions
(bench/writes.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
from pathlib import Path
from typing import Any

import uvloop

from bench.seed import bench_settings
from bench.writes import nothing, time_rolled_back
from service.db.database import Database
from service.signals.linking import link_topics_and_entities, resolve_topics_and_entities
from tests.support.seeding import SeedSignal, seed_signal


async def now(conn: Any, seed: SeedSignal) -> None:
    async with conn.transaction():  # the same savepoint inside it as ``before`` has
        await seed_signal(conn, dataclasses.replace(seed, created_at=None))


async def before(conn: Any, seed: SeedSignal) -> None:
    """The statements as they ran before: the signal inserted bare, then each id array set by
    an update as its links were written."""
    async with conn.transaction():
        bare = dataclasses.replace(seed, topics=[], entities=[], created_at=None)
        signal_id = await seed_signal(conn, bare)
        topic_ids, entity_ids = await resolve_topics_and_entities(conn, seed.topics, seed.entities)
        await link_topics_and_entities(conn, signal_id, topic_ids, entity_ids)
        await conn.execute("UPDATE signals SET topic_ids = $2 WHERE id = $1", signal_id, topic_ids)
        if entity_ids:
            await conn.execute("UPDATE signals SET entity_ids = $2 WHERE id = $1", signal_id, entity_ids)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--writes", type=int, default=400, help="signals stored per variant")
    args = parser.parse_args()
    db = Database(bench_settings(args.data_dir))
    await db.open()
    conn = await db.connect()
    try:
        total = await conn.fetchval("SELECT count(*) FROM signals")
        medians, vacuumed = await time_rolled_back(
            conn,
            total,
            {"update after insert": (nothing, before), "ids in the insert": (nothing, now)},
            args.writes,
            random.Random(13),
        )
        old, new = medians["update after insert"], medians["ids in the insert"]
        print(
            f"signals={total:,}; storing a signal, median of {args.writes // 20} batches of 20 each way "
            f"(ms): arrays by update after the insert {old:.2f}, ids in the insert {new:.2f} "
            f"({old / new:.2f}x faster); vacuumed in {vacuumed:.0f} s"
        )
    finally:
        await conn.close()
        await db.close()


if __name__ == "__main__":
    uvloop.run(main())
