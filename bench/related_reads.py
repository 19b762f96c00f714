"""Stored related reads before migration 0015 (rows from the heaps) against 0015's covering
indexes, side by side on one corpus, on pages read for the first time and again.

    .venv/bin/python -m bench.related_reads --data-dir /tmp/signals-bench-1m [--signals 400]
                                            [--drop-caches]

Needs a database made by ``bench.seed`` (migrated to 0015 or later). It builds the links'
rank index as it was before 0015 (no included columns) as ``bench_related_rank_idx`` and
drops it at the end. The "before" variant drops 0015's two indexes inside a transaction that
is rolled back, so it reads links and signals as before (rank index, link rows, primary key,
signal rows); the "0015" variant drops the old rank index the same way. The two read
disjoint pages, so neither warms the other's.

Each sampled signal's related list (``list_related_signals``, 20 links) is read once per
variant in shuffled order (first pass: pages the variant has not read for that signal), then
again (second pass). Times are the server's execution time of the statement (EXPLAIN
ANALYZE, timing off): dropping an index in the transaction forces a new plan each time,
which a served statement, prepared once, does not pay.

``--drop-caches`` empties the kernel's page cache before the database starts (root only;
it affects the whole machine): then the first pass reads from disk what neither variant
has read since, as a service does after a restart or for rarely asked-for signals.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

import uvloop

from bench.corpus_reads import percentiles
from bench.seed import bench_settings
from service.db.database import Database
from service.db.queries import queries
from service.keys.suppliers import PUBLIC_ONLY

OLD_RANK = "bench_related_rank_idx"
VARIANTS = {  # variant -> the indexes it drops for a read
    "before 0015": ("signals_card_idx", "signal_related_rank_idx"),
    "0015": (OLD_RANK,),
}


def drop_page_cache() -> None:
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as control:
            control.write("1\n")
    except OSError as error:
        raise SystemExit(f"--drop-caches needs root on Linux: {error}") from error


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--signals", type=int, default=400, help="signals whose related list is read")
    parser.add_argument("--drop-caches", action="store_true")
    args = parser.parse_args()
    db = Database(bench_settings(args.data_dir))
    await db.open()
    conn = await db.connect()
    try:
        started = time.perf_counter()
        await conn.execute("SET maintenance_work_mem = '1GB'")
        await conn.execute(
            f"CREATE INDEX IF NOT EXISTS {OLD_RANK} ON signal_related (signal_id, score DESC, related_id)"
        )
        # index-only scans need the visibility map current; the seed vacuums, a served database
        # has autovacuum
        await conn.execute("VACUUM signal_related")
        print(f"built {OLD_RANK} in {time.perf_counter() - started:.0f} s", flush=True)
        rng = random.Random(17)
        ids = [
            r["signal_id"]
            for r in await conn.fetch(
                "SELECT DISTINCT signal_id FROM signal_related TABLESAMPLE SYSTEM (1) LIMIT $1",
                args.signals * 4,
            )
        ]
        ids = rng.sample(ids, min(args.signals, len(ids)))
    finally:
        await conn.close()
        await db.close()
    if args.drop_caches:
        drop_page_cache()  # the server stopped with the handle: shared buffers are gone too
    db = Database(bench_settings(args.data_dir))
    await db.open()
    conn = await db.connect()
    try:
        await conn.execute("SET jit = off")
        statement = queries.list_related_signals
        sql = f"EXPLAIN (ANALYZE, TIMING OFF, BUFFERS, FORMAT JSON) {statement.sql}"
        times: dict[tuple[str, str], list[float]] = {}  # (pass, variant) -> seconds
        reads: dict[tuple[str, str], int] = {}  # (pass, variant) -> pages read from outside PostgreSQL
        for pass_name in ("first", "again"):
            for signal_id in ids:
                values = {
                    "signal_id": signal_id,
                    "limit": 20,
                    "restrict_topics": None,
                    **PUBLIC_ONLY.params(),
                }
                arguments = [values[name] for name in statement.params]
                order = list(VARIANTS.items())
                rng.shuffle(order)
                for variant, dropped in order:
                    transaction = conn.transaction()
                    await transaction.start()
                    try:
                        for index in dropped:
                            await conn.execute(f"DROP INDEX {index}")
                        document = await conn.fetchval(sql, *arguments)
                    finally:
                        await transaction.rollback()
                    plan = (json.loads(document) if isinstance(document, str) else document)[0]
                    key = (pass_name, variant)
                    times.setdefault(key, []).append(plan["Execution Time"] / 1000)
                    reads[key] = reads.get(key, 0) + plan["Plan"].get("Shared Read Blocks", 0)
        cold = "page cache dropped first" if args.drop_caches else "page cache as found"
        print(f"related lists of {len(ids)} signals, 20 links each ({cold}); execution ms, p50 / p99")
        print(f"{'pass':8s} {'before 0015':>16s} {'0015':>16s}   ratio p50 / p99   pages read a list")
        for pass_name in ("first", "again"):
            old50, old99 = percentiles(times[(pass_name, "before 0015")])
            new50, new99 = percentiles(times[(pass_name, "0015")])
            old_reads = reads[(pass_name, "before 0015")] / len(ids)
            new_reads = reads[(pass_name, "0015")] / len(ids)
            print(
                f"{pass_name:8s} {old50:7.2f} / {old99:6.2f} {new50:7.2f} / {new99:6.2f}"
                f"   {old50 / new50:5.2f}x / {old99 / new99:5.2f}x   {old_reads:5.1f} -> {new_reads:4.1f}"
            )
    finally:
        await conn.execute(f"DROP INDEX IF EXISTS {OLD_RANK}")
        await conn.close()
        await db.close()


if __name__ == "__main__":
    uvloop.run(main())
