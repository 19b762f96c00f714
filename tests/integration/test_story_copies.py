"""A wire story republished by several outlets is one story, through the API.

The copies' text names people and companies only in single words, so the stub LLM finds no
names in them (it takes capitalised runs of two words or more): the case where the names rule
alone would leave each outlet's copy as a story of its own. Copies are kept out of each
other's related coverage, so the story is what ties them together. The outlets' pages are
fetched from a fake site (stories are made of fetched content: what a caller supplies stays
its own).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from service.app import create_app
from tests.support.keys import new_key
from tests.support.relating import keyed_client, stub_model, wait_job, wait_related
from tests.support.servers import running_asgi
from tests.support.site import FakeSite

pytestmark = pytest.mark.timeout(300)

WIRE = (
    "Tidewell announced on Monday that it will build a large solar farm outside Marrow, "
    "with construction starting in the spring and power flowing to the grid within two years. "
    "The company said the farm would cover four hundred acres of former pasture and supply "
    "enough electricity for sixty thousand homes. Officials in Marrow welcomed the plan and "
    "said it would bring about three hundred construction jobs to the county. Some farmers "
    "worried about the loss of grazing land and asked for a public hearing before work begins. "
    "The utility that will buy the power said the contract runs for twenty years at a fixed "
    "price. Tidewell expects to file its permit application with the state next month, and "
    "a decision is due before the end of the summer. Analysts said the project shows how "
    "quickly rural counties are becoming the centre of the energy transition."
)
OTHER = (
    "Brightwater opened a new public library on Saturday after three years of fundraising by "
    "residents, who collected small donations at markets and concerts across the town. The "
    "building holds forty thousand books, a children's wing and a workshop where visitors can "
    "borrow tools. The mayor thanked volunteers and said the library would stay open late on "
    "weekdays so that students have a quiet place to study after school. Local schools plan "
    "weekly visits, and the reading club has already signed up two hundred members. The town "
    "council will pay for two librarians from next year's budget, and a cafe run by a charity "
    "will open inside the building in the autumn, with profits going to literacy programmes."
)


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} | Third Outlet</title>
<meta property="og:site_name" content="Third Outlet"></head><body>
<header><nav><a href="/">Home</a> <a href="/news">News</a></nav></header>
<main><article><h1>{title}</h1>{paragraphs}</article>
<aside>Sign up for our morning newsletter.</aside></main><footer>Third Outlet</footer></body></html>"""


@pytest.fixture(scope="module")
def api(make_settings: Any, stub: SimpleNamespace) -> Iterator[str]:
    with running_asgi(create_app(make_settings(**stub_model(stub)), worker=True)) as base:
        yield base


@pytest.fixture(scope="module")
def api_without_embeddings(make_settings: Any, stub: SimpleNamespace) -> Iterator[str]:
    settings = make_settings(**stub_model(stub, embedding_model=None))
    with running_asgi(create_app(settings, worker=True)) as base:
        yield base


@pytest.fixture(scope="module")
async def key(database_url: str) -> str:
    return await new_key(database_url, name="wire-desk", scopes=["signals:read", "signals:write"])


@pytest.fixture
async def client(api: str, key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with keyed_client(api, key) as http:
        yield http


async def _publish(
    client: httpx.AsyncClient, site: FakeSite, text: str, title: str, path: str, *, page: bool = False
) -> UUID:
    """Analyse ``text`` fetched from the fake site at ``path``: a plain-text page, or (``page``)
    inside an outlet's HTML page."""
    if page:
        paragraphs = "".join(f"<p>{sentence}.</p>" for sentence in text.rstrip(".").split(". "))
        url = site.set_page(path, _PAGE.format(title=title, paragraphs=paragraphs))
    else:
        url = site.set_page(path, f"{title}\n\n{text}", content_type="text/plain; charset=utf-8")
    response = await client.post("/v1/signals", json={"url": url})
    assert response.status_code == 202, response.text
    job = await wait_job(client, response.json()["id"])
    assert job["status"] == "done", job
    return UUID(job["signal_id"])


async def _copies(
    client: httpx.AsyncClient, site: FakeSite, db: asyncpg.Connection, text: str, title: str, slug: str
) -> list[UUID]:
    """The same wire story under three outlets' URLs; the third in its own page's chrome."""
    ids = [
        await _publish(client, site, text, title, f"/first-{slug}.example/news/{slug}"),
        await _publish(client, site, text, title, f"/second-{slug}.example/story/{slug}"),
        await _publish(client, site, text, title, f"/third-{slug}.example/{slug}", page=True),
    ]
    await wait_related(db)
    return ids


async def test_copies_of_a_wire_story_make_one_story(client, db, site):
    copies = await _copies(client, site, db, WIRE, "Solar farm planned outside Marrow", "solar")
    other = await _publish(client, site, OTHER, "Town opens its library", "/fourth.example/library")
    await wait_related(db)
    rows = await db.fetch(
        "SELECT id, story_id, entity_ids FROM signals WHERE id = ANY($1::uuid[])", [*copies, other]
    )
    story = {row["id"]: row["story_id"] for row in rows}
    assert all(not row["entity_ids"] for row in rows), "the stub found names: the case is not tested"
    assert len({story[c] for c in copies}) == 1, "each outlet's copy started a story of its own"
    assert story[other] != story[copies[0]]

    one_story = (await client.get(f"/v1/stories/{story[copies[0]]}")).json()
    assert one_story["signal_count"] == 3
    collapsed = (await client.get("/v1/signals", params={"collapse": "story", "limit": 100})).json()
    shown = [UUID(item["id"]) for item in collapsed["items"]]
    assert len(set(shown) & set(copies)) == 1 and other in shown
    # still kept out of each other's related coverage: they are copies, not coverage
    for copy in copies:
        related = (await client.get(f"/v1/signals/{copy}/related")).json()["items"]
        assert not {UUID(r["id"]) for r in related} & set(copies)


async def test_without_embeddings_copies_are_found_by_their_wording(api_without_embeddings, key, db, site):
    async with keyed_client(api_without_embeddings, key) as http:
        copies = await _copies(http, site, db, OTHER, "Town opens its library", "library")
    stories = await db.fetch("SELECT DISTINCT story_id FROM signals WHERE id = ANY($1::uuid[])", copies)
    assert len(stories) == 1 and stories[0]["story_id"] is not None
