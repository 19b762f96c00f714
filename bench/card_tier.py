"""The relevance card tier (the first page past a common word's headline matches) as it
asked "not in the headline" before (a ts_filter copy of each card vector, then @@) against
the query restricted to weight A asked of the stored vector, side by side on one corpus.

    .venv/bin/python -m bench.card_tier --data-dir /tmp/signals-bench-1m [--rounds 100]

Needs a database made by ``bench.seed``. The "before" statement is today's
``list_signals_relevance_ranked`` with its headline test written back as it was; each round
runs both, in shuffled order, for one common word (tier 1, page of 20, custom plans as the
pool runs them) and checks that they return the same page.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from pathlib import Path

import uvloop

from bench.queries import percentiles, pick_parameters
from bench.seed import bench_settings
from bench.synthetic import Corpus
from service.db.database import Database
from service.db.queries import queries

# today's headline test in the card tier, and what it replaced
WEIGHTED = re.compile(r"NOT \(s\.search_head @@ regexp_replace\(.*?\)::tsquery\)", re.DOTALL)
FILTERED = "NOT (ts_filter(s.search_head, '{{a}}') @@ websearch_to_tsquery('english', ${q}::text))"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    statement = queries.list_signals_relevance_ranked
    now = statement.sql
    position = statement.params.index("q") + 1
    before, replaced = WEIGHTED.subn(FILTERED.format(q=position).replace("{{", "{"), now)
    if replaced != 1:
        raise SystemExit("list_signals_relevance_ranked no longer has the weighted headline test")
    variants = {"before (ts_filter)": before, "weight-A query": now}
    db = Database(bench_settings(args.data_dir))
    await db.open()
    conn = await db.connect()
    try:
        total = await conn.fetchval("SELECT count(*) FROM signals")
        words = (await pick_parameters(conn, Corpus(total)))["common"]
        await conn.execute("SET plan_cache_mode = force_custom_plan; SET jit = off")
        rng = random.Random(7)
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.rounds):
            values = dict.fromkeys(statement.params) | {
                "q": rng.choice(words),
                "tier": 1,
                "collapse": False,
                "limit": 21,
            }
            arguments = [values[name] for name in statement.params]
            order = list(variants.items())
            rng.shuffle(order)
            pages = []
            for name, sql in order:
                started = time.perf_counter()
                pages.append([row["id"] for row in await conn.fetch(sql, *arguments)])
                times[name].append(time.perf_counter() - started)
            if pages[0] != pages[1]:
                raise AssertionError(f"the variants disagree for {values['q']!r}")
        (old50, old99), (new50, new99) = (percentiles(times[name]) for name in variants)
        print(f"signals={total:,} rounds={args.rounds}: card tier page of 20 for a common word (ms)")
        print(f"before (ts_filter) p50 {old50:6.1f} p99 {old99:6.1f}")
        print(f"weight-A query     p50 {new50:6.1f} p99 {new99:6.1f}")
        print(f"ratio              p50 {old50 / new50:5.2f}x p99 {old99 / new99:5.2f}x faster; same pages")
    finally:
        await conn.close()
        await db.close()


if __name__ == "__main__":
    uvloop.run(main())
