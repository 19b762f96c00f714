"""Briefings end to end over real sockets: the API (with its worker) and the LLM stub on
loopback, a real PostgreSQL; signals seeded through the pipeline's SQL on past days. Writing
them here; reading them, and briefings on a topic, in tests/integration/test_digest_reads.py."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest

from tests.support import clients, digests_api
from tests.support.digests_api import BUDGET, make_story, markers, seed_day, write
from tests.support.signals_api import chat_calls

pytestmark = pytest.mark.timeout(180)


# The API with its worker, its keys and a writer's client (fixtures of
# tests/support/digests_api.py and clients.py), this module's own.
api, keys, client = digests_api.api, digests_api.keys, clients.client


# --- writing ------------------------------------------------------------------------------------


async def test_a_day_becomes_a_briefing_whose_citations_all_resolve(client, db, stub):
    day = date(2026, 9, 1)
    ids = await seed_day(db, day, 8, prefix="Alpha")
    await make_story(db, ids[:3])  # three outlets, one event: the newest of them leads
    response = await write(client, day)
    assert response.status_code == 201, response.text
    digest = response.json()
    assert response.headers["location"] == f"/v1/digests/{digest['id']}"
    assert digest["period"] == "daily" and digest["date"] == "2026-09-01" and digest["version"] == 1
    assert digest["headline"] and digest["dek"] and digest["opening"]
    assert 3 <= len(digest["sections"]) <= 5
    assert digest["reading_minutes"] == max(1, math.ceil(digest["word_count"] / 230))

    citations = {c["n"]: c for c in digest["citations"]}
    assert sorted(citations) == list(range(1, len(citations) + 1))
    for section in digest["sections"]:
        cited = markers(section["body"])
        assert cited and cited <= set(citations), section
        assert {citations[n]["signal_id"] for n in cited} == set(section["signal_ids"])
        for paragraph in section["body"].split("\n\n"):
            assert markers(paragraph), paragraph
    for hit in digest["quick_hits"]:
        assert hit["signal_id"] in {c["signal_id"] for c in citations.values()}
        assert hit["title"] and hit["url"]
    for citation in citations.values():
        signal = (await client.get(citation["links"]["signal"])).json()
        assert signal["title"] == citation["title"]
        assert signal["source"]["url"] == citation["url"]

    # One per story: of the three reports only the lead is in the briefing.
    cited_ids = {UUID(c["signal_id"]) for c in citations.values()}
    assert len(cited_ids & set(ids[:3])) == 1 and ids[2] in cited_ids
    assert cited_ids == {ids[2], *ids[3:]}

    provenance = digest["provenance"]
    assert provenance["kind"] == "llm" and provenance["trigger"] == "request"
    assert provenance["llm_calls"] == 2 and chat_calls(stub) == 2
    assert provenance["input_tokens"] > 0 and provenance["output_tokens"] > 0
    assert provenance["signals_considered"] == 8 and provenance["stories_considered"] == 6
    assert provenance["signals_included"] == 6 and provenance["input_token_budget"] == BUDGET
    assert digest["links"]["signals"].startswith("/v1/signals?since=2026-09-01&until=2026-09-01")


async def test_an_invented_id_is_rejected_and_re_asked(client, db, stub):
    day = date(2026, 9, 2)
    await seed_day(db, day, 4, prefix="Bravo")
    stub.state.push_faults([{"kind": "invented_ids"}])  # the plan cites s999
    response = await write(client, day)
    assert response.status_code == 201, response.text
    requests = stub.state.stats()["requests"]
    assert [r["fault"] for r in requests] == ["invented_ids", None, None]
    assert [r["schema"] for r in requests] == ["DigestPlan", "DigestPlan", "DigestDraft"]
    assert requests[1]["messages"] > requests[0]["messages"]  # the re-ask carries the error
    assert response.json()["provenance"]["llm_calls"] == 3

    stub.state.reset()
    stub.state.push_faults([{"kind": "delay", "seconds": 0}, {"kind": "invented_ids"}])  # the text cites s999
    again = await write(client, day)
    assert again.status_code == 201, again.text
    assert [r["schema"] for r in stub.state.stats()["requests"]] == [
        "DigestPlan",
        "DigestDraft",
        "DigestDraft",
    ]
    assert "s999" not in again.text and again.json()["version"] == 2


async def test_a_model_that_keeps_inventing_fails_the_job(client, db, stub):
    day = date(2026, 9, 3)
    await seed_day(db, day, 3, prefix="Charlie")
    stub.state.push_faults([{"kind": "invented_ids"}] * 3)  # every attempt of the plan
    response = await write(client, day)
    assert response.status_code == 502, response.text
    problem = response.json()
    assert problem["code"] == "llm_invalid_output" and problem["job"].startswith("/v1/digests/jobs/")
    job = (await client.get(problem["job"])).json()
    assert job["status"] == "failed" and job["error"]["code"] == "llm_invalid_output"
    assert (await client.get("/v1/digests/latest", params={"date": day.isoformat()})).status_code == 404


async def test_an_empty_day_costs_nothing_and_answers_404(client, stub):
    response = await write(client, date(2026, 8, 1))
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["reason"] == "no_signals" and "1 August 2026" in response.json()["detail"]
    latest = await client.get("/v1/digests/latest", params={"period": "daily", "date": "2026-08-01"})
    assert latest.status_code == 404 and latest.json()["reason"] == "no_digest"
    assert chat_calls(stub) == 0


async def test_a_one_signal_day_is_a_template_with_no_model_call(client, db, stub):
    day = date(2026, 9, 4)
    [only] = await seed_day(db, day, 1, prefix="Delta")
    response = await write(client, day)
    assert response.status_code == 201, response.text
    digest = response.json()
    assert digest["provenance"]["kind"] == "template" and digest["provenance"]["llm_calls"] == 0
    assert chat_calls(stub) == 0
    assert digest["headline"].startswith("Delta headline 0") and len(digest["sections"]) == 1
    assert digest["quick_hits"] == [] and [c["signal_id"] for c in digest["citations"]] == [str(only)]


async def test_regenerating_a_period_keeps_every_version(client, db):
    day = date(2026, 9, 5)
    await seed_day(db, day, 2, prefix="Echo")
    first = (await write(client, day)).json()
    second = (await write(client, day)).json()
    assert (first["version"], second["version"]) == (1, 2) and first["id"] != second["id"]
    old = (await client.get(f"/v1/digests/{first['id']}")).json()
    assert old["is_latest"] is False and old["version"] == 1
    latest = (await client.get("/v1/digests/latest", params={"date": day.isoformat()})).json()
    assert latest["id"] == second["id"] and latest["is_latest"] is True
    every = (await client.get("/v1/digests", params={"versions": "all", "limit": 100})).json()["items"]
    assert {first["id"], second["id"]} <= {d["id"] for d in every}
    current = (await client.get("/v1/digests", params={"limit": 100})).json()["items"]
    assert second["id"] in {d["id"] for d in current} and first["id"] not in {d["id"] for d in current}


async def test_the_token_budget_is_respected(client, db, stub):
    day = date(2026, 9, 7)
    long_fact = "A long key fact that goes on and on about the matter at hand, with figures. " * 5
    await seed_day(db, day, 40, prefix="Golf", key_details=[long_fact] * 4)
    response = await write(client, day)
    assert response.status_code == 201, response.text
    provenance = response.json()["provenance"]
    assert provenance["stories_considered"] == 40
    assert 2 <= provenance["signals_included"] < 30  # the budget cut below SIGNALS_DIGEST_MAX_SIGNALS
    requests = stub.state.stats()["requests"]
    assert len(requests) == 2
    assert all(r["prompt_tokens"] <= BUDGET for r in requests), [r["prompt_tokens"] for r in requests]


async def test_without_prefer_the_answer_is_a_job_to_follow(client, db):
    day = date(2026, 9, 8)
    await seed_day(db, day, 2, prefix="Hotel")
    response = await client.post("/v1/digests", json={"period": "daily", "date": day.isoformat()})
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == job["links"]["self"] == f"/v1/digests/jobs/{job['id']}"
    for _ in range(300):
        job = (await client.get(job["links"]["self"])).json()
        if job["status"] in ("done", "failed"):
            break
        await __import__("asyncio").sleep(0.1)
    assert job["status"] == "done" and job["trigger"] == "request"
    assert (await client.get(job["links"]["digest"])).json()["id"] == job["digest_id"]


async def test_a_weekly_briefing_covers_monday_to_sunday(client, db):
    await seed_day(db, date(2026, 9, 14), 2, prefix="India")  # a Monday
    await seed_day(db, date(2026, 9, 20), 2, prefix="Juliet")  # its Sunday
    response = await write(client, date(2026, 9, 17), period="weekly")
    assert response.status_code == 201, response.text
    digest = response.json()
    assert (digest["date"], digest["last_day"]) == ("2026-09-14", "2026-09-20")
    assert digest["provenance"]["signals_considered"] == 4


async def test_future_periods_and_bad_bodies_are_problems(client):
    future = await write(client, datetime.now(UTC).date() + timedelta(days=2))
    assert future.status_code == 422 and future.json()["reason"] == "future_period"
    for body in ({"period": "monthly", "date": "2026-09-01"}, {"period": "daily", "date": "yesterday"}, {}):
        bad = await client.post("/v1/digests", json=body)
        assert bad.status_code == 400, body
        assert bad.headers["content-type"].startswith("application/problem+json")
