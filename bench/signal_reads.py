"""Reading one signal card: bare asyncpg (the baseline) against our repository (named query +
msgspec Struct) and against the whole HTTP endpoint, side by side on one embedded PostgreSQL.

    .venv/bin/python -m bench.signal_reads [--signals 2000] [--reads 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx

from service.db.database import Database, init_connection
from service.db.queries import queries
from service.keys.service import create_key
from service.keys.suppliers import PUBLIC_ONLY
from service.settings import Settings
from service.signals import repository
from tests.e2e.conftest import clean_env, free_port, start_signals, wait_http
from tests.support.seeding import SeedSignal, seed_signal

TOPICS = [
    "AI infrastructure",
    "Energy policy",
    "Semiconductors",
    "Rail",
    "Health",
    "Media",
    "Water",
    "Retail",
]


async def seed(conn: asyncpg.Connection, count: int) -> list[object]:
    """Signals written through the pipeline's SQL (tests/support/seeding.py)."""
    ids = []
    for i in range(count):
        ids.append(
            await seed_signal(
                conn,
                SeedSignal(
                    title=f"Signal {i}",
                    topics=random.sample(TOPICS, 3),
                    entities=[(f"Company {i % 50}", "organization"), (f"Person {i % 80}", "person")],
                    analysis="Paragraph. " * 150,
                ),
            )
        )
    return ids


@contextmanager
def running_api(dsn: str) -> Iterator[str]:
    port = free_port()
    proc = start_signals(
        "serve",
        "--no-worker",
        "--port",
        str(port),
        # the endpoint's own cost; the rate limiter's is measured by bench/ratelimit.py
        env=clean_env(
            DATABASE_URL=dsn,
            SIGNALS_LOG_LEVEL="WARNING",
            SIGNALS_DB_POOL_MAX="10",
            SIGNALS_RATE_LIMIT="false",
        ),
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 60, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


async def timed(fn, ids: list[object], reads: int) -> list[float]:
    samples = []
    for _ in range(reads):
        signal_id = random.choice(ids)
        started = time.perf_counter()
        await fn(signal_id)
        samples.append(time.perf_counter() - started)
    return samples


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--signals", type=int, default=2000)
    parser.add_argument("--reads", type=int, default=3000)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="signals-bench-"))
    settings = Settings(
        data_dir=data_dir, database_url=None, extract_workers=1, openai_base_url=None, llm_model=None
    )
    db = Database(settings)
    await db.open()
    try:
        conn = await asyncpg.connect(db.dsn)
        await init_connection(conn)
        ids = await seed(conn, args.signals)
        key = (await create_key(conn, name="bench", scopes=["signals:read"])).key
        cards = queries.get_signal_cards

        async def bare(signal_id: object) -> None:
            # no topic restriction, as a keyless reader sees (fetched content only)
            values = {"ids": [signal_id], "restrict_topics": None, **PUBLIC_ONLY.params()}
            await conn.fetch(cards.sql, *[values[name] for name in cards.params])

        async def repo(signal_id: object) -> None:
            await repository.get_signal(conn, signal_id, suppliers=PUBLIC_ONLY)

        # The API runs in its own process, as in production: a client in the same process
        # would share the GIL with the server and measure their contention instead.
        with running_api(db.dsn) as base:
            async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client:

                async def endpoint(signal_id: object) -> None:
                    response = await client.get(f"/v1/signals/{signal_id}")
                    assert response.status_code == 200

                async def http_floor(_signal_id: object) -> None:
                    # The same client and server answering without touching the database.
                    await client.get("/healthz")

                runs = {"bare": bare, "repo": repo, "http_floor": http_floor, "endpoint": endpoint}
                for fn in runs.values():  # warm-up
                    await timed(fn, ids, 200)
                results: dict[str, list[float]] = {name: [] for name in runs}
                for _ in range(3):  # interleave rounds so drift hits all of them alike
                    for name, fn in runs.items():
                        results[name] += await timed(fn, ids, args.reads // 3)
        await conn.close()
    finally:
        await db.close()
    base50, base99 = percentiles(results["bare"])
    print(f"signals={args.signals} reads={args.reads}")
    for name in results:
        p50, p99 = percentiles(results[name])
        ratios = f"ratio p50 {p50 / base50:5.2f}x  p99 {p99 / base99:5.2f}x"
        print(f"{name:10s} p50 {p50:7.3f} ms  p99 {p99:7.3f} ms  {ratios}")


if __name__ == "__main__":
    asyncio.run(main())
