"""Two partners' worlds for the isolation walk, built through the real API and pipeline.

Partner P1 has an unrestricted key K1, a key R1 restricted to topic A and a read-only key RO;
partner P2 has K2. P1 owns signals on A and on B (B is hidden from R1), an article fetched by
URL and one it supplied as text, jobs (one with a URL carrying a private token), briefing
jobs, a general and a topic-B briefing, K1's endpoint for every topic (with deliveries) and
R1's endpoint. The supplied text (on topic A) is P1's alone: its signal, its article, a topic
and an entity only it names (``privzq``) are hidden from K2. Everything R1 or K2 must not see
carries a marker string (``...zq``) that the walk looks for in every answer.
"""

from __future__ import annotations

import asyncio
import html
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx

from service.keys import service as keys
from service.signals import repository as signals_repository
from service.stories import repository as stories
from service.topics.slugs import topic_ids_for_slugs
from tests.support.clients import connected, keyed_client
from tests.support.db_snapshot import settle
from tests.support.receivers import Receiver
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.site import FakeSite
from tests.support.webhooks import create_webhook

TOPIC_A, SLUG_A = "Lighthouse ferries", "lighthouse-ferries"
TOPIC_B, SLUG_B = "Vaultzq lockers", "vaultzq-lockers"
HIDDEN_ENTITY, SHARED_ENTITY = "Zorqhidden Holdings", "Sharedname Group"
JOB_TOKEN = "tokzq-5f1c9e"
SCOPES = ["signals:read", "signals:write", "webhooks:manage"]

TEXT_MARKERS_HIDDEN_FROM_R1 = {
    "vaultzq": "topic B's label or slug",
    "zorqhidden": "an entity named only on topic B",
    "secretzq": "a topic-B title",
    "k1-privzq": "K1's endpoint URL",
    "k1deskzq": "K1's endpoint description",
}
TEXT_MARKERS_PRIVATE_TO_P1 = {
    "k1-privzq": "K1's endpoint URL",
    "k1deskzq": "K1's endpoint description",
    "r1-ownzq": "R1's endpoint URL",
    "r1deskzq": "R1's endpoint description",
    "tokzq": "the token in K1's job URL",
    "privzq": "K1's supplied text (its title, a topic and an entity only it names)",
}
SUPPLIED_TOPIC = "privzq-moorings"
"""A topic only K1's supplied text carries."""
SUPPLIED_ENTITY = "Privzq Marine Works"
"""An entity only K1's supplied text names."""

B_PARAGRAPHS = [
    "Zorqhidden Holdings said on Monday that its vaultzq lockers would open to private clients next "
    "spring, after a long inspection by the harbour authority.",
    "The vaultzq lockers sit in a converted granary and are guarded around the clock, according to "
    "documents seen by reporters.",
    "Its chief operator said demand for vaultzq lockers had grown quickly among collectors, jewellers "
    "and small archives that need dry, secure rooms.",
    "Critics argue that vaultzq lockers offer little oversight, because the company keeps no register "
    "of what is stored inside them.",
    "Insurance brokers quoted premiums well above the regional average, citing flood risk along the "
    "waterfront and the age of the building.",
    "Zorqhidden Holdings expects the site to break even within three seasons, although it declined to "
    "publish a detailed budget or name its lenders.",
    "Residents asked for lorry traffic to be limited at night, and councillors agreed to reconsider "
    "delivery hours after a town meeting.",
    "Analysts noted that similar facilities elsewhere struggled to fill capacity when interest rates "
    "climbed and dealers sold inventory.",
]
B_TITLE = "Secretzq report: Zorqhidden Holdings readies vaultzq lockers beneath the customs quay"
A_TITLE = "Privzq notice: lighthouse ferries resume winter sailings to the outer islands"
A_TEXT = "\n".join(
    [
        "Operators of the lighthouse ferries confirmed that sailings would restart next week, ending a "
        "pause caused by repairs to two hulls.",
        "The lighthouse ferries carry schoolchildren, nurses and post between the mainland pier and "
        "four small island communities.",
        "Sharedname Group, which runs the service under contract, said timetables would match last "
        "winter and fares would stay unchanged.",
        "Families on the archipelago welcomed the news but asked for a backup vessel, since a single "
        "breakdown can leave households without supplies for days.",
        "Engineers replaced worn propeller shafts and installed new radar units, according to a "
        "maintenance report published by the operator.",
        "Regional officials promised to study a second landing stage that would let the lighthouse "
        "ferries dock safely in stronger easterly winds.",
        "Passenger numbers fell sharply during the pause, and local shops reported lower takings "
        "while visitors stayed away.",
        "Union representatives said crews had been kept on full pay during the repairs and would "
        "receive extra training on the equipment.",
        "Captains praised the privzq moorings at the outer quay, and the privzq moorings will be "
        "dredged in spring by Privzq Marine Works.",
    ]
)
SUPPLIED_URL = "https://press.example/ferry-release"


