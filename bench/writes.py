"""Timing ways of storing signals side by side, without keeping what they store.

Each variant stores batches of new corpus signals (indexes past the corpus, so nothing
collides with what is stored) inside a transaction that is rolled back; variants alternate
batch by batch in shuffled order. Deferred triggers (the sync log's, the daily counts') are
made to fire at each statement (``SET CONSTRAINTS ALL IMMEDIATE``): a rolled-back
transaction never reaches the commit where they would otherwise run, and their work belongs
to the cost. The touched tables are vacuumed afterwards, so the dead rows left behind do not
slow the reads of later benchmarks.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.synthetic import Corpus
from tests.support.seeding import SeedSignal

Store = Callable[[Any, SeedSignal], Awaitable[Any]]
Prepare = Callable[[Any], Awaitable[None]]


async def nothing(_: Any) -> None:
    return None


async def time_rolled_back(
    conn: Any,
    total: int,
    variants: dict[str, tuple[Prepare, Store]],
    writes: int,
    rng: random.Random,
    batch: int = 20,
) -> tuple[dict[str, float], float]:
    """Median ms a signal per variant (``writes`` signals each), and the vacuum's seconds."""
    corpus = Corpus(total + writes * len(variants))
    fresh = iter(range(total, total + writes * len(variants)))
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(writes // batch):
        order = list(variants)
        rng.shuffle(order)
        for name in order:
            prepare, store = variants[name]
            transaction = conn.transaction()
            await transaction.start()
            try:
                await conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
                await prepare(conn)
                clock = time.perf_counter()
                for _ in range(batch):
                    await store(conn, corpus.signal(next(fresh)))
                times[name].append((time.perf_counter() - clock) / batch)
            finally:
                await transaction.rollback()
    started = time.perf_counter()
    for table in ("topic_days", "entity_days", "signal_topics", "signal_entities", "signals", "articles"):
        await conn.execute(f"VACUUM {table}")
    medians = {name: statistics.median(samples) * 1000 for name, samples in times.items()}
    return medians, time.perf_counter() - started
