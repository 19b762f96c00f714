"""The API's contract around the pipeline: keys and scopes, problem+json for every error,
body limits, health probes, OpenAPI, public reads, and a service with no model configured."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import pytest

from service.app import create_app
from service.keys.service import create_key, revoke_key
from tests.support.problems import assert_problem
from tests.support.servers import running_asgi


@pytest.fixture(scope="module")
def api(make_settings: Any) -> Iterator[str]:
    # No LLM configured, no worker: the API alone.
    with running_asgi(create_app(make_settings(max_body_bytes=64 * 1024), worker=False)) as base:
        yield base


@pytest.fixture(scope="module")
def public_api(make_settings: Any) -> Iterator[str]:
    with running_asgi(create_app(make_settings(public_read=True), worker=False)) as base:
        yield base


@pytest.fixture(scope="module")
async def keys(database_url: str) -> SimpleNamespace:
    conn = await asyncpg.connect(database_url)
    try:
        writer = await create_key(conn, name="writer", scopes=["signals:write", "signals:read"])
        reader = await create_key(conn, name="reader", scopes=["signals:read"])
        revoked = await create_key(conn, name="revoked", scopes=["admin"])
        await revoke_key(conn, str(revoked.id))
    finally:
        await conn.close()
    return SimpleNamespace(writer=writer.key, reader=reader.key, revoked=revoked.key)


@pytest.fixture
async def http(api: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api, timeout=30) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_health_and_readiness(http):
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = (await http.get("/readyz")).json()
    assert ready == {
        "status": "ready",
        "database": "ok",
        "llm": "not_configured",
        "llm_mode": None,
        "llm_context_tokens": None,
    }


async def test_openapi_describes_the_endpoints_and_the_bearer_scheme(http):
    doc = (await http.get("/schema/openapi.json")).json()
    paths = doc["paths"]
    for path in ("/v1/signals", "/v1/jobs/{job_id}", "/v1/signals/{signal_id}", "/v1/articles/{article_id}"):
        assert path in paths, path
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    post = paths["/v1/signals"]["post"]
    assert {"401", "403", "413", "422", "503"} <= set(post["responses"])
    headers = {p["name"] for p in post["parameters"] if p["in"] == "header"}
    assert {"Idempotency-Key", "Prefer"} <= headers
    assert (await http.get("/schema/swagger")).status_code == 200
    assert (await http.get("/schema/scalar")).status_code == 200


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing"),
        ({"Authorization": "Token abc"}, "malformed"),
        ({"Authorization": "Bearer sk_live_x"}, "malformed"),
    ],
)
async def test_requests_without_a_valid_key_are_401(http, headers, reason):
    body = assert_problem(await http.get(f"/v1/jobs/{uuid.uuid4()}", headers=headers), 401, "unauthorized")
    assert body["reason"] == reason


async def test_revoked_key_is_401_and_read_key_cannot_write(http, keys):
    body = assert_problem(
        await http.get(f"/v1/signals/{uuid.uuid4()}", headers=bearer(keys.revoked)), 401, "unauthorized"
    )
    assert body["reason"] == "revoked"
    response = await http.post(
        "/v1/signals", json={"url": "https://example.com/a"}, headers=bearer(keys.reader)
    )
    assert_problem(response, 403, "forbidden")


async def test_unknown_ids_are_404_problems(http, keys):
    for path in ("/v1/jobs/", "/v1/signals/", "/v1/articles/"):
        body = assert_problem(
            await http.get(f"{path}{uuid.uuid4()}", headers=bearer(keys.reader)), 404, "not_found"
        )
        assert body["instance"].startswith(path)
    assert_problem(await http.get("/v1/jobs/not-a-uuid", headers=bearer(keys.reader)), 404, "not_found")
    assert_problem(await http.get("/v1/nothing-here"), 404, "not_found")


async def test_no_model_configured_is_a_503_that_says_what_to_set(http, keys):
    response = await http.post(
        "/v1/signals", json={"url": "https://example.com/a"}, headers=bearer(keys.writer)
    )
    body = assert_problem(response, 503, "llm_not_configured")
    assert body["missing"] == ["OPENAI_BASE_URL", "SIGNALS_LLM_MODEL"]
    assert "OPENAI_BASE_URL" in body["detail"]


async def test_malformed_bodies_are_400_problems_with_field_errors(http, keys):
    h = {**bearer(keys.writer), "Content-Type": "application/json"}
    assert_problem(await http.post("/v1/signals", content=b"{not json", headers=h), 400, "bad_request")
    body = assert_problem(
        await http.post("/v1/signals", json={"url": "x", "colour": 1}, headers=h), 400, "bad_request"
    )
    assert body["detail"]
    assert_problem(await http.post("/v1/signals", json={"url": 42}, headers=h), 400, "bad_request")
    assert_problem(await http.post("/v1/signals", json=["url"], headers=h), 400, "bad_request")


async def test_oversized_bodies_are_413(http, keys):
    big = {"text": "word " * 20_000}  # ~100 KB, over this app's 64 KiB limit
    assert_problem(
        await http.post("/v1/signals", json=big, headers=bearer(keys.writer)), 413, "payload_too_large"
    )


async def test_public_read_opens_gets_but_never_writes(public_api, keys):
    async with httpx.AsyncClient(base_url=public_api) as client:
        assert_problem(await client.get(f"/v1/signals/{uuid.uuid4()}"), 404, "not_found")
        assert_problem(
            await client.post("/v1/signals", json={"url": "https://example.com/a"}), 401, "unauthorized"
        )


async def test_errors_never_echo_the_key(http, keys):
    response = await http.get(f"/v1/jobs/{uuid.uuid4()}", headers=bearer(keys.revoked))
    assert keys.revoked not in response.text


async def test_a_revoked_key_stops_working_at_once_although_keys_are_cached(http, database_url):
    conn = await asyncpg.connect(database_url)
    try:
        created = await create_key(conn, name="soon-revoked", scopes=["signals:read"])
        for _ in range(3):  # verified once, then served from the cache
            response = await http.get(f"/v1/jobs/{uuid.uuid4()}", headers=bearer(created.key))
            assert response.status_code == 404
        await revoke_key(conn, created.prefix)
    finally:
        await conn.close()
    # The revocation's NOTIFY empties the cache; allow the notification a moment to arrive.
    for _ in range(50):
        response = await http.get(f"/v1/jobs/{uuid.uuid4()}", headers=bearer(created.key))
        if response.status_code == 401:
            break
        await asyncio.sleep(0.02)
    assert_problem(response, 401, "unauthorized")
