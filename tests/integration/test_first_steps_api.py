"""What a newcomer meets first, over real sockets: the sample analysed by the stub, refusals
that say what to do, sentiment at two decimals, HTML bodies as large as fetched pages, and
the API documentation served whole from the package (it renders offline)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import yaml

from service.app import create_app
from service.docs_assets import ASSETS_DIR
from service.errors import ExtractionFailed
from service.ingest.quality import count_words
from service.samples import load_sample, sample_page, sample_request
from tests.support.clients import connected, keyed_client, stub_llm
from tests.support.keys import new_key
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi

pytestmark = pytest.mark.timeout(180)

FETCH_MAX = 256 * 1024
BODY_MAX = 64 * 1024


@pytest.fixture(scope="module")
def api(make_settings: Any, stub: SimpleNamespace) -> Iterator[str]:
    settings = make_settings(
        **stub_llm(stub),
        fetch_allowed_networks=[],  # as a fresh install: loopback refused
        fetch_max_bytes=FETCH_MAX,
        max_body_bytes=BODY_MAX,
    )
    with running_asgi(create_app(settings, worker=True)) as base:
        yield base


@pytest.fixture
async def client(api: str, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    key = await new_key(database_url, name="newcomer", scopes=["signals:read", "signals:write"])
    async with keyed_client(api, key) as http:
        yield http


async def job_count(database_url: str) -> int:
    async with connected(database_url) as conn:
        count: int = await conn.fetchval("SELECT count(*) FROM jobs")
        return count


async def test_the_sample_article_gives_a_grounded_signal_from_the_stub(client: httpx.AsyncClient):
    sample = load_sample()
    assert len(sample.text.split()) >= 600  # a real-length article, well over the 120-word gate
    response = await client.post("/v1/signals", json=sample_request(), headers={"Prefer": "wait=30"})
    assert response.status_code == 201, response.text
    card = response.json()
    assert card["title"].startswith("[stub]")
    assert {t["slug"] for t in card["topics"]} == {"leak-detection", "water-network", "acoustic-sensors"}
    assert card["grounding"]["grounded"] == card["grounding"]["checked"] >= 3
    for detail in card["key_details"]:
        assert detail["evidence"] in sample.text


async def test_the_sample_page_sent_as_html_is_extracted_to_the_same_text(client: httpx.AsyncClient):
    page = sample_page()
    body = {"html": page, "url": "https://courier.example/leak-sensors"}
    response = await client.post("/v1/signals", json=body, headers={"Prefer": "wait=30"})
    assert response.status_code == 201, response.text
    card = response.json()
    sample = load_sample()
    source = card["source"]
    assert source["word_count"] == count_words(f"{sample.title}\n{sample.text}")  # the headline leads
    assert (source["site_name"], source["author"]) == (sample.site_name, sample.author)
    assert source["published_date"] == sample.published


async def test_a_loopback_url_and_localhost_are_both_refused_at_once_naming_the_setting(
    client: httpx.AsyncClient, database_url: str
):
    before = await job_count(database_url)
    for url in ("http://127.0.0.1:8002/page.html", "http://localhost:8002/page.html", "http://a.localhost/"):
        response = await client.post("/v1/signals", json={"url": url})
        assert response.status_code == 422, (url, response.text)
        problem = response.json()
        assert problem["code"] == "fetch_refused" and problem["reason"] == "address_not_allowed"
        assert "SIGNALS_FETCH_ALLOWED_NETWORKS" in problem["detail"], problem
    assert await job_count(database_url) == before  # no job for any of them


async def test_a_too_short_text_fails_with_a_title_that_fits_text(client: httpx.AsyncClient):
    response = await client.post(
        "/v1/signals", json={"text": "Too short here."}, headers={"Prefer": "wait=30"}
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert (problem["code"], problem["reason"]) == ("extraction_failed", "too_short")
    assert problem["title"] == ExtractionFailed.title and "page or text" in problem["title"]
    assert "3 words" in problem["detail"] and "120" in problem["detail"]


async def test_sentiment_is_served_at_two_decimals(client: httpx.AsyncClient, database_url: str):
    async with connected(database_url) as conn:
        signal_id = await seed_signal(
            conn, SeedSignal(title="A sentiment stored as a PostgreSQL real", sentiment=0.33, topics=["Tone"])
        )
    card = await client.get(f"/v1/signals/{signal_id}")
    assert card.status_code == 200, card.text
    assert '"sentiment":0.33,' in card.text  # not 0.33000001311302185
    listed = await client.get("/v1/signals?topic=tone")
    assert '"sentiment":0.33,' in listed.text
    export = await client.get("/v1/signals/export?format=csv&topic=tone")
    assert export.headers["content-type"] == "text/csv; charset=utf-8"
    assert ",0.33," in export.text


async def test_an_html_body_may_be_as_large_as_a_fetched_page(client: httpx.AsyncClient):
    filler = "<p>" + "Filler paragraph of a long page with many words in it. " * 40 + "</p>\n"
    page = sample_page().replace("<footer>", filler * (BODY_MAX * 2 // len(filler)) + "<footer>")
    assert BODY_MAX * 2 < len(page.encode()) < FETCH_MAX
    accepted = await client.post("/v1/signals", json={"html": page, "url": "https://courier.example/long"})
    assert accepted.status_code == 202, accepted.text[:500]

    too_large = page + "<!-- padding -->" * (FETCH_MAX // 16)
    refused = await client.post(
        "/v1/signals", json={"html": too_large, "url": "https://courier.example/huge"}
    )
    assert refused.status_code == 413, refused.text[:500]
    assert (
        refused.json()["reason"] == "html_too_large" and "SIGNALS_FETCH_MAX_BYTES" in refused.json()["detail"]
    )


async def test_other_bodies_keep_the_general_cap(client: httpx.AsyncClient):
    text = "A sentence that an article might contain, repeated. " * (BODY_MAX // 40)
    refused = await client.post("/v1/signals", json={"text": text})
    assert refused.status_code == 413 and refused.json()["reason"] == "body_too_large"
    assert "SIGNALS_MAX_BODY_BYTES" in refused.json()["detail"]
    digest = await client.post("/v1/digests", json={"period": "daily", "date": "2026-01-01", "topic": text})
    assert digest.status_code == 413, digest.text[:300]


# --- the API documentation, offline -------------------------------------------------------------

_LINKS = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
_README_SUMS = re.compile(r"^([0-9a-f]{64})  (\S+)$", re.M)


@pytest.mark.parametrize("page", ["/schema", "/schema/scalar", "/schema/swagger"])
async def test_documentation_pages_load_every_script_and_style_from_the_service(api: str, page: str):
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        html = (await http.get(page)).text
        links = _LINKS.findall(html)
        assert links, html[:500]
        for link in links:
            if link.startswith("data:"):
                continue
            assert link.startswith("/schema/"), f"{page} loads {link} from elsewhere"
            asset = await http.get(link)
            assert asset.status_code == 200, link
            assert asset.headers["content-type"].split(";")[0] in {"text/javascript", "text/css"}
        assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html
    if "scalar" in page or page == "/schema":
        assert '"withDefaultFonts":false' in html  # no web fonts from fonts.scalar.com


def test_the_vendored_assets_are_the_files_their_readme_names():
    readme = (ASSETS_DIR.parent / "README.md").read_text()
    sums = _README_SUMS.findall(readme)
    assert len(sums) == 4
    for digest, name in sums:
        assert hashlib.sha256((ASSETS_DIR / name).read_bytes()).hexdigest() == digest, name
    for licence in ("swagger-ui/LICENSE", "swagger-ui/NOTICE", "scalar/LICENSE"):
        assert (ASSETS_DIR / licence).stat().st_size > 0


async def test_the_openapi_document_is_served_as_json_and_as_yaml(api: str):
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        as_json = await http.get("/schema/openapi.json")
        as_yaml = await http.get("/schema/openapi.yaml")
    assert as_json.status_code == as_yaml.status_code == 200
    assert yaml.safe_load(as_yaml.text) == json.loads(as_json.text)
    assert "/v1/signals" in as_json.json()["paths"]
