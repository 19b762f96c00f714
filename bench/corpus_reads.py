"""What the benchmarks that read a seeded corpus share: parameters drawn from the data,
the API in a process of its own, and percentiles.

``bench.queries`` measures with these, and so do the benchmarks that reuse its corpus and
its way of choosing topics and terms (``bench.daily_counts``, ``bench.stories``,
``bench.text_filters``, ...), so that their figures describe the same workload.
"""

from __future__ import annotations

import math
import random
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.synthetic import Corpus
from tests.e2e.conftest import ROOT, clean_env, free_port, start_signals, wait_http


@contextmanager
def running_api(dsn: str, floor: str | None = None, **settings: str) -> Iterator[str]:
    """The API (``signals serve --no-worker``), or with ``floor`` one of ``bench.floor_app``'s
    servers, on a free port."""
    port = free_port()
    env = clean_env(DATABASE_URL=dsn, SIGNALS_LOG_LEVEL="WARNING", SIGNALS_DB_POOL_MAX="10", **settings)
    if floor is None:
        proc = start_signals("serve", "--no-worker", "--port", str(port), env=env)
    else:
        command = [sys.executable, "-m", "bench.floor_app", "--port", str(port), "--kind", floor]
        proc = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 120, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 in ms; p99 by nearest rank, so with fewer than 100 samples it is the largest
    (it was one rank lower, so the smallest of two and the second largest of ten)."""
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[max(0, math.ceil(len(ordered) * 0.99) - 1)] * 1000


async def pick_parameters(conn: Any, corpus: Corpus) -> dict[str, Any]:
    """Mid-frequency topics, common and rare search terms, signal ids: chosen from the data."""
    total = await conn.fetchval("SELECT count(*) FROM signals WHERE is_current")
    topics = await conn.fetch(
        """SELECT t.slug, count(*) AS n FROM signal_topics st JOIN topics t ON t.id = st.topic_id
           GROUP BY t.slug ORDER BY n DESC"""
    )
    mid = topics[len(topics) // 10 : len(topics) // 4]  # below the head, well above the tail
    rng = random.Random(5)
    ids = [r["id"] for r in await conn.fetch("SELECT id FROM signals WHERE is_current")]
    ids = rng.sample(ids, min(3000, len(ids)))

    async def pick(candidates: list[str], low: float, high: float) -> list[tuple[str, int]]:
        """Up to 8 terms whose share of signals lies in [low, high]."""
        sql = "SELECT count(*) FROM signals WHERE search @@ websearch_to_tsquery('english', $1)"
        found = []
        for term in dict.fromkeys(candidates):
            docs = int(await conn.fetchval(sql, term))
            if low * total <= docs <= high * total:
                found.append((term, docs))
            if len(found) == 8:
                break
        return found

    # Content words past the function words at the head of the Zipf ranking; surnames of
    # entities from the long tail.
    common = await pick([w for w in corpus.words[450:700] if w.isalpha()], 0.03, 0.15)
    surnames = [name.split()[-1] for name, kind in corpus.entities[4000:] if kind == "person"]
    rare = await pick([n for n in surnames if n.isalpha()], 1 / total, 0.002)
    print(
        f"corpus: {total:,} current signals; list topics {len(mid)}, each on "
        f"{mid[-1]['n'] / total:.1%}-{mid[0]['n'] / total:.1%} of signals; common terms "
        f"{[t for t, _ in common]} each in {min(n for _, n in common) / total:.1%}-"
        f"{max(n for _, n in common) / total:.1%}; rare terms {[t for t, _ in rare]} each in "
        f"{min(n for _, n in rare)}-{max(n for _, n in rare)} signals"
    )
    common_terms, rare_terms = [t for t, _ in common], [t for t, _ in rare]
    return {
        "topics": [r["slug"] for r in mid],
        "head_topics": [r["slug"] for r in topics[:3]],  # the biggest: a third of all signals
        "common": common_terms,
        "rare": rare_terms,
        "ids": ids,
    }


def list_params(topic: str) -> dict[str, Any]:
    return {"topic": topic, "lang": "en", "limit": 20}
