"""The stored signals a new signal is compared with, and how each compares.

Nearest in meaning (HNSW), sharing names, topics or words: story placement reads them first
(``service.stories.placement``), then related coverage reuses that search and widens it
(``service.related.service``). Named queries in sql/queries/related.sql; the comparison
itself is pure (``service.similarity``)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Hashable
from datetime import datetime
from typing import Any, Literal, TypeVar
from uuid import UUID

from service.db.connections import Connection, Executor
from service.db.queries import Query, queries
from service.embeddings import Embedder, sized
from service.similarity.features import Candidate, Rarity, Subject, split_by_reach
from service.similarity.wording import trigram_codes, wording_similarity

K = TypeVar("K", bound=Hashable)

NEAREST_CANDIDATES = 50
ENTITY_CANDIDATES = 50
TOPIC_CANDIDATES = 30
TEXT_CANDIDATES = 30
TEXT_MAX_SHARE = 0.01
"""Words shared with a signal are looked for among at most about this share of all signals
(its rarest words first; see signals_with_similar_text in sql/queries/related.sql)."""
READ_WHOLE_SHARE = 0.005
READ_WHOLE_MIN = 2000
"""Related candidates sharing names or topics: every signal of the rarest ones is read while
together they number at most this share of all signals (and at least this many); of the
rest, only the newest (``split_by_reach``). At a million signals, 5 000 signals read whole
and a walk that meets one sharing a common name at least every 200."""
NEWEST_PER_CANDIDATE = 4
"""Signals read newest first from common names or topics, per candidate wanted."""


# --- the search ------------------------------------------------------------------------------------


async def nearest_ids(
    embedder: Embedder | None, conn: Connection, subject: Subject, *, use_meaning: bool
) -> list[UUID]:
    """The signals nearest the subject in meaning, best first (in a transaction)."""
    if not use_meaning or embedder is None:
        return []
    found = await nearest_by_embedding(
        conn, subject.id, embedder.model, embedder.dimensions, NEAREST_CANDIDATES
    )
    return list(found)


async def candidate_ids(
    conn: Executor,
    subject: Subject,
    *,
    within: tuple[datetime, datetime] | None = None,
    topics: bool = True,
    text: bool = True,
) -> list[UUID]:
    """Current signals worth comparing with the subject besides its nearest in meaning:
    sharing names (created ``within`` a window, if given), sharing topics, sharing words."""
    keys = sorted(subject.entity_keys)
    ids = await signals_sharing_entities(conn, subject.id, keys, within=within, k=ENTITY_CANDIDATES)
    if topics:
        topic_ids = sorted(subject.topic_ids)
        ids.extend(await signals_sharing_topics(conn, subject.id, topic_ids, TOPIC_CANDIDATES))
    if text:
        ids.extend(await similar_wording(conn, subject))
    return ids


async def similar_wording(conn: Executor, subject: Subject) -> list[UUID]:
    """Signals sharing the rarest words of the subject's headline and claim."""
    headline = subject.title + " " + subject.summary
    return await signals_with_similar_text(conn, subject.id, headline, TEXT_CANDIDATES)


def entity_keys(subject: Subject, candidates: list[Candidate]) -> set[str]:
    """Every entity key the subject or any candidate names (what rarity is asked for)."""
    return set(subject.entity_keys).union(*(c.entity_keys for c in candidates))


# --- reads -----------------------------------------------------------------------------------------

EF_SEARCH = 400


async def nearest_by_embedding(
    conn: Connection, signal_id: UUID, model: str, dims: int, k: int
) -> dict[UUID, float]:
    """Up to ``k`` current signals nearest in meaning, with their cosine similarity.

    Run inside a transaction: the search options it sets last until its end.
    """
    # This runs once per new signal in a background job, not per read, so buy recall: at
    # 1 M synthetic signals ef_search 100 gave recall@10 0.928, 400 gave 0.983 (bench/README.md).
    await queries.set_vector_search_options.fetchrow(conn, ef_search=str(max(EF_SEARCH, 2 * k)))
    rows = await sized(queries.nearest_signals_by_embedding, dims).fetch(
        conn, signal_id=signal_id, model=model, k=k
    )
    return {row["signal_id"]: float(row["cosine"]) for row in rows}


async def signals_sharing_entities(
    conn: Executor,
    signal_id: UUID,
    keys: list[str],
    *,
    within: tuple[datetime, datetime] | None,
    k: int,
    budget: float | None = None,
    newest: int | None = None,
) -> list[UUID]:
    """Current signals naming any of ``keys`` (created ``within`` a window, if given), best
    first: the rarer the names they share, the better, then the newer.

    Over all time, the signals of the rarest names are all read, and of common names only
    the ``newest`` (``NEWEST_PER_CANDIDATE * k`` unless given) newest; see ``split_by_reach``
    (``budget``: the read-whole budget, from the number of signals unless given)."""
    if not keys:
        return []
    if within is not None:
        since, until = within
        rows = await queries.signals_sharing_entities_within.fetch(
            conn, signal_id=signal_id, keys=keys, since=since, until=until, k=k
        )
        return [row["signal_id"] for row in rows]
    spellings = await queries.entity_spellings.fetch(conn, keys=keys)
    counts = _signals_per_key(spellings)
    whole, _ = split_by_reach(counts, budget if budget is not None else await read_whole_budget(conn))
    return await _signals_sharing(
        conn,
        "entity_ids",
        signal_id,
        [(row["id"], row["key"]) for row in spellings],
        counts,
        whole,
        k=k,
        newest=newest,
    )


