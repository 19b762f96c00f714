"""Rows for embeddings, related candidates and stored related links, through named queries."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Hashable
from datetime import datetime
from typing import Any, Literal, TypeVar
from uuid import UUID

from schemas.related import RelatedSignal, RelatedSignalLinks
from service.db.queries import Query, queries
from service.keys.suppliers import SupplierView
from service.related.features import Candidate, Rarity, Subject, split_by_reach
from service.related.wording import trigram_codes, wording_similarity

K = TypeVar("K", bound=Hashable)

MAX_DIMS = 2000  # the signal_embeddings.dims CHECK, and pgvector's HNSW limit
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


@functools.lru_cache(maxsize=32)
def sized(query: Query, dims: int) -> Query:
    """A template query with ``{dims}`` set. Only a validated int is ever formatted in: a
    typmod cannot be a bind parameter, and the index expression must match literally."""
    if type(dims) is not int or not 1 <= dims <= MAX_DIMS:
        raise ValueError(f"embedding dimensions must be an int in 1..{MAX_DIMS}, not {dims!r}")
    return dataclasses.replace(query, sql=query.sql.replace("{dims}", str(dims)))


# --- the signal being related ---------------------------------------------------------------------


async def get_subject(conn: Any, signal_id: UUID) -> tuple[Subject, bool] | None:
    """The signal as relating sees it, and whether it is current; None if it does not exist."""
    row = await queries.get_signal_for_relating.fetchrow(conn, id=signal_id)
    if row is None:
        return None
    subject = Subject(
        id=row["id"],
        article_id=row["article_id"],
        content_hash=row["content_hash"],
        created_at=row["created_at"],
        published_date=row["published_date"],
        story_id=row["story_id"],
        supplier_id=row["supplier_id"],
        title=row["title"],
        summary=row["summary"],
        key_texts=tuple(row["key_texts"]),
        topic_labels=dict(zip(row["topic_label_ids"], row["topic_labels"], strict=True)),
        entity_names=dict(zip(row["entity_keys"], row["entity_names"], strict=True)),
        trigrams=trigram_codes(row["card_trigrams"]),
    )
    return subject, bool(row["is_current"])


# --- embeddings -----------------------------------------------------------------------------------


async def embedding_exists(conn: Any, signal_id: UUID, model: str, dims: int) -> bool:
    return bool(
        await queries.signal_embedding_exists.fetchval(conn, signal_id=signal_id, model=model, dims=dims)
    )


async def store_embedding(conn: Any, signal_id: UUID, model: str, dims: int, literal: str) -> None:
    await queries.upsert_signal_embedding.execute(
        conn, signal_id=signal_id, model=model, dims=dims, embedding=literal
    )


async def lock_embedding_index(conn: Any) -> None:
    await queries.lock_embedding_index.fetchval(conn)


EF_SEARCH = 400


async def create_embedding_index(conn: Any, dims: int) -> None:
    await conn.execute(sized(queries.create_embedding_index, dims).sql)


async def nearest_by_embedding(
    conn: Any, signal_id: UUID, model: str, dims: int, k: int
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


# --- candidates ------------------------------------------------------------------------------------


async def signals_sharing_entities(
    conn: Any,
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
    conn: Any,
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
    conn: Any,
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


async def read_whole_budget(conn: Any) -> float:
    """How many signals the candidates of the rarest names or topics may number together
    before the commoner ones are read newest first only."""
    total = int(await queries.current_signal_estimate.fetchval(conn))
    return max(READ_WHOLE_MIN, READ_WHOLE_SHARE * total)


async def signals_with_similar_text(
    conn: Any, signal_id: UUID, text: str, k: int, *, max_share: float = TEXT_MAX_SHARE
) -> list[UUID]:
    """Signals sharing the text's rarest words: as many of them as may match ``max_share`` of
    all signals together (by the planner's statistics), and at least the rarest."""
    rows = await queries.signals_with_similar_text.fetch(
        conn, signal_id=signal_id, text=text, k=k, max_share=max_share
    )
    return [row["signal_id"] for row in rows]


async def candidate_features(conn: Any, subject: Subject, ids: list[UUID]) -> list[Candidate]:
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


async def rarity(conn: Any, keys: set[str], topic_ids: set[int]) -> Rarity:
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


# --- stored links ------------------------------------------------------------------------------------


async def lock_related_writes(conn: Any) -> None:
    await queries.lock_related_writes.fetchval(conn)


async def delete_related_of_signal(conn: Any, signal_id: UUID) -> None:
    await queries.delete_related_of_signal.execute(conn, signal_id=signal_id)


async def upsert_related_links(conn: Any, links: list[tuple[UUID, UUID, float, str, bool]]) -> None:
    """Store (signal_id, related_id, score, reason, same_story) rows."""
    if not links:
        return
    await queries.upsert_related_links.execute(
        conn,
        signal_ids=[link[0] for link in links],
        related_ids=[link[1] for link in links],
        scores=[link[2] for link in links],
        reasons=[link[3] for link in links],
        same_story=[link[4] for link in links],
    )


async def delete_links_to_other_versions(conn: Any, article_id: UUID, signal_id: UUID) -> None:
    await queries.delete_links_to_other_versions.execute(conn, article_id=article_id, signal_id=signal_id)


async def trim_related_lists(conn: Any, signal_ids: list[UUID], keep: int) -> None:
    if signal_ids:
        await queries.trim_related_lists.execute(conn, signal_ids=signal_ids, keep=keep)


async def mark_signal_related(conn: Any, signal_id: UUID) -> None:
    await queries.mark_signal_related.execute(conn, signal_id=signal_id)


# --- reads -------------------------------------------------------------------------------------------


async def signal_is_known(conn: Any, signal_id: UUID, suppliers: SupplierView) -> bool:
    """Whether the signal exists for a reader who sees ``suppliers``."""
    return bool(await queries.signal_is_known.fetchval(conn, id=signal_id, **suppliers.params()))


async def list_related_signals(
    conn: Any,
    signal_id: UUID,
    limit: int,
    restrict_topics: list[int] | None = None,
    *,
    suppliers: SupplierView,
) -> list[RelatedSignal]:
    """The signal's related links (none when the reader may not see the signal itself)."""
    rows = await queries.list_related_signals.fetch(
        conn, signal_id=signal_id, limit=limit, restrict_topics=restrict_topics, **suppliers.params()
    )
    return [
        RelatedSignal(
            id=row["id"],
            title=row["title"],
            url=row["url"],
            site_name=row["site_name"],
            published_date=row["published_date"],
            created_at=row["created_at"],
            story_id=row["story_id"],
            score=round(float(row["score"]), 4),
            reason=row["reason"],
            same_story=row["same_story"],
            links=RelatedSignalLinks(self=f"/v1/signals/{row['id']}"),
        )
        for row in rows
    ]
