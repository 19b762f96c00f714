"""The rate limiter's cost per request: the same endpoints served by two API processes on one
database, one with the limiter (SIGNALS_RATE_LIMIT=true, limits far above the load) and one
without, requests alternating between them so that drift and noise hit both alike. Also the
bucket statement alone against a trivial round trip, and a hot key under concurrency (every
request queues on the same bucket row).

    .venv/bin/python -m bench.ratelimit [--signals 500] [--reads 3000] [--concurrency 16]

Goal: the limiter adds less than 1 ms at p99.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx

from bench.signal_reads import seed
from service.db.database import Database, init_connection
from service.keys.service import create_key
from service.ratelimit import repository as buckets
from service.settings import Settings
from service.signals import job_repository as signals
from tests.e2e.conftest import clean_env, free_port, start_signals, wait_http

Call = Callable[[], Awaitable[object]]


@contextmanager
def running_api(dsn: str, *, limiter: bool) -> Iterator[str]:
    port = free_port()
    env = clean_env(
        DATABASE_URL=dsn,
        SIGNALS_LOG_LEVEL="WARNING",
        SIGNALS_DB_POOL_MAX="10",
        SIGNALS_RATE_LIMIT="true" if limiter else "false",
        # far above the load: every request takes a token and none is refused
        SIGNALS_RATE_PER_SECOND="100000",
        SIGNALS_RATE_BURST="1000000",
    )
    proc = start_signals("serve", "--no-worker", "--port", str(port), env=env)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 60, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000


async def alternate(calls: dict[str, Call], rounds: int) -> dict[str, list[float]]:
    """Time each call once per round, in a shuffled order each round."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for _ in range(rounds):
        random.shuffle(names)
        for name in names:
            started = time.perf_counter()
            await calls[name]()
            samples[name].append(time.perf_counter() - started)
    return samples


async def concurrently(call: Call, total: int, concurrency: int) -> list[float]:
    samples: list[float] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            started = time.perf_counter()
            await call()
            samples.append(time.perf_counter() - started)

    await asyncio.gather(*(worker(total // concurrency) for _ in range(concurrency)))
    return samples


def report(label: str, off: list[float], on: list[float]) -> None:
    off50, off99 = percentiles(off)
    on50, on99 = percentiles(on)
    print(
        f"{label:34s} without p50 {off50:6.3f} p99 {off99:6.3f} | with p50 {on50:6.3f} p99 {on99:6.3f} ms"
        f" | ratio p50 {on50 / off50:4.2f}x p99 {on99 / off99:4.2f}x"
        f" | added p50 {on50 - off50:+6.3f} p99 {on99 - off99:+6.3f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--signals", type=int, default=500)
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    settings = Settings(
        data_dir=Path(tempfile.mkdtemp(prefix="signals-bench-")),
        database_url=None,
        extract_workers=1,
        openai_base_url=None,
        llm_model=None,
    )
    db = Database(settings)
    await db.open()
    assert db.dsn is not None
    try:
        conn = await asyncpg.connect(db.dsn)
        await init_connection(conn)
        ids = await seed(conn, args.signals)
        job = await signals.insert_job(
            conn,
            input_kind="text",
            url=None,
            dedupe_url=None,
            payload={"text": "bench"},
            api_key_id=None,
            idempotency_key=None,
            request_fingerprint="bench",
        )
        assert job is not None
        key = (await create_key(conn, name="bench", scopes=["signals:read"])).key
        await conn.close()

        # 1. the statement alone, on a pool as the API runs it, against a trivial round trip
        pool = await asyncpg.create_pool(db.dsn, min_size=2, max_size=2)
        bucket = uuid.uuid4()

        async def select_one() -> object:
            return await pool.fetchval("SELECT 1")

        async def take() -> object:
            return await buckets.take_token(pool, bucket, rate=100_000.0, burst=1_000_000)

        await alternate({"select": select_one, "take": take}, 300)  # warm-up
        statement = await alternate({"select": select_one, "take": take}, args.reads)
        await pool.close()

        # 2. the same endpoints through two API processes, with and without the limiter
        headers = {"Authorization": f"Bearer {key}"}
        with running_api(db.dsn, limiter=False) as off_base, running_api(db.dsn, limiter=True) as on_base:
            async with (
                httpx.AsyncClient(base_url=off_base, headers=headers) as off,
                httpx.AsyncClient(base_url=on_base, headers=headers) as on,
            ):

                def get(client: httpx.AsyncClient, path: Callable[[], str]) -> Call:
                    async def call() -> object:
                        response = await client.get(path())
                        assert response.status_code == 200, response.text
                        return response

                    return call

                def card() -> str:
                    return f"/v1/signals/{random.choice(ids)}"

                def job_path() -> str:
                    return f"/v1/jobs/{job.id}"

                endpoints = {
                    "GET /v1/jobs/{id} (one row)": job_path,
                    "GET /v1/signals/{id} (a card)": card,
                }
                for path in endpoints.values():  # warm-up: pools, key caches, plans
                    await alternate({"off": get(off, path), "on": get(on, path)}, 300)
                sequential = {
                    label: await alternate({"off": get(off, path), "on": get(on, path)}, args.reads)
                    for label, path in endpoints.items()
                }
                # 3. one hot key, many requests at once: each queues on the bucket's row lock.
                # Blocks alternate between the two servers so that load from elsewhere hits both.
                hot: dict[str, list[float]] = {"off": [], "on": []}
                busy = {"off": 0.0, "on": 0.0}
                block = max(args.concurrency, args.reads // 10)
                for _ in range(10):
                    for name, client in (("off", off), ("on", on)):
                        started = time.perf_counter()
                        hot[name] += await concurrently(get(client, job_path), block, args.concurrency)
                        busy[name] += time.perf_counter() - started
                hot_off, hot_on = hot["off"], hot["on"]
    finally:
        await db.close()

    print(f"signals={args.signals} reads={args.reads} concurrency={args.concurrency}")
    report("bucket statement vs SELECT 1", statement["select"], statement["take"])
    for label, samples in sequential.items():
        report(label, samples["off"], samples["on"])
    report(f"GET /v1/jobs/{{id}}, {args.concurrency} at once, 1 key", hot_off, hot_on)
    off_rps, on_rps = len(hot_off) / busy["off"], len(hot_on) / busy["on"]
    print(
        f"{'  throughput at that load':34s} without {off_rps:7.0f}/s | with {on_rps:7.0f}/s"
        f" | ratio {on_rps / off_rps:4.2f}x"
    )


if __name__ == "__main__":
    asyncio.run(main())