def page(title: str, paragraphs: list[str]) -> str:
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        '<meta property="og:site_name" content="The Quayside Ledger"></head><body><main><article>'
        f"<h1>{html.escape(title)}</h1>{body}</article></main></body></html>"
    )


async def _poll(http: httpx.AsyncClient, url: str, final: set[str]) -> dict[str, Any]:
    for _ in range(600):
        body: dict[str, Any] = (await http.get(url)).json()
        if body.get("status") in final:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} did not finish")


async def _seed(conn: asyncpg.Connection) -> SimpleNamespace:
    a1 = await seed_signal(
        conn,
        SeedSignal(title="Lighthouse ferries add a night crossing", topics=[TOPIC_A],
                   entities=[(SHARED_ENTITY, "organization")]),
    )  # fmt: skip
    b1 = await seed_signal(
        conn,
        SeedSignal(title="Secretzq audit of the vaultzq lockers", topics=[TOPIC_B],
                   entities=[(HIDDEN_ENTITY, "organization"), (SHARED_ENTITY, "organization")]),
    )  # fmt: skip
    b2 = await seed_signal(
        conn,
        SeedSignal(title="Secretzq tenants leave the vaultzq lockers", topics=[TOPIC_B],
                   entities=[(HIDDEN_ENTITY, "organization")]),
    )  # fmt: skip
    # related coverage from the visible signal to a hidden one
    await conn.execute(
        "INSERT INTO signal_related (signal_id, related_id, score, reason) VALUES ($1, $2, 0.9, 'names')",
        a1,
        b1,
    )
    p1 = await keys.ensure_partner(conn, "Walk partner one")
    p2 = await keys.ensure_partner(conn, "Walk partner two")
    topic_a = await topic_ids_for_slugs(conn, [SLUG_A])
    made = SimpleNamespace(
        a1=a1,
        b1=b1,
        b2=b2,
        p1=p1["id"],
        p2=p2["id"],
        topic_a=topic_a[0],
        k1=await keys.create_key(conn, name="p1-all", scopes=SCOPES, partner_id=p1["id"]),
        r1=await keys.create_key(conn, name="p1-a", scopes=SCOPES, partner_id=p1["id"], topic_ids=topic_a),
        ro=await keys.create_key(conn, name="p1-read", scopes=["signals:read"], partner_id=p1["id"]),
        k2=await keys.create_key(conn, name="p2-all", scopes=SCOPES, partner_id=p2["id"]),
        admin=await keys.create_key(conn, name="ops", scopes=["admin"]),
    )
    return made


