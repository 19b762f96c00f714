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
parameter kinds (``PARAMETER KINDS`` below), and a parameter of a kind not listed fails the
walk. Failures are collected over the whole walk and reported together, one line each: the
key, the request, the targets it named, what went wrong.

The world is built once through the real API, worker, LLM stub, fake article site and webhook
receiver (tests/support/partner_world.py). The walks run RO, then K2, then R1: a hole that
lets one caller change things is reported, and later walks still run on what is left.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet

from service.app import create_app
from tests.support.articles import article_page, article_text
from tests.support.clients import keyed_client, stub_llm
from tests.support.db_snapshot import Diff, diff, settle, snapshot
from tests.support.openapi_walk import (
    HTTP_METHODS,
    Kind,
    Param,
    ParameterTable,
    Probe,
    Target,
    json_documents,
    leaked,
    operations,
    probes,
    route_scopes,
    send,
    shape,
    signal_cards,
)
from tests.support.partner_world import (
    SLUG_A,
    SLUG_B,
    SUPPLIED_ENTITY,
    SUPPLIED_TOPIC,
    SUPPLIED_URL,
    TEXT_MARKERS_HIDDEN_FROM_R1,
    TEXT_MARKERS_PRIVATE_TO_P1,
    build_world,
)
from tests.support.receivers import Receiver
from tests.support.servers import running_asgi

pytestmark = pytest.mark.timeout(300)

K2, R1, RO = "K2", "R1", "RO"
WHO = {K2: "K2 (partner P2)", R1: "R1 (P1, topic A only)", RO: "RO (P1, signals:read only)"}
MISSING_ID = str(uuid4())
NEUTRAL_QUERY = frozenset(
    {"limit", "cursor", "since", "until", "date", "date_field", "window", "interval", "q", "sort"}
    | {"lang", "source", "type", "include", "collapse", "topic_match", "format", "period", "versions"}
)
"""Query parameters that name nothing anyone owns: the walk leaves them out."""


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


# --- PARAMETER KINDS: the values each parameter name takes, and who must not reach them ---------


def parameter_table(w: SimpleNamespace, receiver: Receiver) -> ParameterTable:
    both = frozenset({K2, R1})

    r1_only, k2_only, nobody = frozenset({R1}), frozenset({K2}), frozenset[str]()

    def t(
        kind: str, label: str, value: Any, hidden: frozenset[str] = nobody, skip: frozenset[str] = nobody
    ) -> Target:
        return Target(kind, label, value if isinstance(value, int) else str(value), hidden, skip)

    kinds = {
        "signal_id": Kind((
            t("signal_id", "seeded topic-B signal", w.b1, r1_only),
            t("signal_id", "topic-B signal K1 fetched", w.fetched["id"], r1_only),
            t("signal_id", "topic-A signal related to a B one", w.a1),
            t("signal_id", "topic-A signal of the text K1 supplied", w.supplied["id"], k2_only),
        ), MISSING_ID),
        "article_id": Kind((
            t("article_id", "topic-B article K1 fetched", w.fetched["article_id"], r1_only),
            t("article_id", "topic-A article K1 supplied as text", w.supplied["article_id"], k2_only),
        ), MISSING_ID),
        "job_id": Kind((
            t("job_id", "K1's job of the fetched topic-B page", w.fetched_job, k2_only),
            t("job_id", "K1's job whose URL holds a token", w.token_job, k2_only),
            t("job_id", "K1's general briefing job", w.digest_jobs["general"]["id"], both),
            t("job_id", "K1's topic-B briefing job", w.digest_jobs["topic B"]["id"], both),
        ), MISSING_ID),
        "digest_id": Kind((
            t("digest_id", "general briefing", w.digest_jobs["general"]["digest_id"], r1_only),
            t("digest_id", "topic-B briefing", w.digest_jobs["topic B"]["digest_id"], r1_only),
        ), MISSING_ID),
        "webhook_id": Kind((
            t("webhook_id", "K1's endpoint (every topic)", w.webhook_k1, both),
            t("webhook_id", "R1's endpoint", w.webhook_r1, k2_only, r1_only),
        ), MISSING_ID),
        "alert_id": Kind((
            t("alert_id", "K1's alert (topic B)", w.alert_k1, both),
            t("alert_id", "R1's alert", w.alert_r1, k2_only, r1_only),
        ), MISSING_ID),
        "feed_name": Kind((
            t("feed_name", "K1's alert feed", f"{w.alert_k1}.atom", both),
            t("feed_name", "R1's alert feed", f"{w.alert_r1}.json", k2_only, r1_only),
        ), f"{MISSING_ID}.atom"),
        "delivery_id": Kind((
            t("delivery_id", "a delivery to K1's endpoint", w.deliveries[w.webhook_k1][0], both),
            t("delivery_id", "a delivery to R1's endpoint", w.deliveries[w.webhook_r1][0], k2_only, r1_only),
        ), MISSING_ID),
        "story_id": Kind((
            t("story_id", "story of topic-B signals only", w.hidden_story, r1_only),
            t("story_id", "story mixing A and B", w.mixed_story),
        ), MISSING_ID),
        "entity_id": Kind((
            t("entity_id", "entity named only on topic B", w.entities["Zorqhidden Holdings"], r1_only),
            t("entity_id", "entity named on A and B", w.entities["Sharedname Group"]),
            t("entity_id", "entity only K1's supplied text names", w.entities[SUPPLIED_ENTITY], k2_only),
        ), 2_000_000_000),
        "slug": Kind((
            t("slug", "topic B", SLUG_B, r1_only),
            t("slug", "topic A", SLUG_A),
            t("slug", "topic only K1's supplied text carries", SUPPLIED_TOPIC, both),
        ), "no-such-topic"),
        "partner_id": Kind((t("partner_id", "partner P1", w.p1, k2_only),), MISSING_ID),
        "key_id": Kind((
            t("key_id", "K1's key", w.k1.id, k2_only),
            t("key_id", "R1's key", w.r1.id, k2_only),
        ), MISSING_ID),
    }  # fmt: skip
    hook = receiver.base_url + "/hooks/adversary"
    title, paragraphs = article_text(5)
    return ParameterTable(
        kinds=kinds,
        query_kinds={"topic": "slug", "entity": "entity_id", "story": "story_id"},
        neutral_query=NEUTRAL_QUERY,
        field_kinds={"topic": "slug", "topics": "slug", "into": "slug"},
        bodies={
            # the body is the attack: the fetched topic-B page again (Prefer: wait answers with
            # what it finds), supplied text naming the fetched page, supplied HTML naming the
            # URL of K1's supplied article
            "V1SignalsCreateSignal": [
                {"url": w.fetched_url},
                {"text": "\n".join(paragraphs), "title": title, "url": w.fetched_url},
                {"html": article_page(6), "url": SUPPLIED_URL},
            ],
            "V1WebhooksCreateWebhook": [
                {"url": hook, "description": "an adversary's endpoint"},
                {"url": hook, "topics": [Param("slug")]},
            ],
            "V1WebhooksWebhookIdUpdateWebhook": [
                {"description": "changed by an adversary", "url": hook},
                {"topics": [Param("slug")]},
            ],
        },
    )


