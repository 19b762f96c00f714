"""The walk of tests/integration/test_partner_isolation.py: the values each parameter name
takes and who must not reach them (``PARAMETER KINDS``), what each caller may change, and one
probe's checks. The test module builds the world and runs the walks; this is what they mean."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import asyncpg
import httpx

from tests.support.articles import article_page, article_text
from tests.support.clients import keyed_client
from tests.support.db_snapshot import Diff, diff, settle, snapshot
from tests.support.openapi_walk import (
    Kind,
    Param,
    ParameterTable,
    Probe,
    Target,
    json_documents,
    leaked,
    operations,
    probes,
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
)
from tests.support.receivers import Receiver

K2, R1, RO = "K2", "R1", "RO"
WHO = {K2: "K2 (partner P2)", R1: "R1 (P1, topic A only)", RO: "RO (P1, signals:read only)"}
MISSING_ID = str(uuid4())
NEUTRAL_QUERY = frozenset(
    {"limit", "cursor", "since", "until", "date", "date_field", "window", "interval", "q", "sort"}
    | {"lang", "source", "type", "include", "collapse", "topic_match", "format", "period", "versions"}
)
"""Query parameters that name nothing anyone owns: the walk leaves them out."""


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
