"""POST /v1/signals when it must fail, over real sockets (the API with its worker, a fake
article site, the LLM stub, a real PostgreSQL): pages that must not be analysed, model failures
and a deadlock while storing. Each failure is typed and stores no signal."""

from __future__ import annotations

import asyncio
from uuid import UUID

import asyncpg
import httpx
import pytest

from tests.support import clients, signals_api
from tests.support.articles import article_page, article_text
from tests.support.signals_api import chat_calls, count, wait_job

pytestmark = pytest.mark.timeout(180)


# The API with its worker, its keys and a writer's client (fixtures of
# tests/support/signals_api.py and clients.py), this module's own.
api, keys, client = signals_api.api, signals_api.keys, clients.client


# --- pages that must not be analysed -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("short_page.html", "too_short"),
        ("paywall_teaser.html", "paywall"),
        ("category_listing.html", "not_article"),
    ],
)
async def test_boilerplate_pages_fail_with_a_typed_reason_and_no_llm_call(
    client, site, stub, db, fixture, reason
):
    from pathlib import Path

    page = (Path(__file__).parents[1] / "fixtures" / "pages" / fixture).read_text()
    url = site.set_page(f"/gate/{fixture}", page)
    signals_before = await count(db, "signals")
    response = await client.post("/v1/signals", json={"url": url}, headers={"Prefer": "wait=30"})
    assert response.status_code == 422
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem["code"] == "extraction_failed" and problem["reason"] == reason
    assert problem["type"] == "/problems/extraction_failed" and problem["job"].startswith("/v1/jobs/")
    job = (await client.get(problem["job"])).json()
    assert job["status"] == "failed" and job["error"]["code"] == "extraction_failed"
    assert job["error"]["reason"] == reason
    assert chat_calls(stub) == 0 and await count(db, "signals") == signals_before


async def test_refused_addresses_never_reach_the_network(client, site):
    # Literal loopback spellings outside the allowed 127.0.0.1/32 are refused at the door.
    for url in (
        "http://127.0.0.2/x",
        "http://2130706434/x",
        "http://0x7f000002/x",
        "http://[::ffff:127.0.0.2]/x",
        "http://[::1]/x",
        "ftp://127.0.0.1/x",
        "http://user:pw@127.0.0.1/x",
    ):
        response = await client.post("/v1/signals", json={"url": url})
        assert response.status_code == 422, url
        assert response.json()["code"] == "fetch_refused", url
    # A redirect to a refused address is caught by the worker at that hop: a typed failure.
    port = site.base_url.rsplit(":", 1)[1]
    site.set_page("/hop", b"", status=302, headers={"Location": f"http://127.0.0.2:{port}/news/plant-1"})
    response = await client.post("/v1/signals", json={"url": f"{site.base_url}/hop"})
    job = await wait_job(client, response.json()["id"])
    assert job["status"] == "failed" and job["error"]["code"] == "fetch_refused"


async def test_upstream_errors_fail_the_job(client, site):
    site.set_page("/gone", "<h1>gone</h1>", status=410)
    response = await client.post(
        "/v1/signals", json={"url": f"{site.base_url}/gone"}, headers={"Prefer": "wait=30"}
    )
    assert response.status_code == 502 and response.json()["code"] == "fetch_failed"
    site.set_page("/binary", b"\x89PNG....", content_type="image/png")
    response = await client.post(
        "/v1/signals", json={"url": f"{site.base_url}/binary"}, headers={"Prefer": "wait=30"}
    )
    assert response.json()["code"] == "unsupported_content_type"


# --- LLM failures -------------------------------------------------------------------------------------


async def _post_text(client: httpx.AsyncClient, seed: int) -> httpx.Response:
    title, paragraphs = article_text(seed)
    return await client.post(
        "/v1/signals", json={"text": "\n\n".join(paragraphs), "title": title}, headers={"Prefer": "wait=30"}
    )


