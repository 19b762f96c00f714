"""Webhook fan-out: 1 000 endpoints subscribed to one topic, one new signal, real workers.

    .venv/bin/python -m bench.webhooks [--endpoints 1000] [--workers 1] [--concurrency 32] [--rounds 3]

Everything runs as in production, each in its own process: an embedded PostgreSQL, `signals
worker` processes (dispatcher + delivery jobs, the real delivery client and its address
checks), and receiver processes on loopback (uvicorn; the endpoints are distinct paths on
them). A round stores one signal on the topic and measures, from its commit: the fan-out (all
deliveries and their jobs written), the first and the last delivery recorded as delivered.
The baseline is the floor: the same number of signed POSTs to the same receivers from one
bare httpx client with the same concurrency (no database, no queue). Receivers count
requests per (path, webhook-id): every round must deliver each endpoint exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from cryptography.fernet import Fernet

from schemas.webhooks import WebhookCreate
from service.db.database import init_connection
from service.keys.service import authenticate, create_key, ensure_partner
from service.runtime import open_runtime
from service.settings import Settings
from service.webhooks.secrets import new_webhook_secret
from service.webhooks.sender import signature_headers
from service.webhooks.service import create_webhook
from tests.e2e.conftest import clean_env, free_port, start_signals, wait_http
from tests.support.seeding import SeedSignal, seed_signal

TOPIC = "Fan-out bench"


# --- receiver process ---------------------------------------------------------------------------


def receive(port: int) -> None:
    """A receiver: answers 204 to every POST, counts (path, webhook-id); GET /stats reports."""
    import uvicorn

    seen: Counter[tuple[str, str]] = Counter()

    async def app(scope: dict[str, Any], receive_: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive_()).get("more_body"):
            pass
        if scope["method"] == "GET":
            body = f'{{"requests": {sum(seen.values())}, "unique": {len(seen)}}}'.encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        headers = dict(scope["headers"])
        seen[(scope["path"], headers.get(b"webhook-id", b"").decode())] += 1
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start_receiver(port: int) -> Any:
    import subprocess

    return subprocess.Popen(
        [sys.executable, "-m", "bench.webhooks", "--receive", str(port)],
        env=clean_env(),
        cwd=Path(__file__).resolve().parents[1],
    )


# --- the bench ----------------------------------------------------------------------------------


async def receiver_stats(bases: list[str]) -> tuple[int, int]:
    async with httpx.AsyncClient() as http:
        stats = [(await http.get(f"{b}/stats")).json() for b in bases]
    return sum(s["requests"] for s in stats), sum(s["unique"] for s in stats)


async def one_round(conn: asyncpg.Connection, n: int, endpoints: int) -> dict[str, float]:
    await conn.execute("SELECT 1")
    before = await conn.fetchval("SELECT count(*) FROM webhook_deliveries")
    started = time.perf_counter()
    await seed_signal(conn, SeedSignal(title=f"Fan-out round {n}", topics=[TOPIC]))
    committed = time.perf_counter()
    marks: dict[str, float] = {}
    while True:
        row = await conn.fetchrow(
            "SELECT count(*) AS made, count(*) FILTER (WHERE state = 'delivered') AS delivered, "
            "count(*) FILTER (WHERE state = 'failed') AS failed FROM webhook_deliveries"
        )
        made, delivered = row["made"] - before, row["delivered"] - (before if n else 0)
        now = time.perf_counter()
        if made >= endpoints and "fanout" not in marks:
            marks["fanout"] = now - committed
        if delivered > 0 and "first" not in marks:
            marks["first"] = now - committed
        if delivered >= endpoints:
            marks["all"] = now - committed
            break
        if row["failed"]:
            raise SystemExit(f"{row['failed']} deliveries failed")
        if now - started > 300:
            raise SystemExit(f"round {n}: only {delivered}/{endpoints} delivered after 300 s")
        await asyncio.sleep(0.01)
    marks["rate"] = endpoints / marks["all"]
    return marks


async def bare_floor(urls: list[str], concurrency: int) -> float:
    """Signed POSTs from one plain client: the requests a delivery makes, nothing else."""
    secret = new_webhook_secret()
    body = '{"type":"signal.created","timestamp":"2026-11-23T00:00:00Z","data":{}}'
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
    async with httpx.AsyncClient(limits=limits) as http:

        async def post(url: str) -> None:
            async with gate:
                headers = signature_headers("msg_floor", body, [secret], datetime.now(UTC))
                response = await http.post(url, content=body, headers=headers)
                assert response.status_code == 204

        started = time.perf_counter()
        await asyncio.gather(*(post(u) for u in urls))
        return len(urls) / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--endpoints", type=int, default=1000)
    parser.add_argument("--receivers", type=int, default=2, help="receiver processes")
    parser.add_argument("--workers", type=int, default=1, help="`signals worker` processes")
    parser.add_argument("--concurrency", type=int, default=32, help="jobs each worker runs at once")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="signals-bench-webhooks-"))
    fernet = Fernet.generate_key().decode()
    settings = Settings(
        data_dir=data_dir,
        database_url=None,
        extract_workers=1,
        openai_base_url=None,
        llm_model=None,
        secret_key=fernet,
        fetch_allowed_networks=[ip_network("127.0.0.1/32")],
    )
    ports = [free_port() for _ in range(args.receivers)]
    receivers = [start_receiver(port) for port in ports]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    workers: list[Any] = []
    try:
        for base in bases:
            wait_http(f"{base}/stats", 30)
        async with open_runtime(settings, extraction=False) as rt:
            dsn = rt.db.dsn
            assert dsn is not None
            conn = await asyncpg.connect(dsn)
            await init_connection(conn)
            await seed_signal(conn, SeedSignal(title="The topic exists", topics=[TOPIC]))
            partner = await ensure_partner(conn, "Bench partner")
            created = await create_key(
                conn, name="bench", scopes=["webhooks:manage"], partner_id=partner["id"]
            )
            key = await authenticate(rt.db.pool, f"Bearer {created.key}")
            urls = [f"{bases[i % len(bases)]}/hooks/{i}" for i in range(args.endpoints)]
            started = time.perf_counter()
            for url in urls:
                await create_webhook(
                    rt.db.pool,
                    rt.policy,
                    rt.secret_box,
                    key,
                    WebhookCreate(url=url, topics=["fan-out-bench"]),
                )
            print(f"{args.endpoints} endpoints created in {time.perf_counter() - started:.1f} s", flush=True)

            env = clean_env(
                DATABASE_URL=dsn,
                SIGNALS_SECRET_KEY=fernet,
                SIGNALS_FETCH_ALLOWED_NETWORKS="127.0.0.1/32",
                SIGNALS_WORKER_CONCURRENCY=str(args.concurrency),
                SIGNALS_EXTRACT_WORKERS="1",
                SIGNALS_DIGEST_DAILY_AT="off",
                SIGNALS_LOG_LEVEL="WARNING",
                SIGNALS_DB_POOL_MAX=str(min(50, args.concurrency + 4)),
            )
            workers = [start_signals("worker", env=env) for _ in range(args.workers)]
            await asyncio.sleep(4)  # workers connect and start their queue managers
            # warm-up: connections, prepared statements, queue manager loops
            await one_round(conn, 0, args.endpoints)
            rounds = [await one_round(conn, n, args.endpoints) for n in range(1, args.rounds + 1)]
            requests, unique = await receiver_stats(bases)
            expected = args.endpoints * (args.rounds + 1)
            floor = statistics.median(
                [await bare_floor(urls, args.workers * args.concurrency) for _ in range(3)]
            )
            await conn.close()
    finally:
        for proc in workers:
            proc.terminate()
            proc.communicate(timeout=60)
        for proc in receivers:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)

    print(
        f"endpoints={args.endpoints} workers={args.workers}x{args.concurrency} receivers={args.receivers} "
        f"rounds={args.rounds}"
    )
    for name, label in (
        ("fanout", "fan-out written"),
        ("first", "first delivered"),
        ("all", "all delivered"),
    ):
        values = [r[name] for r in rounds]
        print(
            f"  {label:16s} median {statistics.median(values) * 1000:8.0f} ms   (rounds: "
            + ", ".join(f"{v * 1000:.0f}" for v in values)
            + ")"
        )
    rate = statistics.median(r["rate"] for r in rounds)
    print(f"  deliveries/s     median {rate:8.0f}")
    print(f"  bare httpx floor        {floor:8.0f} POST/s  ratio system/floor = {rate / floor:.2f}")
    print(
        f"  receivers: {requests} requests, {unique} distinct (path, webhook-id); expected {expected} of each"
    )
    if requests != expected or unique != expected:
        raise SystemExit("a delivery was lost or duplicated")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--receive":
        receive(int(sys.argv[2]))
    else:
        asyncio.run(main())
