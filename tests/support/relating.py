"""Helpers for related-coverage and story tests: publish labelled articles on a fake site and
analyse them by URL through the API, wait until the relate jobs have run, and re-run relating
in-process with other settings.

The articles are fetched, not sent as html: stories and related coverage are made of fetched
(public) content only, and what a caller supplies stays its own (service/keys/suppliers.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import asyncpg
import httpx

from service.related.service import relate_signal
from service.runtime import open_runtime
from service.settings import Settings
from tests.support import signals_api
from tests.support.site import FakeSite
from tests.support.story_articles import LabelledArticle, pairwise_scores

EMBEDDING_MODEL = "signals-stub-embed"


def stub_model(stub: SimpleNamespace, **overrides: Any) -> dict[str, Any]:
    """Settings pointing the service at the stub LLM and its embeddings, for short news items."""
    return {
        "openai_base_url": f"{stub.base}/v1",
        "openai_api_key": "test-key",
        "llm_model": "signals-stub",
        "embedding_model": EMBEDDING_MODEL,
        "extract_min_words": 50,  # the test articles are short news items
        "llm_timeout_seconds": 10,
        **overrides,
    }


def keyed_client(base: str, key: str) -> httpx.AsyncClient:
    """A client of the API at ``base`` sending ``key``."""
    return httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60)


async def wait_job(client: httpx.AsyncClient, job_id: str, seconds: float = 90) -> dict[str, Any]:
    """tests/support/signals_api.py's wait, longer: these jobs fetch their article first."""
    return await signals_api.wait_job(client, job_id, seconds)


def publish(site: FakeSite, article: LabelledArticle, html: str | None = None) -> str:
    """Serve the article's page (or ``html``, a new version of it) on the fake site, under its
    outlet's host and path; the URL it is fetched from."""
    parts = urlsplit(article.url)
    return site.set_page(f"/{parts.netloc}{parts.path}", html or article.page())


async def submit(
    client: httpx.AsyncClient, site: FakeSite, article: LabelledArticle, html: str | None = None
) -> UUID:
    """Analyse one labelled article (its page, or ``html``, fetched from the fake site); the
    signal id."""
    response = await client.post("/v1/signals", json={"url": publish(site, article, html)})
    assert response.status_code == 202, response.text
    job = await wait_job(client, response.json()["id"])
    assert job["status"] == "done", job
    return UUID(job["signal_id"])


async def submit_all(
    client: httpx.AsyncClient, site: FakeSite, articles: Iterable[LabelledArticle]
) -> dict[str, UUID]:
    """Submit articles at once (as a busy feed would); article key → signal id."""
    chosen = list(articles)
    ids = await asyncio.gather(*(submit(client, site, a) for a in chosen))
    return {a.key: signal_id for a, signal_id in zip(chosen, ids, strict=True)}


async def wait_related(db: asyncpg.Connection, seconds: float = 90) -> None:
    """Until every stored signal's relate job has run."""
    deadline = asyncio.get_running_loop().time() + seconds
    while await db.fetchval("SELECT count(*) FROM signals WHERE related_at IS NULL"):
        assert asyncio.get_running_loop().time() < deadline, "relate jobs did not finish"
        await asyncio.sleep(0.1)


async def story_by_key(db: asyncpg.Connection, signals: dict[str, UUID]) -> dict[str, UUID]:
    rows = await db.fetch(
        "SELECT id, story_id FROM signals WHERE id = ANY($1::uuid[])", list(signals.values())
    )
    story = {row["id"]: row["story_id"] for row in rows}
    assert all(story.values()), "every related signal is in a story"
    return {key: story[signal_id] for key, signal_id in signals.items()}


async def reset_relations(db: asyncpg.Connection) -> None:
    """Forget every story and link (embeddings are kept), as before any relate job ran."""
    await db.execute(
        "UPDATE signals SET story_id = NULL, is_story_lead = true, related_at = NULL;"
        "DELETE FROM stories; DELETE FROM signal_related;"
    )


async def rerun_clustering(
    db: asyncpg.Connection, settings: Settings, signals: dict[str, UUID]
) -> tuple[float, float, dict[str, UUID]]:
    """Relate every signal again, one by one in arrival order, with ``settings``; return the
    labelled set's pairwise (precision, recall) and the stories found."""
    await reset_relations(db)
    order = await db.fetch(
        "SELECT id FROM signals WHERE id = ANY($1::uuid[]) ORDER BY created_at, id", list(signals.values())
    )
    async with open_runtime(settings, extraction=False) as rt:
        for row in order:
            await relate_signal(rt.db.pool, rt.embedder, rt.settings, row["id"])
    stories = await story_by_key(db, signals)
    precision, recall = pairwise_scores(dict(stories))
    return precision, recall, stories