@pytest.mark.parametrize(
    ("faults", "code"),
    [
        ([{"kind": "status", "status": 429, "retry_after": 1}] * 2, "llm_rate_limited"),
        ([{"kind": "status", "status": 500}] * 2, "llm_unavailable"),
        ([{"kind": "truncate"}], "llm_truncated"),
        ([{"kind": "invalid_schema"}] * 3, "llm_invalid_output"),
        ([{"kind": "malformed_json"}] * 3, "llm_invalid_output"),
        ([{"kind": "ungrounded"}] * 3, "analysis_ungrounded"),
        ([{"kind": "delay", "seconds": 10}] * 2, "llm_timeout"),
    ],
)
async def test_llm_failures_fail_the_job_and_store_no_signal(client, stub, db, faults, code):
    signals_before = await count(db, "signals")
    stub.state.push_faults(faults)
    response = await _post_text(client, 20 + len(code) + len(faults))
    assert response.status_code in (422, 502, 503, 504), response.text
    problem = response.json()
    assert problem["code"] == code, problem
    assert await count(db, "signals") == signals_before
    job = (await client.get(problem["job"])).json()
    assert job["status"] == "failed" and job["error"]["code"] == code and job["error"]["detail"]
    # What the model calls cost is on the failed job, as on a stored signal.
    answered = [r for r in stub.state.stats()["requests"] if r.get("completion_tokens") is not None]
    assert job["llm"]["model"] == "signals-stub" and job["llm"]["attempts"] == len(answered)
    assert job["llm"]["latency_ms"] > 0
    if answered:
        assert job["llm"]["input_tokens"] == sum(r["prompt_tokens"] for r in answered)
        assert job["llm"]["output_tokens"] == sum(r["completion_tokens"] for r in answered)
    else:
        assert job["llm"]["input_tokens"] is None and job["llm"]["output_tokens"] is None


async def test_retry_after_is_honoured_then_the_call_succeeds(client, stub):
    stub.state.push_faults([{"kind": "status", "status": 429, "retry_after": 1}])
    started = asyncio.get_running_loop().time()
    response = await _post_text(client, 40)
    assert response.status_code == 201, response.text
    assert asyncio.get_running_loop().time() - started >= 1.0
    assert chat_calls(stub) == 2


async def test_unusable_citations_are_dropped_replaced_when_too_few_and_recorded(client, stub):
    stub.state.push_faults([{"kind": "ungrounded_one"}])
    kept = (await _post_text(client, 41)).json()
    assert kept["provenance"]["llm_attempts"] == 1  # four usable details are enough
    assert kept["grounding"]["grounded"] == kept["grounding"]["checked"] - 1 == len(kept["key_details"])
    assert chat_calls(stub) == 1

    stub.state.push_faults([{"kind": "ungrounded"}])
    fixed = (await _post_text(client, 42)).json()
    assert fixed["provenance"]["llm_attempts"] == 2  # one follow-up for key details only
    assert fixed["grounding"] == {"checked": len(fixed["key_details"]) + 5, "grounded": 3}
    article = (await client.get(fixed["links"]["article"])).json()
    for detail in fixed["key_details"]:
        assert detail["evidence"] == " … ".join(article["text"][a:b] for a, b in detail["offsets"])


# --- storing ----------------------------------------------------------------------------------


async def deadlocks(db: asyncpg.Connection) -> int:
    await db.execute("SELECT pg_stat_clear_snapshot()")
    return int(await db.fetchval("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"))


async def test_a_deadlock_while_storing_stores_again_without_asking_the_llm_again(
    client, site, stub, db, database_url
):
    """PostgreSQL breaks a deadlock by rolling back the job's store: the analysis is stored
    again from memory, once, and the job is done."""
    before = await deadlocks(db)
    stub.state.push_faults([{"kind": "delay", "seconds": 1.5}])  # time to take the job's row
    url = site.set_page("/news/plant-43", article_page(43))
    job_id = (await client.post("/v1/signals", json={"url": url})).json()["id"]
    other = await asyncpg.connect(database_url)
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while (await client.get(f"/v1/jobs/{job_id}")).json()["status"] != "analyzing":
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.02)
        article_id = await db.fetchval("SELECT id FROM articles WHERE url = $1", url)
        async with other.transaction():
            # 1. hold the job's row: the store transaction waits for it at its last statement,
            #    holding its new signal's reference to the article
            await other.execute("SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE", UUID(job_id))
            while not await db.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE 'UPDATE jobs%'"
            ):
                assert asyncio.get_running_loop().time() < deadline, "the store never reached the job row"
                await asyncio.sleep(0.02)
            # 2. ask for the article's row: a cycle; the store waited first, so it is the one
            #    PostgreSQL rolls back, and this statement goes through
            await other.execute("SELECT 1 FROM articles WHERE id = $1 FOR UPDATE", article_id)
    finally:
        await other.close()
    job = await wait_job(client, job_id)
    assert job["status"] == "done", job
    assert job["attempts"] == 1
    assert chat_calls(stub) == 1
    assert await db.fetchval("SELECT count(*) FROM signals WHERE article_id = $1", article_id) == 1
    signal = (await client.get(f"/v1/signals/{job['signal_id']}")).json()
    assert signal["topics"] and signal["key_details"]
    deadline = asyncio.get_running_loop().time() + 10
    while await deadlocks(db) == before:  # counters reach the statistics a moment later
        assert asyncio.get_running_loop().time() < deadline, "no deadlock happened: the test proves nothing"
        await asyncio.sleep(0.1)
