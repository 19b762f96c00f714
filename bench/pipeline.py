"""Pipeline throughput against the Little's-law ceiling, with a model of fixed latency.

.venv/bin/python -m bench.pipeline [--articles 64] [--in-flight 32] [--latency 1,4]
                                   [--layouts serve,1,2,4] [--single 5]

As a user runs it: `signals serve` started as the README says (embedded PostgreSQL in a fresh
data folder, the stub's embeddings for related coverage), an article site and an
OpenAI-compatible model answering every chat call after a fixed latency (bench/pipeline_fakes.py,
a process of its own), N distinct article URLs submitted K at a time, each request with
``Prefer: wait=60``. For each latency and each layout (``serve``: the API with its own worker;
``1``, ``2``, ``4``: `signals serve --no-worker` and that many `signals worker` processes):

- articles/s at K in flight ÷ the ceiling K / latency;
- ``GET /healthz`` p50/p99 while the K run (one probe every 20 ms on its own connection);
- one article alone, end to end: the time beside the model call (the non-LLM share), and its
  stages from the job's log line (queue wait, fetch, extract, store, model, signal), median
  of ``--single`` articles.

The load average is printed with every figure: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
_DONE = re.compile(r"job (\S+) done: signal (\S+) \((.*)\)")


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f}/{five:.2f}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Processes:
    folder: Path
    running: list[tuple[subprocess.Popen[bytes], Path]] = field(default_factory=list)

    def start(self, name: str, cmd: list[str], env: dict[str, str]) -> Path:
        log = self.folder / f"{name}.log"
        handle = log.open("ab")
        proc = subprocess.Popen(cmd, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)
        self.running.append((proc, log))
        return log

    def stop(self) -> None:
        for proc, _ in reversed(self.running):
            if proc.poll() is None:
                proc.terminate()
        for proc, _ in self.running:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.running.clear()

    def logs(self) -> list[Path]:
        return [log for _, log in self.running]


async def wait_up(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient() as http:
        while True:
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not come up")
            await asyncio.sleep(0.2)


def service_env(data_dir: Path, model_port: int, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "SIGNALS_DATA_DIR": str(data_dir),
        "OPENAI_BASE_URL": f"http://127.0.0.1:{model_port}/v1",
        "SIGNALS_LLM_MODEL": "signals-stub",
        "SIGNALS_EMBEDDING_MODEL": "signals-stub",
        "SIGNALS_FETCH_ALLOWED_NETWORKS": "127.0.0.0/8",
        "SIGNALS_PORT": str(port),
        "SIGNALS_LOG_LEVEL": "INFO",  # the job's stage line
        # One key sends every request: its bucket must not be what the bench measures.
        "SIGNALS_RATE_PER_SECOND": "100000",
        "SIGNALS_RATE_BURST": "100000",
    }


async def submit(http: httpx.AsyncClient, url: str) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    answer = await http.post("/v1/signals", json={"url": url}, headers={"Prefer": "wait=60"})
    elapsed = time.perf_counter() - started
    if answer.status_code != 201:
        raise SystemExit(f"{url}: {answer.status_code} {answer.text[:300]}")
    return elapsed, answer.json()


async def probe_health(base: str, stop: asyncio.Event) -> list[float]:
    times: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        while not stop.is_set():
            started = time.perf_counter()
            await http.get("/healthz")
            times.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.02)
    return times


async def run_load(
    base: str, key: str, urls: list[str], in_flight: int
) -> tuple[float, list[float], list[float]]:
    """Wall seconds for all ``urls`` with ``in_flight`` requests at a time, healthz times, and
    when each request finished (seconds from the start)."""
    pending = list(urls)
    limits = httpx.Limits(max_connections=in_flight + 4, max_keepalive_connections=in_flight + 4)
    headers = {"Authorization": f"Bearer {key}"}
    stop = asyncio.Event()
    health = asyncio.create_task(probe_health(base, stop))
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=90, limits=limits) as http:
        finished: list[float] = []

        async def client() -> None:
            while pending:
                await submit(http, pending.pop())
                finished.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(in_flight)))
        wall = time.perf_counter() - started
    stop.set()
    return wall, await health, sorted(finished)


def stage_lines(logs: list[Path]) -> dict[str, dict[str, float]]:
    """Stage times by signal id, from the jobs' "done" log lines."""
    found: dict[str, dict[str, float]] = {}
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            if m := _DONE.search(line):
                stages = {}
                for part in m.group(3).split(", "):
                    name, _, value = part.partition(" ")
                    stages[name] = float(value.split()[0])
                found[m.group(2)] = stages
    return found


