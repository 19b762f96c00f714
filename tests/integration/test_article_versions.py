"""What an article's versions and sources may show, to whom: holes a hostile partner found after
issue 21's first fixes. A page on another port of a host cannot claim the host's article; a page
that changes back makes its old signal current again; a restricted key reads an article only
when it may see the analysis of its text as stored now, and an older card shows the metadata
of its own version; no shared object shows the URL as a submitter spelled it; a forged
relevance cursor is a 400. Real API with its worker, LLM stub and article sites on loopback."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from service.app import create_app
from service.keys import service as keys
from service.topics.slugs import topic_ids_for_slugs
from tests.support.articles import article_page
from tests.support.clients import connected, keyed_client, stub_llm
from tests.support.problems import assert_problem
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi
from tests.support.site import FakeSite, running_site

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def api(make_settings: Any, stub: SimpleNamespace) -> Iterator[str]:
    settings = make_settings(**stub_llm(stub), llm_timeout_seconds=10, job_heartbeat_seconds=10)
    with running_asgi(create_app(settings, worker=True)) as base:
        yield base


@pytest.fixture(scope="module")
def other_port() -> Iterator[FakeSite]:
    """A second site on the same host as ``site`` (127.0.0.1), on another port."""
    with running_site() as fake:
        yield fake


@pytest.fixture(scope="module")
async def world(database_url: str) -> SimpleNamespace:
    async with connected(database_url) as conn:
        rail = await seed_signal(
            conn, SeedSignal(title="Rail v1", topics=["Rail"], url="https://paper.example/m")
        )
        energy = await seed_signal(
            conn,
            SeedSignal(
                title="Energy v2",
                topics=["Energy"],
                url="https://paper.example/m",  # the same article, changed to another story
                site_name="Another Masthead",
                text="A different story about the energy market and its prices. " * 20,
            ),
        )
        rail_ids = await topic_ids_for_slugs(conn, ["rail"])
        scopes = ["signals:read", "signals:write"]
        made = {
            "writer": await keys.create_key(conn, name="writer", scopes=scopes),
            "other": await keys.create_key(conn, name="other", scopes=scopes),
            "rail": await keys.create_key(conn, name="rail", scopes=["signals:read"], topic_ids=rail_ids),
        }
    return SimpleNamespace(rail_signal=rail, energy_signal=energy, **{k: v.key for k, v in made.items()})


async def finished(http: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post("/v1/signals", json=body)
    assert response.status_code == 202, response.text
    for _ in range(600):
        job: dict[str, Any] = (await http.get(response.headers["location"])).json()
        if job["status"] in ("done", "failed"):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError("the job did not finish")


async def test_a_page_on_another_port_cannot_claim_the_host_s_article(api, world, site, other_port):
    url = site.set_page("/news/solar", article_page(41))
    forged = article_page(42, canonical=url)  # claims the article on the first port
    evil = other_port.set_page("/evil", forged)
    assert url.split("/")[2] != evil.split("/")[2]  # same host, two ports
    async with keyed_client(api, world.writer) as writer, keyed_client(api, world.other) as other:
        original = await finished(writer, {"url": url})
        taken = await finished(other, {"url": evil})
        card = (await writer.get(f"/v1/signals/{original['signal_id']}")).json()
        theirs = (await writer.get(f"/v1/signals/{taken['signal_id']}")).json()
    assert original["status"] == taken["status"] == "done"
    assert theirs["article_id"] != card["article_id"] and card["current"] is True
    assert theirs["source"]["canonical_url"] == evil


async def test_a_page_that_changes_back_makes_its_first_signal_current_again(api, world, site):
    path = "/news/morphing"
    async with keyed_client(api, world.writer) as writer:
        site.set_page(path, article_page(43))
        first = await finished(writer, {"url": site.base_url + path})
        site.set_page(path, article_page(44))
        second = await finished(writer, {"url": site.base_url + path})
        site.set_page(path, article_page(43))
        third = await finished(writer, {"url": site.base_url + path})
        cards = [(await writer.get(f"/v1/signals/{j['signal_id']}")).json() for j in (first, second)]
        listed = {i["id"] for i in (await writer.get("/v1/signals", params={"limit": 100})).json()["items"]}
    assert third["signal_id"] == first["signal_id"] and third["reused"] is True
    assert [c["current"] for c in cards] == [True, False]
    assert first["signal_id"] in listed and second["signal_id"] not in listed


async def test_a_restricted_key_reads_an_article_only_through_its_current_text(api, world):
    async with keyed_client(api, world.rail) as rail, keyed_client(api, world.writer) as writer:
        old_card = (await rail.get(f"/v1/signals/{world.rail_signal}")).json()
        article = await rail.get(f"/v1/articles/{old_card['article_id']}")
        unknown = await rail.get("/v1/articles/00000000-0000-0000-0000-000000000000")
        full = (await writer.get(f"/v1/articles/{old_card['article_id']}")).json()
    # the article now holds the energy text: the rail key may not read it, as if it did not exist
    assert_problem(article, 404, "not_found")
    assert article.json()["detail"].replace(old_card["article_id"], "?") == unknown.json()["detail"].replace(
        "00000000-0000-0000-0000-000000000000", "?"
    )
    assert "energy" not in article.text.lower() and str(world.energy_signal) not in article.text
    # the old card shows the metadata of the version it analysed, not the article's newest
    assert old_card["source"]["site_name"] == "The Harbour Courier"
    assert full["site_name"] == "Another Masthead"
    assert set(full["signal_ids"]) == {str(world.rail_signal), str(world.energy_signal)}


async def test_no_shared_object_shows_a_submitter_s_spelling_of_the_url(api, world, site):
    url = site.set_page("/news/with-token", article_page(45, canonical=site.base_url + "/news/with-token"))
    secret = "session=P1-PRIVATE-TOKEN&utm_source=crm-person-42"
    async with keyed_client(api, world.writer) as writer, keyed_client(api, world.other) as other:
        job = await finished(writer, {"url": f"{url}?{secret}#p1note"})
        assert "P1-PRIVATE-TOKEN" in job["url"]  # the submitter's own job keeps its spelling
        card = await other.get(f"/v1/signals/{job['signal_id']}")
        article = await other.get(f"/v1/articles/{card.json()['article_id']}")
        listed = await other.get("/v1/signals", params={"include": "card", "limit": 100})
        export = await other.get("/v1/signals/export", params={"format": "ndjson"})
    for answer in (card, article, listed, export):
        assert answer.status_code == 200, answer.text
        assert "P1-PRIVATE-TOKEN" not in answer.text and "crm-person-42" not in answer.text
        assert "p1note" not in answer.text
    assert card.json()["source"]["url"] == url


async def test_a_forged_relevance_cursor_with_a_rank_past_a_real_is_a_400(api, world, database_url):
    async with connected(database_url) as conn:
        for i in range(3):
            await seed_signal(conn, SeedSignal(title=f"Quixotic harbour crane {i}"))
    async with keyed_client(api, world.writer) as writer:
        page = await writer.get("/v1/signals", params={"q": "quixotic", "sort": "relevance", "limit": 1})
        token = page.json()["next"].split("cursor=")[1].split("&")[0]
        envelope = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        assert isinstance(envelope["p"]["r"], float)
        for rank in (1e308, -1e308, 3.5e38):
            envelope["p"]["r"] = rank
            forged = base64.urlsafe_b64encode(json.dumps(envelope).encode()).decode().rstrip("=")
            answer = await writer.get(
                "/v1/signals", params={"q": "quixotic", "sort": "relevance", "limit": 1, "cursor": forged}
            )
            problem = assert_problem(answer, 400, "bad_request")
            assert problem["reason"] == "bad_cursor"
