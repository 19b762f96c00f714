"""Exporting every current signal that matches a filter, as NDJSON or CSV, for notebooks.

The export pages through ``list_signals`` (the same filters and keyset pagination as
``GET /v1/signals``) one page at a time, encoding and yielding each page before asking for
the next: memory stays constant however many signals match, and no connection or
transaction is held while the client reads. The first page is fetched before the response
starts, so a bad filter is still a problem+json answer and not a broken download.

- NDJSON: one full signal card per line (the ``GET /v1/signals/{id}`` body).
- CSV: one row per signal with flat columns (``CSV_COLUMNS``); topics are ``;``-joined slugs,
  entities ``;``-joined names, ``grounding`` is grounded/checked (0-1, empty when nothing was
  checked). Text cells that a spreadsheet would read as a formula are neutralised.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

from schemas.base import json_encoder
from schemas.signals import Signal, SignalCardPage
from service.db.connections import Pool
from service.signals.listing import MAX_LIMIT, SignalQuery, list_signals
from service.signals.sentiment import sentiment_value
from service.topics.cache import TopicCache

ExportFormat = Literal["ndjson", "csv"]
PAGE_SIZE = MAX_LIMIT
# Litestar appends "; charset=utf-8" to every text/* type itself: naming it here doubled it.
MEDIA_TYPES: dict[str, str] = {"ndjson": "application/x-ndjson", "csv": "text/csv"}
CSV_COLUMNS = (
    "id",
    "created_at",
    "published_date",
    "title",
    "summary",
    "site_name",
    "url",
    "language",
    "sentiment",
    "topics",
    "entities",
    "grounding",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""OWASP's list of first characters that make spreadsheets evaluate a cell."""


@dataclass(frozen=True, slots=True)
class Export:
    """A prepared export: headers to send and the body to stream."""

    media_type: str
    filename: str
    chunks: AsyncIterator[bytes]


def neutralize_cell(value: str) -> str:
    """Prefix a text cell with ``'`` when a spreadsheet would take it for a formula."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def csv_row(card: Signal) -> list[str]:
    """The flat CSV row of a card, in ``CSV_COLUMNS`` order."""
    source = card.source
    checked, grounded = card.grounding.checked, card.grounding.grounded
    text = [
        card.title,
        card.summary,
        source.site_name or "",
        source.canonical_url or source.url or "",
        source.language or "",
    ]
    title, summary, site_name, url, language = (neutralize_cell(v) for v in text)
    return [
        str(card.id),
        card.provenance.created_at.isoformat(),
        source.published_date.isoformat() if source.published_date else "",
        title,
        summary,
        site_name,
        url,
        language,
        "" if card.sentiment is None else str(sentiment_value(card.sentiment)),
        neutralize_cell(";".join(t.slug for t in card.topics)),
        neutralize_cell(";".join(e.name for e in card.entities)),
        "" if checked == 0 else f"{grounded / checked:.3f}",
    ]


def _csv_chunk(rows: Sequence[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)  # RFC 4180 line ends
    return buffer.getvalue().encode("utf-8")


def _encode(fmt: ExportFormat, cards: list[Signal]) -> bytes:
    if fmt == "csv":
        return _csv_chunk([csv_row(card) for card in cards])
    return b"".join(json_encoder.encode(card) + b"\n" for card in cards)


async def _next_page(pool: Pool, topic_cache: TopicCache, query: SignalQuery) -> SignalCardPage:
    page = await list_signals(pool, topic_cache, query)
    assert isinstance(page, SignalCardPage)  # include_card is on: full cards
    return page


async def _stream(
    pool: Pool, topic_cache: TopicCache, fmt: ExportFormat, query: SignalQuery, first: SignalCardPage
) -> AsyncIterator[bytes]:
    if fmt == "csv":
        yield _csv_chunk([CSV_COLUMNS])
    page = first
    while True:
        if page.items:
            yield _encode(fmt, page.items)
        if page.next is None:
            return
        # Each page is its own short query (keyset on created_at, id): nothing is held between them.
        page = await _next_page(pool, topic_cache, replace(query, cursor=page.next))


async def prepare_export(
    pool: Pool, topic_cache: TopicCache, fmt: ExportFormat, query: SignalQuery, *, page_size: int = PAGE_SIZE
) -> Export:
    """Validate the filter (400/404 problems come from here, before any byte is sent) and
    return the stream of every matching current signal, newest first."""
    query = replace(query, sort="newest", include_card=True, limit=page_size, cursor=None)
    first = await _next_page(pool, topic_cache, query)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Export(
        media_type=MEDIA_TYPES[fmt],
        filename=f"signals-{stamp}.{fmt}",
        chunks=_stream(pool, topic_cache, fmt, query, first),
    )
