"""Writing a daily briefing of a busy day: prompt tokens against the cards it includes, LLM
calls, and wall time, with the stub LLM over HTTP and an embedded PostgreSQL.

    .venv/bin/python -m bench.digests [--signals 200] [--runs 5]

The yardstick is the sum of the included signals' full cards (title, summary, key details,
topics, entities, source) as the prompt renders them: a single call sending every included
card would cost that plus its instructions and schema. Token counts are the stub's (about
four characters a token, as the budget estimates), so the ratio is what matters.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

import asyncpg

from service.db.database import Database, init_connection
from service.digests import repository
from service.digests.service import write_digest_job
from service.digests.writing import card_tokens
from service.llmstub import StubState, create_stub_app
from service.runtime import open_runtime
from service.settings import Settings
from service.signals import repository as signals_repository
from service.stories import repository as stories
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi

DAY = date(2026, 9, 1)
TOPICS = ["AI infrastructure", "Energy policy", "Semiconductors", "Rail", "Health", "Media", "Water"]
WORDS = [
    "grid",
    "model",
    "chip",
    "plant",
    "tariff",
    "launch",
    "outage",
    "merger",
    "permit",
    "benchmark",
    "cluster",
    "contract",
]


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


async def seed_day(conn: asyncpg.Connection, count: int, rng: random.Random) -> None:
    """``count`` signals on DAY with card-sized fields; a fifth of them in stories of 2-4."""
    ids = []
    for i in range(count):
        seed = SeedSignal(
            title=f"Signal {i}: " + sentence(rng, 9),
            summary=sentence(rng, 28),
            topics=rng.sample(TOPICS, 2),
            entities=[(f"Company {rng.randrange(60)}", "organization"), (f"Person {i}", "person")],
            created_at=datetime.combine(DAY, dtime(0), UTC) + timedelta(seconds=i * 86_000 // count),
            key_details=[sentence(rng, 18) for _ in range(4)],
        )
        ids.append(await seed_signal(conn, seed))
    grouped = ids[: count // 5]
    while grouped:
        size = rng.randint(2, 4)
        members, grouped = grouped[:size], grouped[size:]
        async with conn.transaction():
            story = await stories.create_story(conn, members[0])
            for member in members:
                await stories.set_signal_story(conn, member, story)
            await signals_repository.refresh_story(conn, story)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--signals", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    state = StubState()
    with running_asgi(create_stub_app(state)) as stub_base:
        settings = Settings(
            data_dir=Path(tempfile.mkdtemp(prefix="signals-bench-digests-")),
            database_url=None,
            extract_workers=1,
            openai_base_url=f"{stub_base}/v1",
            openai_api_key="bench",
            llm_model="signals-stub",
            digest_daily_at=None,
            log_level="WARNING",
        )
        db = Database(settings)
        await db.open()
        try:
            conn = await asyncpg.connect(db.dsn)
            await init_connection(conn)
            await seed_day(conn, args.signals, random.Random(7))
            await conn.close()
            settings = settings.model_copy(update={"database_url": db.dsn})
            async with open_runtime(settings, extraction=False) as rt:
                walls, ratios, calls, prompts, cards = [], [], [], [], []
                for _ in range(args.runs):
                    state.reset()
                    async with rt.db.pool.acquire() as c:
                        job = await repository.insert_digest_job(
                            c,
                            period="daily",
                            period_start=DAY,
                            topic_id=None,
                            trigger="request",
                            api_key_id=None,
                        )
                    assert job is not None
                    started = time.perf_counter()
                    await write_digest_job(rt.db.pool, rt.settings, rt.analyzer, job.id)
                    walls.append(time.perf_counter() - started)
                    async with rt.db.pool.acquire() as c:
                        done = await repository.get_digest_job(c, job.id)
                        assert done is not None, job.id
                        assert done.digest_id is not None, done
                        digest = await repository.get_digest(c, done.digest_id)
                        assert digest is not None
                        included = await repository.get_source_signals(c, digest.signal_ids, {})
                    per_call = [r["prompt_tokens"] for r in state.stats()["requests"]]
                    prompt = sum(per_call)
                    card_sum = card_tokens(included)
                    prompts.append(prompt)
                    cards.append(card_sum)
                    ratios.append(prompt / card_sum)
                    calls.append(digest.llm_calls)
        finally:
            await db.close()
    print(
        f"day of {args.signals} signals -> {digest.stories_considered} stories, "
        f"{len(digest.signal_ids)} included (SIGNALS_DIGEST_MAX_SIGNALS={settings.digest_max_signals}, "
        f"budget {settings.digest_max_input_tokens} tokens/call)"
    )
    print(
        f"prompt tokens per briefing {statistics.median(prompts):.0f} vs included cards "
        f"{statistics.median(cards):.0f}: ratio {statistics.median(ratios):.2f}x (goal <= 1.2x); "
        f"last run plan + write calls: {' + '.join(str(t) for t in per_call)}"
    )
    print(f"LLM calls per briefing {max(calls)} (goal <= 2)")
    print(
        f"wall time per briefing (select + plan + write + store, stub LLM) "
        f"median {statistics.median(walls) * 1000:.0f} ms, max {max(walls) * 1000:.0f} ms "
        f"over {args.runs} runs"
    )


if __name__ == "__main__":
    asyncio.run(main())
