"""Hostile input never answers 500 (issue 21, item 5): NUL characters, integers past 64 bits,
far dates, deeply nested JSON and absurd headers are each a 400 problem with a stable type,
and a request refused for a header writes nothing. The fuzz test over every route is
tests/integration/test_fuzz_routes.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from service.app import create_app
from service.keys import service as keys
from service.pagination import encode_cursor
from tests.support.clients import connected, keyed_client, stub_llm
from tests.support.problems import assert_problem
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi

BIGINT_MAX = 2**63 - 1
HUGE = [2**63, 2**70, -(2**63) - 1]
ARTICLE = "The harbour authority approved a new container terminal on the east quay today. " * 20


@pytest.fixture(scope="module")
def api(make_settings: Any, stub: SimpleNamespace) -> Iterator[str]:
    settings = make_settings(**stub_llm(stub), digest_daily_at=None)
    # no worker: a job written by mistake stays queued, where the tests can see it
    with running_asgi(create_app(settings, worker=False)) as base:
        yield base


@pytest.fixture(scope="module")
async def world(database_url: str) -> SimpleNamespace:
    async with connected(database_url) as conn:
        signal_id = await seed_signal(
            conn,
            SeedSignal(
                title="Harbour terminal approved",
                topics=["Ports"],
                entities=[("Harbour Authority", "organization")],
                created_at=datetime.now(UTC),
            ),
        )
        entity_id = await conn.fetchval("SELECT id FROM entities WHERE name = 'Harbour Authority'")
        admin = await keys.create_key(conn, name="ops", scopes=["admin"])
        writer = await keys.create_key(conn, name="writer", scopes=["signals:read", "signals:write"])
        partner = await keys.ensure_partner(conn, "Hostile Media")
    return SimpleNamespace(
        signal=signal_id, entity=entity_id, admin=admin.key, writer=writer.key, partner=partner["id"]
    )


@pytest.fixture
async def http(api: str, world: SimpleNamespace) -> AsyncIterator[httpx.AsyncClient]:
    async with keyed_client(api, world.writer, timeout=30) as client:
        yield client


@pytest.fixture
async def admin(api: str, world: SimpleNamespace) -> AsyncIterator[httpx.AsyncClient]:
    async with keyed_client(api, world.admin, timeout=30) as client:
        yield client


def _bad_request(response: httpx.Response, reason: str | None = None) -> dict[str, Any]:
    return assert_problem(response, 400, "bad_request", reason)


# --- NUL characters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v1/signals", "q"),
        ("/v1/signals", "topic"),
        ("/v1/signals", "source"),
        ("/v1/signals", "lang"),
        ("/v1/signals/export", "source"),
        ("/v1/entities", "q"),
        ("/v1/entities", "topic"),
        ("/v1/topics", "since"),
        ("/v1/digests", "topic"),
        ("/v1/feeds/signals.atom", "topic"),
        ("/v1/feeds/digests.json", "topic"),
    ],
)
async def test_a_nul_in_a_query_parameter_is_a_400(http, path, name):
    body = _bad_request(await http.get(path, params={name: "ports\x00"}), "bad_parameter")
    assert body["errors"] == [{"message": body["errors"][0]["message"], "key": name, "source": "query"}]
    assert "NUL" in body["detail"]


async def test_a_nul_in_a_path_is_a_400(http):
    _bad_request(await http.get("/v1/topics/ports%00"), "bad_parameter")
    _bad_request(await http.get("/v1/topics/ports%00/timeline"), "bad_parameter")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/signals", {"text": ARTICLE + "\x00", "title": "Terminal"}),
        ("/v1/signals", {"text": ARTICLE, "title": "Termi\x00nal"}),
        ("/v1/signals", {"html": f"<p>{ARTICLE}\x00</p>", "url": "https://news.example/a"}),
        ("/v1/digests", {"period": "daily", "date": "2026-01-05", "topic": "ports\x00"}),
    ],
)
async def test_a_nul_in_a_json_string_is_a_400(http, database_url, path, body):
    before = (await _count_jobs(database_url), await _count_digest_jobs(database_url))
    response = await http.post(path, json=body)
    problem = _bad_request(response)
    assert "NUL" in problem["detail"] or any("NUL" in e["message"] for e in problem.get("errors") or [])
    assert (await _count_jobs(database_url), await _count_digest_jobs(database_url)) == before


async def test_a_nul_in_admin_and_webhook_bodies_is_a_400(admin, world):
    _bad_request(await admin.post("/v1/admin/partners", json={"name": "Evil\x00 Corp"}))
    _bad_request(await admin.patch(f"/v1/admin/partners/{world.partner}", json={"name": "x\x00"}))
    keys_path = f"/v1/admin/partners/{world.partner}/keys"
    _bad_request(await admin.post(keys_path, json={"name": "k\x00"}))
    _bad_request(await admin.post(keys_path, json={"name": "k", "topics": ["ports\x00"]}))
    _bad_request(
        await admin.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/in", "description": "d\x00"})
    )
    _bad_request(await admin.post("/v1/admin/topics/ports/merge", json={"into": "rail\x00"}))
    partners = (await admin.get("/v1/admin/partners")).json()["items"]
    assert all("\x00" not in p["name"] for p in partners)


async def test_an_escaped_backslash_before_u0000_is_ordinary_text(admin):
    # the six characters \u0000 are not a NUL when their backslash is itself escaped
    response = await admin.post("/v1/admin/partners", content=b'{"name": "Literal \\\\u0000 Ltd"}')
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "Literal \\u0000 Ltd"


# --- integers past 64 bits ----------------------------------------------------------------------


@pytest.mark.parametrize("value", HUGE)
async def test_an_entity_id_past_64_bits_is_a_400(http, value):
    _bad_request(await http.get(f"/v1/entities/{value}"), "bad_parameter")


async def test_the_largest_bigint_entity_id_is_an_ordinary_404(http):
    assert_problem(await http.get(f"/v1/entities/{BIGINT_MAX}"), 404, "not_found")


@pytest.mark.parametrize("value", HUGE)
@pytest.mark.parametrize(
    "path", ["/v1/signals", "/v1/signals/export", "/v1/feeds/signals.json", "/v1/feeds/signals.rss"]
)
async def test_an_entity_filter_past_64_bits_is_a_400(http, path, value):
    _bad_request(await http.get(path, params={"entity": str(value)}), "bad_parameter")


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v1/signals", "limit"),
        ("/v1/digests", "limit"),
        ("/v1/topics", "limit"),
        ("/v1/entities", "limit"),
        ("/v1/stories", "limit"),
        ("/v1/sync/signals", "limit"),
        ("/v1/webhooks", "limit"),
    ],
)
async def test_a_limit_past_64_bits_is_a_400(admin, path, name):
    for value in HUGE:
        _bad_request(await admin.get(path, params={name: str(value)}), "bad_parameter")


async def test_the_openapi_document_states_the_exact_bigint_bounds(http):
    doc = (await http.get("/schema/openapi.json")).json()
    (entity_id,) = doc["paths"]["/v1/entities/{entity_id}"]["get"]["parameters"]
    assert (entity_id["schema"]["minimum"], entity_id["schema"]["maximum"]) == (-(2**63), BIGINT_MAX)
    for path in ("/v1/signals", "/v1/signals/export", "/v1/feeds/signals.json"):
        (entity,) = [p for p in doc["paths"][path]["get"]["parameters"] if p["name"] == "entity"]
        items = next(option["items"] for option in entity["schema"]["oneOf"] if option["type"] == "array")
        assert items["maximum"] == BIGINT_MAX, path


@pytest.mark.parametrize("value", HUGE)
async def test_a_sync_cursor_holding_a_number_past_64_bits_is_a_400(http, value):
    for position in ({"x": value, "i": 1}, {"x": 1, "i": value}):
        cursor = encode_cursor("sync-signals", position)  # not signed: anyone can make one
        _bad_request(await http.get("/v1/sync/signals", params={"cursor": cursor}), "bad_cursor")


async def test_a_sync_cursor_from_the_service_still_works(http):
    first = await http.get("/v1/sync/signals", params={"limit": 1})
    assert first.status_code == 200, first.text
    again = await http.get("/v1/sync/signals", params={"cursor": first.json()["cursor"]})
    assert again.status_code == 200, again.text


_TOPICS_QUERY = {"since": None, "until": None, "window": None, "sort": "count"}
"""What a /v1/topics cursor is bound to, for a request without since, until or window."""
_WEEK = {"since": "2026-01-01T00:00:00Z", "until": "2026-01-08T00:00:00Z", "trending": 0.0}


@pytest.mark.parametrize(
    "position",
    [
        {**_WEEK, "count": 2**70, "id": 1},
        {**_WEEK, "count": 1, "id": 2**63},
        {**_WEEK, "count": 1, "id": -(2**63) - 1},
        {**_WEEK, "since": "0001-01-01T00:00:00Z", "count": 1, "id": 1},
        {**_WEEK, "until": "9999-12-31T00:00:00Z", "count": 1, "id": 1},
    ],
    ids=["count", "id", "negative-id", "far-since", "far-until"],
)
async def test_a_cursor_with_the_right_fingerprint_but_wild_numbers_or_dates_is_a_400(http, position):
    """Cursors are not signed: anyone can make one that passes the fingerprint check."""
    cursor = encode_cursor("topics", position, query=_TOPICS_QUERY)
    _bad_request(await http.get("/v1/topics", params={"cursor": cursor}), "bad_cursor")


async def test_a_forged_cursor_within_bounds_is_served(http):
    """The control for the test above: the same forgery with sane values is a page."""
    cursor = encode_cursor("topics", {**_WEEK, "count": 1, "id": 1}, query=_TOPICS_QUERY)
    response = await http.get("/v1/topics", params={"cursor": cursor})
    assert response.status_code == 200, response.text


# --- far dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "9001-01-01", "1899-12-31"])
async def test_the_latest_digest_of_a_far_date_is_a_400(http, day):
    for period in ("daily", "weekly"):
        body = _bad_request(
            await http.get("/v1/digests/latest", params={"date": day, "period": period}), "bad_parameter"
        )
        assert "1900" in body["detail"] and "9000" in body["detail"], body


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
async def test_requesting_a_digest_of_a_far_date_is_a_400(http, database_url, day):
    before = await _count_digest_jobs(database_url)
    for period in ("daily", "weekly"):
        response = await http.post("/v1/digests", json={"period": period, "date": day})
        body = _bad_request(response, "bad_parameter")
        assert "1900" in body["detail"], body
    assert await _count_digest_jobs(database_url) == before


async def test_a_digest_of_an_old_but_sane_date_is_an_ordinary_answer(http):
    response = await http.get("/v1/digests/latest", params={"date": "1900-01-01", "period": "weekly"})
    assert_problem(response, 404)


@pytest.mark.parametrize(
    "value", ["9999-12-31", "0001-01-01", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"]
)
@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v1/signals", "since"),
        ("/v1/signals", "until"),
        ("/v1/signals/export", "until"),
        ("/v1/topics", "since"),
        ("/v1/topics", "until"),
        ("/v1/entities", "since"),
        ("/v1/entities", "until"),
        ("/v1/topics/ports/timeline", "since"),
        ("/v1/topics/ports/timeline", "until"),
    ],
)
async def test_a_window_edge_at_a_far_date_is_a_400(http, path, name, value):
    body = _bad_request(await http.get(path, params={name: value}), "bad_parameter")
    assert body["errors"][0]["key"] == name, body


# --- deeply nested JSON -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 5000 + b"]" * 5000,
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
        b'{"url": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"text": "x", "title": ' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}",
    ],
    ids=["arrays", "objects", "under-a-field", "objects-under-a-field"],
)
async def test_json_nested_5000_deep_is_a_400(http, admin, world, body):
    headers = {"Content-Type": "application/json"}
    _bad_request(await http.post("/v1/signals", content=body, headers=headers), "too_deep")
    _bad_request(await http.post("/v1/digests", content=body, headers=headers), "too_deep")
    _bad_request(await admin.post("/v1/admin/partners", content=body, headers=headers), "too_deep")
    _bad_request(await admin.post("/v1/webhooks", content=body, headers=headers), "too_deep")


async def test_json_nested_a_few_levels_is_an_ordinary_field_error(http):
    """The control: nesting the decoder can read reaches the body's validation."""
    body = b'{"url": ' + b"[" * 50 + b"]" * 50 + b"}"
    problem = _bad_request(
        await http.post("/v1/signals", content=body, headers={"Content-Type": "application/json"})
    )
    assert problem.get("reason") is None and problem["errors"], problem


