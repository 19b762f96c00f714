"""Jobs and the model, end to end over real sockets (the API and its worker, the LLM stub, a
real PostgreSQL): passing failures wait in `retrying`, permanent ones fail, a stopping worker
hands its job back, and the concurrency settings bound the model calls in flight."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from service.app import create_app
from service.keys.service import create_key
from service.llmstub.server import StubState, create_stub_app
from tests.support.articles import article_page, article_text
from tests.support.servers import running_asgi

pytestmark = pytest.mark.timeout(180)


class CountingModel:
    """The LLM stub behind a door that counts chat requests in flight (and holds each a while)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.state = StubState()
        self.app = create_stub_app(self.state)
        self.delay = delay
        self.in_flight = 0
        self.most_in_flight = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/chat/completions"):
            await self.app(scope, receive, send)
            return
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


@pytest.fixture(scope="module")
def model() -> Iterator[SimpleNamespace]:
    door = CountingModel()
    with running_asgi(door) as base:
        yield SimpleNamespace(door=door, state=door.state, base=base)


@pytest.fixture(scope="module")
async def writer(database_url: str) -> str:
    conn = await asyncpg.connect(database_url)
    try:
        return (await create_key(conn, name="writer", scopes=["signals:read", "signals:write"])).key
    finally:
        await conn.close()


def _settings(make_settings: Any, base: str, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "openai_base_url": f"{base}/v1",
        "openai_api_key": "test-key",
        "llm_model": "signals-stub",
        "llm_http_retries": 0,
        "llm_timeout_seconds": 60,
        "job_heartbeat_seconds": 10,
        "job_retry_schedule": [1.0],
    }
    values.update(overrides)
    return make_settings(**values)


@pytest.fixture
async def api(make_settings: Any, model: SimpleNamespace, writer: str) -> AsyncIterator[httpx.AsyncClient]:
    model.state.reset()
    with running_asgi(create_app(_settings(make_settings, model.base), worker=True)) as base:
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {writer}"}) as http:
            yield http


async def _submit(http: httpx.AsyncClient, seed: int) -> dict[str, Any]:
    title, paragraphs = article_text(seed)
    answer = await http.post("/v1/signals", json={"text": "\n\n".join(paragraphs), "title": title})
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


async def _until(http: httpx.AsyncClient, job_id: str, statuses: tuple[str, ...], seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        job = (await http.get(f"/v1/jobs/{job_id}")).json()
        if job["status"] in statuses:
            return job
        assert time.monotonic() < deadline, f"job stuck in {job['status']}"
        await asyncio.sleep(0.05)


async def test_a_passing_model_failure_retries_later_and_then_succeeds(api, model):
    model.state.push_faults([{"kind": "status", "status": 429, "retry_after": 0}])
    job = await _submit(api, 9101)
    waiting = await _until(api, job["id"], ("retrying", "done", "failed"))
    assert waiting["status"] == "retrying"
    assert waiting["error"] is None and waiting["finished_at"] is None
    assert waiting["retry"]["code"] == "llm_rate_limited"
    wait = (datetime.fromisoformat(waiting["retry"]["at"]) - datetime.now(UTC)).total_seconds()
    assert -0.5 < wait <= 1.2  # SIGNALS_JOB_RETRY_SCHEDULE=1 with its 10 % jitter
    done = await _until(api, job["id"], ("done", "failed"))
    assert done["status"] == "done" and done["signal_id"]
    assert done["attempts"] == 2 and done["retry"] is None


async def test_a_permanent_model_failure_fails_at_once(api, model):
    model.state.push_faults([{"kind": "invalid_schema"}] * 3)
    job = await _submit(api, 9102)
    seen = set()
    while (current := (await api.get(f"/v1/jobs/{job['id']}")).json())["status"] not in ("done", "failed"):
        seen.add(current["status"])
        await asyncio.sleep(0.02)
    assert current["status"] == "failed" and current["error"]["code"] == "llm_invalid_output"
    assert "retrying" not in seen and current["attempts"] == 1


async def test_a_job_fails_once_its_retries_are_spent(api, model):
    model.state.push_faults([{"kind": "status", "status": 500}] * 2)
    job = await _submit(api, 9103)
    failed = await _until(api, job["id"], ("done", "failed"))
    assert failed["status"] == "failed" and failed["error"]["code"] == "llm_unavailable"
    assert failed["attempts"] == 2 and failed["retry"] is None


async def test_a_retrying_url_is_still_in_flight(api, model, site):
    url = site.set_page("/retrying/1", article_page(9104))
    model.state.push_faults([{"kind": "status", "status": 503, "retry_after": 0}])
    first = (await api.post("/v1/signals", json={"url": url})).json()
    assert (await _until(api, first["id"], ("retrying", "done", "failed")))["status"] == "retrying"
    again = (await api.post("/v1/signals", json={"url": url})).json()
    assert again["id"] == first["id"]  # joined, not a second fetch and model call
    assert (await _until(api, first["id"], ("done", "failed")))["status"] == "done"
    assert site.hits["/retrying/1"] == 2  # one fetch per attempt


async def test_a_stopping_worker_hands_its_job_back(make_settings, model, writer, database_url):
    """Shutdown during a model call that would take 30 s: the worker stops at once, the job is
    queued again with its queue entry, and the next worker finishes it."""
    model.state.reset()
    model.state.push_faults([{"kind": "delay", "seconds": 30}])
    settings = _settings(make_settings, model.base)
    headers = {"Authorization": f"Bearer {writer}"}
    with running_asgi(create_app(settings, worker=True)) as base:
        async with httpx.AsyncClient(base_url=base, headers=headers) as http:
            job = await _submit(http, 9105)
            await _until(http, job["id"], ("analyzing",))
            await asyncio.sleep(0.5)  # inside the model call
        stopping = time.monotonic()
    stopped_in = time.monotonic() - stopping
    assert stopped_in < 8, f"shutdown took {stopped_in:.1f} s"
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT status FROM jobs WHERE id = $1", job["id"]) == "queued"
        entries = await conn.fetchval(
            "SELECT count(*) FROM pgqueuer WHERE entrypoint = 'analyze_article' AND payload = $1",
            UUID(job["id"]).bytes,
        )
        assert entries == 1
    finally:
        await conn.close()
    with running_asgi(create_app(settings, worker=True)) as base:
        async with httpx.AsyncClient(base_url=base, headers=headers) as http:
            done = await _until(http, job["id"], ("done", "failed"))
    assert done["status"] == "done" and done["attempts"] == 2


@pytest.mark.parametrize(("jobs_at_once", "model_calls_at_once", "expected"), [(10, 3, 3), (2, 32, 2)])
async def test_the_concurrency_settings_bound_model_calls_in_flight(
    make_settings, writer, jobs_at_once, model_calls_at_once, expected
):
    door = CountingModel(delay=0.4)
    with running_asgi(door) as model_base:
        settings = _settings(
            make_settings,
            model_base,
            worker_concurrency=jobs_at_once,
            llm_max_concurrency=model_calls_at_once,
        )
        with running_asgi(create_app(settings, worker=True)) as base:
            async with httpx.AsyncClient(
                base_url=base, headers={"Authorization": f"Bearer {writer}"}
            ) as http:
                door.most_in_flight = 0  # the start-up probe does not count
                jobs = [await _submit(http, 9200 + 10 * expected + i) for i in range(9)]
                for job in jobs:
                    assert (await _until(http, job["id"], ("done", "failed")))["status"] == "done"
    assert door.most_in_flight == expected