async def single(base: str, key: str, urls: list[str], logs: list[Path]) -> str:
    headers = {"Authorization": f"Bearer {key}"}
    rows = []
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=90) as http:
        await submit(http, urls[0])  # warm: first connections, first extraction
        for url in urls[1:]:
            elapsed, card = await submit(http, url)
            provenance = card["provenance"]
            assert isinstance(provenance, dict)
            rows.append((elapsed * 1000, float(provenance["llm_latency_ms"]), str(card["id"])))
    await asyncio.sleep(0.5)  # the log line is written as the job finishes
    stages = stage_lines(logs)
    e2e = statistics.median(r[0] for r in rows)
    beside = statistics.median(r[0] - r[1] for r in rows)
    names = ("queue", "fetch", "extract", "store", "model", "signal")
    per_stage = {n: statistics.median(stages.get(r[2], {}).get(n, float("nan")) for r in rows) for n in names}
    shown = ", ".join(f"{n} {v:.0f}" for n, v in per_stage.items())
    return (
        f"alone: end to end {e2e:.0f} ms, beside the model call {beside:.0f} ms "
        f"({100 * beside / e2e:.1f} %); stages (ms) {shown}; {load()}"
    )


def throughput(
    args: argparse.Namespace, latency: float, wall: float, health: list[float], finished: list[float]
) -> str:
    """The issue's figure (all articles over the wall time, the first wave's ramp included),
    and the steady rate Little's law speaks of: the articles finished after the first K, over
    the time from the K-th to the last (whole waves, no start-up)."""
    rate = args.articles / wall
    ceiling = args.in_flight / latency
    k = args.in_flight
    steady = (len(finished) - k) / (finished[-1] - finished[k - 1]) if len(finished) > k else float("nan")
    health.sort()
    p99 = health[min(len(health) - 1, int(len(health) * 0.99))]
    return (
        f"{args.articles} articles, {args.in_flight} in flight: {wall:.2f} s, {rate:.2f}/s, "
        f"ceiling {ceiling:.1f}/s: {rate / ceiling:.2f}x; steady (after the first {k}) "
        f"{steady:.2f}/s: {steady / ceiling:.2f}x; /healthz p50 {statistics.median(health):.1f} "
        f"ms p99 {p99:.1f} ms ({len(health)} probes); {load()}"
    )


async def measure(args: argparse.Namespace, folder: Path) -> None:
    site_port, model_port = free_port(), free_port()
    fakes = Processes(folder)
    fakes.start(
        "fakes",
        [str(BIN / "python"), "-m", "bench.pipeline_fakes", "--site-port", str(site_port),
         "--model-port", str(model_port)],
        dict(os.environ),
    )  # fmt: skip
    run = 0
    try:
        await wait_up(f"http://127.0.0.1:{site_port}/0/1")
        await wait_up(f"http://127.0.0.1:{model_port}/v1/models")
        for index, spec in enumerate(args.layouts.split(",")):
            layout, *overrides = spec.split("+")
            data_dir = folder / f"data-{index}"
            port = free_port()
            env = service_env(data_dir, model_port, port)
            env.update(item.split("=", 1) for item in overrides)
            procs = Processes(folder)
            key_cmd = [
                str(BIN / "signals"),
                "keys",
                "create",
                "--name",
                "bench",
                "--scopes",
                "signals:read,signals:write",
            ]
            key = (
                subprocess.run(key_cmd, env=env, capture_output=True, check=True, cwd=ROOT)
                .stdout.decode()
                .strip()
            )
            if layout == "serve":
                procs.start("serve", [str(BIN / "signals"), "serve"], env)
            else:
                procs.start(f"api-{layout}", [str(BIN / "signals"), "serve", "--no-worker"], env)
                for n in range(int(layout)):
                    procs.start(f"worker-{layout}-{n}", [str(BIN / "signals"), "worker"], env)
            base = f"http://127.0.0.1:{port}"
            try:
                await wait_up(f"{base}/readyz")
                await asyncio.sleep(2)  # workers' start-up (extraction pools, model probe)
                title = "signals serve (its own worker)" if layout == "serve" else f"API + {layout} worker(s)"
                title += "".join(f", {item}" for item in overrides)
                for latency in [float(x) for x in args.latency.split(",")]:
                    async with httpx.AsyncClient() as http:
                        await http.post(f"http://127.0.0.1:{model_port}/bench/latency?seconds={latency}")
                    run += 1
                    urls = [
                        f"http://127.0.0.1:{site_port}/{run}/{run * 1000 + i}" for i in range(args.articles)
                    ]
                    alone = [
                        f"http://127.0.0.1:{site_port}/{run}a/{run * 1000 + 900 + i}"
                        for i in range(args.single + 1)
                    ]
                    print(f"{title}, model latency {latency:g} s", flush=True)
                    print("  " + await single(base, key, alone, procs.logs()), flush=True)
                    wall, health, finished = await run_load(base, key, urls, args.in_flight)
                    print("  " + throughput(args, latency, wall, health, finished), flush=True)
            finally:
                procs.stop()
    finally:
        fakes.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=64)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--latency", default="1,4", help="model latencies in seconds, comma-separated")
    parser.add_argument(
        "--layouts",
        default="serve,1,2,4",
        help="serve (its own worker) or N (API + N workers), each with +VAR=value overrides: "
        "serve+SIGNALS_WORKER_CONCURRENCY=4",
    )
    parser.add_argument("--single", type=int, default=5, help="articles timed alone (after one warm-up)")
    args = parser.parse_args()
    print(f"cores {os.cpu_count()}; {load()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as folder:
        asyncio.run(measure(args, Path(folder)))


if __name__ == "__main__":
    sys.exit(main())