# --- Prefer: wait=<5000 digits> -----------------------------------------------------------------

ABSURD_WAIT = "wait=" + "9" * 5000


async def test_an_absurd_prefer_wait_on_a_digest_is_a_400_that_writes_no_job(http, database_url):
    today = datetime.now(UTC).date().isoformat()
    before = await _count_digest_jobs(database_url)
    response = await http.post(
        "/v1/digests", json={"period": "daily", "date": today}, headers={"Prefer": ABSURD_WAIT}
    )
    body = _bad_request(response, "bad_header")
    assert body["errors"][0] == {"message": body["errors"][0]["message"], "key": "Prefer", "source": "header"}
    assert await _count_digest_jobs(database_url) == before
    # the control: the same request with a sane Prefer writes its job
    response = await http.post(
        "/v1/digests", json={"period": "daily", "date": today}, headers={"Prefer": "respond-async, wait=0"}
    )
    assert response.status_code == 202, response.text
    assert await _count_digest_jobs(database_url) == before + 1


async def test_an_absurd_prefer_wait_on_a_signal_is_a_400_that_writes_no_job(http, database_url):
    before = await _count_jobs(database_url)
    response = await http.post(
        "/v1/signals", json={"text": ARTICLE, "title": "Terminal"}, headers={"Prefer": ABSURD_WAIT}
    )
    _bad_request(response, "bad_header")
    assert await _count_jobs(database_url) == before
    # the control: the same request without the header writes its job
    response = await http.post("/v1/signals", json={"text": ARTICLE, "title": "Terminal"})
    assert response.status_code == 202, response.text
    assert await _count_jobs(database_url) == before + 1


# --- helpers ------------------------------------------------------------------------------------


async def _count_jobs(database_url: str) -> int:
    async with connected(database_url) as conn:
        return int(await conn.fetchval("SELECT count(*) FROM jobs"))


async def _count_digest_jobs(database_url: str) -> int:
    async with connected(database_url) as conn:
        return int(await conn.fetchval("SELECT count(*) FROM digest_jobs"))
