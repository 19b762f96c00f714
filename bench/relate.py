"""Where a relate step's time goes on a seeded corpus, and its word-sharing candidates before
and after they were limited to a signal's rarest words.

    .venv/bin/python -m bench.relate --data-dir /tmp/signals-bench-1m [--rounds 10]

Needs a database made by ``bench.seed``. For a random current signal per round, in this
process on one connection, every query the relate step runs to find candidates (the story
search's and related coverage's: nearest by embedding, sharing names, sharing topics, sharing
words, their features, the rarity of names and topics), each once per round in shuffled
order, and the word-sharing query as it was before (``TEXT_BEFORE``: every word of the
headline and claim, matched and ranked on the full search vector). Printed: p50/p99 per
query, the ratio now/before for the word query, and how many of the old query's candidates
the new one also finds (the rest are found by none of the words it kept). Likewise the story
search's signals sharing names, before (``NAMES_BEFORE``: all signals naming them, filtered
on the window's start) and now (the window walked, both ends), with how many of the old
candidates a story could take (created within the window) the new query also finds. And
related coverage's candidates sharing names and topics over all time, before
(``NAMES_ALL_BEFORE``, ``TOPICS_BEFORE``: every signal naming them or on them, counted) and
now (the rarest read whole, the common newest first), with how many of the old candidates
ranked above the old k-th one (so not a tie at the cut) the new query also finds.
"""

from __future__ import annotations

import argparse
import random
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import uvloop

from bench.corpus_reads import percentiles
from bench.interleave import interleaved
from bench.seed import relating_settings
from service.related import repository
from service.runtime import open_runtime
from service.similarity.features import Subject
from service.stories import candidates as search_reads
from service.stories.matching import StoryRule

ENTITY_K = search_reads.ENTITY_CANDIDATES
WITHIN = "SELECT id FROM signals WHERE id = ANY($1::uuid[]) AND created_at <= $2"

NAMES_BEFORE_TEMPLATE = """
WITH spellings AS (
    SELECT e.id, e.key FROM entities e
    WHERE e.type IN ('person', 'organization', 'product', 'place') AND e.key = ANY($1::text[])
), sharing AS (
    SELECT DISTINCT se.signal_id, sp.key FROM spellings sp JOIN signal_entities se ON se.entity_id = sp.id
), weights AS (
    SELECT sh.key, 1.0 / count(*) AS weight
    FROM sharing sh JOIN signals s ON s.id = sh.signal_id AND s.is_current
    GROUP BY sh.key
)
SELECT sh.signal_id, sum(w.weight) AS weight
FROM sharing sh JOIN weights w USING (key) JOIN signals s ON s.id = sh.signal_id
WHERE s.is_current AND s.id <> $2{since}
GROUP BY sh.signal_id
ORDER BY weight DESC, max(s.created_at) DESC
LIMIT ${k}
"""

# related coverage's (all time) and the story search's (from the window's start), as they were
NAMES_ALL_BEFORE = NAMES_BEFORE_TEMPLATE.format(since="", k=3)
NAMES_BEFORE = NAMES_BEFORE_TEMPLATE.format(since=" AND s.created_at >= $3", k=4)

TOPICS_BEFORE = """
WITH sharing AS (
    SELECT st.signal_id, st.topic_id
    FROM signal_topics st JOIN signals s ON s.id = st.signal_id AND s.is_current
    WHERE st.topic_id = ANY($1::bigint[])
), weights AS (
    SELECT topic_id, 1.0 / count(*) AS weight FROM sharing GROUP BY topic_id
)
SELECT sh.signal_id, sum(w.weight) AS weight
FROM sharing sh JOIN weights w USING (topic_id)
WHERE sh.signal_id <> $2
GROUP BY sh.signal_id
ORDER BY weight DESC
LIMIT $3
"""

