"""Stories at scale: the story endpoints and ``collapse=story`` on a seeded corpus.

    .venv/bin/python -m bench.stories --data-dir /tmp/signals-bench-100k [--reads 200]

Needs a database made by ``bench.seed`` (its stories step: one story per event, ~3 signals
each). The API runs in its own process (``signals serve --no-worker``); one keep-alive client
(``bench.rawhttp``) sends one request at a time, every measure once per round in shuffled
order, random parameters each time:

- a topic's list page, newest first, and the same page with ``collapse=story`` (one signal
  per story): what collapsing costs, as a ratio;
- GET /v1/stories: the first page, and a later page (from a cursor met walking the pages);
- GET /v1/stories/{id} (sources and signals) and GET /v1/signals?story={id};
- the same story list and story for a key restricted to one mid-frequency topic, and for a
  key restricted to one of the three biggest topics (a third of all signals).

Then, in this process on one connection, the topic-restricted story page as it was first
written (every visible signal of the key's topics aggregated per story, then the page taken:
``RESTRICTED_BEFORE``) against the repository call the endpoint makes now
(a walk of the key's signals newest first), page 1 and a later page for both keys,
interleaved in shuffled order, every pair checked to give the same page.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
import uvloop

from bench.corpus_reads import list_params, percentiles, running_api
from bench.interleave import interleaved
from bench.rawhttp import RawClient
from bench.seed import bench_settings
from service.db.database import Database
from service.keys.service import create_key
from service.stories import repository as stories_repository
from service.stories.repository import StoryRow

GOAL_MS = 30.0  # the goal for a list page at 1M, p99

RESTRICTED_BEFORE = """
WITH per_story AS (
    SELECT s.story_id,
           count(*) AS signal_count,
           min(s.created_at) AS first_seen,
           max(s.created_at) AS last_seen,
           (array_agg(s.id ORDER BY s.created_at DESC, s.id DESC))[1] AS lead_signal_id,
           (array_agg(s.title ORDER BY s.created_at DESC, s.id DESC))[1] AS title
    FROM signals s
    WHERE s.is_current AND s.story_id IS NOT NULL AND s.topic_ids && $1::bigint[]
    GROUP BY s.story_id
)
SELECT story_id AS id, title, lead_signal_id, signal_count, first_seen, last_seen
FROM per_story
WHERE $2::timestamptz IS NULL OR (last_seen, story_id) < ($2::timestamptz, $3::uuid)
ORDER BY last_seen DESC, story_id DESC
LIMIT $4
"""


async def pick(conn: Any) -> dict[str, Any]:
    """Every topic by size, the mid-frequency and head ones (as bench.queries picks them), and
    a sample of stories."""
    topics = await conn.fetch(
        """SELECT t.id, t.slug, count(*) AS n FROM signal_topics st JOIN topics t ON t.id = st.topic_id
           GROUP BY t.id, t.slug ORDER BY n DESC"""
    )
    mid = topics[len(topics) // 10 : len(topics) // 4]
    stories = await conn.fetch(
        "SELECT id FROM stories TABLESAMPLE SYSTEM (5) WHERE signal_count > 1 LIMIT 3000"
    )
    if not stories:
        raise SystemExit("no stories: run bench.seed again (its stories step)")
    return {"all": topics, "mid": mid, "head": topics[:3], "stories": [row["id"] for row in stories]}


async def stories_on(conn: Any, topic_id: int) -> list[Any]:
    """Stories with a current signal on the topic (what a key restricted to it can open)."""
    rows = await conn.fetch(
        """SELECT DISTINCT story_id FROM signals
           WHERE is_current AND story_id IS NOT NULL AND topic_ids && ARRAY[$1]::bigint[] LIMIT 1000""",
        topic_id,
    )
    return [row["story_id"] for row in rows]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--reads", type=int, default=200, help="timed requests per measure")
    parser.add_argument("--pages", type=int, default=50, help="story pages walked for later-page cursors")
    parser.add_argument("--compare-rounds", type=int, default=30, help="before / now comparison rounds")
    args = parser.parse_args()
    db = Database(bench_settings(args.data_dir))
    await db.open()
    assert db.dsn is not None
    try:
        conn = await db.connect()
        total = await conn.fetchval("SELECT count(*) FROM signals WHERE is_current")
        stories = await conn.fetchval("SELECT count(*) FROM stories WHERE signal_count > 0")
        picked = await pick(conn)
        mid_topic, head_topic = random.Random(3).choice(picked["mid"]), picked["head"][0]
        keys = {}
        for name, topic_ids in (("all", None), ("mid", [mid_topic["id"]]), ("head", [head_topic["id"]])):
            created = await create_key(
                conn,
                name=f"bench stories {name}",
                scopes=["signals:read"],
                topic_ids=topic_ids,
                rate_per_second=100_000,
                burst=1_000_000,
            )
            keys[name] = created.key
        print(
            f"corpus: {total:,} current signals in {stories:,} stories; restricted keys: "
            f"{mid_topic['slug']} ({mid_topic['n']:,} signals), {head_topic['slug']} ({head_topic['n']:,})"
        )
        picked["mid_stories"] = await stories_on(conn, mid_topic["id"])
        picked["head_stories"] = await stories_on(conn, head_topic["id"])
        results = await measure(db.dsn, keys, picked, args.reads, args.pages)
        middle = picked["all"][len(picked["all"]) // 2]  # the median topic, for the comparison
        print(f"comparison also on the median topic: {middle['slug']} ({middle['n']:,} signals)")
        compared = await compare_restricted(
            conn,
            {
                "head-topic key": head_topic["id"],
                "mid-topic key": mid_topic["id"],
                "median-topic key": middle["id"],
            },
            args.compare_rounds,
        )
        await conn.close()
    finally:
        await db.close()
    report(results)
    report_compared(compared)


Run = Callable[[], Awaitable[list[StoryRow]]]


async def compare_restricted(
    conn: Any, topics: dict[str, int], rounds: int
) -> dict[str, tuple[list[float], list[float]]]:
    """The restricted story page before and now, side by side; each pair gives the same page."""

    def before(topic: int, position: StoryRow | None) -> Run:
        async def run() -> list[StoryRow]:
            after = (position.last_seen, position.id) if position else (None, None)
            rows = await conn.fetch(RESTRICTED_BEFORE, [topic], *after, 21)
            return [StoryRow(**dict(row)) for row in rows]

        return run

    def now(topic: int, position: StoryRow | None) -> Run:
        async def run() -> list[StoryRow]:
            return await stories_repository.list_stories_page(
                conn,
                after_seen=position.last_seen if position else None,
                after_id=position.id if position else None,
                limit=21,
                restrict_topics=[topic],
            )

        return run

    cases: dict[str, tuple[Run, Run]] = {}
    for name, topic in topics.items():
        cases[f"{name}, page 1"] = (before(topic, None), now(topic, None))
        # a later page: after the 20th story of the fifth page
        position: StoryRow | None = None
        for _ in range(5):
            page = await now(topic, position)()
            if len(page) < 21:
                break  # a topic with fewer than six pages of stories: its last full page
            position = page[19]
        cases[f"{name}, page 6"] = (before(topic, position), now(topic, position))
    rng = random.Random(23)
    timings: dict[str, tuple[list[float], list[float]]] = {case: ([], []) for case in cases}
    for _ in range(rounds):
        order = [(case, which) for case in cases for which in (0, 1)]
        rng.shuffle(order)
        answers: dict[str, list[list[StoryRow]]] = {case: [[], []] for case in cases}
        for case, which in order:
            started = time.perf_counter()
            answers[case][which] = await cases[case][which]()
            timings[case][which].append(time.perf_counter() - started)
        for case, (old, new) in answers.items():
            if old != new:
                raise AssertionError(f"{case}: the statements disagree\nbefore {old[:3]}\nnow    {new[:3]}")
    return timings


async def measure(
    dsn: str,
    keys: dict[str, str],
    picked: dict[str, Any],
    reads: int,
    pages: int,
) -> dict[str, list[float]]:
    rng = random.Random(17)
    stories, mid_stories, head_stories = picked["stories"], picked["mid_stories"], picked["head_stories"]
    topics = [t["slug"] for t in picked["mid"]]
    with running_api(dsn) as base:
        clients = {name: RawClient(base, {"Authorization": f"Bearer {key}"}) for name, key in keys.items()}
        for client in clients.values():
            await client.__aenter__()
        try:

            async def get(target: str, key: str = "all") -> bytes:
                response = await clients[key].get(target)
                if response.status != 200:
                    raise AssertionError(f"{target}: {response.status} {bytes(response.body[:300])!r}")
                return bytes(response.body)

            async def later_pages(key: str) -> list[str]:
                """Targets of story pages 2..pages, walking from the first."""
                found, target = [], RawClient.target("/v1/stories", {"limit": 20})
                for _ in range(pages):
                    page = msgspec.json.decode(await get(target, key))
                    if not page.get("next"):
                        break
                    parts = urlsplit(page["next"])
                    target = f"{parts.path}?{parts.query}"
                    found.append(target)
                return found

            later = {name: await later_pages(name) for name in keys}
            round_topic = [topics[0]]

            def target(path: str, **query: Any) -> str:
                return RawClient.target(path, query)

            runs: dict[str, Callable[[], Awaitable[Any]]] = {
                "list p1, newest": lambda: get(target("/v1/signals", **list_params(round_topic[0]))),
                "list p1, collapse=story": lambda: get(
                    target("/v1/signals", **list_params(round_topic[0]), collapse="story")
                ),
                "stories p1": lambda: get(target("/v1/stories", limit=20)),
                "stories, a later page": lambda: get(rng.choice(later["all"])),
                "story (sources, signals)": lambda: get(f"/v1/stories/{rng.choice(stories)}"),
                "signals of a story": lambda: get(target("/v1/signals", story=rng.choice(stories))),
                "mid-topic key: stories p1": lambda: get(target("/v1/stories", limit=20), "mid"),
                "mid-topic key: stories, a later page": lambda: get(rng.choice(later["mid"]), "mid"),
                "mid-topic key: story": lambda: get(f"/v1/stories/{rng.choice(mid_stories)}", "mid"),
                "head-topic key: stories p1": lambda: get(target("/v1/stories", limit=20), "head"),
                "head-topic key: stories, a later page": lambda: get(rng.choice(later["head"]), "head"),
                "head-topic key: story": lambda: get(f"/v1/stories/{rng.choice(head_stories)}", "head"),
            }

            def draw_topic() -> None:
                round_topic[0] = rng.choice(topics)

            results = await interleaved(runs, reads, rng, warmup=10, each_round=draw_topic)
            return results
        finally:
            for client in clients.values():
                await client.__aexit__(None, None, None)


def report(results: dict[str, list[float]]) -> None:
    reads = len(next(iter(results.values())))
    print(f"reads={reads} per measure (ms; one client, one request at a time, measures interleaved)")
    print(f"{'measure':40s} {'p50':>8s} {'p99':>8s}  note")
    newest = percentiles(results["list p1, newest"])
    for name, samples in results.items():
        p50, p99 = percentiles(samples)
        note = f"p99 {'within' if p99 < GOAL_MS else 'OVER'} the list goal ({GOAL_MS:.0f} ms)"
        if name == "list p1, collapse=story":
            note += f"; collapse/newest p50 {p50 / newest[0]:.2f}x p99 {p99 / newest[1]:.2f}x"
        print(f"{name:40s} {p50:8.2f} {p99:8.2f}  {note}")


def ratio(before: float, now: float) -> str:
    return f"{before / now:.1f}x faster" if before >= now else f"{now / before:.1f}x slower"


def report_compared(compared: dict[str, tuple[list[float], list[float]]]) -> None:
    rounds = len(next(iter(compared.values()))[0])
    print(f"\nrestricted story page, {rounds} rounds (ms; interleaved in shuffled order; same pages)")
    print(f"{'case':28s} {'before p50 / p99':>18s} {'now p50 / p99':>16s}  now against before, p50 / p99")
    for case, (old, new) in compared.items():
        (b50, b99), (n50, n99) = percentiles(old), percentiles(new)
        print(
            f"{case:28s} {b50:8.2f} / {b99:7.2f} {n50:7.2f} / {n99:6.2f}  "
            f"{ratio(b50, n50)} / {ratio(b99, n99)}"
        )


if __name__ == "__main__":
    uvloop.run(main())
