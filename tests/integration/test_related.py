"""Related coverage end to end: articles through the API with the stub LLM and the stub's
embeddings over real sockets, the relate job in the API's worker, real PostgreSQL."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest

from service.app import create_app
from service.related.service import relate_signal
from service.runtime import open_runtime
from service.stories import candidates
from tests.support.keys import new_key
from tests.support.relating import keyed_client, stub_model, submit, submit_all, wait_related
from tests.support.servers import running_asgi
from tests.support.story_articles import BY_KEY, LabelledArticle

pytestmark = pytest.mark.timeout(240)

LATER = [
    "breach-ledger",
    "breach-dispatch",
    "decoy-copperleaf-mortgages",
    "decoy-hollis-breach",
    "recall-courier",
    "recall-ledger",
    "recall-dispatch",
    "decoy-vantor-factory",
]


@pytest.fixture(scope="module")
def settings_for(make_settings: Any, stub: SimpleNamespace) -> Any:
    def build(**overrides: Any) -> Any:
        # story_similarity 0.40: the stub's embeddings, see test_stories.py
        values = stub_model(stub, story_similarity=0.40, llm_http_retries=0)
        return make_settings(**{**values, **overrides})

    return build


@pytest.fixture(scope="module")
def api(settings_for: Any) -> Iterator[str]:
    with running_asgi(create_app(settings_for(), worker=True)) as base:
        yield base


@pytest.fixture(scope="module")
async def key(database_url: str) -> str:
    return await new_key(database_url, name="reader-writer", scopes=["signals:read", "signals:write"])


@pytest.fixture
async def client(api: str, key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with keyed_client(api, key) as http:
        yield http


@pytest.fixture(scope="module")
async def signals(api: str, key: str, database_url: str, site: Any) -> dict[str, UUID]:
    """breach-courier first, related alone; then the rest at once."""
    conn = await asyncpg.connect(database_url)
    async with keyed_client(api, key) as http:
        try:
            ids = {"breach-courier": await submit(http, site, BY_KEY["breach-courier"])}
            await wait_related(conn)
            ids.update(await submit_all(http, site, [BY_KEY[k] for k in LATER]))
            await wait_related(conn)
        finally:
            await conn.close()
    return ids


async def related_of(client: httpx.AsyncClient, signal_id: UUID, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/signals/{signal_id}/related", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["signal_id"] == str(signal_id)
    items: list[dict[str, Any]] = body["items"]
    return items


def by_id(items: list[dict[str, Any]], signals: dict[str, UUID]) -> dict[str, dict[str, Any]]:
    names = {str(v): k for k, v in signals.items()}
    return {names.get(item["id"], item["id"]): item for item in items}


async def test_related_coverage_is_ranked_and_says_why(signals, client):
    items = await related_of(client, signals["breach-ledger"])
    found = by_id(items, signals)
    assert str(signals["breach-ledger"]) not in {item["id"] for item in items}
    scores = [item["score"] for item in items]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    for other in ("breach-courier", "breach-dispatch"):
        link = found[other]
        assert link["same_story"] is True
        assert link["reason"].startswith("Same story · Both mention ")
        assert "Lena Hartmann" in link["reason"] and "similar in meaning" in link["reason"]
    decoy = found["decoy-copperleaf-mortgages"]
    assert decoy["same_story"] is False
    assert decoy["reason"].startswith("Both mention Copperleaf Bank")
    # reports of the same event outrank the bank's other news, which outranks the rest
    assert min(found[k]["score"] for k in ("breach-courier", "breach-dispatch")) > decoy["score"]
    others = [
        item["score"] for key, item in found.items() if not key.startswith(("breach-", "decoy-copperleaf"))
    ]
    assert all(score < decoy["score"] for score in others)
    print("\n[related] breach-ledger:")
    for key, item in found.items():
        print(f"    {item['score']:.3f}  {key:<28} {item['reason']}")


async def test_the_card_carries_its_top_related_links(signals, client):
    items = await related_of(client, signals["recall-courier"])
    card = (await client.get(f"/v1/signals/{signals['recall-courier']}")).json()
    assert card["related"] == [
        {"id": item["id"], "title": item["title"], "url": item["url"], "reason": item["reason"]}
        for item in items[:5]
    ]
    assert {item["id"] for item in card["related"]} >= {
        str(signals["recall-ledger"]),
        str(signals["recall-dispatch"]),
    }


async def test_reverse_links_reach_signals_related_before_the_others_existed(signals, client, db):
    first = signals["breach-courier"]
    related_at = await db.fetchval("SELECT related_at FROM signals WHERE id = $1", first)
    later = await db.fetchval(
        "SELECT min(created_at) FROM signals WHERE id = ANY($1::uuid[])", [signals[k] for k in LATER]
    )
    assert related_at < later  # its own job ran before any of them was stored ...
    found = by_id(await related_of(client, first), signals)
    # ... yet its list holds them: each later job inserted itself where it ranks
    assert {"breach-ledger", "breach-dispatch", "decoy-copperleaf-mortgages"} <= set(found)
    assert found["breach-ledger"]["same_story"] and found["breach-dispatch"]["same_story"]


async def test_limit_and_unknown_signals(signals, client):
    assert len(await related_of(client, signals["breach-ledger"], limit=2)) == 2
    for bad in (0, 101, "x"):
        response = await client.get(f"/v1/signals/{signals['breach-ledger']}/related", params={"limit": bad})
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("application/problem+json")
    missing = await client.get(f"/v1/signals/{uuid4()}/related")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


async def test_other_versions_and_copies_are_not_related_coverage(signals, client, db, site):
    # a new version of breach-dispatch's article (same URL, one more paragraph)
    article = BY_KEY["breach-dispatch"]
    html = article.page().replace(
        "</article>", "<p>This report was updated with a statement from the bank.</p></article>"
    )
    new_version = await submit(client, site, article, html)
    # the same text republished by another outlet (a wire copy)
    source = BY_KEY["breach-courier"]
    copy = LabelledArticle("breach-copy", source.event, "ledger", source.title + " (wire)", source.paragraphs)
    copied = await submit(client, site, copy)
    await wait_related(db)

    old_version = signals["breach-dispatch"]
    own = {item["id"] for item in await related_of(client, new_version)}
    assert str(new_version) not in own and str(old_version) not in own
    courier = {item["id"] for item in await related_of(client, signals["breach-courier"])}
    assert str(new_version) in courier and str(old_version) not in courier  # the new version took its place
    assert str(copied) not in courier  # the copy of courier's own text is not coverage of it
    assert str(signals["breach-courier"]) not in {item["id"] for item in await related_of(client, copied)}
    # ... but it is the same event
    stories = await db.fetch(
        "SELECT DISTINCT story_id FROM signals WHERE id = ANY($1::uuid[])",
        [copied, new_version, signals["breach-courier"], signals["breach-ledger"]],
    )
    assert len(stories) == 1
    stale = await db.fetchval("SELECT count(*) FROM signal_related WHERE related_id = $1", old_version)
    assert stale == 0
    signals["breach-dispatch"] = new_version


async def test_a_retried_job_changes_nothing(signals, db, settings_for):
    target = signals["recall-ledger"]
    query = "SELECT signal_id, related_id, score, reason, same_story FROM signal_related ORDER BY 1, 2"
    async with open_runtime(settings_for(), extraction=False) as rt:
        # refreshed with what arrived since its first run
        await relate_signal(rt.db.pool, rt.embedder, rt.settings, target)
        first = [tuple(r) for r in await db.fetch(query)]
        stories = await db.fetch("SELECT * FROM stories ORDER BY id")
        await relate_signal(rt.db.pool, rt.embedder, rt.settings, target)  # the retry
    assert [tuple(r) for r in await db.fetch(query)] == first
    after = await db.fetch("SELECT * FROM stories ORDER BY id")
    assert [(s["id"], s["signal_count"], s["lead_signal_id"]) for s in after] == [
        (s["id"], s["signal_count"], s["lead_signal_id"]) for s in stories
    ]


async def test_a_server_that_ignores_dimensions_is_one_clear_error_not_a_retry_loop(
    signals, db, settings_for, caplog
):
    calls: list[dict[str, Any]] = []

    async def fake_embeddings(scope: dict[str, Any], receive: Any, send: Any) -> None:
        # An OpenAI-compatible server whose model always answers 8 dimensions.
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if not scope["path"].endswith("/embeddings"):  # the analysis client's start-up probes
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        request = json.loads(body)
        calls.append(request)
        texts = [request["input"]] if isinstance(request["input"], str) else request["input"]
        payload = {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": [0.125] * 8} for i in range(len(texts))
            ],
            "model": request["model"],
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(payload).encode()})

    targets = [signals["recall-dispatch"], signals["decoy-vantor-factory"]]
    await db.execute("DELETE FROM signal_embeddings WHERE signal_id = ANY($1::uuid[])", targets)
    caplog.set_level(logging.ERROR, logger="service.related")
    caplog.set_level(logging.ERROR, logger="service.embeddings")
    with running_asgi(fake_embeddings) as base:
        async with open_runtime(settings_for(openai_base_url=f"{base}/v1"), extraction=False) as rt:
            for target in targets:
                # completes: no exception, so no retry
                await relate_signal(rt.db.pool, rt.embedder, rt.settings, target)
    assert len(calls) == 1 and calls[0]["dimensions"] == 384  # asked once, then embeddings are off
    errors = [
        r
        for r in caplog.records
        if r.levelno == logging.ERROR and r.name.startswith(("service.related", "service.embeddings"))
    ]
    assert len(errors) == 1
    assert "returned 8-dimensional vectors" in errors[0].getMessage()
    assert "SIGNALS_EMBEDDING_DIMENSIONS=8" in errors[0].getMessage()
    assert (
        await db.fetchval("SELECT count(*) FROM signal_embeddings WHERE signal_id = ANY($1::uuid[])", targets)
        == 0
    )
    related = await db.fetchval("SELECT related_at FROM signals WHERE id = $1", targets[0])
    assert related is not None


async def test_related_coverage_without_an_embeddings_endpoint(signals, client, db, settings_for):
    await db.execute("DELETE FROM signal_embeddings")
    target = signals["recall-ledger"]
    async with open_runtime(settings_for(embedding_model=None), extraction=False) as rt:
        assert rt.embedder is None
        await relate_signal(rt.db.pool, rt.embedder, rt.settings, target)
    assert await db.fetchval("SELECT count(*) FROM signal_embeddings") == 0
    found = by_id(await related_of(client, target), signals)
    for other in ("recall-courier", "recall-dispatch"):
        assert found[other]["same_story"]
        assert found[other]["reason"].startswith("Same story · Both mention ")
        assert "Carla Mendes" in found[other]["reason"]
    assert found["decoy-vantor-factory"]["reason"].startswith("Both mention ")
    assert not any("in meaning" in item["reason"] for item in found.values())
    assert found["decoy-vantor-factory"]["score"] < min(
        found[k]["score"] for k in ("recall-courier", "recall-dispatch")
    )


async def test_rarity_counts_the_current_signals_naming_each_name_and_topic(signals, db):
    """Entity and topic weights come from the daily counts (migration 0017): each equals the
    current signals naming the key or carrying the topic; one no longer current is left out."""
    keys = {r["key"] for r in await db.fetch("SELECT DISTINCT key FROM entities")}
    topic_ids = {r["id"] for r in await db.fetch("SELECT id FROM topics")}
    retired = signals["breach-ledger"]
    await db.execute("UPDATE signals SET is_current = false WHERE id = $1", retired)
    try:
        rarity = await candidates.rarity(db, keys, topic_ids)
        expected_entities = {
            r["key"]: r["n"]
            for r in await db.fetch(
                """SELECT e.key, count(*) AS n FROM signals s JOIN entities e ON e.id = ANY(s.entity_ids)
                   WHERE s.is_current AND e.type IN ('person', 'organization', 'product', 'place')
                   GROUP BY e.key"""
            )
        }
        expected_topics = {
            r["t"]: r["n"]
            for r in await db.fetch(
                """SELECT t, count(*) AS n FROM signals s, unnest(s.topic_ids) AS t
                   WHERE s.is_current GROUP BY t"""
            )
        }
    finally:
        await db.execute("UPDATE signals SET is_current = true WHERE id = $1", retired)
    assert expected_entities and expected_topics
    assert rarity.entity_counts == expected_entities
    assert rarity.topic_counts == expected_topics
    back = await candidates.rarity(db, keys, topic_ids)
    assert back.topic_counts != rarity.topic_counts  # the signal counts again once current
