"""The briefing schedule with two workers running: each slot fires once, the period's briefing
is written once, and an empty period is skipped without a model call.

Two complete in-process workers (each its own Runtime, database connections, queue worker and
SchedulerManager) share one real PostgreSQL, as two `signals worker` processes would. The cron
fires every two seconds (pgqueuer reads six-field crons with seconds) instead of at 06:00.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from service.digests.schedule import digest_crons, run_digest_scheduler
from service.digests.service import schedule_digest, write_digest_job
from service.jobs.worker import run_worker
from service.runtime import open_runtime
from tests.support.seeding import SeedSignal, seed_signal

pytestmark = pytest.mark.timeout(120)

EVERY_TWO_SECONDS = "* * * * * */2"


@pytest.fixture
def settings(make_settings: Any, stub: SimpleNamespace) -> Any:
    stub.state.reset()
    return make_settings(
        openai_base_url=f"{stub.base}/v1",
        openai_api_key="test-key",
        llm_model="signals-stub",
        digest_daily_at=None,  # the workers' default schedule is off; the test runs its own
        job_heartbeat_seconds=5,
    )


async def seed_day(db: Any, day: date, title: str) -> None:
    """Three signals on ``day`` (09:00-11:00 UTC) on two topics; ``title`` has an ``{i}``."""
    for i in range(3):
        await seed_signal(
            db,
            SeedSignal(
                title=title.format(i=i),
                topics=["Energy policy" if i % 2 else "Rail"],
                created_at=datetime.combine(day, time(9 + i), UTC),
            ),
        )


def test_the_setting_becomes_daily_and_monday_crons():
    assert digest_crons("06:00") == {"daily": "0 6 * * *", "weekly": "0 6 * * 1"}
    assert digest_crons("23:45") == {"daily": "45 23 * * *", "weekly": "45 23 * * 1"}
    assert digest_crons(None) == {}


async def test_two_workers_fire_each_slot_once_and_write_the_day_once(settings, stub, db, caplog):
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    await seed_day(db, yesterday, "Scheduled signal {i} about the grid")
    caplog.set_level(logging.INFO, logger="service.digests.service")
    stop = asyncio.Event()

    async def worker() -> None:
        async with open_runtime(settings, extraction=False) as rt:
            await asyncio.gather(
                run_worker(rt, stop),
                run_digest_scheduler(
                    rt.db, rt.settings.digest_daily_at, stop, crons={"daily": EVERY_TWO_SECONDS}
                ),
            )

    workers = [asyncio.create_task(worker()) for _ in range(2)]
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while len(fired(caplog)) < 4:  # four slots: the first writes, three find it done
            assert asyncio.get_running_loop().time() < deadline, caplog.text
            assert not any(w.done() for w in workers), [w.exception() for w in workers if w.done()]
            await asyncio.sleep(0.2)
        while await db.fetchval("SELECT count(*) FROM digest_jobs WHERE status IN ('queued', 'writing')"):
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.gather(*workers)

    slots = fired(caplog)
    assert all(count == 1 for count in slots.values()), slots  # no slot fired twice
    assert [r.getMessage() for r in caplog.records].count(
        f"daily briefing of {yesterday} written: version 1, 3 signals, 2 LLM calls"
    ) == 1
    jobs = await db.fetch("SELECT trigger, status, period_start FROM digest_jobs")
    assert [(j["trigger"], j["status"], j["period_start"]) for j in jobs] == [("schedule", "done", yesterday)]
    digests = await db.fetch("SELECT version, trigger FROM digests WHERE period_start = $1", yesterday)
    assert [(d["version"], d["trigger"]) for d in digests] == [(1, "schedule")]
    assert stub.state.stats()["chat_completions"] == 2
    # pgqueuer keeps one schedule row per (entrypoint, cron), shared by both schedulers.
    assert await db.fetchval("SELECT count(*) FROM pgqueuer_schedules WHERE entrypoint = 'digest_daily'") == 1


def fired(caplog: Any) -> Counter[str]:
    """Slot → how many times a scheduler fired for it (from the service's log records)."""
    slots: Counter[str] = Counter()
    for record in caplog.records:
        if record.name == "service.digests.service" and "(slot " in record.getMessage():
            slots[record.getMessage().split("(slot ")[1].split(")")[0]] += 1
    return slots


async def test_an_empty_period_is_skipped_without_a_model_call(settings, stub, db, caplog):
    caplog.set_level(logging.INFO, logger="service.digests.service")
    # A Monday slot years back: the previous week has no signals in this database.
    slot = datetime(2020, 6, 8, 6, 0, tzinfo=UTC)
    async with open_runtime(settings, extraction=False) as rt:
        job = await schedule_digest(rt.db.pool, "weekly", slot)
        assert job is not None and job.period_start.isoformat() == "2020-06-01"
        assert await schedule_digest(rt.db.pool, "weekly", slot) is None  # a second firing: nothing
        await write_digest_job(rt.db.pool, rt.settings, rt.analyzer, job.id)
    row = await db.fetchrow("SELECT status, digest_id FROM digest_jobs WHERE id = $1", job.id)
    assert row["status"] == "empty" and row["digest_id"] is None
    assert stub.state.stats()["chat_completions"] == 0
    assert "weekly briefing of 2020-06-01 skipped: no signals entered in the period" in caplog.text


@pytest.mark.parametrize(
    ("failures", "status", "attempts"),
    [(1, "done", 2), (3, "failed", 3)],  # a passing outage is ridden out; a lasting one gives up
)
async def test_a_scheduled_briefing_is_tried_again_after_a_passing_model_failure(
    make_settings, stub, db, failures, status, attempts
):
    settings = make_settings(
        openai_base_url=f"{stub.base}/v1",
        openai_api_key="test-key",
        llm_model="signals-stub",
        digest_daily_at=None,
        llm_http_retries=0,  # each 503 fails one attempt outright
        digest_retry_schedule=[0.3, 0.3],
    )
    stub.state.reset()
    day = datetime(2021, 3, 9 + failures, tzinfo=UTC).date()  # a day of its own per case
    # three signals: a one-signal day is written without the model
    await seed_day(db, day, f"Retry test {failures}: grid signal {{i}}")
    stub.state.push_faults([{"kind": "status", "status": 503}] * failures)
    stop = asyncio.Event()
    async with open_runtime(settings, extraction=False) as rt:
        job = await schedule_digest(
            rt.db.pool, "daily", datetime.combine(day + timedelta(days=1), time(6), UTC)
        )
        assert job is not None
        runner = asyncio.create_task(run_worker(rt, stop))
        try:
            deadline = asyncio.get_running_loop().time() + 30
            while (await db.fetchval("SELECT status FROM digest_jobs WHERE id = $1", job.id)) not in (
                "done",
                "failed",
            ):
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            await runner
    row = await db.fetchrow("SELECT status, attempts, error_code FROM digest_jobs WHERE id = $1", job.id)
    assert (row["status"], row["attempts"]) == (status, attempts)
    assert row["error_code"] == (None if status == "done" else "llm_unavailable")
    written = await db.fetchval("SELECT count(*) FROM digests WHERE period_start = $1", day)
    assert written == (1 if status == "done" else 0)
