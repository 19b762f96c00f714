"""GET /v1/signals/export over real sockets: NDJSON and CSV hold exactly the signals the filter
selects, CSV cells cannot run as spreadsheet formulas, the body streams page by page, and
bad filters are problem+json answers rather than broken downloads."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import pytest

from service.app import create_app
from service.db.database import init_connection
from service.runtime import open_runtime
from service.signals.export import CSV_COLUMNS, neutralize_cell, prepare_export
from service.signals.listing import SignalQuery
from tests.support.keys import new_key
from tests.support.seeding import SeedSignal, seed_signal
from tests.support.servers import running_asgi

PROBLEM = "application/problem+json"
BASE = datetime(2025, 6, 1, tzinfo=UTC)
TRICKY_TITLES = ['=HYPERLINK("http://evil.example")', "+1 and counting", "-2 degrees", "@SUM(A1)", "\tTabbed"]


@pytest.fixture(scope="module")
def api(make_settings: Any) -> Iterator[str]:
    with running_asgi(create_app(make_settings(), worker=False)) as base:
        yield base


@pytest.fixture(scope="module")
async def reader_key(database_url: str) -> str:
    return await new_key(database_url, name="reader", scopes=["signals:read"])


@pytest.fixture
async def http(api: str, reader_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=api, headers={"Authorization": f"Bearer {reader_key}"}, timeout=60
    ) as client:
        yield client


@pytest.fixture(scope="module")
async def seeded(database_url: str) -> SimpleNamespace:
    """230 signals on one topic (three pages of 100), split over two sites and two languages,
    plus signals on another topic; some titles and entity names look like formulas."""
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    ids: dict[str, set[str]] = {"export": set(), "courier_en": set(), "other": set()}
    try:
        for i in range(230):
            site = "The Harbour Courier" if i % 2 else "Fennick Gazette"
            lang = "de" if i % 5 == 0 else "en"
            title = TRICKY_TITLES[i] if i < len(TRICKY_TITLES) else f'Export story {i}, with "quotes", commas'
            entities = (
                [("=Danger Corp", "organization")] if i == 7 else [("Northwind Energy", "organization")]
            )
            signal_id = await seed_signal(
                conn,
                SeedSignal(
                    title=title,
                    summary=f"Summary {i}\nsecond line",
                    topics=["Export Topic", "Second Topic"],
                    entities=entities,
                    site_name=site,
                    language=lang,
                    created_at=BASE + timedelta(minutes=i),
                    sentiment=-0.5 if i % 3 == 0 else 0.25,
                ),
            )
            ids["export"].add(str(signal_id))
            if site == "The Harbour Courier" and lang == "en":
                ids["courier_en"].add(str(signal_id))
        for i in range(5):
            other = SeedSignal(
                title=f"Other {i}", topics=["Other Topic"], created_at=BASE + timedelta(minutes=i)
            )
            ids["other"].add(str(await seed_signal(conn, other)))
    finally:
        await conn.close()
    return SimpleNamespace(**ids)


def ndjson_ids(text: str) -> list[str]:
    return [json.loads(line)["id"] for line in text.splitlines()]


async def test_ndjson_holds_the_full_cards_the_filter_selects(http, seeded):
    response = await http.get("/v1/signals/export?topic=export-topic")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert response.headers["content-disposition"].startswith('attachment; filename="signals-')
    assert response.headers["content-disposition"].endswith('.ndjson"')
    ids = ndjson_ids(response.text)
    assert len(ids) == len(set(ids)) == 230 and set(ids) == seeded.export
    card = json.loads(response.text.splitlines()[0])  # newest first: the last one stored
    assert card["title"] == 'Export story 229, with "quotes", commas'
    assert {"summary", "analysis", "key_details", "topics", "entities", "grounding", "source"} <= set(card)
    assert [t["slug"] for t in card["topics"]] == ["export-topic", "second-topic"]


async def test_filters_combine(http, seeded):
    query = "topic=export-topic&source=The%20Harbour%20Courier&lang=en"
    assert set(ndjson_ids((await http.get(f"/v1/signals/export?{query}")).text)) == seeded.courier_en
    window = "since=2025-06-01T00:10:00Z&until=2025-06-01T00:20:00Z"
    ids = ndjson_ids((await http.get(f"/v1/signals/export?topic=export-topic&{window}")).text)
    assert len(ids) == 10
    northwind = (await http.get("/v1/entities?q=Northwind&window=3660d")).json()["items"][0]["id"]
    ids = ndjson_ids((await http.get(f"/v1/signals/export?entity={northwind}&topic=export-topic")).text)
    assert len(ids) == 229  # all but the one naming "=Danger Corp"
    other = ndjson_ids((await http.get("/v1/signals/export?topic=other-topic")).text)
    assert set(other) == seeded.other


async def test_csv_has_flat_columns_proper_quoting_and_no_formulas(http, seeded):
    response = await http.get("/v1/signals/export?format=csv&topic=export-topic")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"  # one charset, not two
    assert response.headers["content-disposition"].endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert {r["id"] for r in rows} == seeded.export and len(rows) == 230
    by_title = {r["title"]: r for r in rows}
    for title in TRICKY_TITLES:
        assert "'" + title in by_title, title  # neutralised, and otherwise intact
    for row in rows:
        for column in ("title", "summary", "site_name", "url", "topics", "entities"):
            assert not row[column].startswith(("=", "+", "-", "@", "\t", "\r")), row
    quoted = by_title['Export story 101, with "quotes", commas']
    assert quoted["summary"] == "Summary 101\nsecond line"  # a newline survives, quoted
    assert quoted["topics"] == "export-topic;second-topic"
    assert quoted["entities"] == "Northwind Energy"
    assert (
        quoted["sentiment"] == "0.25"
        and by_title['Export story 99, with "quotes", commas']["sentiment"] == "-0.5"
    )
    assert quoted["grounding"] == "1.000" and quoted["language"] == "en"
    assert quoted["site_name"] == "The Harbour Courier" and quoted["url"].startswith("https://")
    assert datetime.fromisoformat(quoted["created_at"]) == BASE + timedelta(minutes=101)
    danger = next(r for r in rows if "Danger" in r["entities"])
    assert danger["entities"] == "'=Danger Corp"


def test_only_formula_like_cells_are_changed():
    assert neutralize_cell("=1+1") == "'=1+1" and neutralize_cell("@x") == "'@x"
    assert neutralize_cell("Plain text = fine") == "Plain text = fine" and neutralize_cell("") == ""


async def test_the_body_streams_in_chunks(http, seeded):
    async with http.stream("GET", "/v1/signals/export?format=csv&topic=export-topic") as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers  # not buffered up front
        assert response.headers.get("transfer-encoding") == "chunked"
        received = [chunk async for chunk in response.aiter_raw()]
    assert b"".join(received).count(b"\r\n") >= 231


async def test_pages_are_read_only_as_the_client_reads(make_settings, seeded, db):
    """The export asks the database for page n+1 only after page n was consumed: signals
    dropped between two reads are missing from the rest of the download."""
    async with open_runtime(make_settings(), extraction=False) as rt:
        export = await prepare_export(
            rt.db.pool, rt.topic_cache, "ndjson", SignalQuery(topics=("export-topic",)), page_size=50
        )
        first = await anext(export.chunks)
        assert len(first.splitlines()) == 50  # one page, newest first: minutes 229..180
        # Drop the oldest 100 signals now: pages not read yet must not contain them.
        await db.execute(
            "UPDATE signals SET is_current = false WHERE topic_ids @> ARRAY[(SELECT id FROM topics"
            " WHERE slug = 'export-topic')] AND created_at < $1",
            BASE + timedelta(minutes=100),
        )
        try:
            rest = [chunk async for chunk in export.chunks]
        finally:
            await db.execute(
                "UPDATE signals SET is_current = true WHERE created_at >= $1 AND created_at < $2",
                BASE,
                BASE + timedelta(minutes=100),
            )
    lines = [json.loads(line) for chunk in rest for line in chunk.splitlines()]
    assert len(rest) == 2 and len(lines) == 80  # minutes 179..100, in two pages of 50 and 30


@pytest.mark.parametrize(
    ("query", "status", "reason"),
    [
        ("topic=no-such-topic", 404, "unknown_topic"),
        ("entity=999999999", 404, "unknown_entity"),
        ("since=2025-06-02&until=2025-06-01", 400, "inverted_range"),
        ("since=someday", 400, "bad_parameter"),
        ("format=xlsx", 400, None),
        ("entity=abc", 400, None),
    ],
)
async def test_bad_filters_are_problems_not_broken_downloads(http, query, status, reason):
    response = await http.get(f"/v1/signals/export?{query}")
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert "content-disposition" not in response.headers
    if reason is not None:
        assert response.json()["reason"] == reason


async def test_export_needs_a_read_key(api):
    async with httpx.AsyncClient(base_url=api) as anonymous:
        response = await anonymous.get("/v1/signals/export")
    assert response.status_code == 401 and response.headers["content-type"].startswith(PROBLEM)