async def signals_sharing_topics(
    conn: Executor,
    signal_id: UUID,
    topic_ids: list[int],
    k: int,
    *,
    budget: float | None = None,
    newest: int | None = None,
) -> list[UUID]:
    """Current signals on any of ``topic_ids``, best first: the rarer the topics they share,
    the better, then the newer. Read like ``signals_sharing_entities`` over all time."""
    if not topic_ids:
        return []
    rows = await queries.topic_frequencies.fetch(conn, topic_ids=topic_ids)
    counts = {topic_id: 0 for topic_id in topic_ids} | {row["topic_id"]: int(row["signals"]) for row in rows}
    whole, _ = split_by_reach(counts, budget if budget is not None else await read_whole_budget(conn))
    spelled = [(topic_id, topic_id) for topic_id in counts]
    return await _signals_sharing(conn, "topic_ids", signal_id, spelled, counts, whole, k=k, newest=newest)


@functools.cache
def _sharing_query(column: Literal["entity_ids", "topic_ids"]) -> Query:
    """``signals_sharing`` on one of the two array columns (a column cannot be a parameter)."""
    if column not in ("entity_ids", "topic_ids"):
        raise ValueError(f"not an id array column of signals: {column!r}")
    query = queries.signals_sharing
    return dataclasses.replace(query, sql=query.sql.replace("{ids}", column))


async def _signals_sharing(
    conn: Executor,
    column: Literal["entity_ids", "topic_ids"],
    signal_id: UUID,
    spelled: list[tuple[int, K]],
    counts: dict[K, int],
    whole: set[K],
    *,
    k: int,
    newest: int | None,
) -> list[UUID]:
    """The best ``k`` signals with any of the ``(id, key)`` pairs in ``column``: every one
    with a key in ``whole``, the newest of the rest; weighted 1 / ``counts`` per shared key."""
    rows = await _sharing_query(column).fetch(
        conn,
        signal_id=signal_id,
        ids=[i for i, _ in spelled],
        keys=[str(key) for _, key in spelled],
        weights=[1.0 / max(counts[key], 1) for _, key in spelled],
        read_all=[i for i, key in spelled if key in whole],
        newest_of=[i for i, key in spelled if key not in whole],
        newest=newest if newest is not None else NEWEST_PER_CANDIDATE * k,
        k=k,
    )
    return [row["signal_id"] for row in rows]


def _signals_per_key(spellings: list[Any]) -> dict[str, int]:
    """Current signals naming each key, over its spellings (``entity_spellings`` rows): a
    signal naming one key in two types counts twice, a weight, not a report."""
    counts: dict[str, int] = {}
    for row in spellings:
        counts[row["key"]] = counts.get(row["key"], 0) + int(row["signals"])
    return counts


async def read_whole_budget(conn: Executor) -> float:
    """How many signals the candidates of the rarest names or topics may number together
    before the commoner ones are read newest first only."""
    total = int(await queries.current_signal_estimate.fetchval(conn))
    return max(READ_WHOLE_MIN, READ_WHOLE_SHARE * total)


async def signals_with_similar_text(
    conn: Executor, signal_id: UUID, text: str, k: int, *, max_share: float = TEXT_MAX_SHARE
) -> list[UUID]:
    """Signals sharing the text's rarest words: as many of them as may match ``max_share`` of
    all signals together (by the planner's statistics), and at least the rarest."""
    rows = await queries.signals_with_similar_text.fetch(
        conn, signal_id=signal_id, text=text, k=k, max_share=max_share
    )
    return [row["signal_id"] for row in rows]


async def candidate_features(conn: Executor, subject: Subject, ids: list[UUID]) -> list[Candidate]:
    """How each of ``ids`` (current ones only) compares to the signal."""
    if not ids:
        return []
    rows = await queries.related_candidate_features.fetch(conn, signal_id=subject.id, ids=ids)
    return [
        Candidate(
            id=row["id"],
            article_id=row["article_id"],
            content_hash=row["content_hash"],
            created_at=row["created_at"],
            published_date=row["published_date"],
            story_id=row["story_id"],
            title=row["title"],
            url=row["url"],
            entity_keys=frozenset(row["entity_keys"]),
            topic_ids=frozenset(row["topic_ids"]),
            text_similarity=wording_similarity(subject.trigrams, trigram_codes(row["card_trigrams"])),
            cosine=None if row["cosine"] is None else float(row["cosine"]),
        )
        for row in rows
    ]


async def rarity(conn: Executor, keys: set[str], topic_ids: set[int]) -> Rarity:
    """How common each entity key and topic is among current signals."""
    total = int(await queries.current_signal_estimate.fetchval(conn))
    entity_counts: dict[str, int] = {}
    if keys:
        spellings = await queries.entity_spellings.fetch(conn, keys=sorted(keys))
        entity_counts = {key: n for key, n in _signals_per_key(spellings).items() if n}
    topic_counts: dict[int, int] = {}
    if topic_ids:
        rows = await queries.topic_frequencies.fetch(conn, topic_ids=sorted(topic_ids))
        topic_counts = {row["topic_id"]: int(row["signals"]) for row in rows}
    return Rarity(total=total, entity_counts=entity_counts, topic_counts=topic_counts)
