"""Rows for the signal being related, its embedding and its stored related links, through
named queries (the candidates it is compared with: service/stories/candidates.py)."""

from __future__ import annotations

from uuid import UUID

from schemas.related import RelatedSignal, RelatedSignalLinks
from service.db.connections import Connection, Executor
from service.db.queries import queries
from service.keys.suppliers import SupplierView
from service.similarity.features import Subject
from service.similarity.wording import trigram_codes

# --- the signal being related ---------------------------------------------------------------------


async def get_subject(conn: Executor, signal_id: UUID) -> tuple[Subject, bool] | None:
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


async def embedding_exists(conn: Executor, signal_id: UUID, model: str, dims: int) -> bool:
    return bool(
        await queries.signal_embedding_exists.fetchval(conn, signal_id=signal_id, model=model, dims=dims)
    )


async def store_embedding(conn: Executor, signal_id: UUID, model: str, dims: int, literal: str) -> None:
    await queries.upsert_signal_embedding.execute(
        conn, signal_id=signal_id, model=model, dims=dims, embedding=literal
    )


# --- stored links ------------------------------------------------------------------------------------


async def lock_related_writes(conn: Connection) -> None:
    await queries.lock_related_writes.fetchval(conn)


async def delete_related_of_signal(conn: Executor, signal_id: UUID) -> None:
    await queries.delete_related_of_signal.execute(conn, signal_id=signal_id)


async def upsert_related_links(conn: Executor, links: list[tuple[UUID, UUID, float, str, bool]]) -> None:
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


async def delete_links_to_other_versions(conn: Executor, article_id: UUID, signal_id: UUID) -> None:
    await queries.delete_links_to_other_versions.execute(conn, article_id=article_id, signal_id=signal_id)


async def trim_related_lists(conn: Executor, signal_ids: list[UUID], keep: int) -> None:
    if signal_ids:
        await queries.trim_related_lists.execute(conn, signal_ids=signal_ids, keep=keep)


async def mark_signal_related(conn: Executor, signal_id: UUID) -> None:
    await queries.mark_signal_related.execute(conn, signal_id=signal_id)


# --- reads -------------------------------------------------------------------------------------------


async def signal_is_known(conn: Executor, signal_id: UUID, suppliers: SupplierView) -> bool:
    """Whether the signal exists for a reader who sees ``suppliers``."""
    return bool(await queries.signal_is_known.fetchval(conn, id=signal_id, **suppliers.params()))


async def list_related_signals(
    conn: Executor,
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
