"""A small world for the reader pages' tests (integration and browser): a showcase signal made
from the sample article with every card field filled, a story of two outlets, signals on a
second topic, a hostile article, a briefing written through the API (LLM stub), a signal made
of supplied text, and keys (reader, writer, topic-restricted)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import httpx

from service.digests import repository as digests
from service.digests.writing import WrittenDigest
from service.keys import service as keys
from service.related import repository as related
from service.samples import load_sample, sample_request
from service.signals import repository as signals_repository
from service.stories import repository as stories
from service.topics.slugs import topic_ids_for_slugs
from tests.support.clients import connected
from tests.support.seeding import SeedSignal, seed_signal

WATER = ["Water networks", "Leak detection"]
RAIL = ["Rail"]

SHOWCASE = {
    "title": "Listening sensors find leaks before the road floods",
    "summary": "A city water company cut its leakage by a fifth after fitting acoustic sensors to its pipes.",
    "eli5": (
        "Imagine putting your ear to a garden hose to hear where it hisses. The water company "
        "clipped thousands of tiny ears to its pipes, and at night, when it is quiet, they listen "
        "for the hiss of a leak and point to it."
    ),
    "analysis": (
        "Marrowby Water's numbers show what listening networks can do for an old cast-iron "
        "system: losses fell from 31 to 25 litres in every hundred treated within a year.\n\n"
        "The change is less about the sensors than about timing. Leaks are found weeks before they "
        "surface, so repairs are planned instead of rushed, and crews dig once, in the right place."
    ),
    "impact": (
        "Utilities with ageing pipes can treat leakage as a data problem; regulators may start to "
        "expect acoustic coverage where losses stay high."
    ),
    "optimistic": "Network-wide coverage by 2028 could halve losses and defer costly new reservoirs.",
    "pessimistic": "Sensors find leaks faster than crews can fix them, and the backlog eats the savings.",
}
SHOWCASE_DETAILS = [
    ("Leakage fell by 19 percent in a year after 4,200 acoustic sensors were fitted.",
     "Marrowby Water has cut the water it loses to leaks by 19 percent in a year after fitting "
     "4,200 acoustic sensors to its pipes, the company said on Tuesday, and it now plans to cover "
     "the rest of its water network by the end of 2028."),
    ("The sensors listen between two and four in the morning, when demand is lowest.",
     "Every night between two and four in the morning, when demand is at its lowest, they record "
     "the hum of the water mains for a few minutes."),
    ("Losses were 31 litres in every hundred treated before the sensors went in.",
     "Before the sensors went in, the company lost 31 litres of every hundred it treated, one of "
     "the highest rates among the region's suppliers."),
]  # fmt: skip

RAIL_SIGNALS = [
    ("Night trains return to the coastal line",
     "An operator restores sleeper services after a decade, citing demand from tourists."),
    ("Signal upgrade shortens the commuter timetable",
     "New in-cab signalling lets trains run closer together, cutting four minutes from peak journeys."),
    ("Freight operator orders battery locomotives",
     "Twelve battery-electric locomotives will replace diesels on the unelectrified branch lines."),
]  # fmt: skip

HOSTILE_TITLE = "<script>alert('title')</script> \"Quoted\" & <b>bold</b> headline"
HOSTILE_EVIDENCE = "<img src=x onerror=alert('evidence')> said \"the engineer\" & left"
HOSTILE_ELI5 = "</p><script>document.title='pwned'</script><p>A child's explanation."


def day_before(today: date) -> date:
    return today - timedelta(days=1)


async def build_world(database_url: str, api: str) -> SimpleNamespace:
    """Seed the signals and keys, then write the briefing and the supplied signal through ``api``
    (which runs a worker with the LLM stub)."""
    day = day_before(datetime.now(UTC).date())
    at = datetime.combine(day, time(9), UTC)
    sample = load_sample()
    async with connected(database_url) as conn:
        showcase = await seed_signal(
            conn,
            SeedSignal(
                title=SHOWCASE["title"],
                summary=SHOWCASE["summary"],
                topics=WATER,
                entities=[("Marrowby Water", "organization"), ("Ines Calder", "person")],
                site_name="The Wend Valley Courier",
                text=sample.text,
                created_at=at,
                sentiment=0.4,
                key_details=[text for text, _ in SHOWCASE_DETAILS],
                url="https://wend-valley-courier.example/2026/leak-sensors",
            ),
        )
        await conn.execute(
            "UPDATE signals SET eli5 = $2, analysis = $3, impact = $4, optimistic_outlook = $5,"
            " pessimistic_outlook = $6, key_details = $7::jsonb, model = 'example-model-7b' WHERE id = $1",
            showcase, SHOWCASE["eli5"], SHOWCASE["analysis"], SHOWCASE["impact"], SHOWCASE["optimistic"],
            SHOWCASE["pessimistic"], [{"text": t, "evidence": e} for t, e in SHOWCASE_DETAILS],
        )  # fmt: skip
        echo = await seed_signal(
            conn,
            SeedSignal(
                title="Acoustic leak hunt spreads across Marrowby",
                summary="Neighbouring utilities trial the listening sensors after Marrowby's results.",
                topics=WATER,
                entities=[("Marrowby Water", "organization")],
                site_name="Northern Utility Weekly",
                created_at=at + timedelta(hours=1),
            ),
        )
        async with conn.transaction():
            story = await stories.create_story(conn, showcase)
            for signal_id in (showcase, echo):
                await stories.set_signal_story(conn, signal_id, story)
            await signals_repository.refresh_story(conn, story)
        rail = [
            await seed_signal(
                conn,
                SeedSignal(
                    title=title,
                    summary=summary,
                    topics=[*RAIL, "Leak detection"] if i == 0 else RAIL,
                    site_name="Rail Gazette",
                    created_at=at + timedelta(hours=2 + i),
                ),
            )
            for i, (title, summary) in enumerate(RAIL_SIGNALS)
        ]
        await related.upsert_related_links(
            conn,
            [
                (showcase, echo, 0.82, "Same story · Both mention Marrowby Water", True),
                (showcase, rail[0], 0.31, "Both on Leak detection", False),
            ],
        )
        showcase_briefing = await _store_briefing(conn, day - timedelta(days=1), showcase, echo, rail)
        hostile = await seed_signal(
            conn,
            SeedSignal(
                title=HOSTILE_TITLE,
                topics=WATER,
                site_name='<i>Evil</i> "Site"',
                created_at=at + timedelta(hours=5),
                url="javascript:alert(document.cookie)",
            ),
        )
        await conn.execute(
            "UPDATE signals SET eli5 = $2, key_details = $3::jsonb WHERE id = $1",
            hostile, HOSTILE_ELI5, [{"text": "A <u>fact</u>", "evidence": HOSTILE_EVIDENCE}],
        )  # fmt: skip
        rail_topic = await topic_ids_for_slugs(conn, ["rail"])
        writer = await keys.create_key(conn, name="reader-writer", scopes=["signals:read", "signals:write"])
        reader = await keys.create_key(conn, name="reader", scopes=["signals:read"])
        restricted = await keys.create_key(
            conn, name="rail-only", scopes=["signals:read"], topic_ids=rail_topic
        )
        no_read = await keys.create_key(conn, name="writer-only", scopes=["signals:write"])
    async with httpx.AsyncClient(
        base_url=api, headers={"Authorization": f"Bearer {writer.key}"}, timeout=90
    ) as http:
        written = await http.post(
            "/v1/digests", json={"period": "daily", "date": day.isoformat()}, headers={"Prefer": "wait=60"}
        )
        assert written.status_code == 201, written.text
        supplied = await http.post("/v1/signals", json=sample_request(), headers={"Prefer": "wait=60"})
        assert supplied.status_code in (200, 201), supplied.text
    digest: dict[str, Any] = written.json()
    return SimpleNamespace(
        day=day,
        showcase=showcase,
        showcase_briefing=showcase_briefing,
        echo=echo,
        story=story,
        rail=rail,
        hostile=hostile,
        digest=digest,
        supplied=supplied.json()["id"],
        writer=writer.key,
        reader=reader.key,
        restricted=restricted.key,
        no_read=no_read.key,
    )


async def _store_briefing(conn: Any, day: date, showcase: UUID, echo: UUID, rail: list[UUID]) -> UUID:
    """A daily briefing written for the screenshots (the stub's own briefings are labelled
    [stub]), stored through the digests repository as the writer stores one."""
    cite = [
        (showcase, SHOWCASE["title"], "The Wend Valley Courier"),
        (echo, "Acoustic leak hunt spreads across Marrowby", "Northern Utility Weekly"),
        *(
            (signal_id, title, "Rail Gazette")
            for signal_id, (title, _) in zip(rail, RAIL_SIGNALS, strict=True)
        ),
    ]
    citations = [
        {"n": n, "signal_id": str(signal_id), "title": title, "site_name": site,
         "url": f"https://{site.lower().replace(' ', '-')}.example/{n}"}
        for n, (signal_id, title, site) in enumerate(cite, start=1)
    ]  # fmt: skip
    sections = [
        {"title": "Utilities learn to listen", "signal_ids": [str(showcase), str(echo)],
         "body": "Marrowby's water company found a fifth of its leaks by listening to its pipes at night, "
                 "cutting losses from 31 to 25 litres in every hundred it treats [1]. Neighbouring "
                 "utilities are already trialling the same sensors [2].\n\nThe lesson is timing: a leak "
                 "heard weeks before it surfaces is a planned repair, not an emergency dig [1]."},
        {"title": "Rail finds minutes in software", "signal_ids": [str(rail[0]), str(rail[1])],
         "body": "In-cab signalling lets commuter trains run closer together and trims four minutes from "
                 "peak journeys [4], while sleeper services return to the coastal line after a decade [3]."},
    ]  # fmt: skip
    written = WrittenDigest(
        headline="Infrastructure that listens and signals",
        dek="Acoustic sensors shrink a water network's losses while rail squeezes more from its timetable",
        opening="Two old networks, water and rail, are getting more out of what is already in the ground. "
        "Neither story needs new pipes or new track [1] [4].",
        sections=sections,
        quick_hits=[
            {
                "signal_id": str(rail[2]),
                "text": "Twelve battery locomotives will replace diesels on unelectrified branch lines [5].",
            }
        ],
        citations=citations,
        signal_ids=[c[0] for c in cite],
        word_count=180,
        reading_minutes=1,
        kind="llm",
        model="example-model-7b",
        llm_calls=2,
    )
    async with conn.transaction():
        return await digests.insert_digest(
            conn, period="daily", period_start=day, topic_id=None, digest=written, prompt_version="example",
            input_budget=6000, signals_considered=5, stories_considered=4, trigger="request",
        )  # fmt: skip
