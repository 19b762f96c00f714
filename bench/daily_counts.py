"""The analysts' aggregates counted from the signals (before migration 0017) and from the daily
counts plus the partial days at a window's ends (now), side by side on one corpus, each pair
checked to give the same answer.

    .venv/bin/python -m bench.daily_counts --data-dir /tmp/signals-bench-1m [--rounds 40]

Needs a database made by ``bench.seed``; opening it migrates it (the first time to 0017, whose
backfill is timed and printed). "now" is the repository call the endpoint makes (its statement
in sql/queries/topics.sql or entities.sql, with DayPieces from service/time_window.py); "before"
is the statement as it was before 0017, with the parameters these cases leave unset (a key's
topic restriction, the cursor) folded away, as custom plans fold them. The four cases of a
topic-restricted key (a mid-frequency topic, a head topic) compare its statement with plain
window bounds (now) against the same statement taking the window as one DayPieces array
(before), which hid the bounds from the planner. The daily counts cannot serve such a key: they
do not know which of an entity's signals are on the key's topics.

Every round draws a window end at a random minute of the corpus's last 30 days, so both
windows' ends fall inside days; the timeline asks for whole weeks, as its endpoint does.

What the counts cost a writer (measured after the reads, bench/writes.py; rows written and
rolled back leave dead tuples that index-only scans must check until vacuum, which once made a
year of entities take 254 ms instead of 129, so the reads come first): new signals
stored as bench.seed stores them (the pipeline's statements: resolve topics and entities,
insert the signal with their ids, supersede, link; then the seed's own created_at update:
two counted changes a signal, one transaction each), with the count triggers and with them
disabled, alternating, in transactions that are rolled back.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import uvloop

from bench.corpus_reads import percentiles, pick_parameters
from bench.seed import bench_settings
from bench.synthetic import Corpus
from bench.writes import nothing, time_rolled_back
from service.db.database import Database
from service.db.queries import queries
from service.entities import repository as entities
from service.keys.suppliers import PUBLIC_ONLY
from service.topics import repository as topics
from service.topics.service import bucket_start
from tests.support.seeding import seed_signal

TOPICS_BEFORE = """
WITH hits AS (
    SELECT t.topic_id, s.created_at >= $1::timestamptz AS in_window
    FROM signals s
    CROSS JOIN LATERAL unnest(s.topic_ids) AS t (topic_id)
    WHERE s.is_current AND s.created_at >= $2::timestamptz AND s.created_at < $3::timestamptz
), counted AS (
    SELECT topic_id,
           count(*) FILTER (WHERE in_window) AS count,
           count(*) FILTER (WHERE NOT in_window) AS previous_count,
           (count(*) FILTER (WHERE in_window) - count(*) FILTER (WHERE NOT in_window))::float8
               / greatest(count(*) FILTER (WHERE NOT in_window), 1) AS trending
    FROM hits
    GROUP BY topic_id
    HAVING count(*) FILTER (WHERE in_window) > 0
)
SELECT c.topic_id, tp.slug, tp.label, c.count, c.previous_count, c.trending
FROM counted c JOIN topics tp ON tp.id = c.topic_id
ORDER BY {order}
LIMIT $4
"""

ENTITIES_BEFORE = """
WITH counted AS (
    SELECT e.entity_id, count(*) AS count
    FROM signals s
    CROSS JOIN LATERAL unnest(s.entity_ids) AS e (entity_id)
    WHERE s.is_current AND s.created_at >= $1::timestamptz AND s.created_at < $2::timestamptz
    GROUP BY e.entity_id
)
SELECT en.id, en.name, en.type, c.count
FROM counted c JOIN entities en ON en.id = c.entity_id
ORDER BY c.count DESC, en.id
LIMIT $3
"""

ENTITIES_RESTRICTED_BEFORE = """
WITH hits AS (
    SELECT d.entity_id, d.signals AS n
    FROM unnest('{}'::date[], '{}'::date[]) AS r (day_from, day_to)
    JOIN entity_days d ON d.day >= r.day_from AND d.day < r.day_to
    UNION ALL
    SELECT e.entity_id, 1
    FROM unnest($1::timestamptz[], $2::timestamptz[]) AS r (raw_from, raw_to)
    JOIN signals s ON s.is_current AND s.created_at >= r.raw_from AND s.created_at < r.raw_to
    CROSS JOIN LATERAL unnest(s.entity_ids) AS e (entity_id)
    WHERE s.topic_ids && $3::bigint[]
), counted AS (
    SELECT entity_id, sum(n) AS count
    FROM hits
    GROUP BY entity_id
    HAVING sum(n) > 0
)
SELECT en.id, en.name, en.type, c.count
FROM counted c JOIN entities en ON en.id = c.entity_id
ORDER BY c.count DESC, en.id
LIMIT $4
"""
"""A topic-restricted key's entity counts as they were: the window as a one-piece DayPieces array
(whole days cannot come from the daily counts), which hid it from the planner."""

TIMELINE_BEFORE = """
WITH buckets AS (
    SELECT generate_series(
        date_trunc('week', $2::timestamptz AT TIME ZONE 'UTC'),
        $3::timestamptz AT TIME ZONE 'UTC' - interval '1 microsecond',
        interval '1 week'
    ) AS start
), hits AS (
    SELECT date_trunc('week', s.created_at AT TIME ZONE 'UTC') AS start,
           count(*) AS count,
           avg(s.sentiment) AS mean_sentiment
    FROM signals s
    WHERE s.is_current
      AND s.topic_ids @> ARRAY[$1::bigint]
      AND s.created_at >= $2::timestamptz
      AND s.created_at < $3::timestamptz
    GROUP BY 1
)
SELECT b.start AT TIME ZONE 'UTC' AS start,
       coalesce(h.count, 0) AS count,
       round(h.mean_sentiment::numeric, 4)::float8 AS mean_sentiment
