"""Comparing a new card's wording with its candidates: pg_trgm's ``similarity()`` over both card
texts in SQL (the baseline, inline here) against the trigrams stored once per signal
(``signals.card_trigrams``, compared in service.similarity.wording).

    .venv/bin/python -m bench.card_trigrams --data-dir /tmp/signals-bench-20k [--rounds 60]

Needs a database made by ``bench.seed``. Per round, for a random current signal, its real
candidates (the story search's and related coverage's, as a relate step gathers them), both
ways side by side in shuffled order on one connection. Printed: p50/p99 of each, the ratio,
candidates per round, and the largest difference between the two similarities (they agree).
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Any
from uuid import UUID

import uvloop

from bench.corpus_reads import percentiles
from bench.interleave import interleaved
from bench.seed import relating_settings
from service.related import repository
from service.runtime import open_runtime
from service.stories import candidates

BASELINE = """
WITH me AS (
    SELECT s.title || ' ' || s.summary || ' '
               || coalesce((SELECT string_agg(d ->> 'text', ' ')
                            FROM jsonb_array_elements(s.key_details) d), '') AS card,
           e.model, e.dims, e.embedding
    FROM signals s LEFT JOIN signal_embeddings e ON e.signal_id = s.id
    WHERE s.id = $1
)
SELECT s.id, s.article_id, s.content_hash, s.story_id, s.created_at, s.published_date, s.title,
       coalesce(s.canonical_url, s.url) AS url, s.topic_ids,
       coalesce((SELECT array_agg(e.key) FROM entities e WHERE e.id = ANY(s.entity_ids)), '{}')
           AS entity_keys,
       similarity(
           me.card,
           s.title || ' ' || s.summary || ' '
               || coalesce((SELECT string_agg(d ->> 'text', ' ')
                            FROM jsonb_array_elements(s.key_details) d), '')
       ) AS text_similarity,
       CASE WHEN oe.model = me.model AND oe.dims = me.dims
            THEN 1 - (oe.embedding <=> me.embedding) END AS cosine
FROM signals s
CROSS JOIN me
LEFT JOIN signal_embeddings oe ON oe.signal_id = s.id
WHERE s.id = ANY($2::uuid[]) AND s.is_current AND s.id <> $1 AND s.supplier_id IS NULL
"""
"""related_candidate_features before migration 0029: similarity() makes both cards' trigrams."""


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    settings = relating_settings(args.data_dir)
    async with open_runtime(settings, extraction=False) as rt, rt.db.pool.acquire() as conn:
        sample = "SELECT id FROM signals WHERE is_current ORDER BY random() LIMIT 1000"
        ids = [r["id"] for r in await conn.fetch(sample)]
        rng = random.Random(29)
        state: dict[str, Any] = {}
        sizes: list[int] = []
        worst = 0.0

        async def draw_async() -> None:
            got = await repository.get_subject(conn, rng.choice(ids))
            assert got is not None
            subject = got[0]
            nearest = await candidates.nearest_ids(rt.embedder, conn, subject, use_meaning=True)
            more = await candidates.candidate_ids(conn, subject, text=True)
            state["subject"], state["ids"] = subject, list(dict.fromkeys(nearest + more))
            sizes.append(len(state["ids"]))

        async def sql_similarity() -> None:
            rows = await conn.fetch(BASELINE, state["subject"].id, state["ids"])
            state["sql"] = {r["id"]: r["text_similarity"] for r in rows}

        async def stored() -> None:
            found = await candidates.candidate_features(conn, state["subject"], state["ids"])
            state["stored"] = {c.id: c.text_similarity for c in found}

        rounds: list[UUID] = []
        times: dict[str, list[float]] = {"similarity() in SQL": [], "stored trigrams": []}
        for _ in range(args.rounds + 1):  # the first round warms up
            await draw_async()
            got = await interleaved(
                {"similarity() in SQL": sql_similarity, "stored trigrams": stored}, 1, rng, warmup=0
            )
            if rounds:
                for name, samples in got.items():
                    times[name] += samples
            rounds.append(state["subject"].id)
            for key, value in state["sql"].items():
                worst = max(worst, abs(value - state["stored"][key]))
    print(f"{args.rounds} rounds on {len(ids):,} sampled signals ({args.data_dir}); "
          f"candidates per round: mean {sum(sizes[1:]) / max(1, len(sizes) - 1):.1f}")  # fmt: skip
    for name, samples in times.items():
        p50, p99 = percentiles(samples)
        print(f"{name:<20} p50 {p50:8.2f} ms  p99 {p99:8.2f} ms")
    b50, b99 = percentiles(times["similarity() in SQL"])
    s50, s99 = percentiles(times["stored trigrams"])
    print(f"stored / SQL: p50 {s50 / b50:.3f}  p99 {s99 / b99:.3f}; "
          f"largest similarity difference {worst:.2e}")  # fmt: skip


if __name__ == "__main__":
    uvloop.run(main())
