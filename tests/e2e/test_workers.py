"""Durable jobs across real worker processes: a killed worker's job is finished by another,
and two workers never run one job twice."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from service.app import create_app
from tests.e2e.conftest import start_signals
from tests.support.articles import article_text
from tests.support.keys import new_key
from tests.support.servers import running_asgi

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def api(make_settings: Any, stub: Any) -> Iterator[str]:
    """The API alone (no worker in it): jobs wait for the worker processes."""
    settings = make_settings(openai_base_url=f"{stub.base}/v1", llm_model="signals-stub", openai_api_key="x")
    with running_asgi(create_app(settings, worker=False)) as base:
        yield base


@pytest.fixture(scope="module")
async def writer_key(database_url: str) -> str:
    return await new_key(database_url, name="w", scopes=["signals:write", "signals:read"])


def submit_text(api: str, key: str, seed: int) -> str:
    title, paragraphs = article_text(seed)
    response = httpx.post(
        f"{api}/v1/signals",
        json={"text": "\n\n".join(paragraphs), "title": title},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def job_state(api: str, key: str, job_id: str) -> dict[str, Any]:
    return dict(httpx.get(f"{api}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {key}"}).json())


def wait_until(predicate: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def stop(proc: Any) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _, stderr = proc.communicate(timeout=60)
    except Exception:
        proc.kill()
        _, stderr = proc.communicate()
    return str(stderr)


def test_a_job_whose_worker_is_killed_is_finished_by_another(api, writer_key, signals_env, stub):
    env = {**signals_env, "SIGNALS_JOB_HEARTBEAT_SECONDS": "2"}
    stub.state.reset()
    stub.state.push_faults([{"kind": "delay", "seconds": 60}])  # the first worker hangs in the LLM call
    first = start_signals("worker", env=env)
    second = None
    try:
        job_id = submit_text(api, writer_key, 50)
        wait_until(lambda: job_state(api, writer_key, job_id)["status"] == "analyzing", 60, "analyzing")
        # The hanging call has taken its fault from the stub: the worker is inside the LLM call.
        wait_until(lambda: stub.state.stats()["pending_faults"] == 0, 10, "the LLM call")
        first.kill()  # SIGKILL: no cleanup, no goodbye
        first.wait()
        second = start_signals("worker", env=env)
        wait_until(
            lambda: job_state(api, writer_key, job_id)["status"] in ("done", "failed"), 90, "the retake"
        )
        job = job_state(api, writer_key, job_id)
        assert job["status"] == "done", job
        assert job["attempts"] == 2
        assert stub.state.stats()["chat_completions"] == 2
    finally:
        first.kill()
        if second is not None:
            stop(second)


async def test_two_workers_never_run_one_job_twice(api, writer_key, signals_env, stub, db):
    stub.state.reset()
    stub.state.push_faults([{"kind": "delay", "seconds": 0.3}] * 8)  # keep jobs in flight together
    workers = [start_signals("worker", env=signals_env) for _ in range(2)]
    try:
        job_ids = [submit_text(api, writer_key, 60 + i) for i in range(8)]
        wait_until(
            lambda: all(job_state(api, writer_key, j)["status"] in ("done", "failed") for j in job_ids),
            120,
            "all jobs",
        )
        jobs = [job_state(api, writer_key, j) for j in job_ids]
        assert all(j["status"] == "done" for j in jobs), jobs
        assert all(j["attempts"] == 1 for j in jobs)
        assert stub.state.stats()["chat_completions"] == 8
        assert len({j["signal_id"] for j in jobs}) == 8
    finally:
        logs = [stop(w) for w in workers]
    # Both workers took part (the queue spreads work across processes).
    assert all("worker running" in log for log in logs)
    assert await db.fetchval("SELECT count(*) FROM signals") >= 8
