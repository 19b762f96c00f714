"""Administering partners and their keys over HTTP, with the effects seen at once by another
API process (its key cache is emptied by NOTIFY)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest

from service.app import create_app
from service.db.database import init_connection
from service.keys import service as keys
from tests.support.problems import assert_problem
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi


@pytest.fixture(scope="module")
def api(make_settings: Any) -> Iterator[str]:
    with running_asgi(create_app(make_settings(), worker=False)) as base:
        yield base


@pytest.fixture(scope="module")
def other_api(make_settings: Any) -> Iterator[str]:
    """Another API process on the same database: where partners' keys are used."""
    with running_asgi(create_app(make_settings(), worker=False)) as base:
        yield base


@pytest.fixture(scope="module")
async def world(database_url: str) -> SimpleNamespace:
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        rail = [await seed_signal(conn, SeedSignal(title=f"Rail {i}", topics=["Rail"])) for i in range(2)]
        energy = [
            await seed_signal(conn, SeedSignal(title=f"Energy {i}", topics=["Energy"])) for i in range(2)
        ]
        admin = await keys.create_key(conn, name="ops", scopes=["admin"])
        reader = await keys.create_key(conn, name="reader", scopes=["signals:read", "signals:write"])
    finally:
        await conn.close()
    return SimpleNamespace(
        rail={str(i) for i in rail}, energy={str(i) for i in energy}, admin=admin.key, reader=reader.key
    )


@pytest.fixture
async def admin(api: str, world: SimpleNamespace) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {world.admin}"}) as client:
        yield client


