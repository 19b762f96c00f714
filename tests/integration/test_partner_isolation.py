"""Every route of the OpenAPI document, walked as three hostile callers (issue 21):

- K2, another partner's key: P1's own things (jobs, briefing jobs, webhook endpoints and
  their deliveries, the signal and article of the text K1 supplied, and the topic and entity
  only that text names) are never returned (404, like an unknown id), never shown in lists,
  feeds, exports, sync, stories, related coverage, counts or briefings, and never changed;
- R1, P1's key restricted to topic A: no answer (status, body or headers) holds anything of
  topic B (markers in titles, labels, slugs, entity names, ids; K1's endpoint), and whatever is
  of topic B answers exactly as a missing thing does;
- RO, a key with only ``signals:read``: every write is refused (403) and changes nothing.

Routes only an admin may use must answer 403 to all three. The operations come from the
served document, so a new route is walked without being listed here; what is listed is the
parameter kinds (``PARAMETER KINDS`` in tests/support/partner_walk.py, with the rest of the
walk), and a parameter of a kind not listed fails the walk. Failures are collected over the
whole walk and reported together, one line each: the key, the request, the targets it named,
what went wrong.

The world is built once through the real API, worker, LLM stub, fake article site and webhook
receiver (tests/support/partner_world.py). The walks run RO, then K2, then R1: a hole that
lets one caller change things is reported, and later walks still run on what is left.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from service.app import create_app
from tests.support.clients import keyed_client, stub_llm
from tests.support.openapi_walk import HTTP_METHODS, operations, probes, route_scopes, send
from tests.support.partner_walk import K2, R1, RO, parameter_table, walk
from tests.support.partner_world import SLUG_A, SLUG_B, build_world
from tests.support.receivers import Receiver
from tests.support.servers import running_asgi

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def api(make_settings: Any, stub: SimpleNamespace) -> Iterator[SimpleNamespace]:
    settings = make_settings(
        **stub_llm(stub),
        llm_http_retries=0,
        llm_timeout_seconds=10,
        digest_daily_at=None,
        secret_key=Fernet.generate_key().decode(),
        webhook_retry_schedule=[0.2, 0.2, 0.5],
        webhook_timeout_seconds=2.0,
        webhook_poll_seconds=0.5,
        job_heartbeat_seconds=10,
    )
    app = create_app(settings, worker=True)
    with running_asgi(app) as base:
        yield SimpleNamespace(base=base, scopes=route_scopes(app))


@pytest.fixture(scope="module")
async def world(api: SimpleNamespace, database_url: str, site: Any, receiver: Receiver) -> SimpleNamespace:
    w = await build_world(api.base, database_url, site, receiver)
    # saved searches (issue 25): K1's on every topic, R1's on its own
    async with keyed_client(api.base, w.k1.key) as k1, keyed_client(api.base, w.r1.key) as r1:
        for name, http, topic in (("alert_k1", k1, SLUG_B), ("alert_r1", r1, SLUG_A)):
            made = await http.post("/v1/alerts", json={"name": name, "query": {"topic": topic}})
            assert made.status_code == 201, made.text
            setattr(w, name, made.json()["id"])
    return w


@pytest.fixture(scope="module")
async def document(api: SimpleNamespace) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=api.base) as http:
        response = await http.get("/schema/openapi.json")
    assert response.status_code == 200
    doc: dict[str, Any] = response.json()
    return doc


# --- the tests ------------------------------------------------------------------------------------


async def test_the_walk_covers_every_operation_with_real_targets(api, world, receiver, document):
    """Every operation of the document is walked; every parameter is a known kind; every body
    template names a real operation; and each target exists (its owner reads it: 200)."""
    table = parameter_table(world, receiver)
    ops = operations(document)
    # an operation of a method the walk does not send (OPTIONS, TRACE) would go unwalked
    assert len(ops) == sum(len([m for m in item if m in HTTP_METHODS]) for item in document["paths"].values())
    assert set(table.bodies) <= {op.operation_id for op in ops}
    seen: set[tuple[str, str | int]] = set()
    readable: set[str] = set()  # kinds some read takes (a delivery id is only ever written to)
    async with (
        keyed_client(api.base, world.k1.key) as k1,
        keyed_client(api.base, world.admin.key) as admin,
    ):
        for op in ops:
            walked = probes(op, table, document, "owner")  # raises for an unknown parameter
            assert walked, op.name
            if op.writes:
                continue
            readable.update(slot_kind for probe in walked for slot_kind in (t.kind for t in probe.targets()))
            http = admin if api.scopes.get((op.path, op.method)) == "admin" else k1
            for probe in walked:
                if (await send(http, probe.render(table.kinds))).status_code == 200:
                    seen.update((t.kind, t.value) for t in probe.targets())
    unread = [
        t.label
        for k in table.kinds.values()
        for t in k.targets
        if t.kind in readable and (t.kind, t.value) not in seen
    ]
    assert not unread, f"targets their owner could not read: {unread}"


async def test_a_read_only_key_changes_nothing(api, world, receiver, document, db):
    failures, sent = await walk(RO, api, world, receiver, document, db)
    assert sent > 50
    assert not failures, f"{len(failures)} of {sent} probes failed:\n" + "\n".join(failures)


async def test_another_partner_s_key_never_reaches_p1_s_own_things(api, world, receiver, document, db):
    failures, sent = await walk(K2, api, world, receiver, document, db)
    assert sent > 50
    assert not failures, f"{len(failures)} of {sent} probes failed:\n" + "\n".join(failures)


async def test_a_topic_restricted_key_sees_nothing_of_other_topics(api, world, receiver, document, db):
    failures, sent = await walk(R1, api, world, receiver, document, db)
    assert sent > 50
    assert not failures, f"{len(failures)} of {sent} probes failed:\n" + "\n".join(failures)


async def test_a_route_with_a_parameter_of_no_known_kind_fails_the_walk(world, receiver, document):
    """A new route is walked without being listed, but a parameter nobody has given values
    (and owners) to stops the walk instead of being skipped."""
    table = parameter_table(world, receiver)
    doc = copy.deepcopy(document)
    doc["paths"]["/v1/widgets/{widget_id}"] = {
        "get": {"operationId": "Widget", "parameters": [{"name": "widget_id", "in": "path"}]}
    }
    doc["paths"]["/v1/gadgets"] = {
        "get": {"operationId": "Gadgets", "parameters": [{"name": "owner", "in": "query"}]}
    }
    for path, name in (("/v1/widgets/{widget_id}", "widget_id"), ("/v1/gadgets", "owner")):
        op = next(o for o in operations(doc) if o.path == path)
        with pytest.raises(AssertionError, match=f"parameter '{name}'"):
            probes(op, table, doc, K2)