def markers(w: SimpleNamespace, table: ParameterTable) -> dict[str, dict[str, str]]:
    """What each adversary must never be shown: marker strings, and the ids of what is hidden
    from it (delivery ids of hidden endpoints included)."""
    found: dict[str, dict[str, str]] = {
        R1: dict(TEXT_MARKERS_HIDDEN_FROM_R1),
        K2: dict(TEXT_MARKERS_PRIVATE_TO_P1),
        RO: {},
    }
    for kind in table.kinds.values():
        for target in kind.targets:
            for adversary in target.hidden_from:
                if isinstance(target.value, str) and len(target.value) == 36:
                    found[adversary][target.value] = f"the id of {target.label}"
    for signal_id in w.hidden_signals:
        found[R1][signal_id] = "the id of a topic-B signal"
    for article_id in w.hidden_articles:
        found[R1][article_id] = "the id of a topic-B article"
    for delivery in w.deliveries[w.webhook_k1]:
        found[R1][delivery] = found[K2][delivery] = "the id of a delivery to K1's endpoint"
    for delivery in w.deliveries[w.webhook_r1]:
        found[K2][delivery] = "the id of a delivery to R1's endpoint"
    for job in (w.fetched_job, w.supplied_job, w.token_job):
        found[K2][job] = "the id of a K1 job"
    return found


# --- what each caller may change ------------------------------------------------------------------


