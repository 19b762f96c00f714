"""POST /v1/signals end to end over real sockets: the API (with its worker) on loopback, a
fake article site on loopback, the LLM stub on loopback, a real PostgreSQL. The failures are
tests/integration/test_api_signal_failures.py's."""

from __future__ import annotations

import pytest

from tests.support import clients, signals_api
from tests.support.articles import article_page, article_text
from tests.support.signals_api import chat_calls, wait_job

pytestmark = pytest.mark.timeout(180)


# The API with its worker, its keys and a writer's client (fixtures of
# tests/support/signals_api.py and clients.py), this module's own.
api, keys, client = signals_api.api, signals_api.keys, clients.client


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
