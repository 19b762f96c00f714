"""Incremental sync of 100 000 signals in pages: the endpoint against the bare SQL page loop.

    .venv/bin/python -m bench.sync [--signals 100000] [--data-dir DIR] [--limit 1000]

Seeds the signals set-based (bench/bulk.py: the pipeline's rows, so the change-log trigger
logs each one), then reads the whole log from the start, page by page, four ways:

- ``bare log``: the named page query (sql/queries/sync.sql) by bare asyncpg, rows only;
- ``bare log+cards``: the same, plus the card query for each page (what a sync page holds);
- ``service``: ``service.sync.service.pull_changes`` in process (repository, Structs, cursor);
- ``endpoint``: GET /v1/sync/signals over HTTP from `signals serve` in its own process
  (JSON encoding, authentication, the socket), following ``cursor`` until ``has_more`` is false.

Each run must see exactly the seeded signals, once each. Ratios are against ``bare log+cards``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.bulk import bulk_seed_signals
from bench.signal_reads import running_api
from bench.synthetic import Corpus
from service.db.database import Database, init_connection
from service.db.queries import queries
from service.keys.service import create_key
from service.keys.suppliers import PUBLIC_ONLY
from service.runtime import open_runtime
from service.settings import Settings
from service.sync.service import MAX_ID, pull_changes

Counted = tuple[int, int]
"""(changes read, bytes or rows) of one full pass."""


def bench_settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=None,
        extract_workers=1,
        openai_base_url=None,
        llm_model=None,
        db_pool_max=4,
        rate_limit=False,
    )


async def seed(db: Database, count: int) -> None:
    async with db.pool.acquire() as conn:
        have = await conn.fetchval("SELECT count(*) FROM signals")
    if have >= count:
        print(f"{have:,} signals present", flush=True)
        return
    corpus = Corpus(count)
    started = time.perf_counter()
    await bulk_seed_signals(db.pool, corpus, list(range(have, count)), connections=2)
    async with db.pool.acquire() as conn:
        # Statistics for every table the card query joins: without them its plans are bad
        # until autovacuum gets there, and the first pass would measure that instead.
        await conn.execute("VACUUM (ANALYZE)")
    print(f"seeded {count - have:,} signals in {time.perf_counter() - started:.0f} s", flush=True)


async def bare_pass(conn: asyncpg.Connection, limit: int, cards: bool) -> Counted:
    page = queries.sync_changes_page
    cards_query = queries.get_signal_cards
    after_xid, after_id, seen, rows_read = 0, 0, 0, 0
    while True:
        values = {
            "after_xid": after_xid,
            "after_id": after_id,
            "restrict": None,
            **PUBLIC_ONLY.params(),
            "limit": limit,
            "scan_limit": limit + 1,
        }
        rows = await conn.fetch(page.sql, *[values[name] for name in page.params])
        real = [r for r in rows if r["id"] is not None]
        seen += len(real)
        if cards and real:
            ids = [r["signal_id"] for r in real]
            card_values = {"ids": ids, "restrict_topics": None, **PUBLIC_ONLY.params()}
            rows_read += len(await conn.fetch(cards_query.sql, *[card_values[n] for n in cards_query.params]))
        if real and real[0]["scanned_total"] <= limit:
            return seen, rows_read
        if not real:
            return seen, rows_read
        after_xid, after_id = int(real[-1]["xid"]), real[-1]["id"]


async def service_pass(rt: Any, limit: int) -> Counted:
    cursor, seen = None, 0
    while True:
        page = await pull_changes(
            rt.db.pool, cursor=cursor, limit=limit, restrict=None, suppliers=PUBLIC_ONLY
        )
        seen += sum(1 for item in page.items if item.signal is not None)
        cursor = page.cursor
        if not page.has_more:
            return seen, 0


async def endpoint_pass(http: httpx.AsyncClient, limit: int, ids: set[str] | None = None) -> Counted:
    cursor, seen, size = None, 0, 0
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await http.get("/v1/sync/signals", params=params)
        response.raise_for_status()
        size += len(response.content)
        page = response.json()
        seen += len(page["items"])
        if ids is not None:
            for item in page["items"]:
                assert item["signal_id"] not in ids, "a change was delivered twice"
                ids.add(item["signal_id"])
        cursor = page["cursor"]
        if not page["has_more"]:
            return seen, size


async def timed(label: str, run: Callable[[], Awaitable[Counted]], expected: int) -> tuple[float, Counted]:
    started = time.perf_counter()
    counted = await run()
    elapsed = time.perf_counter() - started
    assert counted[0] == expected, f"{label}: read {counted[0]} changes, expected {expected}"
    return elapsed, counted


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--signals", type=int, default=100_000)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="signals-bench-sync-"))
    try:
        await run(args, data_dir)
    finally:
        if args.data_dir is None:  # a directory given is kept, to run again without seeding
            shutil.rmtree(data_dir, ignore_errors=True)


async def run(args: argparse.Namespace, data_dir: Path) -> None:
    settings = bench_settings(data_dir)
    async with open_runtime(settings, extraction=False) as rt:
        await seed(rt.db, args.signals)
        dsn = rt.db.dsn
        assert dsn is not None
        conn = await asyncpg.connect(dsn)
        await init_connection(conn)
        total = await conn.fetchval("SELECT count(*) FROM signal_changes WHERE kind <> 'deleted'")
        key = (await create_key(conn, name="bench-sync", scopes=["signals:read"])).key
        results: dict[str, list[float]] = {
            "bare log": [],
            "bare log+cards": [],
            "service": [],
            "endpoint": [],
        }
        size = 0
        with running_api(dsn) as base:
            headers = {"Authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as http:
                ids: set[str] = set()
                await timed(
                    "endpoint", lambda: endpoint_pass(http, args.limit, ids), total
                )  # warm-up + check
                assert len(ids) == total
                for _ in range(args.rounds):  # interleaved, so drift hits every variant alike
                    for label, run in (
                        ("bare log", lambda: bare_pass(conn, args.limit, cards=False)),
                        ("bare log+cards", lambda: bare_pass(conn, args.limit, cards=True)),
                        ("service", lambda: service_pass(rt, args.limit)),
                        ("endpoint", lambda: endpoint_pass(http, args.limit)),
                    ):
                        elapsed, counted = await timed(label, run, total)
                        results[label].append(elapsed)
                        if label == "endpoint":
                            size = counted[1]
        await conn.close()
    print(f"signals={total:,} page={args.limit} rounds={args.rounds} (MAX_ID={MAX_ID})")
    floor = min(results["bare log+cards"])
    for label, times in results.items():
        best = min(times)
        print(
            f"  {label:15s} {total / best:9,.0f} signals/s   {best:6.1f} s"
            f"   x{best / floor:5.2f} the time of bare log+cards"
        )
    print(f"  endpoint bytes: {size / 1e6:,.0f} MB ({size / total:,.0f} B per change)")


if __name__ == "__main__":
    asyncio.run(main())