@pytest.fixture
async def partner_client(other_api: str) -> AsyncIterator[Callable[[str], httpx.AsyncClient]]:
    clients: list[httpx.AsyncClient] = []

    def make(key: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient(base_url=other_api, headers={"Authorization": f"Bearer {key}"})
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 2.0) -> None:
    """The NOTIFY reaches the other process within milliseconds; allow a little slack."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "the change did not take effect in time"
        await asyncio.sleep(0.02)


async def new_partner(admin: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await admin.post("/v1/admin/partners", json={"name": f"Partner {uuid4().hex[:8]}", **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def visible_ids(client: httpx.AsyncClient) -> set[str]:
    response = await client.get("/v1/signals", params={"limit": 100})
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


async def test_partners_are_created_listed_read_and_updated(admin):
    created = await new_partner(admin)
    assert created["limit"] == {
        "rate_per_second": 10_000.0,
        "burst": 100_000,
        "rate_source": "default",
        "burst_source": "default",
    }
    assert created["active_keys"] == 0 and created["disabled_at"] is None and created["last_used_at"] is None
    listed = (await admin.get("/v1/admin/partners")).json()["items"]
    assert created["id"] in {p["id"] for p in listed}
    one = await admin.get(created["links"]["self"])
    assert one.status_code == 200 and one.json() == created

    changed = await admin.patch(created["links"]["self"], json={"rate_per_second": 2.5, "burst": 7})
    assert changed.status_code == 200
    body = changed.json()
    assert (body["rate_per_second"], body["burst"], body["name"]) == (2.5, 7, created["name"])
    assert body["limit"]["rate_source"] == "partner" and body["limit"]["burst"] == 7
    reset = (await admin.patch(created["links"]["self"], json={"burst": None})).json()
    assert (
        reset["burst"] is None
        and reset["rate_per_second"] == 2.5
        and reset["limit"]["burst_source"] == "default"
    )

    duplicate = await admin.post("/v1/admin/partners", json={"name": created["name"]})
    assert_problem(duplicate, 409, "conflict")
    assert_problem(await admin.get(f"/v1/admin/partners/{uuid4()}"), 404, "not_found")
    assert_problem(await admin.post("/v1/admin/partners", json={"name": "x", "burst": 0}), 400, "bad_request")
    assert_problem(await admin.post("/v1/admin/partners", json={"name": "   "}), 422, "invalid_request")


async def test_a_partner_key_is_shown_once_restricted_by_slugs_and_listed_without_secret(
    admin, world, partner_client
):
    partner = await new_partner(admin)
    response = await admin.post(
        f"{partner['links']['keys']}",
        json={"name": "rail desk", "scopes": ["signals:read"], "topics": ["rail"], "burst": 50},
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    secret = created["key"]
    assert secret.startswith("sk_live_") and created["prefix"] == secret[:16]
    assert created["topics"] == ["rail"] and created["limit"]["burst_source"] == "key"
    assert created["last_used_at"] is None and created["revoked_at"] is None

    client = partner_client(secret)
    assert await visible_ids(client) == world.rail

    listing = await admin.get(partner["links"]["keys"])
    assert secret not in listing.text and "key_hash" not in listing.text
    [listed] = listing.json()["items"]
    assert listed["id"] == created["id"] and "key" not in listed
    assert listed["last_used_at"] is not None  # the request above
    assert (await admin.get(partner["links"]["self"])).json()["active_keys"] == 1


async def test_changing_a_key_takes_effect_at_once_in_another_process(admin, world, partner_client):
    partner = await new_partner(admin)
    created = (await admin.post(partner["links"]["keys"], json={"name": "k", "topics": ["rail"]})).json()
    client = partner_client(created["key"])
    assert await visible_ids(client) == world.rail  # now cached in the other process

    widened = await admin.patch(created["links"]["self"], json={"topics": ["rail", "energy"]})
    assert widened.status_code == 200 and widened.json()["topics"] == ["energy", "rail"]

    async def sees_both() -> bool:
        return await visible_ids(client) == world.rail | world.energy

    await eventually(sees_both)

    lifted = await admin.patch(
        created["links"]["self"], json={"topics": None, "burst": 3, "rate_per_second": 1}
    )
    assert lifted.json()["topics"] is None and lifted.json()["limit"]["burst"] == 3

    async def limited_to_three() -> bool:
        response = await client.get("/v1/signals")
        return response.headers.get("RateLimit-Policy") == '"default";q=3;w=3'

    await eventually(limited_to_three)


async def test_revoking_a_key_refuses_it_at_once_in_another_process(admin, partner_client):
    partner = await new_partner(admin)
    created = (await admin.post(partner["links"]["keys"], json={"name": "soon gone"})).json()
    client = partner_client(created["key"])
    assert (await client.get("/v1/signals")).status_code == 200

    revoked = await admin.delete(created["links"]["self"])
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None

    async def refused() -> bool:
        return (await client.get("/v1/signals")).status_code == 401

    await eventually(refused)
    assert_problem(await client.get("/v1/signals"), 401, "unauthorized")
    assert (await admin.get(partner["links"]["self"])).json()["active_keys"] == 0


async def test_disabling_a_partner_stops_its_keys_at_once_and_enabling_restores_them(admin, partner_client):
    partner = await new_partner(admin)
    created = (await admin.post(partner["links"]["keys"], json={"name": "k"})).json()
    client = partner_client(created["key"])
    assert (await client.get("/v1/signals")).status_code == 200

    disabled = await admin.post(f"{partner['links']['self']}/disable")
    assert disabled.status_code == 200 and disabled.json()["disabled_at"] is not None
    again = (await admin.post(f"{partner['links']['self']}/disable")).json()
    assert again["disabled_at"] == disabled.json()["disabled_at"]  # the first time is kept

    async def refused() -> bool:
        return (await client.get("/v1/signals")).status_code == 401

    await eventually(refused)
    assert (
        assert_problem(await client.get("/v1/signals"), 401, "unauthorized")["reason"] == "partner_disabled"
    )

    enabled = await admin.post(f"{partner['links']['self']}/enable")
    assert enabled.status_code == 200 and enabled.json()["disabled_at"] is None

    async def served() -> bool:
        return (await client.get("/v1/signals")).status_code == 200

    await eventually(served)


async def test_partner_limit_changes_reach_keys_at_once(admin, partner_client):
    partner = await new_partner(admin)
    created = (await admin.post(partner["links"]["keys"], json={"name": "k"})).json()
    client = partner_client(created["key"])
    assert (await client.get("/v1/signals")).headers["RateLimit-Policy"] == '"default";q=100000;w=10'
    await admin.patch(partner["links"]["self"], json={"burst": 4, "rate_per_second": 2})

    async def partner_limit() -> bool:
        response = await client.get("/v1/signals")
        return response.headers["RateLimit-Policy"] == '"default";q=4;w=2'

    await eventually(partner_limit)


async def test_key_requests_are_checked(admin):
    partner = await new_partner(admin)
    keys_url = partner["links"]["keys"]
    unknown_topic = await admin.post(keys_url, json={"name": "k", "topics": ["no-such-topic"]})
    assert assert_problem(unknown_topic, 422, "invalid_request")["reason"] == "unknown_topic"
    assert_problem(await admin.post(keys_url, json={"name": "k", "scopes": ["admin"]}), 400, "bad_request")
    assert_problem(await admin.post(keys_url, json={"name": "k", "scopes": []}), 400, "bad_request")
    assert_problem(await admin.post(keys_url, json={"name": "k", "colour": "red"}), 400, "bad_request")
    assert_problem(
        await admin.post(f"/v1/admin/partners/{uuid4()}/keys", json={"name": "k"}), 404, "not_found"
    )

    other = await new_partner(admin)
    foreign = (await admin.post(other["links"]["keys"], json={"name": "theirs"})).json()
    # a key is only reachable under its own partner
    assert_problem(await admin.get(f"{keys_url}/{foreign['id']}"), 404, "not_found")
    assert_problem(await admin.delete(f"{keys_url}/{foreign['id']}"), 404, "not_found")
    assert_problem(await admin.patch(f"{keys_url}/{foreign['id']}", json={"burst": 2}), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/admin/partners"),
        ("POST", "/v1/admin/partners"),
        ("GET", "/v1/admin/partners/{p}"),
        ("PATCH", "/v1/admin/partners/{p}"),
        ("POST", "/v1/admin/partners/{p}/disable"),
        ("POST", "/v1/admin/partners/{p}/enable"),
        ("GET", "/v1/admin/partners/{p}/keys"),
        ("POST", "/v1/admin/partners/{p}/keys"),
        ("GET", "/v1/admin/partners/{p}/keys/{k}"),
        ("PATCH", "/v1/admin/partners/{p}/keys/{k}"),
        ("DELETE", "/v1/admin/partners/{p}/keys/{k}"),
    ],
)
async def test_only_admin_keys_may_administer(api, world, method, path):
    url = path.format(p=uuid4(), k=uuid4())
    body = {"name": "x"} if method in ("POST", "PATCH") else None
    async with httpx.AsyncClient(base_url=api) as client:
        forbidden = await client.request(
            method, url, json=body, headers={"Authorization": f"Bearer {world.reader}"}
        )
        anonymous = await client.request(method, url, json=body)
    assert assert_problem(forbidden, 403, "forbidden")["reason"] == "missing_scope"
    assert_problem(anonymous, 401, "unauthorized")
