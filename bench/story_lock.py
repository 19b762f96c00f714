"""How long a relate step holds the story lock: searching under it (before migration 0018)
against searching first and only placing under it (now).

    .venv/bin/python -m bench.story_lock --data-dir /tmp/signals-bench-1m [--rounds 200]

Needs a database made by ``bench.seed`` (embeddings and stories). Every story placement in
the service holds one global advisory lock, so the time it is held bounds how many signals
all workers together can place per second. For a random current signal, in this process on
one connection, every measure once per round in shuffled order:

- before: ``place_in_story`` with no search, which searches under the lock (what every
  placement did before: nearest neighbours by embedding, signals sharing names, rarity);
- now: ``search_story`` in its own transaction, then ``place_in_story`` with that search,
  which under the lock reads the candidates' stories again and the placements since.

Each placement runs in a transaction rolled back afterwards (the signal's story is cleared
in it first, so it is placed afresh): the corpus is left as it was. Both must place a signal
alike (the same story, or a new one); the count of those that differ is printed, then p50/p99
of the time the lock is held and of the whole step, with ratios now/before.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path
from typing import Any

import uvloop

from bench.corpus_reads import percentiles
from bench.interleave import interleaved
from bench.seed import relating_settings
from service.related import repository as related_repository
from service.runtime import Runtime, open_runtime
from service.similarity.features import Subject
from service.stories.matching import StoryRule
from service.stories.placement import place_in_story, search_story


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    settings = relating_settings(args.data_dir)
    rule = StoryRule.from_settings(settings)
    async with open_runtime(settings, extraction=False) as rt, rt.db.pool.acquire() as conn:
        ids = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM signals TABLESAMPLE SYSTEM (1) WHERE is_current AND story_id IS NOT NULL"
            )
        ]
        rng = random.Random(7)
        state: dict[str, Any] = {}
        held: dict[str, list[float]] = {"before": [], "now": []}
        chosen: dict[str, Any] = {}

        def draw() -> None:
            state["id"] = rng.choice(ids)

        async def subject() -> Subject:
            found = await related_repository.get_subject(conn, state["id"])
            assert found is not None
            return found[0]

        async def place(rt: Runtime, subj: Subject, search: Any, label: str) -> None:
            tx = conn.transaction()
            await tx.start()
            try:
                await conn.execute("UPDATE signals SET story_id = NULL WHERE id = $1", subj.id)
                started = time.perf_counter()
                story = await place_in_story(rt.embedder, conn, subj, search, rule, use_meaning=True)
                held[label].append(time.perf_counter() - started)
            finally:
                await tx.rollback()
            # a story started in the rolled-back transaction is gone: both said "a new one"
            existed = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM stories WHERE id = $1)", story)
            chosen.setdefault(subj.id, {})[label] = story if existed else "new"

        async def before() -> None:
            await place(rt, await subject(), None, "before")

        async def now() -> None:
            subj = await subject()
            async with conn.transaction():
                search = await search_story(rt.embedder, conn, subj, rule, use_meaning=True)
            await place(rt, subj, search, "now")

        whole = await interleaved({"before": before, "now": now}, args.rounds, rng, warmup=5, each_round=draw)
    for label in held:
        del held[label][:5]  # the warm-up calls
    differ = sum(1 for v in chosen.values() if len(set(v.values())) > 1)
    print(f"{args.rounds} rounds on {len(ids):,} sampled signals; placements that differ: {differ}")
    for name, samples in (("lock held", held), ("whole step", whole)):
        b50, b99 = percentiles(samples["before"])
        n50, n99 = percentiles(samples["now"])
        print(
            f"{name:<11} before p50 {b50:7.2f} ms  p99 {b99:7.2f} ms"
            f"   now p50 {n50:7.2f} ms  p99 {n99:7.2f} ms"
            f"   ratio now/before p50 {n50 / b50:.3g}  p99 {n99 / b99:.3g}"
        )


if __name__ == "__main__":
    uvloop.run(main())
