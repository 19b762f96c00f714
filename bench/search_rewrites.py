"""Full-text statements before a rewrite and as they are now (the card tier's "not in the
headline", migration 0016's parsing), side by side on one corpus, each pair checked to return
the same page.

    .venv/bin/python -m bench.search_rewrites --data-dir /tmp/signals-bench-1m [--rounds 100]

Needs a database made by ``bench.seed`` (migrated to 0016 or later). The "before" statement
is today's text with one change written back:

- card tier: ``list_signals_relevance_ranked`` at tier 1 (the first relevance page past a
  common word's headlines), asking "not in the headline" with a ts_filter copy of each card
  vector instead of the query restricted to weight A;
- same word twice: ``list_signals_newest`` in one of the three biggest topics for a common
  word typed twice ("debate debate"), parsed by websearch_to_tsquery instead of
  signal_search_query (migration 0016, each word of a plain AND once).

Each round runs both statements of a case, in shuffled order, as the pool runs them (custom
plans). Every word (and topic) a case draws is run once by both statements before timing: the
benchmark starts its own PostgreSQL, whose shared buffers start empty, and the first read of a
word's ~17 000 rows from the page cache took 170-250 ms, which set the p99 of whichever
statement happened to run a word first.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvloop

from bench.corpus_reads import percentiles, pick_parameters
from bench.seed import bench_settings
from bench.synthetic import Corpus
from service.db.database import Database
from service.db.queries import Query, queries

WEIGHTED = re.compile(r"NOT \(s\.search_head @@ regexp_replace\(.*?\)::tsquery\)", re.DOTALL)


def written_back(statement: Query, pattern: re.Pattern[str], old: str) -> str:
    """``statement``'s SQL with what ``pattern`` finds replaced by ``old`` ($q: q's number)."""
    position = statement.params.index("q") + 1
    sql, found = pattern.subn(old.replace("$q", f"${position}"), statement.sql)
    if not found:
        raise SystemExit(f"{statement.name} no longer holds {pattern.pattern!r}")
    return sql


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    ranked, newest = queries.list_signals_relevance_ranked, queries.list_signals_newest
    card_before = written_back(
        ranked, WEIGHTED, "NOT (ts_filter(s.search_head, '{a}') @@ signal_search_query($q::text))"
    )
    parsed_by = re.compile(r"signal_search_query\(\$\d+::text\)")
    plain_before = written_back(newest, parsed_by, "websearch_to_tsquery('english', $q::text)")
    db = Database(bench_settings(args.data_dir))
    await db.open()
    conn = await db.connect()
    try:
        total = await conn.fetchval("SELECT count(*) FROM signals")
        params = await pick_parameters(conn, Corpus(total))
        words = params["common"]
        resolved = await queries.resolve_topic_slugs.fetch(conn, slugs=params["head_topics"])
        heads = [r["topic_id"] for r in resolved]
        await conn.execute("SET plan_cache_mode = force_custom_plan; SET jit = off")
        rng = random.Random(7)
        Case = tuple[Query, str, Callable[[], dict[str, Any]], list[dict[str, Any]]]
        cases: dict[str, Case] = {
            "card tier, common word": (
                ranked,
                card_before,
                lambda: {"q": rng.choice(words), "tier": 1},
                [{"q": word, "tier": 1} for word in words],
            ),
            "same word twice, head topic": (
                newest,
                plain_before,
                lambda: {"q": " ".join([rng.choice(words)] * 2), "topic_any": [rng.choice(heads)]},
                [{"q": f"{word} {word}", "topic_any": [head]} for word in words for head in heads],
            ),
        }

        def arguments_for(statement: Query, drawn: dict[str, Any]) -> list[Any]:
            values = dict.fromkeys(statement.params) | {"collapse": False, "limit": 21} | drawn
            return [values[name] for name in statement.params]

        for statement, before, _, warm in cases.values():  # every word's rows into shared buffers
            for drawn in warm:
                for sql in (before, statement.sql):
                    await conn.fetch(sql, *arguments_for(statement, drawn))
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for case, (statement, before, make, _) in cases.items():
                values = make()
                arguments = arguments_for(statement, values)
                order = [("before", before), ("now", statement.sql)]
                rng.shuffle(order)
                pages = []
                for variant, sql in order:
                    started = time.perf_counter()
                    pages.append([row["id"] for row in await conn.fetch(sql, *arguments)])
                    times.setdefault((case, variant), []).append(time.perf_counter() - started)
                if pages[0] != pages[1]:
                    raise AssertionError(f"{case}: the statements disagree for {values['q']!r}")
        print(f"signals={total:,} rounds={args.rounds} (ms; page of 20, interleaved; same pages)")
        print(f"{'case':30s} {'before p50 / p99':>18s} {'now p50 / p99':>16s}   ratio p50 / p99")
        for case in cases:
            old50, old99 = percentiles(times[(case, "before")])
            new50, new99 = percentiles(times[(case, "now")])
            print(
                f"{case:30s} {old50:8.1f} / {old99:6.1f} {new50:7.1f} / {new99:6.1f}"
                f"   {old50 / new50:5.2f}x / {old99 / new99:5.2f}x faster"
            )
    finally:
        await conn.close()
        await db.close()


if __name__ == "__main__":
    uvloop.run(main())
