"""Conventions every endpoint keeps: problem+json for every error, ETag / 304 on single
resources, configurable CORS, request ids (header, problem body, log lines), a complete
OpenAPI document and the documentation pages."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest

from service.app import create_app
from service.db.database import init_connection
from service.keys import service as keys
from service.settings import SettingsError, load_settings
from service.signals import job_repository as signals
from service.signals import repository as signals_repository
from service.stories import repository as stories
from tests.support.problems import PROBLEM, assert_problem
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi

ORIGIN = "https://app.example"
_HEX32 = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture(scope="module")
def api(make_settings: Any) -> Iterator[str]:
    settings = make_settings(cors_origins=[ORIGIN, "http://localhost:3000"], max_body_bytes=4096)
    with running_asgi(create_app(settings, worker=False)) as base:
        yield base


@pytest.fixture(scope="module")
def api_without_cors(make_settings: Any) -> Iterator[str]:
    with running_asgi(create_app(make_settings(), worker=False)) as base:
        yield base


@pytest.fixture(scope="module")
async def world(database_url: str) -> SimpleNamespace:
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        signal_id = await seed_signal(
            conn,
            SeedSignal(title="Harbour cranes", topics=["Ports"], entities=[("Crane Works", "organization")]),
        )
        article_id = await conn.fetchval("SELECT article_id FROM signals WHERE id = $1", signal_id)
        entity_id = await conn.fetchval("SELECT id FROM entities WHERE name = 'Crane Works'")
        story_id = await stories.create_story(conn, signal_id)
        await stories.set_signal_story(conn, signal_id, story_id)
        await signals_repository.refresh_story(conn, story_id)
        reader = await keys.create_key(conn, name="reader", scopes=["signals:read"])
        job = await signals.insert_job(
            conn,
            input_kind="url",
            url="https://example.com/a",
            dedupe_url=None,
            payload=None,
            api_key_id=reader.id,  # a job is visible to the key that submitted it
            idempotency_key=None,
            request_fingerprint="f",
        )
        assert job is not None
        limited = await keys.create_key(
            conn, name="limited", scopes=["signals:read"], burst=1, rate_per_second=0.01
        )
    finally:
        await conn.close()
    return SimpleNamespace(
        reader=reader.key,
        limited=limited.key,
        job_id=job.id,
        resources={
            "signal": f"/v1/signals/{signal_id}",
            "article": f"/v1/articles/{article_id}",
            "job": f"/v1/jobs/{job.id}",
            "story": f"/v1/stories/{story_id}",
            "topic": "/v1/topics/ports",
            "entity": f"/v1/entities/{entity_id}",
        },
    )


@pytest.fixture
async def http(api: str, world: SimpleNamespace) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {world.reader}"}) as client:
        yield client


# --- ETag and If-None-Match -----------------------------------------------------------------------


@pytest.mark.parametrize("resource", ["signal", "article", "job", "story", "topic", "entity"])
async def test_single_resources_carry_a_strong_etag_and_answer_304(http, world, resource):
    path = world.resources[resource]
    first = await http.get(path)
    assert first.status_code == 200, first.text
    tag = first.headers["ETag"]
    assert tag.startswith('"') and tag.endswith('"') and not tag.startswith("W/")
    assert (await http.get(path)).headers["ETag"] == tag  # stable while nothing changes

    cached = await http.get(path, headers={"If-None-Match": tag})
    assert cached.status_code == 304 and cached.content == b"" and cached.headers["ETag"] == tag
    listed = await http.get(path, headers={"If-None-Match": f'"other", W/{tag}'})
    assert listed.status_code == 304  # If-None-Match compares weakly, and takes a list
    stale = await http.get(path, headers={"If-None-Match": '"not-this-one"'})
    assert stale.status_code == 200 and stale.json() == first.json()


async def test_the_etag_follows_the_content(http, world, database_url):
    path = world.resources["job"]
    before = (await http.get(path)).headers["ETag"]
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE jobs SET status = 'fetching' WHERE id = $1", world.job_id)
    finally:
        await conn.close()
    changed = await http.get(path, headers={"If-None-Match": before})
    assert changed.status_code == 200 and changed.json()["status"] == "fetching"
    assert changed.headers["ETag"] != before


# --- every error is problem+json ------------------------------------------------------------------


async def test_every_kind_of_error_is_problem_json(http, api):
    assert_problem(await http.get("/v1/no-such-route"), 404)
    assert_problem(await http.get("/nothing/at/all"), 404)
    assert_problem(await http.get(f"/v1/signals/{uuid4()}"), 404)
    assert_problem(await http.delete("/v1/topics"), 405)
    assert_problem(await http.post("/v1/signals", json={"url": "https://example.com/a"}), 403)
    invalid = assert_problem(await http.get("/v1/signals", params={"limit": "many"}), 400)
    assert invalid["errors"]
    assert_problem(await http.get("/v1/stories", params={"limit": 0}), 400)
    async with httpx.AsyncClient(base_url=api) as anonymous:
        assert_problem(await anonymous.get("/v1/signals"), 401)
        assert_problem(await anonymous.get("/v1/signals", headers={"Authorization": "Bearer nope"}), 401)


async def test_body_errors_are_problems(api, database_url):
    conn = await asyncpg.connect(database_url)
    try:
        writer = (await keys.create_key(conn, name="writer", scopes=["signals:write"])).key
    finally:
        await conn.close()
    json_type = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {writer}"}) as client:
        assert_problem(await client.post("/v1/digests", content=b"x" * 8192, headers=json_type), 413)
        # POST /v1/signals reads more, for {"html"} pages; any other body keeps the cap.
        long_text = await client.post("/v1/signals", json={"text": "x " * 4096})
        assert_problem(long_text, 413, reason="body_too_large")
        assert_problem(await client.post("/v1/signals", content=b"{oops", headers=json_type), 400)
        assert_problem(await client.post("/v1/signals", json={"url": 7}), 400)
        plain = await client.post("/v1/signals", content=b"url=x", headers={"Content-Type": "text/plain"})
        assert "text/plain" in assert_problem(plain, 415)["detail"]
        form = await client.post("/v1/signals", data={"url": "https://example.com/a"})
        assert_problem(form, 415)
        # JSON under its own name or a +json suffix is fine (503 here: no model is configured)
        for media in ("application/json; charset=utf-8", "application/merge-patch+json"):
            body = b'{"url": "https://example.com/a"}'
            accepted = await client.post("/v1/signals", content=body, headers={"Content-Type": media})
            assert_problem(accepted, 503)


# --- request ids ----------------------------------------------------------------------------------


async def test_a_sane_request_id_is_echoed_and_anything_else_replaced(http):
    echoed = await http.get("/v1/signals", headers={"X-Request-ID": "trace-42.a:b/c"})
    assert echoed.headers["X-Request-ID"] == "trace-42.a:b/c"
    generated = await http.get("/v1/signals")
    assert _HEX32.match(generated.headers["X-Request-ID"])
    for insane in ("has space", "x" * 200, "<script>", "-leading-dash"):
        replaced = await http.get("/v1/signals", headers={"X-Request-ID": insane})
        assert _HEX32.match(replaced.headers["X-Request-ID"]), insane
    assert (await http.get("/healthz")).headers["X-Request-ID"]


async def test_the_request_id_is_in_problem_bodies_and_headers_of_every_error(http):
    for path in ("/v1/no-such-route", f"/v1/jobs/{uuid4()}"):
        response = await http.get(path, headers={"X-Request-ID": "err-1"})
        body = assert_problem(response, 404)
        assert body["request_id"] == "err-1" == response.headers["X-Request-ID"]


async def test_the_request_id_is_on_log_lines_written_while_handling(api, world, caplog):
    caplog.set_level(logging.INFO, logger="service.http")
    async with httpx.AsyncClient(
        base_url=api, headers={"Authorization": f"Bearer {world.limited}"}
    ) as client:
        assert (await client.get("/v1/signals")).status_code == 200
        refused = await client.get("/v1/signals", headers={"X-Request-ID": "log-me-7"})
    assert refused.status_code == 429
    lines = [r for r in caplog.records if r.name == "service.http" and "rate limited" in r.getMessage()]
    assert lines and all(getattr(r, "request_id", None) == "log-me-7" for r in lines)
    formatted = logging.Formatter("%(request_id)s %(message)s").format(lines[0])
    assert formatted.startswith("log-me-7 rate limited")
    assert world.limited not in formatted  # the visible prefix only, never the key


# --- CORS -----------------------------------------------------------------------------------------


async def test_cors_allows_configured_origins_only(http):
    allowed = await http.get("/v1/signals", headers={"Origin": ORIGIN})
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in allowed.headers["Vary"]
    exposed = {h.strip().lower() for h in allowed.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"etag", "ratelimit", "ratelimit-policy", "retry-after", "x-request-id"} <= exposed
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    denied = await http.get("/v1/signals", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in denied.headers


async def test_cors_preflights(api):
    async with httpx.AsyncClient(base_url=api) as client:
        ok = await client.options(
            "/v1/signals",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization, if-none-match",
            },
        )
        assert ok.status_code == 204
        assert ok.headers["Access-Control-Allow-Origin"] == ORIGIN
        allowed_headers = ok.headers["Access-Control-Allow-Headers"].lower()
        assert "authorization" in allowed_headers and "if-none-match" in allowed_headers
        assert ok.headers["X-Request-ID"]
        refused = await client.options(
            "/v1/signals", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
        )
        body = assert_problem(refused, 400)
        assert body["reason"] == "cors_refused" and "Access-Control-Allow-Origin" not in refused.headers


async def test_cors_is_off_unless_configured(api_without_cors, world):
    async with httpx.AsyncClient(base_url=api_without_cors) as client:
        response = await client.get(
            "/v1/signals", headers={"Origin": ORIGIN, "Authorization": f"Bearer {world.reader}"}
        )
    assert response.status_code == 200 and "Access-Control-Allow-Origin" not in response.headers


def test_any_origin_with_credentials_is_refused_at_startup():
    with pytest.raises(SettingsError, match="SIGNALS_CORS_ALLOW_CREDENTIALS") as info:
        load_settings(cors_origins="*", cors_allow_credentials=True)
    assert "SIGNALS_CORS_ORIGINS" in str(info.value)
    assert load_settings(cors_origins="*").cors_origins == ["*"]
    assert load_settings(
        cors_origins=f"{ORIGIN}, https://b.example/", cors_allow_credentials=True
    ).cors_origins == [
        ORIGIN,
        "https://b.example",
    ]
    with pytest.raises(SettingsError, match="not an origin"):
        load_settings(cors_origins="app.example")


# --- OpenAPI and the documentation pages ----------------------------------------------------------

PUBLIC = {("/healthz", "get"), ("/readyz", "get")}
_METHODS = ("get", "post", "put", "patch", "delete")


def _resolve(doc: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in item:
        name = item["$ref"].rsplit("/", 1)[-1]
        item = doc["components"]["schemas"][name]
    return item


async def test_the_openapi_document_describes_every_operation_completely(http):
    doc = (await http.get("/schema/openapi.json")).json()
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "sk_live_… API key",
    }
    problem = doc["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "request_id"} <= set(problem["properties"])
    operations = [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in _METHODS
    ]
    assert len(operations) > 30
    for path, method, op in operations:
        where = f"{method.upper()} {path}"
        assert op.get("summary"), where
        errors = {code: r for code, r in op["responses"].items() if code.startswith("4")}
        for code, response in errors.items():
            assert response.get("description"), f"{where} {code}"
            assert list(response["content"]) == [PROBLEM], f"{where} {code}"
            assert response["content"][PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}
        for parameter in op.get("parameters", []):
            assert parameter.get("schema") or parameter.get("content"), f"{where} {parameter['name']}"
            if parameter["in"] == "path":
                assert "404" in errors, where
        if any(p["in"] == "query" for p in op.get("parameters", [])):
            assert "400" in errors, where
        if (path, method) in PUBLIC:
            assert op["security"] == [], where
            continue
        assert {"bearer": []} in op["security"], where
        assert {"401", "403", "429"} <= set(errors), where
        if "requestBody" in op:
            assert {"400", "413", "415"} <= set(errors), where


async def test_the_documentation_pages_are_served(http):
    swagger = await http.get("/schema/swagger")
    assert swagger.status_code == 200 and "text/html" in swagger.headers["content-type"]
    assert "swagger" in swagger.text.lower()
    scalar = await http.get("/schema/scalar")
    assert scalar.status_code == 200 and "text/html" in scalar.headers["content-type"]
    assert "scalar" in scalar.text.lower()
    assert (await http.get("/schema/openapi.json")).status_code == 200


@pytest.mark.parametrize("path", ["/schema/nope", "/schema/nope.json", "/schema/swagger/extra"])
async def test_an_unknown_documentation_path_is_a_problem_404(http, path):
    response = await http.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 404
