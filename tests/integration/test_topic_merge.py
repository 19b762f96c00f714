"""The admin merge of topics over real sockets: every signal moves to the target, aliases are
recorded, every process's topic cache hears of it, and refusals are problems. Signals are stored
through the repository (tests/support/seeding.py) on a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from service.app import create_app
from tests.support import reads_api, topics_api
from tests.support.problems import assert_problem
from tests.support.servers import running_asgi
from tests.support.topics_api import W0, seed, topic_id

# The API without its worker, the module's keys (fixtures of
# tests/support/reads_api.py and topics_api.py), this module's own.
api, keys = reads_api.api, topics_api.keys


# --- merging ----------------------------------------------------------------------------------


async def test_merge_moves_every_signal_and_records_the_aliases(api, keys, db):
    now = datetime.now(UTC)
    both = await seed(db, "iota both", ["Iota Farms", "Kappa Storage", "Iota Energy"], now)
    only_source = await seed(db, "iota source", ["Kappa Storage", "Iota Farms"], now)
    only_target = await seed(db, "iota target", ["Iota Energy"], now)
    await seed(db, "iota alias", ["Iota Farm"], now)  # iota-farm becomes an alias of iota-farms
    url = "https://courier.example/iota-versions"
    old = await seed(db, "iota old version", ["Iota Farms"], now, url=url, text="old " * 40)
    await seed(db, "iota new version", ["Kappa Storage"], now, url=url, text="new " * 40)
    source = await topic_id(db, "iota-farms")
    target = await topic_id(db, "iota-energy")
    kappa = await topic_id(db, "kappa-storage")
    assert await db.fetchval("SELECT topic_id FROM topic_aliases WHERE alias = 'iota-farm'") == source

    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {keys.admin}"}) as admin:
        response = await admin.post("/v1/admin/topics/iota-farms/merge", json={"into": "iota-energy"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["merged"] == "iota-farms" and body["into"] == {"slug": "iota-energy", "label": "Iota Energy"}
    assert body["signals_moved"] == 4  # both, only_source, the alias one, and the superseded version
    assert body["aliases"] == ["iota-farm", "iota-farms"]

    arrays = {
        row["id"]: list(row["topic_ids"])
        for row in await db.fetch(
            "SELECT id, topic_ids FROM signals WHERE id = ANY($1)", [both, only_source, only_target, old]
        )
    }
    assert arrays[both] == [target, kappa]  # the target takes the source's (earlier) place, once
    assert arrays[only_source] == [kappa, target]
    assert arrays[only_target] == [target] and arrays[old] == [target]
    links = await db.fetch(
        "SELECT signal_id, topic_id FROM signal_topics WHERE signal_id = ANY($1) ORDER BY position",
        [both, only_source, old],
    )
    by_signal: dict[Any, list[int]] = {}
    for row in links:
        by_signal.setdefault(row["signal_id"], []).append(row["topic_id"])
    assert by_signal == {both: [target, kappa], only_source: [kappa, target], old: [target]}
    assert await topic_id(db, "iota-farms") is None
    assert not await db.fetchval("SELECT count(*) FROM signal_topics WHERE topic_id = $1", source)

    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {keys.reader}"}) as http:
        for slug in ("iota-farms", "iota-farm"):
            resolved = await http.get(f"/v1/topics/{slug}")
            assert resolved.status_code == 200 and resolved.json()["slug"] == "iota-energy"
            assert resolved.json()["counts"]["last_24h"] == 4  # old is not current
    # New signals labelled with the merged slug land on the target.
    late = await seed(db, "iota late", ["Iota Farms"], now)
    assert list(await db.fetchval("SELECT topic_ids FROM signals WHERE id = $1", late)) == [target]


@pytest.fixture(scope="module")
def api2(make_settings: Any) -> Iterator[str]:
    """A second API process: its own topic cache, told of merges only by NOTIFY."""
    with running_asgi(create_app(make_settings(), worker=False)) as base:
        yield base


async def test_a_merge_reaches_every_process_that_cached_the_slug(api, api2, keys, db):
    now = datetime.now(UTC)
    source_signal = await seed(db, "mu source", ["Mu Mining"], now)
    target_signal = await seed(db, "mu target", ["Mu Metals"], now)
    reader = {"Authorization": f"Bearer {keys.reader}"}

    async def listed(base: str) -> set[str]:
        async with httpx.AsyncClient(base_url=base, headers=reader) as http:
            response = await http.get("/v1/signals", params={"topic": "mu-mining"})
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    # both processes have resolved (and cached) mu-mining -> the source topic
    assert await listed(api) == await listed(api2) == {str(source_signal)}
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {keys.admin}"}) as admin:
        merged = await admin.post("/v1/admin/topics/mu-mining/merge", json={"into": "mu-metals"})
    assert merged.status_code == 200, merged.text
    expected = {str(source_signal), str(target_signal)}  # the slug now names the target
    for _ in range(50):  # the NOTIFY arrives on each process's LISTEN connection
        if await listed(api) == await listed(api2) == expected:
            break
        await asyncio.sleep(0.05)
    assert await listed(api) == expected
    assert await listed(api2) == expected


async def test_merge_refusals_are_problems(api, keys, db):
    await seed(db, "lambda one", ["Lambda Ports"], W0)
    await seed(db, "lambda two", ["Lambda Harbours"], W0)
    await seed(db, "lambda three", ["Lambda Port"], W0)  # alias of lambda-ports
    url = "/v1/admin/topics/lambda-ports/merge"
    async with httpx.AsyncClient(base_url=api) as client:
        for key in (keys.reader, keys.writer):
            response = await client.post(url, json={"into": "lambda-harbours"}, headers=_bearer(key))
            assert_problem(response, 403, "forbidden")
        assert_problem(await client.post(url, json={"into": "lambda-harbours"}), 401, "unauthorized")
        admin = _bearer(keys.admin)
        cases = [
            (url, {"into": "lambda-ports"}, 422, "invalid_request", "merge_into_itself"),
            (url, {"into": "lambda-port"}, 422, "invalid_request", "merge_into_itself"),
            (url, {"into": "no-such-topic"}, 422, "invalid_request", "unknown_target"),
            (
                "/v1/admin/topics/lambda-port/merge",
                {"into": "lambda-harbours"},
                422,
                "invalid_request",
                "source_is_alias",
            ),
            (
                "/v1/admin/topics/no-such/merge",
                {"into": "lambda-harbours"},
                404,
                "not_found",
                "unknown_topic",
            ),
            (url, {"into": "Not A Slug"}, 400, "bad_request", None),
            (url, {"into": "lambda-harbours", "force": True}, 400, "bad_request", None),
            (url, {}, 400, "bad_request", None),
        ]
        for path, payload, status, code, reason in cases:
            assert_problem(await client.post(path, json=payload, headers=admin), status, code, reason)
    assert await topic_id(db, "lambda-ports") is not None  # nothing happened


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