def forbidden_changes(adversary: str, admin_only: bool, d: Diff, w: SimpleNamespace) -> str:
    """The part of ``d`` the caller had no right to cause ("" if none)."""
    if admin_only:
        return d.describe()
    if adversary == RO:
        # a read-only key may save searches of its own (alerts need signals:read), nothing else:
        # not change or delete its siblings' alerts, which need webhooks:manage or admin
        own = [a for a in d.added if a[0] == "alerts" and a[2].get("api_key_id") == str(w.ro.id)]
        others = [a for a in d.added if a not in own]
        return Diff(changed=d.changed, removed=d.removed, added=others).describe()
    p1_keys = {str(k.id) for k in (w.k1, w.r1, w.ro)}
    p1_hooks = {w.webhook_k1, w.webhook_r1}
    if adversary == K2:
        bad = Diff(changed=d.changed, removed=d.removed)

        def p1_owned(table: str, row: dict[str, Any]) -> bool:
            return (
                (table in ("jobs", "digest_jobs") and row.get("api_key_id") in p1_keys)
                or (table == "webhooks"
                    and (row.get("partner_id") == str(w.p1) or row.get("api_key_id") in p1_keys))
                or (table == "webhook_deliveries" and row.get("redelivery_of") is not None
                    and row.get("webhook_id") in p1_hooks)
                or (table == "api_keys" and row.get("partner_id") == str(w.p1))
                or (table == "articles" and row.get("supplier_id") == str(w.p1))
            )  # fmt: skip

        bad.added = [a for a in d.added if p1_owned(a[0], a[2])]
        return bad.describe()
    # R1 is P1: it may replace what its partner supplied on its own topic (K1's topic-A text)
    may_change = {("articles", w.supplied["article_id"]), ("signals", w.supplied["id"])}
    bad = Diff(
        changed=[c for c in d.changed if (c[0], c[1]) not in may_change],
        removed=[r for r in d.removed if r not in may_change],
    )

    def out_of_reach(table: str, row: dict[str, Any]) -> bool:
        topics = row.get("topic_ids")
        # a redelivery to K1's endpoint (new events fanned out to it are K1's own business)
        redelivered = row.get("redelivery_of") is not None and row.get("webhook_id") == w.webhook_k1
        return (table == "webhook_deliveries" and redelivered) or (
            table == "webhooks" and row.get("api_key_id") == str(w.r1.id)
            and (topics is None or not set(topics) <= {w.topic_a})
        )  # fmt: skip

    bad.added = [a for a in d.added if out_of_reach(a[0], a[2])]
    return bad.describe()


# --- the walk -------------------------------------------------------------------------------------


async def check(
    adversary: str,
    probe: Probe,
    http: httpx.AsyncClient,
    conn: asyncpg.Connection,
    ctx: SimpleNamespace,
) -> list[str]:
    """Send one probe as ``adversary``; what went wrong, one line each."""
    table, w = ctx.table, ctx.world
    admin_only = ctx.scopes.get((probe.op.path, probe.op.method)) == "admin"
    request = probe.render(table.kinds)
    before = None
    if probe.op.writes:
        await settle(conn)
        before = await snapshot(conn)
    response = await send(http, request)
    status = response.status_code
    problems = []
    if status >= 500:
        problems.append(f"answered {status}: {response.text[:300]}")
    # a reader's alerts are its own saved searches (scope signals:read, issue 25)
    reader_owned = probe.op.path.startswith("/v1/alerts")
    if (admin_only or (adversary == RO and probe.op.writes and not reader_owned)) and status != 403:
        problems.append(f"answered {status}, not 403: {response.text[:300]}")
    problems += [f"leaked {what}" for what in leaked(response, ctx.markers[adversary], request.sent)]
    if adversary == R1:
        for card in signal_cards(json_documents(response)):
            if SLUG_A not in {topic["slug"] for topic in card["topics"]}:
                problems.append(f"returned a card outside its topics: {card.get('id')} {card.get('title')!r}")
    if before is not None:
        await settle(conn)
        bad = forbidden_changes(adversary, admin_only, diff(before, await snapshot(conn)), w)
        if bad:
            problems.append(f"answered {status} and changed what it may not: {bad}")
    if probe.hidden_for(adversary) and not admin_only:
        if probe.hidden_in_path(adversary) and status != 404:
            problems.append(f"answered {status}, not 404: {response.text[:300]}")
        twin = probe.render(table.kinds, missing_for=adversary)
        answered = shape(response, request.target_values)
        unknown = shape(await send(http, twin), twin.target_values)
        if answered != unknown:
            problems.append(f"answered {answered}, but for an unknown value {unknown}")
    return [f"{WHO[adversary]}: {request.describe()} ({probe.describe()}): {p}" for p in problems]


async def walk(adversary: str, api: SimpleNamespace, world: SimpleNamespace, receiver: Receiver,
               document: dict[str, Any], conn: asyncpg.Connection) -> tuple[list[str], int]:  # fmt: skip
    """Every probe of every operation as ``adversary``: the failures, and how many were sent."""
    table = parameter_table(world, receiver)
    ctx = SimpleNamespace(table=table, world=world, scopes=api.scopes, markers=markers(world, table))
    key = {K2: world.k2, R1: world.r1, RO: world.ro}[adversary].key
    failures: list[str] = []
    sent = 0
    async with keyed_client(api.base, key, timeout=90) as http:
        for op in operations(document):
            for probe in probes(op, table, document, adversary):
                failures += await check(adversary, probe, http, conn, ctx)
                sent += 1
    return failures, sent


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
