"""What one partner submits never changes or reveals what belongs to another: supplied text is
the supplier's own article, each submitter has its own job, and a topic-restricted key never
gets a card outside its topics, not even from a waited POST. Real API with its worker, the LLM
stub, a fake article site and webhook receiver, all on loopback; a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from service.app import create_app
from service.keys import service as keys
from service.topics.slugs import topic_ids_for_slugs
from tests.support.articles import article_page, article_text
from tests.support.clients import connected, keyed_client, stub_llm
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi
from tests.support.webhooks import create_webhook

pytestmark = pytest.mark.timeout(180)

FORGED = (
    "FORGED. The company has collapsed and every executive has fled the country overnight, "
    "according to nobody at all. "
) * 12


@pytest.fixture(scope="module")
def api(make_settings: Any, stub: SimpleNamespace) -> Iterator[str]:
    settings = make_settings(
        **stub_llm(stub),
        llm_http_retries=1,
        llm_timeout_seconds=10,
        job_heartbeat_seconds=10,
        secret_key=Fernet.generate_key().decode(),
        webhook_poll_seconds=0.3,
        rate_limit=False,
    )
    with running_asgi(create_app(settings, worker=True)) as base:
        yield base


@pytest.fixture(scope="module")
async def world(database_url: str) -> SimpleNamespace:
    """Two partners with writing keys, a second key of the first partner, a key of the second
    partner restricted to a topic the stub never gives, and an admin key."""
    async with connected(database_url) as conn:
        await seed_signal(conn, SeedSignal(title="Knitting circles grow", topics=["Knitting Circles"]))
        write = ["signals:read", "signals:write", "webhooks:manage"]
        fetcher = await keys.ensure_partner(conn, "Fetcher Co")
        forger = await keys.ensure_partner(conn, "Forger Ltd")
        knitting = await topic_ids_for_slugs(conn, ["knitting-circles"])
        made = SimpleNamespace(
            fetcher=await keys.create_key(conn, name="fetcher", scopes=write, partner_id=fetcher["id"]),
            colleague=await keys.create_key(
                conn, name="fetcher-2", scopes=["signals:read"], partner_id=fetcher["id"]
            ),
            forger=await keys.create_key(conn, name="forger", scopes=write, partner_id=forger["id"]),
            knitter=await keys.create_key(
                conn, name="forger-knitting", scopes=write, partner_id=forger["id"], topic_ids=knitting
            ),
            admin=await keys.create_key(conn, name="admin", scopes=["admin"]),
        )
    return SimpleNamespace(**{name: key.key for name, key in vars(made).items()})


async def analysed(http: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    """Submit and return the job once finished."""
    response = await http.post("/v1/signals", json=body)
    assert response.status_code == 202, response.text
    return await finished(http, response.headers["location"])


async def finished(http: httpx.AsyncClient, job_url: str, seconds: float = 60) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        job: dict[str, Any] = (await http.get(job_url)).json()
        if job["status"] in ("done", "failed"):
            return job
        assert asyncio.get_running_loop().time() < deadline, f"job stuck in {job['status']}"
        await asyncio.sleep(0.1)


async def card(http: httpx.AsyncClient, signal_id: str) -> dict[str, Any]:
    response = await http.get(f"/v1/signals/{signal_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- 1. supplied content never replaces fetched content or another supplier's -----------------


async def test_supplied_text_naming_a_fetched_url_never_touches_the_fetched_article(
    api, world, site, receiver, database_url
):
    url = site.set_page("/news/forgery-target", article_page(31))
    async with keyed_client(api, world.fetcher) as fetcher, keyed_client(api, world.forger) as forger:
        await create_webhook(fetcher, receiver.script("/forgery"))
        original_job = await analysed(fetcher, {"url": url})
        assert original_job["status"] == "done", original_job
        original_id = original_job["signal_id"]
        before = await card(fetcher, original_id)
        article_before = (await fetcher.get(f"/v1/articles/{before['article_id']}")).json()
        sync = (await fetcher.get("/v1/sync/signals")).json()

        forged_job = await analysed(
            forger,
            {"text": FORGED, "title": "Forged headline", "url": url + "?utm_source=x&utm_medium=y#top"},
        )
        assert forged_job["status"] == "done", forged_job

        after = await card(fetcher, original_id)
        forged = await card(forger, forged_job["signal_id"])
        # the forged text is the forger's alone: to the fetcher it does not exist
        for path in (f"/v1/signals/{forged['id']}", f"/v1/articles/{forged['article_id']}"):
            assert (await fetcher.get(path)).status_code == 404, path
    # the forged text is an article of its own, labelled as supplied; the original is untouched
    assert forged["article_id"] != before["article_id"]
    assert forged["source"]["origin"] == "supplied" and before["source"]["origin"] == "fetched"
    assert after["current"] is True
    # (the relate step links related coverage and a story meanwhile; nothing else may move)
    linked = ("related", "story_id")
    assert {k: v for k, v in after.items() if k not in linked} == {
        k: v for k, v in before.items() if k not in linked
    }
    async with keyed_client(api, world.fetcher) as fetcher:
        article_after = (await fetcher.get(f"/v1/articles/{before['article_id']}")).json()
        listed = (await fetcher.get("/v1/signals", params={"limit": 100})).json()["items"]
        changes = (await fetcher.get("/v1/sync/signals", params={"cursor": sync["cursor"]})).json()
    assert article_after["text"] == article_before["text"] and "FORGED" not in article_after["text"]
    assert article_after["input_kind"] == "url"
    assert original_id in {item["id"] for item in listed}
    # sync and webhooks: nothing replaced the original (no update, no tombstone)
    assert all(
        item.get("replaces") != original_id and item["signal_id"] != original_id for item in changes["items"]
    ), changes
    await asyncio.sleep(1.5)  # the dispatcher polls every 0.3 s
    events = [json.loads(r.body) for r in receiver.received("/forgery")]
    assert not [e for e in events if e["type"] == "signal.updated"], events
    assert all(e["data"]["signal"]["id"] != original_id for e in events[1:]), events
    # and the forgery itself reaches no other partner's endpoint
    assert all(e["data"]["signal"]["id"] != forged["id"] for e in events), events
    assert forged["id"] not in {item["signal_id"] for item in changes["items"]}, changes


async def test_a_supplier_replaces_only_its_own_supplied_article(api, world, stub, db):
    url = "https://paper.example/a-supplied-story"
    title, paragraphs = article_text(32)
    first = " ".join(paragraphs)
    async with keyed_client(api, world.forger) as forger, keyed_client(api, world.fetcher) as fetcher:
        mine = await card(
            forger, (await analysed(forger, {"text": first, "title": title, "url": url}))["signal_id"]
        )
        theirs = await card(
            fetcher,
            (await analysed(fetcher, {"text": FORGED, "title": "Their version", "url": url}))["signal_id"],
        )
        assert mine["article_id"] != theirs["article_id"]
        _, revised = article_text(32, revision=1)
        again = await card(
            forger,
            (await analysed(forger, {"text": " ".join(revised), "title": title, "url": url}))["signal_id"],
        )
        assert again["article_id"] == mine["article_id"]  # its own article, a new version
        assert (await card(forger, mine["id"]))["current"] is False
        assert again["current"] is True
        theirs_now = await card(fetcher, theirs["id"])
        assert theirs_now["current"] is True and theirs_now == {**theirs, "related": theirs_now["related"]}
        article = (await fetcher.get(f"/v1/articles/{theirs['article_id']}")).json()
        assert article["text"].startswith("FORGED")


async def test_a_supplied_copy_of_fetched_text_costs_no_model_call(api, world, site, stub):
    page = article_page(33)
    url = site.set_page("/news/copied", page)
    async with keyed_client(api, world.fetcher) as fetcher, keyed_client(api, world.forger) as forger:
        fetched = await analysed(fetcher, {"url": url})
        calls = stub.state.stats()["chat_completions"]
        copy = await analysed(forger, {"html": page, "url": url})
    assert copy["status"] == "done" and copy["signal_id"] == fetched["signal_id"]
    assert stub.state.stats()["chat_completions"] == calls


# --- 2. a restricted key never gets a card outside its topics -----------------------------------


async def test_a_waited_post_never_returns_a_card_outside_the_key_s_topics(api, world, site):
    url = site.set_page("/news/not-knitting", article_page(34))
    async with keyed_client(api, world.fetcher) as fetcher, keyed_client(api, world.knitter) as knitter:
        done = await analysed(fetcher, {"url": url})
        title = (await card(fetcher, done["signal_id"]))["title"]
        response = await knitter.post("/v1/signals", json={"url": url}, headers={"Prefer": "wait=30"})
        assert response.status_code == 200, response.text
        job = response.json()
        assert job["status"] == "done" and job["signal_id"] is None and job["signal_outside_topics"]
        assert job["links"]["signal"] is None and done["signal_id"] not in response.text
        assert title not in response.text
        assert response.headers["location"] == f"/v1/jobs/{job['id']}"
        polled = (await knitter.get(f"/v1/jobs/{job['id']}")).json()
        assert polled["signal_id"] is None and polled["signal_outside_topics"] is True
        assert (await knitter.get(f"/v1/signals/{done['signal_id']}")).status_code == 404
        # an unrestricted key sees its own job's signal as before
        own = (await fetcher.get(f"/v1/jobs/{done['id']}")).json()
    assert own["signal_id"] == done["signal_id"] and own["signal_outside_topics"] is False


# --- 4. jobs belong to their submitter's partner ---------------------------------------------


async def test_jobs_are_visible_to_their_submitter_its_partner_and_admins_only(api, world, site):
    url = site.set_page("/news/private-job", article_page(35))
    async with keyed_client(api, world.fetcher) as fetcher:
        response = await fetcher.post("/v1/signals", json={"url": url + "?utm_source=fetcher-secret"})
        assert response.status_code == 202
        job_url = response.headers["location"]
        await finished(fetcher, job_url)
    for name, status in (
        ("fetcher", 200),
        ("colleague", 200),
        ("admin", 200),
        ("forger", 404),
        ("knitter", 404),
    ):
        async with keyed_client(api, getattr(world, name)) as http:
            answer = await http.get(job_url)
        assert answer.status_code == status, (name, answer.text)
        if status == 404:
            assert "fetcher-secret" not in answer.text and answer.json()["code"] == "not_found"


async def test_a_second_submitter_gets_its_own_job_following_the_same_work(api, world, site, stub, db):
    url = site.set_page("/news/shared-work", article_page(36))
    stub.state.push_faults([{"kind": "delay", "seconds": 2.0}])
    calls = stub.state.stats()["chat_completions"]
    async with keyed_client(api, world.fetcher) as fetcher, keyed_client(api, world.forger) as forger:
        first = await fetcher.post("/v1/signals", json={"url": url + "?utm_campaign=fetcher-token"})
        second = await forger.post("/v1/signals", json={"url": url + "?utm_campaign=forger-token"})
        assert first.status_code == second.status_code == 202
        mine, theirs = first.json(), second.json()
        assert mine["id"] != theirs["id"]
        assert "fetcher-token" not in second.text and "forger-token" in theirs["url"]
        # while the work runs, the follower shows the leader's stage
        leader_row = await db.fetchrow("SELECT follows FROM jobs WHERE id = $1", theirs["id"])
        assert str(leader_row["follows"]) == mine["id"]
        # a repeat by the same key joins its own job rather than adding one
        repeat = await forger.post("/v1/signals", json={"url": url})
        assert repeat.json()["id"] == theirs["id"]
        done_mine = await finished(fetcher, f"/v1/jobs/{mine['id']}")
        done_theirs = await finished(forger, f"/v1/jobs/{theirs['id']}")
        assert (await forger.get(f"/v1/jobs/{mine['id']}")).status_code == 404
    assert done_mine["status"] == done_theirs["status"] == "done"
    assert done_mine["signal_id"] == done_theirs["signal_id"]
    assert done_theirs["reused"] is True and "fetcher-token" not in json.dumps(done_theirs)
    assert stub.state.stats()["chat_completions"] == calls + 1


async def test_a_follower_waiting_with_prefer_gets_the_leader_s_failure(api, world, site):
    # a slow page too short to be an article: the leader stays in flight, then fails for good
    url = site.set_page("/news/doomed", "<html><body><p>Too short to analyse.</p></body></html>", delay=1.5)
    async with keyed_client(api, world.fetcher) as fetcher, keyed_client(api, world.forger) as forger:
        first = await fetcher.post("/v1/signals", json={"url": url})
        waited = await forger.post("/v1/signals", json={"url": url}, headers={"Prefer": "wait=30"})
        leader = await finished(fetcher, f"/v1/jobs/{first.json()['id']}")
    assert leader["status"] == "failed" and leader["error"]["code"] == "extraction_failed"
    assert waited.status_code == leader_status(leader), waited.text
    problem = waited.json()
    assert problem["code"] == leader["error"]["code"]
    assert problem["job"] != f"/v1/jobs/{leader['id']}"  # its own job


def leader_status(job: dict[str, Any]) -> int:
    from service.errors import error_for_code

    return error_for_code(job["error"]["code"], "", job["error"]["reason"]).status
