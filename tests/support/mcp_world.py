"""One world for the MCP tests (HTTP and stdio): two topics with two fetched signals each (one
story per topic, a shared entity), a briefing per topic and a general one written through the
API by the LLM stub, a signal made of text one partner supplied, and keys of every kind."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

import httpx

from service.keys import service as keys
from service.signals import repository as signals_repository
from service.stories import repository as stories
from tests.support.articles import article_text
from tests.support.clients import connected, keyed_client
from tests.support.seeding import SeedSignal, seed_signal

READ = ["signals:read"]
WRITE = ["signals:read", "signals:write"]
WAIT = {"Prefer": "wait=30"}
HARBOUR, RAIL = "harbour-cranes", "rail-freight"
SHARED_ENTITY = "Quayside Holdings"


def yesterday() -> date:
    """A finished day (a briefing of it can be written) inside list_topics' default 7 days."""
    return (datetime.now(UTC) - timedelta(days=1)).date()


async def _story(conn: Any, members: list[Any]) -> Any:
    async with conn.transaction():
        story_id = await stories.create_story(conn, members[0])
        for member in members:
            await stories.set_signal_story(conn, member, story_id)
        await signals_repository.refresh_story(conn, story_id)
    return story_id


async def _briefing(http: httpx.AsyncClient, day: date, **body: Any) -> dict[str, Any]:
    response = await http.post(
        "/v1/digests", json={"period": "daily", "date": day.isoformat(), **body}, headers=WAIT
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def build_world(api: str, database_url: str) -> SimpleNamespace:
    """Build the world through the database and the running API at ``api``."""
    day = yesterday()
    noon = datetime.combine(day, time(12), UTC)
    w = SimpleNamespace(day=day)
    async with connected(database_url) as conn:
        acme = await keys.ensure_partner(conn, "Acme Wire")
        beta = await keys.ensure_partner(conn, "Beta Desk")

        async def signal(title: str, topic: str, minutes: int) -> Any:
            return await seed_signal(
                conn,
                SeedSignal(
                    title=title,
                    topics=[topic],
                    entities=[(SHARED_ENTITY, "organization")],
                    created_at=noon + timedelta(minutes=minutes),
                    site_name="The Harbour Courier" if topic == "Harbour Cranes" else "Rail Weekly",
                    text=f"{title}. " * 40,
                ),
            )

        w.harbour = [
            await signal("Harbour cranes electrified at the east quay", "Harbour Cranes", 1),
            await signal("Harbour crane drivers trained on remote consoles", "Harbour Cranes", 2),
        ]
        w.rail = [
            await signal("Rail freight tunnel reopens to container trains", "Rail Freight", 3),
            await signal("Rail freight tariffs rise for night slots", "Rail Freight", 4),
        ]
        # Related links as the relate step stores them: one within the topic, one across topics.
        await conn.executemany(
            "INSERT INTO signal_related (signal_id, related_id, score, reason, same_story)"
            " VALUES ($1, $2, $3, $4, $5)",
            [
                (w.harbour[0], w.harbour[1], 0.9, "same story: the east quay cranes", True),
                (w.harbour[0], w.rail[0], 0.5, "both name Quayside Holdings", False),
            ],
        )
        w.harbour_story = await _story(conn, w.harbour)
        w.rail_story = await _story(conn, w.rail)
        w.entity = await conn.fetchval("SELECT id FROM entities WHERE name = $1", SHARED_ENTITY)
        harbour_topic = await conn.fetchval("SELECT id FROM topics WHERE slug = $1", HARBOUR)
        made = {
            "reader": await keys.create_key(conn, name="mcp-reader", scopes=READ),
            "writer": await keys.create_key(conn, name="mcp-writer", scopes=WRITE, partner_id=acme["id"]),
            "other": await keys.create_key(conn, name="mcp-other", scopes=WRITE, partner_id=beta["id"]),
            "restricted": await keys.create_key(
                conn, name="mcp-harbour", scopes=WRITE, topic_ids=[harbour_topic]
            ),
            "revoked": await keys.create_key(conn, name="mcp-revoked", scopes=READ),
            "webhooks": await keys.create_key(conn, name="mcp-hooks", scopes=["webhooks:manage"]),
        }
        await keys.revoke_key(conn, str(made["revoked"].id))
        w.keys = {name: key.key for name, key in made.items()}
        w.key_ids = {name: key.id for name, key in made.items()}
    async with keyed_client(api, w.keys["writer"]) as http:
        title, paragraphs = article_text(61)
        supplied = await http.post(
            "/v1/signals", json={"text": "\n".join(paragraphs), "title": title}, headers=WAIT
        )
        assert supplied.status_code == 201, supplied.text
        w.supplied = supplied.json()
        w.briefings = {
            HARBOUR: await _briefing(http, day, topic=HARBOUR),
            RAIL: await _briefing(http, day, topic=RAIL),
            "general": await _briefing(http, day),
        }
    return w
