"""A relate step's two comparisons of candidates (the story search's, then related coverage's):
related coverage comparing every candidate again, against reusing what the story search
compared (``service.related.service._features``).

    .venv/bin/python -m bench.relate_features --data-dir /tmp/signals-bench-20k [--rounds 40]

Needs a database made by ``bench.seed``. Per round, for a random current signal, in this
process on one connection, both ways side by side in shuffled order: the story search (its
candidates and their features), then related coverage's candidates and their features. The
story search is the same in both; what differs is how many candidates related coverage sends
to ``related_candidate_features`` (the card trigram comparison, bench.card_trigrams).
Printed: p50/p99 of the two together, the ratio, and the candidates compared per round.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import uvloop

from bench.corpus_reads import percentiles
from bench.interleave import interleaved
from bench.seed import relating_settings
from service.related import repository
from service.related import service as relate
from service.runtime import open_runtime
from service.similarity.features import Subject
from service.stories import candidates, placement
from service.stories.matching import StoryRule


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    settings = relating_settings(args.data_dir)
    rule = StoryRule.from_settings(settings)
    async with open_runtime(settings, extraction=False) as rt, rt.db.pool.acquire() as conn:
        sample = "SELECT id FROM signals WHERE is_current ORDER BY random() LIMIT 1000"
        ids = [r["id"] for r in await conn.fetch(sample)]
        rng = random.Random(17)
        state: dict[str, Any] = {}
        compared: dict[str, list[int]] = {"again": [], "reused": []}

        def draw() -> None:
            state["id"] = rng.choice(ids)

        async def subject() -> Subject:
            got = await repository.get_subject(conn, state["id"])
            assert got is not None
            return got[0]

        async def step(reuse: bool) -> None:
            s = await subject()
            async with conn.transaction():  # the kNN's search options are local
                search = await placement.search_story(rt.embedder, conn, s, rule, use_meaning=True)
            compared_now = len(search.candidates)
            async with conn.transaction():
                more = await candidates.candidate_ids(conn, s, text=search.wording is None)
                wanted: list[UUID] = list(dict.fromkeys(search.nearest + (search.wording or []) + more))
                if reuse:
                    known = {c.id for c in search.candidates}
                    await relate._features(conn, s, wanted, search)
                    compared_now += sum(1 for i in wanted if i not in known)
                else:
                    await candidates.candidate_features(conn, s, wanted)
                    compared_now += len(wanted)
            compared["reused" if reuse else "again"].append(compared_now)

        runs: dict[str, Callable[[], Awaitable[Any]]] = {
            "features compared again": lambda: step(False),
            "features reused": lambda: step(True),
        }
        times = await interleaved(runs, args.rounds, rng, warmup=1, each_round=draw)
    print(f"{args.rounds} rounds on {len(ids):,} sampled signals ({args.data_dir})")
    for name, samples in times.items():
        p50, p99 = percentiles(samples)
        print(f"{name:<26} story search + related candidates: p50 {p50:8.2f} ms  p99 {p99:8.2f} ms")
    a50, a99 = percentiles(times["features compared again"])
    r50, r99 = percentiles(times["features reused"])
    print(f"reused / again: p50 {r50 / a50:.3f}  p99 {r99 / a99:.3f}")
    for label, counts in compared.items():
        rounds = counts[1:]  # the warm-up call
        print(f"candidates compared per step, {label}: mean {sum(rounds) / len(rounds):.1f}")


if __name__ == "__main__":
    uvloop.run(main())