TEXT_BEFORE = """
WITH query AS (
    SELECT (
        SELECT string_agg(quote_literal(lexeme) || ':AB', ' | ')
        FROM unnest(tsvector_to_array(to_tsvector('english', $2))) AS lexeme
    )::tsquery AS tsq
)
SELECT s.id AS signal_id, ts_rank(s.search, query.tsq) AS weight
FROM signals s, query
WHERE s.search @@ query.tsq AND s.is_current AND s.id <> $1
ORDER BY weight DESC
LIMIT $3
"""


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    settings = relating_settings(args.data_dir)
    rule = StoryRule.from_settings(settings)
    async with open_runtime(settings, extraction=False) as rt, rt.db.pool.acquire() as conn:
        sample = "SELECT id FROM signals WHERE is_current ORDER BY random() LIMIT 1000"
        ids = [r["id"] for r in await conn.fetch(sample)]
        rng = random.Random(11)
        state: dict[str, Any] = {}
        found: dict[str, list[set[UUID]]] = {"before": [], "now": []}
        names_found: dict[str, list[set[UUID]]] = {"before": [], "now": []}
        names_until: list[datetime] = []
        # all-time names and topics: the old query's candidates above its k-th weight, the new ones
        above_cut: dict[str, list[set[UUID]]] = {"names": [], "topics": []}
        now_found: dict[str, list[set[UUID]]] = {"names": [], "topics": []}

        async def subject() -> Subject:
            got = await repository.get_subject(conn, state["id"])
            assert got is not None
            return got[0]

        def draw() -> None:
            state["id"] = rng.choice(ids)

        async def in_tx(fn: Any) -> Any:
            async with conn.transaction():  # the kNN's search options are local
                return await fn(await subject())

        def text_of(s: Subject) -> str:
            return s.title + " " + s.summary

        async def words_before(s: Subject) -> None:
            rows = await conn.fetch(TEXT_BEFORE, s.id, text_of(s), search_reads.TEXT_CANDIDATES)
            found["before"].append({r["signal_id"] for r in rows})

        async def words_now(s: Subject) -> None:
            got = await search_reads.signals_with_similar_text(
                conn, s.id, text_of(s), search_reads.TEXT_CANDIDATES
            )
            found["now"].append(set(got))

        async def candidates(s: Subject) -> list[UUID]:
            nearest = await search_reads.nearest_ids(rt.embedder, conn, s, use_meaning=True)
            return nearest + await search_reads.candidate_ids(conn, s, text=False)

        async def features(s: Subject) -> None:
            await search_reads.candidate_features(conn, s, list(dict.fromkeys(await candidates(s))))

        async def rarity_entities(s: Subject) -> None:
            feats = await search_reads.candidate_features(conn, s, list(dict.fromkeys(await candidates(s))))
            await search_reads.rarity(conn, search_reads.entity_keys(s, feats), set())

        async def rarity_topics(s: Subject) -> None:
            feats = await search_reads.candidate_features(conn, s, list(dict.fromkeys(await candidates(s))))
            await search_reads.rarity(conn, set(), set(s.topic_ids).union(*(c.topic_ids for c in feats)))

        async def nearest(s: Subject) -> None:
            await search_reads.nearest_ids(rt.embedder, conn, s, use_meaning=True)

        async def names_in_window_before(s: Subject) -> None:
            since = s.created_at - rule.window
            rows = await conn.fetch(NAMES_BEFORE, sorted(s.entity_keys), s.id, since, ENTITY_K)
            names_found["before"].append({r["signal_id"] for r in rows})
            names_until.append(s.created_at + rule.window)

        async def names_in_window(s: Subject) -> None:
            within = (s.created_at - rule.window, s.created_at + rule.window)
            keys = sorted(s.entity_keys)
            got = await search_reads.signals_sharing_entities(conn, s.id, keys, within=within, k=ENTITY_K)
            names_found["now"].append(set(got))

        def cut(rows: list[Any]) -> set[UUID]:
            """The rows ranked above the last one's weight: in any exact top k."""
            return {r["signal_id"] for r in rows if rows and r["weight"] > rows[-1]["weight"]}

        async def names_before(s: Subject) -> None:
            rows = await conn.fetch(NAMES_ALL_BEFORE, sorted(s.entity_keys), s.id, ENTITY_K)
            above_cut["names"].append(cut(rows))

        async def names(s: Subject) -> None:
            keys = sorted(s.entity_keys)
            got = await search_reads.signals_sharing_entities(conn, s.id, keys, within=None, k=ENTITY_K)
            now_found["names"].append(set(got))

        async def topics_before(s: Subject) -> None:
            rows = await conn.fetch(TOPICS_BEFORE, sorted(s.topic_ids), s.id, search_reads.TOPIC_CANDIDATES)
            above_cut["topics"].append(cut(rows))

        async def topics(s: Subject) -> None:
            got = await search_reads.signals_sharing_topics(
                conn, s.id, sorted(s.topic_ids), search_reads.TOPIC_CANDIDATES
            )
            now_found["topics"].append(set(got))

        steps = {
            "nearest by embedding (k=50)": nearest,
            "sharing names, story window, before": names_in_window_before,
            "sharing names, story window": names_in_window,
            "sharing names, any time, before": names_before,
            "sharing names, any time": names,
            "sharing topics, before": topics_before,
            "sharing topics": topics,
            "sharing words, before": words_before,
            "sharing words, now": words_now,
            "candidates + features": features,
            "candidates + rarity of names": rarity_entities,
            "candidates + rarity of topics": rarity_topics,
        }
        runs = {name: (lambda fn=fn: in_tx(fn)) for name, fn in steps.items()}
        times = await interleaved(runs, args.rounds, rng, warmup=1, each_round=draw)
        # the old query's candidates a story could take: those within the window after the subject too
        usable = [
            {r["id"] for r in await conn.fetch(WITHIN, list(ids), until)}
            for ids, until in zip(names_found["before"], names_until, strict=True)
        ]
    for label in found:
        del found[label][:1]  # the warm-up call
    kept = [len(b & n) / len(b) for b, n in zip(found["before"], found["now"], strict=True) if b]
    kept_names = [len(b & n) / len(b) for b, n in zip(usable[1:], names_found["now"][1:], strict=True) if b]
    print(f"{args.rounds} rounds on {len(ids):,} sampled signals")
    for name, samples in times.items():
        p50, p99 = percentiles(samples)
        print(f"{name:<36} p50 {p50:9.2f} ms  p99 {p99:9.2f} ms")
    b50, b99 = percentiles(times["sharing words, before"])
    n50, n99 = percentiles(times["sharing words, now"])
    print(f"sharing words now/before: p50 {n50 / b50:.4f}  p99 {n99 / b99:.4f}")
    w50, w99 = percentiles(times["sharing names, story window, before"])
    n50, n99 = percentiles(times["sharing names, story window"])
    print(f"sharing names in the story window now/before: p50 {n50 / w50:.3g}  p99 {n99 / w99:.3g}")
    for what, label in (("names", "sharing names, any time"), ("topics", "sharing topics")):
        b50, b99 = percentiles(times[label + ", before"])
        n50, n99 = percentiles(times[label])
        print(f"{label} now/before: p50 {n50 / b50:.3g}  p99 {n99 / b99:.3g}")
        pairs = list(zip(above_cut[what][1:], now_found[what][1:], strict=True))
        shares = [len(b & n) / len(b) for b, n in pairs if b]
        if shares:
            print(
                f"  the old candidates above the old k-th weight the new query also finds: "
                f"mean {sum(shares) / len(shares):.0%}, all of them in {sum(x == 1 for x in shares)}"
                f" of {len(shares)} rounds"
            )
    if kept_names:
        share = sum(kept_names) / len(kept_names)
        print(f"the old window candidates a story could take that the new query also finds: mean {share:.0%}")
    if kept:
        print(f"the old word candidates the new query also finds: mean {sum(kept) / len(kept):.0%}")


if __name__ == "__main__":
    uvloop.run(main())
