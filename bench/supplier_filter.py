"""A reader's supplier filter (migration 0026: supplied content is private to its supplier) on the
hot reads, against the same statements without it, side by side on one corpus.

    .venv/bin/python -m bench.supplier_filter --data-dir /tmp/signals-bench-100k [--reads 300]
                                              [--supplied 0.01]

Needs a database made by ``bench.seed`` (migrated to 0026 or later). ``--supplied`` first marks
that share of the signals as supplied by one partner (committed: the corpus is a bench's;
re-running keeps what is marked), as a service with some partners sending text would hold.

Variants, per statement and read, in shuffled order on one pooled connection, timed from the
client (prepared statements, custom plans, as the service runs them):

- ``before``: what the statement cost before 0026. The list, card, related and sync statements
  run with an admin's view (``all_suppliers``: the filter folds away, the statement is the old
  one); the aggregates' constant ``supplier_id IS NULL`` is cut from their text;
- ``keyless``: a keyless public reader (``s.supplier_id IS NULL``);
- ``partner``: a partner's key (``s.supplier_id IS NULL OR s.supplier_id = $n``).

The aggregates count public signals for every reader, so they have no partner variant.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import uvloop

from bench.corpus_reads import percentiles, pick_parameters
from bench.seed import bench_settings
from bench.synthetic import Corpus
from service.db.database import Database
from service.db.queries import Query, queries
from service.keys.suppliers import EVERY_SUPPLIER, PUBLIC_ONLY, SupplierView
from service.time_window import DayPieces

PARTNER = SupplierView(supplier=UUID("00000000-0000-4000-8000-00000000b0b0"))
VIEWS = {"before": EVERY_SUPPLIER, "keyless": PUBLIC_ONLY, "partner": PARTNER}
_PUBLIC_SIGNALS_ONLY = re.compile(r"\s+AND s\.supplier_id IS NULL\b")


async def mark_supplied(conn: Any, share: float) -> int:
    """Mark ``share`` of the signals (spread over time) as supplied by PARTNER; how many are."""
    await conn.execute(
        """UPDATE signals SET supplier_id = $1, input_kind = 'text'
           WHERE supplier_id IS NULL AND abs(hashtext(id::text)) % 10000 < $2""",
        PARTNER.supplier,
        int(share * 10000),
    )
    await conn.execute("VACUUM (ANALYZE) signals")
    count: int = await conn.fetchval("SELECT count(*) FROM signals WHERE supplier_id IS NOT NULL")
    return count


def without_constant(query: Query) -> Query:
    """The aggregate as it was before 0026: the same text without its public-only filter."""
    sql, cut = _PUBLIC_SIGNALS_ONLY.subn("", query.sql)
    assert cut, query.name
    return Query(name=query.name + "_before", sql=sql, params=query.params, doc=query.doc)


def list_args(**chosen: Any) -> dict[str, Any]:
    return (
        {name: None for name in queries.list_signals_newest.params}
        | {"collapse": False, "limit": 21}
        | chosen
    )


async def run(conn: Any, query: Query, values: dict[str, Any]) -> float:
    started = time.perf_counter()
    await conn.fetch(query.sql, *[values[name] for name in query.params])
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--reads", type=int, default=300)
    parser.add_argument("--supplied", type=float, default=0.01, help="share of signals marked supplied")
    args = parser.parse_args()
    db = Database(bench_settings(args.data_dir, pool=2))
    await db.open()
    try:
        async with db.pool.acquire() as conn:
            supplied = await mark_supplied(conn, args.supplied)
            total = await conn.fetchval("SELECT count(*) FROM signals")
            params = await pick_parameters(conn, Corpus(total))
            topic_ids = dict(await conn.fetch("SELECT slug, id FROM topics WHERE slug = ANY($1::text[])",
                                              params["topics"] + params["head_topics"]))  # fmt: skip
            with_links = [r["signal_id"] for r in await conn.fetch(
                "SELECT DISTINCT signal_id FROM signal_related LIMIT 3000")]  # fmt: skip
            newest = await conn.fetchval("SELECT max(created_at) FROM signals")
        print(f"{supplied:,} of {total:,} signals supplied by one partner ({supplied / total:.1%})")
        rng = random.Random(26)

        def reads() -> dict[str, tuple[Query, dict[str, Any]]]:
            """One random read of each statement (the view is added per variant)."""
            topic = topic_ids[rng.choice(params["topics"])]
            head = topic_ids[rng.choice(params["head_topics"])]
            since = newest - timedelta(days=30, hours=rng.random() * 24)
            window = DayPieces.of(since - timedelta(days=30), since, newest).params()
            return {
                "list p1": (queries.list_signals_newest, list_args(lang="en")),
                "list p1, mid topic": (queries.list_signals_newest, list_args(topic_any=[topic], lang="en")),
                "list p1, head topic": (queries.list_signals_newest, list_args(topic_any=[head])),
                "list p1, common word": (
                    queries.list_signals_newest,
                    list_args(q=rng.choice(params["common"])),
                ),
                "cards of a page (20)": (
                    queries.get_signal_cards,
                    {"ids": rng.sample(params["ids"], 20), "restrict_topics": None},
                ),
                "related list (stored)": (
                    queries.list_related_signals,
                    {"signal_id": rng.choice(with_links), "limit": 20, "restrict_topics": None},
                ),
                "topics, 30 days (agg)": (
                    queries.count_topics_by_count,
                    {
                        "restrict_topics": None,
                        "since": since,
                        **window,
                        "after_count": None,
                        "after_id": None,
                        "limit": 21,
                    },
                ),
            }

        samples: dict[tuple[str, str], list[float]] = {}
        async with db.pool.acquire() as conn:
            for _ in range(args.reads):
                chosen = reads()
                order = [(name, variant) for name in chosen for variant in VIEWS]
                rng.shuffle(order)
                for name, variant in order:
                    query, values = chosen[name]
                    if "all_suppliers" in query.params:
                        values = values | VIEWS[variant].params()
                    elif variant == "partner":
                        continue  # public signals only, whoever reads
                    elif variant == "before":
                        query = without_constant(query)
                    samples.setdefault((name, variant), []).append(await run(conn, query, values))
        print(f"\n{'statement (ms, ' + str(args.reads) + ' reads each)':<40}{'variant':<10}"
              f"{'p50':>8}{'p99':>8}   ratio to before (p50 / p99)")  # fmt: skip
        for name in chosen:
            before = percentiles(samples[(name, "before")])
            for variant in VIEWS:
                if (name, variant) not in samples:
                    continue
                p50, p99 = percentiles(samples[(name, variant)])
                ratio = "" if variant == "before" else f"{p50 / before[0]:.2f}x / {p99 / before[1]:.2f}x"
                print(f"{name:<40}{variant:<10}{p50:8.2f}{p99:8.2f}   {ratio}")
        print(f"\n{datetime.now().isoformat(timespec='seconds')}")
    finally:
        await db.close()


if __name__ == "__main__":
    uvloop.run(main())