FROM buckets b
LEFT JOIN hits h USING (start)
ORDER BY b.start
"""

Run = Callable[[datetime, int], Awaitable[list[tuple[Any, ...]]]]
"""A statement run for a window ending at the instant given (and a topic, for the timeline)."""


def same(case: str, before: list[tuple[Any, ...]], now: list[tuple[Any, ...]]) -> None:
    """The two answers agree: every value equal, a mean sentiment within its rounding (before
    averaged float4 values in float8, now sums them as numeric; both round to 4 places)."""

    def close(a: Any, b: Any) -> bool:
        return a == b or (isinstance(a, float) and isinstance(b, float) and abs(a - b) <= 1.01e-4)

    if len(before) != len(now) or not all(
        len(x) == len(y) and all(close(a, b) for a, b in zip(x, y, strict=True))
        for x, y in zip(before, now, strict=True)
    ):
        raise AssertionError(f"{case}: the statements disagree\nbefore {before[:5]}\nnow    {now[:5]}")


COUNT_TRIGGERS = ("signals_count_days_insert", "signals_count_days_update", "signals_count_days_delete")


async def write_costs(conn: Any, total: int, writes: int, rng: random.Random) -> None:
    async def disable_counts(conn: Any) -> None:
        for trigger in COUNT_TRIGGERS:
            await conn.execute(f"ALTER TABLE signals DISABLE TRIGGER {trigger}")

    medians, vacuumed = await time_rolled_back(
        conn,
        total,
        {"without counts": (disable_counts, seed_signal), "with counts": (nothing, seed_signal)},
        writes,
        rng,
    )
    without, with_ = medians["without counts"], medians["with counts"]
    print(
        f"storing a signal (median of {writes // 20} batches of 20 each way): "
        f"{without:.2f} ms without the counts, {with_:.2f} ms with them ({with_ / without:.2f}x)"
        f"; vacuumed the rolled-back rows in {vacuumed:.0f} s"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--writes", type=int, default=400, help="signals stored per variant")
    args = parser.parse_args()
    db = Database(bench_settings(args.data_dir))
    started = time.perf_counter()
    await db.open()
    print(f"opened (and migrated, if it was behind) in {time.perf_counter() - started:.1f} s")
    conn = await db.connect()
    try:
        total = await conn.fetchval("SELECT count(*) FROM signals")
        params = await pick_parameters(conn, Corpus(total))
        heads = [
            r["topic_id"] for r in await queries.resolve_topic_slugs.fetch(conn, slugs=params["head_topics"])
        ]
        first, last = await conn.fetchrow("SELECT min(created_at), max(created_at) FROM signals")
        await conn.execute("SET plan_cache_mode = force_custom_plan; SET jit = off")
        rng = random.Random(11)

        def topics_case(days: int, sort: str) -> tuple[Run, Run]:
            trending = sort == "trending"
            order = "c.trending DESC, c.count DESC, c.topic_id" if trending else "c.count DESC, c.topic_id"
            before_sql = TOPICS_BEFORE.format(order=order)

            async def before(end: datetime, _: int) -> list[tuple[Any, ...]]:
                since = end - timedelta(days=days)
                rows = await conn.fetch(before_sql, since, since - timedelta(days=days), end, 21)
                return [(r["topic_id"], r["count"], r["previous_count"], r["trending"]) for r in rows]

            async def now(end: datetime, _: int) -> list[tuple[Any, ...]]:
                since = end - timedelta(days=days)
                rows = await topics.count_topics_page(
                    conn,
                    sort="trending" if trending else "count",
                    since=since,
                    until=end,
                    previous_since=since - timedelta(days=days),
                    after_count=None,
                    after_trending=None,
                    after_id=None,
                    limit=21,
                )
                return [(r.topic_id, r.count, r.previous_count, r.trending) for r in rows]

            return before, now

        def entities_case(days: int) -> tuple[Run, Run]:
            async def before(end: datetime, _: int) -> list[tuple[Any, ...]]:
                rows = await conn.fetch(ENTITIES_BEFORE, end - timedelta(days=days), end, 21)
                return [(r["id"], r["count"]) for r in rows]

            async def now(end: datetime, _: int) -> list[tuple[Any, ...]]:
                start = end - timedelta(days=days)
                rows = await entities.list_entities_page(
                    conn,
                    sort="count",
                    type_=None,
                    q=None,
                    since=start,
                    until=end,
                    after=None,
                    limit=21,
                    suppliers=PUBLIC_ONLY,
                )
                return [(r.id, r.count) for r in rows]

            return before, now

        mid = (await queries.resolve_topic_slugs.fetch(conn, slugs=params["topics"][:1]))[0]["topic_id"]

        def restricted_entities_case(days: int, topic: int) -> tuple[Run, Run]:
            async def before(end: datetime, _: int) -> list[tuple[Any, ...]]:
                rows = await conn.fetch(
                    ENTITIES_RESTRICTED_BEFORE, [end - timedelta(days=days)], [end], [topic], 21
                )
                return [(r["id"], r["count"]) for r in rows]

            async def now(end: datetime, _: int) -> list[tuple[Any, ...]]:
                start = end - timedelta(days=days)
                rows = await entities.list_entities_page(
                    conn,
                    sort="count",
                    type_=None,
                    q=None,
                    since=start,
                    until=end,
                    after=None,
                    limit=21,
                    suppliers=PUBLIC_ONLY,
                    restrict_topics=[topic],
                )
                return [(r.id, r.count) for r in rows]

            return before, now

        def timeline_case() -> tuple[Run, Run]:
            since, until = bucket_start(first, "week"), bucket_start(last, "week") + timedelta(days=7)

            async def before(_: datetime, topic: int) -> list[tuple[Any, ...]]:
                rows = await conn.fetch(TIMELINE_BEFORE, topic, since, until)
                return [(r["start"], r["count"], r["mean_sentiment"]) for r in rows]

            async def now(_: datetime, topic: int) -> list[tuple[Any, ...]]:
                rows = await topics.topic_timeline(conn, topic, "week", since, until)
                return [(r.start, r.count, r.mean_sentiment) for r in rows]

            return before, now

        cases: dict[str, tuple[Run, Run]] = {
            "topics, 30 days, by count": topics_case(30, "count"),
            "topics, 30 days, trending": topics_case(30, "trending"),
            "topics, 365 days, by count": topics_case(365, "count"),
            "entities, 30 days": entities_case(30),
            "entities, 365 days": entities_case(365),
            "timeline, head topic, all weeks": timeline_case(),
            "entities, mid-topic key, 30 days": restricted_entities_case(30, mid),
            "entities, mid-topic key, 365 days": restricted_entities_case(365, mid),
            "entities, head-topic key, 30 days": restricted_entities_case(30, heads[0]),
            "entities, head-topic key, 365 days": restricted_entities_case(365, heads[0]),
        }
        times: dict[tuple[str, str], list[float]] = {}
        for round_number in range(args.rounds + 2):  # two warm-up rounds, not timed
            end = last - timedelta(minutes=rng.randrange(30 * 24 * 60))
            topic = rng.choice(heads)
            for case, (before, now) in cases.items():
                order = [("before", before), ("now", now)]
                rng.shuffle(order)
                answers = {}
                for variant, run in order:
                    clock = time.perf_counter()
                    answers[variant] = await run(end, topic)
                    if round_number >= 2:
                        times.setdefault((case, variant), []).append(time.perf_counter() - clock)
                same(case, answers["before"], answers["now"])
        print(f"signals={total:,} rounds={args.rounds} (ms; interleaved in shuffled order; same answers)")
        print(f"{'case':36s} {'before p50 / p99':>18s} {'now p50 / p99':>16s}   ratio p50 / p99")
        for case in cases:
            old50, old99 = percentiles(times[(case, "before")])
            new50, new99 = percentiles(times[(case, "now")])
            print(
                f"{case:36s} {old50:8.1f} / {old99:6.1f} {new50:7.1f} / {new99:6.1f}"
                f"   {old50 / new50:5.1f}x / {old99 / new99:5.1f}x faster"
            )
        # after the reads: the rolled-back rows leave dead tuples that would slow them
        await write_costs(conn, total, args.writes, rng)
    finally:
        await conn.close()
        await db.close()


if __name__ == "__main__":
    uvloop.run(main())
