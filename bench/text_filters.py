"""Full text narrowed by topic or entity, newest first: the index set before migration 0014
(words-only GIN beside the topic and entity GINs) against 0014's one GIN over words, topics
and entities, side by side on one corpus.

    .venv/bin/python -m bench.text_filters --data-dir /tmp/signals-bench-1m [--rounds 60]

Needs a database made by ``bench.seed`` (migrated to 0014 or later). It builds the old
words-only index as ``bench_words_only_idx`` (minutes at a million signals) and drops it at
the end. Each query runs once per variant, interleaved in shuffled order, as the pool runs
it (prepared, custom-planned); a variant is the other one's index dropped inside a
transaction that is rolled back, so both plan on the same table, statistics and cache.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvloop

from bench.corpus_reads import percentiles, pick_parameters
from bench.seed import bench_settings
from bench.synthetic import Corpus
from service.db.database import Database
from service.db.queries import queries

OLD = "bench_words_only_idx"
NEW = "signals_text_filters_idx"
VARIANTS = {"before 0014": NEW, "0014": OLD}  # variant -> the index it drops for a query


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    db = Database(bench_settings(args.data_dir))
    await db.open()
    conn = await db.connect()
    try:
        total = await conn.fetchval("SELECT count(*) FROM signals")
        params = await pick_parameters(conn, Corpus(total))
        started = time.perf_counter()
        await conn.execute("SET maintenance_work_mem = '1GB'")
        await conn.execute(f"CREATE INDEX IF NOT EXISTS {OLD} ON signals USING gin (search)")
        print(f"built {OLD} in {time.perf_counter() - started:.0f} s", flush=True)
        await conn.execute("SET plan_cache_mode = force_custom_plan; SET jit = off")
        resolved = await queries.resolve_topic_slugs.fetch(conn, slugs=params["head_topics"])
        heads = [r["topic_id"] for r in resolved]
        entities = [
            r["entity_id"]
            for r in await conn.fetch(
                "SELECT unnest(entity_ids) AS entity_id FROM signals TABLESAMPLE SYSTEM (1)"
                " GROUP BY 1 ORDER BY count(*) DESC LIMIT 5"
            )
        ]
        rng = random.Random(3)
        common, rare = params["common"], params["rare"]
        kinds: dict[str, Callable[[], dict[str, Any]]] = {
            "2 common words, head topic": lambda: {
                "q": " ".join(rng.sample(common, 2)),
                "topic_any": [rng.choice(heads)],
            },
            "rare word, head topic": lambda: {"q": rng.choice(rare), "topic_any": [rng.choice(heads)]},
            "common word, head topic": lambda: {"q": rng.choice(common), "topic_any": [rng.choice(heads)]},
            "common word, top entity": lambda: {
                "q": rng.choice(common),
                "entity_ids": [rng.choice(entities)],
            },
            "common word": lambda: {"q": rng.choice(common)},
            "rare word": lambda: {"q": rng.choice(rare)},
            "2 common words": lambda: {"q": " ".join(rng.sample(common, 2))},
        }
        statement = queries.list_signals_newest
        times: dict[tuple[str, str], list[float]] = {(k, v): [] for k in kinds for v in VARIANTS}  # s
        for _ in range(args.rounds):
            for kind, make in kinds.items():
                values = dict.fromkeys(statement.params) | {"collapse": False, "limit": 21} | make()
                arguments = [values[name] for name in statement.params]
                order = list(VARIANTS.items())
                rng.shuffle(order)
                for variant, dropped in order:
                    transaction = conn.transaction()
                    await transaction.start()
                    try:
                        await conn.execute(f"DROP INDEX {dropped}")
                        t0 = time.perf_counter()
                        await conn.fetch(statement.sql, *arguments)
                        times[(kind, variant)].append(time.perf_counter() - t0)
                    finally:
                        await transaction.rollback()
        print(f"signals={total:,} rounds={args.rounds} (ms; newest-first page of 20, interleaved)")
        print(f"{'search':28s} {'before 0014 p50 / p99':>22s} {'0014 p50 / p99':>18s}   ratio p50 / p99")
        for kind in kinds:
            old50, old99 = percentiles(times[(kind, "before 0014")])
            new50, new99 = percentiles(times[(kind, "0014")])
            print(
                f"{kind:28s} {old50:10.1f} / {old99:7.1f} {new50:9.1f} / {new99:6.1f}"
                f"   {old50 / new50:5.2f}x / {old99 / new99:5.2f}x faster"
            )
    finally:
        await conn.execute(f"DROP INDEX IF EXISTS {OLD}")
        await conn.close()
        await db.close()


if __name__ == "__main__":
    uvloop.run(main())
