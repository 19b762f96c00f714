"""`signals reembed`: embed every current signal with the configured model.

After SIGNALS_EMBEDDING_MODEL (or its dimensions) changes, new signals are embedded with the
new model but the stored ones keep the old vectors, which the nearest-neighbour search no
longer compares with (it matches model and size): related coverage and stories fall back to
entities, topics and text for them. This walks the current signals that lack a vector from
the configured model, in id order and batches (one embeddings request per batch), and
stores the new vectors over the old ones. Interrupted, it resumes where it stopped: what is
done no longer matches the walk. Related links already stored are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from service.db.connections import Pool
from service.db.queries import queries
from service.embeddings import Embedder, ensure_embedding_index, vector_literal
from service.related import repository
from service.similarity.features import card_text


@dataclass(frozen=True, slots=True)
class ReembedResult:
    model: str
    dims: int
    embedded: int


async def count_pending(pool: Pool, embedder: Embedder) -> int:
    async with pool.acquire() as conn:
        return int(
            await queries.count_signals_to_reembed.fetchval(
                conn, model=embedder.model, dims=embedder.dimensions
            )
        )


async def reembed(
    pool: Pool, embedder: Embedder, *, batch: int = 64, progress: Callable[[int], None] | None = None
) -> ReembedResult:
    """Embed every current signal lacking a vector from ``embedder``'s model; how many were."""
    await ensure_embedding_index(pool, embedder.dimensions)
    after: UUID | None = None
    done = 0
    while True:
        async with pool.acquire() as conn:
            rows = await queries.signals_to_reembed.fetch(
                conn, model=embedder.model, dims=embedder.dimensions, after_id=after, limit=batch
            )
        if not rows:
            return ReembedResult(embedder.model, embedder.dimensions, done)
        texts = [card_text(r["title"], r["summary"], r["key_texts"], r["topic_labels"]) for r in rows]
        vectors = await embedder.embed(texts)
        async with pool.acquire() as conn, conn.transaction():
            for row, vector in zip(rows, vectors, strict=True):
                await repository.store_embedding(
                    conn, row["id"], embedder.model, embedder.dimensions, vector_literal(vector)
                )
        done += len(rows)
        after = rows[-1]["id"]
        if progress is not None:
            progress(len(rows))
