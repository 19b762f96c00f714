"""The baselines ``bench.queries`` sets the API's reads against, run in this process.

The list page as a bare loop (its statement on one asyncpg connection, rows into msgspec
Structs, encoded to JSON: no Litestar, no HTTP), the kNN query the relate step runs, and
that query's HNSW recall against the same query answered exactly. They live apart from the
measuring loop so that what is compared with what reads in one place.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any
from uuid import UUID

import msgspec

from bench.seed import MODEL
from bench.synthetic import DIMS
from service.db.queries import queries
from service.embeddings import sized
from service.stories import candidates

KNN_K = 50  # service.stories.candidates.NEAREST_CANDIDATES
EF_SEARCH = str(max(candidates.EF_SEARCH, 2 * KNN_K))  # as nearest_by_embedding sets it


class BareTopic(msgspec.Struct):
    slug: str
    label: str


class BareEntity(msgspec.Struct):
    id: int
    name: str
    type: str


class BareLinks(msgspec.Struct):
    self: str
    article: str


class BareItem(msgspec.Struct, omit_defaults=True):
    id: UUID
    title: str
    summary: str
    url: str | None
    site_name: str | None
    language: str | None
    published_date: date | None
    created_at: datetime
    sentiment: float | None
    topics: list[BareTopic]
    entities: list[BareEntity]
    story_id: UUID | None
    links: BareLinks
    rank: float | None = None


class BarePage(msgspec.Struct):
    items: list[BareItem]
    next: str | None
    limit: int


_encode = msgspec.json.Encoder().encode


async def bare_list_loop(conn: Any, topics: list[str]) -> Callable[..., Awaitable[bytes]]:
    """The list page of one of ``topics`` (and its page 2, from ``after``), computed bare."""
    list_sql = queries.list_signals_newest.sql
    list_order = queries.list_signals_newest.params
    resolved = await queries.resolve_topic_slugs.fetch(conn, slugs=topics)
    topic_ids = {r["slug"]: r["topic_id"] for r in resolved}

    async def bare_list(topic: str, after: tuple[datetime, UUID] | None = None) -> bytes:
        """The list query and its encoding, without Litestar or HTTP."""
        values = {p: None for p in list_order} | {
            "collapse": False,
            "topic_any": [topic_ids[topic]],
            "lang": "en",
            "limit": 21,
        }
        if after is not None:
            values["after_created"], values["after_id"] = after
        rows = await conn.fetch(list_sql, *[values[p] for p in list_order])
        items = [
            BareItem(
                id=r["id"],
                title=r["title"],
                summary=r["summary"],
                url=r["url"],
                site_name=r["site_name"],
                language=r["language"],
                published_date=r["published_date"],
                created_at=r["created_at"],
                sentiment=r["sentiment"],
                topics=[BareTopic(t["slug"], t["label"]) for t in r["topics"]],
                entities=[BareEntity(e["id"], e["name"], e["type"]) for e in r["entities"]],
                story_id=r["story_id"],
                links=BareLinks(f"/v1/signals/{r['id']}", f"/v1/articles/{r['article_id']}"),
            )
            for r in rows[:20]
        ]
        return _encode(BarePage(items=items, next="cursor" if len(rows) > 20 else None, limit=20))

    return bare_list


def bare_knn_query(conn: Any) -> Callable[[UUID], Awaitable[None]]:
    """The relate step's kNN query (``KNN_K`` neighbours, the production ef_search), bare."""
    knn_sql = sized(queries.nearest_signals_by_embedding, DIMS)

    async def bare_knn(signal_id: UUID) -> None:
        async with conn.transaction():
            await queries.set_vector_search_options.fetchrow(conn, ef_search=EF_SEARCH)
            await knn_sql.fetch(conn, signal_id=signal_id, model=MODEL, k=KNN_K)

    return bare_knn


async def measure_recall(conn: Any, ids: list[UUID], count: int, efs: list[str]) -> dict[str, float]:
    """recall@10 (and @50) of the production kNN query, against the same query run exactly."""
    knn_sql = sized(queries.nearest_signals_by_embedding, DIMS)
    rng = random.Random(13)
    subjects = rng.sample(ids, min(count, len(ids)))
    found: dict[str, list[float]] = {}
    started = time.perf_counter()
    for signal_id in subjects:
        async with conn.transaction():
            # HNSW serves only plain index scans: with them off the same query sorts every
            # vector by exact distance (lookups by id still go through bitmap scans).
            await conn.execute("SET LOCAL enable_indexscan = off")
            exact = [
                r["signal_id"] for r in await knn_sql.fetch(conn, signal_id=signal_id, model=MODEL, k=KNN_K)
            ]
        for ef in efs:
            async with conn.transaction():
                await queries.set_vector_search_options.fetchrow(conn, ef_search=ef)
                approx = [
                    r["signal_id"]
                    for r in await knn_sql.fetch(conn, signal_id=signal_id, model=MODEL, k=KNN_K)
                ]
            for at in (10, 50):
                truth = set(exact[:at])
                if truth:
                    found.setdefault(f"recall@{at} ef_search={ef}", []).append(
                        len(truth & set(approx[:at])) / len(truth)
                    )
    recall = {name: statistics.mean(values) for name, values in found.items()}
    recall["queries"] = len(subjects)
    recall["seconds"] = time.perf_counter() - started
    return recall
