"""POST /v1/signals end to end over real sockets: the API (with its worker) on loopback, a
fake article site on loopback, the LLM stub on loopback, a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from service.app import create_app
from service.keys.service import create_key
from tests.support.articles import article_page, article_text
from tests.support.servers import running_asgi

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def api(make_settings: Any, stub: SimpleNamespace) -> Iterator[str]:
    settings = make_settings(
        openai_base_url=f"{stub.base}/v1",
        openai_api_key="test-key",
        llm_model="signals-stub",
        llm_http_retries=1,
        llm_timeout_seconds=3,
        job_heartbeat_seconds=10,
        # Passing model failures fail at once here; test_job_retries.py covers `retrying`.
        job_retry_schedule=[],
    )
    with running_asgi(create_app(settings, worker=True)) as base:
        yield base


@pytest.fixture(scope="module")
async def keys(database_url: str) -> SimpleNamespace:
    conn = await asyncpg.connect(database_url)
    try:
        writer = await create_key(conn, name="writer", scopes=["signals:read", "signals:write"])
        reader = await create_key(conn, name="reader", scopes=["signals:read"])
    finally:
        await conn.close()
    return SimpleNamespace(writer=writer.key, reader=reader.key)


@pytest.fixture
async def client(api: str, keys: SimpleNamespace, stub: SimpleNamespace) -> AsyncIterator[httpx.AsyncClient]:
    stub.state.reset()
    async with httpx.AsyncClient(
        base_url=api, headers={"Authorization": f"Bearer {keys.writer}"}, timeout=60
    ) as http:
        yield http


async def wait_job(client: httpx.AsyncClient, job_id: str, seconds: float = 60) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        job = (await client.get(f"/v1/jobs/{job_id}")).json()
        if job["status"] in ("done", "failed"):
            return job
        assert asyncio.get_running_loop().time() < deadline, f"job stuck in {job['status']}"
        await asyncio.sleep(0.1)


async def count(db: asyncpg.Connection, table: str) -> int:
    return int(await db.fetchval(f"SELECT count(*) FROM {table}"))


def chat_calls(stub: SimpleNamespace) -> int:
    return int(stub.state.stats()["chat_completions"])


# --- the happy path -------------------------------------------------------------------------------


async def test_a_url_becomes_a_grounded_signal(client, site, stub, db):
    url = site.set_page("/news/plant-1", article_page(1))
    response = await client.post("/v1/signals", json={"url": url})
    assert response.status_code == 202
    job = response.json()
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["status"] == "queued" and job["signal_id"] is None and job["error"] is None
    assert job["links"]["self"] == f"/v1/jobs/{job['id']}"

    job = await wait_job(client, job["id"])
    assert job["status"] == "done", job
    assert job["links"]["signal"] == f"/v1/signals/{job['signal_id']}"
    signal = (await client.get(job["links"]["signal"])).json()

    assert signal["title"].startswith("[stub]")
    for field in ("summary", "eli5", "analysis", "impact", "optimistic_outlook", "pessimistic_outlook"):
        assert signal[field].strip()
    assert 3 <= len(signal["key_details"]) <= 7
    _, paragraphs = article_text(1)
    article_text_joined = " ".join(paragraphs)
    for detail in signal["key_details"]:
        assert detail["evidence"].rstrip(".") in article_text_joined
        assert detail["sentences"] and detail["unsupported"] == []
    assert job.get("llm") is None  # a done job's cost is the signal's provenance
    assert signal["grounding"] == {
        "checked": len(signal["key_details"]),
        "grounded": len(signal["key_details"]),
    }
    assert 1 <= len(signal["topics"]) <= 5
    for topic in signal["topics"]:
        assert topic["slug"] == topic["slug"].lower() and " " not in topic["slug"]
    source = signal["source"]
    assert source["url"] == url and source["canonical_url"] == url
    assert source["site_name"] == "The Harbour Courier"
    assert source["published_date"] == "2026-11-20" and source["language"] == "en"
    assert source["word_count"] >= 120
    provenance = signal["provenance"]
    assert provenance["model"] == "signals-stub" and provenance["prompt_version"]
    assert provenance["input_tokens"] > 0 and provenance["output_tokens"] > 0
    assert provenance["llm_latency_ms"] >= 0 and provenance["llm_attempts"] == 1
    assert chat_calls(stub) == 1

    article = (await client.get(signal["links"]["article"])).json()
    assert article["signal_ids"] == [signal["id"]]
    assert "Accept all cookies" not in article["text"] and "Sign up for our morning" not in article["text"]
    assert paragraphs[0] in article["text"]
    assert await db.fetchval("SELECT status FROM jobs WHERE id = $1", job["id"]) == "done"


async def test_readiness_shows_the_structured_output_mode_chosen_at_start_up(client, stub):
    ready = (await client.get("/readyz")).json()
    # SIGNALS_LLM_MODE=auto (the default): the stub enforces a schema, and reports no context.
    shown = (ready["llm"], ready["llm_mode"], ready["llm_context_tokens"])
    assert shown == ("configured", "json_schema", 32768)


async def test_prefer_wait_answers_201_with_the_signal(client, site):
    url = site.set_page("/news/plant-2", article_page(2))
    response = await client.post("/v1/signals", json={"url": url}, headers={"Prefer": "wait=30"})
    assert response.status_code == 201, response.text
    signal = response.json()
    assert response.headers["location"] == f"/v1/signals/{signal['id']}"
    assert signal["source"]["url"] == url and signal["key_details"]


async def test_html_and_text_bodies_are_analysed_without_fetching(client, site):
    html_url = f"{site.base_url}/never-fetched"
    response = await client.post(
        "/v1/signals", json={"html": article_page(3), "url": html_url}, headers={"Prefer": "wait=30"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["source"]["site_name"] == "The Harbour Courier"
    assert site.hits.get("/never-fetched", 0) == 0

    title, paragraphs = article_text(4)
    response = await client.post(
        "/v1/signals", json={"text": "\n\n".join(paragraphs), "title": title}, headers={"Prefer": "wait=30"}
    )
    assert response.status_code == 201, response.text
    signal = response.json()
    assert signal["source"]["url"] is None and signal["source"]["word_count"] >= 120


# --- dedupe and cost ----------------------------------------------------------------------------


async def test_the_same_content_costs_zero_llm_calls(client, site, stub, db):
    url = site.set_page("/news/plant-5", article_page(5))
    first = await client.post("/v1/signals", json={"url": url}, headers={"Prefer": "wait=30"})
    assert first.status_code == 201
    assert chat_calls(stub) == 1
    # Same canonical URL spelled differently: scheme case, tracking parameters, a fragment.
    variant = url.replace("http://", "HTTP://") + "?utm_source=x&fbclid=y#top"
    again = await client.post("/v1/signals", json={"url": variant})
    assert again.status_code == 202, again.text
    job = await wait_job(client, again.json()["id"])
    assert job["status"] == "done" and job["reused"] is True
    assert job["signal_id"] == first.json()["id"]
    assert chat_calls(stub) == 1  # no second LLM call


async def test_changed_content_is_analysed_again_and_history_is_kept(client, site, stub):
    url = site.set_page("/news/plant-6", article_page(6))
    first = (await client.post("/v1/signals", json={"url": url}, headers={"Prefer": "wait=30"})).json()
    site.set_page("/news/plant-6", article_page(6, revision=1))
    second = (await client.post("/v1/signals", json={"url": url}, headers={"Prefer": "wait=30"})).json()
    assert second["id"] != first["id"] and chat_calls(stub) == 2
    article = (await client.get(f"/v1/articles/{second['article_id']}")).json()
    assert second["article_id"] == first["article_id"]
    assert article["signal_ids"] == [second["id"], first["id"]]
    assert "Update 1" in article["text"]


async def test_the_page_canonical_link_is_honoured_on_the_same_host_only(client, site, stub):
    canonical = f"{site.base_url}/news/plant-7"
    site.set_page("/news/plant-7", article_page(7))
    site.set_page("/amp/plant-7", article_page(7, canonical=canonical))
    a = (await client.post("/v1/signals", json={"url": canonical}, headers={"Prefer": "wait=30"})).json()
    b = (
        await client.post(
            "/v1/signals", json={"url": f"{site.base_url}/amp/plant-7"}, headers={"Prefer": "wait=30"}
        )
    ).json()
    assert a["id"] == b["id"] and chat_calls(stub) == 1
    # A page claiming another site's URL as canonical does not get to poison that URL.
    site.set_page("/evil", article_page(8, canonical="https://news.example/real-story"))
    c = (
        await client.post("/v1/signals", json={"url": f"{site.base_url}/evil"}, headers={"Prefer": "wait=30"})
    ).json()
    assert c["source"]["canonical_url"] == f"{site.base_url}/evil"


async def test_a_url_already_in_flight_returns_the_same_job(client, site, stub):
    url = site.set_page("/news/plant-9", article_page(9))
    stub.state.push_faults([{"kind": "delay", "seconds": 1.5}])
    first = await client.post("/v1/signals", json={"url": url})
    second = await client.post("/v1/signals", json={"url": url + "#again"})
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    job = await wait_job(client, first.json()["id"])
    assert job["status"] == "done" and chat_calls(stub) == 1


async def test_idempotency_key_replays_and_refuses_a_different_body(client, site):
    title, paragraphs = article_text(10)
    body = {"text": "\n\n".join(paragraphs), "title": title}
    headers = {"Idempotency-Key": "order-10"}
    first = await client.post("/v1/signals", json=body, headers=headers)
    second = await client.post("/v1/signals", json=body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    other = await client.post("/v1/signals", json={**body, "title": "changed"}, headers=headers)
    assert other.status_code == 422
    assert other.headers["content-type"].startswith("application/problem+json")
    assert other.json()["code"] == "idempotency_key_reused"
    bad = await client.post("/v1/signals", json=body, headers={"Idempotency-Key": "has space"})
    assert bad.status_code == 400
    await wait_job(client, first.json()["id"])


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