async def build_world(base: str, database_url: str, site: FakeSite, receiver: Receiver) -> SimpleNamespace:
    """Seed, then act as K1 and R1 through the API; wait until the worker is idle."""
    async with connected(database_url) as conn:
        w = await _seed(conn)
        today = datetime.now(UTC).date().isoformat()
        async with keyed_client(base, w.k1.key) as k1, keyed_client(base, w.r1.key) as r1:
            k1_hook = await create_webhook(
                k1,
                receiver.base_url + "/hooks/k1-privzq",
                description="k1deskzq: every topic",
                event_types=["signal.created", "signal.updated", "digest.published"],
            )
            w.webhook_k1 = k1_hook["id"]
            r1_hook = await create_webhook(
                r1, receiver.base_url + "/hooks/r1-ownzq", description="r1deskzq: topic A"
            )
            w.webhook_r1 = r1_hook["id"]

            wait = {"Prefer": "wait=30"}
            w.fetched_url = site.set_page("/news/harbour-storage", page(B_TITLE, B_PARAGRAPHS))
            fetched = await k1.post("/v1/signals", json={"url": w.fetched_url}, headers=wait)
            assert fetched.status_code == 201, fetched.text
            w.fetched = fetched.json()
            assert [t["slug"] for t in w.fetched["topics"]] == [SLUG_B], w.fetched["topics"]
            supplied = await k1.post(
                "/v1/signals", json={"text": A_TEXT, "title": A_TITLE, "url": SUPPLIED_URL}, headers=wait
            )
            assert supplied.status_code == 201, supplied.text
            w.supplied = supplied.json()
            assert {SLUG_A, SUPPLIED_TOPIC} <= {t["slug"] for t in w.supplied["topics"]}, w.supplied["topics"]
            assert SLUG_B not in {t["slug"] for t in w.supplied["topics"]}
            assert SUPPLIED_ENTITY in {e["name"] for e in w.supplied["entities"]}, w.supplied["entities"]

            short = site.set_page("/members/brief", "<html><body><p>Members only.</p></body></html>")
            queued = await k1.post("/v1/signals", json={"url": f"{short}?token={JOB_TOKEN}"})
            assert queued.status_code == 202, queued.text
            w.token_job = (await _poll(k1, queued.headers["location"], {"done", "failed"}))["id"]

            w.digest_jobs = {}
            for name, topic in (("general", None), ("topic B", SLUG_B)):
                body = {"period": "daily", "date": today, **({"topic": topic} if topic else {})}
                queued = await k1.post("/v1/digests", json=body)
                assert queued.status_code == 202, queued.text
                job = await _poll(k1, queued.headers["location"], {"done", "failed", "empty"})
                assert job["status"] == "done", job
                w.digest_jobs[name] = job
        await settle(conn)
        w.fetched_job, w.supplied_job = [
            str(await conn.fetchval(
                "SELECT id FROM jobs WHERE api_key_id = $1 AND signal_id = $2::uuid", w.k1.id, s["id"]))
            for s in (w.fetched, w.supplied)
        ]  # fmt: skip
        w.deliveries = {
            hook: [str(r["id"]) for r in await conn.fetch(
                "SELECT id FROM webhook_deliveries WHERE webhook_id = $1::uuid ORDER BY created_at", hook)]
            for hook in (w.webhook_k1, w.webhook_r1)
        }  # fmt: skip
        assert all(w.deliveries.values()), w.deliveries
        # a story that mixes both topics (R1 sees it through its topic-A signal) and one of B only
        w.mixed_story = await stories.create_story(conn, w.a1)
        w.hidden_story = await stories.create_story(conn, w.b2)
        for signal_id, story_id in ((w.a1, w.mixed_story), (w.b1, w.mixed_story), (w.b2, w.hidden_story)):
            await stories.set_signal_story(conn, signal_id, story_id)
        for story_id in (w.mixed_story, w.hidden_story):
            await signals_repository.refresh_story(conn, story_id)
        w.entities = {
            r["name"]: r["id"]
            for r in await conn.fetch("SELECT id, name FROM entities WHERE name = ANY($1::text[])",
                                      [HIDDEN_ENTITY, SHARED_ENTITY, SUPPLIED_ENTITY])
        }  # fmt: skip
        w.topic_b = await conn.fetchval("SELECT id FROM topics WHERE slug = $1", SLUG_B)
        w.hidden_signals = [str(w.b1), str(w.b2), w.fetched["id"]]
        w.hidden_articles = [
            str(a) for a in await conn.fetchval(
                "SELECT array_agg(article_id) FROM signals WHERE id = ANY($1::uuid[])", w.hidden_signals)
        ]  # fmt: skip
        w.today = today
        return w
