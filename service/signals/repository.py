"""Rows for articles and signals, through the named queries; returns Structs.

The rows of the jobs that produce them are ``service.signals.job_repository``'s.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from schemas.articles import Article, ArticleLinks
from schemas.signals import (
    Entity,
    Grounding,
    KeyDetail,
    Provenance,
    RelatedLink,
    Signal,
    SignalLinks,
    Source,
    Topic,
)
from service.db.connections import Connection, Executor
from service.db.queries import queries
from service.errors import TopicsChanged
from service.keys.suppliers import SupplierView
from service.signals.sentiment import sentiment_value

# --- articles -----------------------------------------------------------------------------------


NO_SUPPLIER = UUID(int=0)
"""The supplier of content sent by a job without a key (never a partner's or a key's id)."""


async def upsert_article(
    conn: Executor, *, canonical_url: str | None, supplier_id: UUID | None = None, **fields: Any
) -> tuple[UUID, str | None]:
    """Store the article; return its id and the content hash it had before (None: new).

    Fetched content (``input_kind`` url) is keyed by its canonical URL; supplied content by
    ``supplier_id`` and the URL (or, without one, the text), so it never replaces a fetched
    page or another supplier's content."""
    if canonical_url is None:
        fields.pop("url", None)
        fields.pop("fetched_at", None)
        row = await queries.upsert_urlless_article.fetchrow(
            conn, supplier_id=supplier_id or NO_SUPPLIER, **fields
        )
    elif fields["input_kind"] == "url":
        fields.pop("input_kind")
        row = await queries.upsert_fetched_article.fetchrow(conn, canonical_url=canonical_url, **fields)
    else:
        fields.pop("fetched_at", None)
        row = await queries.upsert_supplied_article.fetchrow(
            conn, canonical_url=canonical_url, supplier_id=supplier_id or NO_SUPPLIER, **fields
        )
    assert row is not None
    return row["id"], row["previous_hash"]


async def find_analysed_copy(
    conn: Executor, *, canonical_url: str, content_hash: str, prompt_version: str, supplier_id: UUID | None
) -> tuple[UUID, UUID] | None:
    """(article id, signal id) of this exact text already analysed at this URL, fetched or sent
    by ``supplier_id``; None if there is none."""
    row = await queries.find_analysed_copy.fetchrow(
        conn,
        canonical_url=canonical_url,
        content_hash=content_hash,
        prompt_version=prompt_version,
        supplier_id=supplier_id or NO_SUPPLIER,
    )
    return (row["article_id"], row["signal_id"]) if row is not None else None


async def get_article(
    conn: Executor, article_id: UUID, restrict_topics: list[int] | None = None, *, suppliers: SupplierView
) -> Article | None:
    """The article, unless it is content another supplier sent (None, as for an unknown id)."""
    row = await queries.get_article_by_id.fetchrow(
        conn, id=article_id, restrict_topics=restrict_topics, **suppliers.params()
    )
    if row is None:
        return None
    return Article(
        id=row["id"],
        url=row["url"],
        canonical_url=row["canonical_url"],
        input_kind=row["input_kind"],
        title=row["title"],
        author=row["author"],
        site_name=row["site_name"],
        published_date=row["published_date"],
        language=row["language"],
        image=row["image"],
        description=row["description"],
        word_count=row["word_count"],
        content_hash=row["content_hash"],
        text=row["text"],
        fetched_at=row["fetched_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        signal_ids=list(row["signal_ids"]),
        links=ArticleLinks(self=f"/v1/articles/{row['id']}"),
    )


# --- signals ------------------------------------------------------------------------------------


async def find_signal_for_content(
    conn: Executor, *, article_id: UUID, content_hash: str, prompt_version: str
) -> UUID | None:
    value: UUID | None = await queries.find_signal_for_content.fetchval(
        conn, article_id=article_id, content_hash=content_hash, prompt_version=prompt_version
    )
    return value


async def insert_signal(conn: Executor, **fields: Any) -> UUID | None:
    # Triggers: signals_log_insert → signal_changes → webhook_events; day counts (README "Architecture").
    value: UUID | None = await queries.insert_signal.fetchval(conn, **fields)
    return value


async def make_signal_current(conn: Executor, signal_id: UUID) -> list[UUID]:
    """Make an older version its article's current signal again; the stories to refresh."""
    # Triggers: signals_log_restore → signal_changes → webhook_events; day counts (README "Architecture").
    return [row["story_id"] for row in await queries.make_signal_current.fetch(conn, signal_id=signal_id)]


async def supersede_article_signals(conn: Executor, article_id: UUID, signal_id: UUID) -> None:
    # Triggers: signals_count_days_update: the old version leaves the day counts (README "Architecture").
    await queries.supersede_article_signals.execute(conn, article_id=article_id, signal_id=signal_id)


async def link_signal_topics(conn: Executor, signal_id: UUID, topic_ids: list[int]) -> None:
    try:
        await queries.link_signal_topics.execute(conn, signal_id=signal_id, topic_ids=topic_ids)
    except asyncpg.ForeignKeyViolationError as exc:
        raise TopicsChanged("a topic was merged away while this signal was linked to it") from exc


async def entity_ids_for(conn: Executor, entities: list[tuple[str, str, str]]) -> list[int]:
    """Ids of the (name, type, key) entities in order, storing the ones not seen before."""
    if not entities:
        return []
    types = [t for _, t, _ in entities]
    keys = [k for _, _, k in entities]
    await queries.insert_entities.execute(conn, names=[n for n, _, _ in entities], types=types, keys=keys)
    return [row["id"] for row in await queries.entity_ids_for_keys.fetch(conn, types=types, keys=keys)]


async def link_signal_entities(conn: Executor, signal_id: UUID, entity_ids: list[int]) -> None:
    if entity_ids:
        await queries.link_signal_entities.execute(conn, signal_id=signal_id, entity_ids=entity_ids)


async def get_signal(
    conn: Executor, signal_id: UUID, restrict_topics: list[int] | None = None, *, suppliers: SupplierView
) -> Signal | None:
    cards = await get_signal_cards(conn, [signal_id], restrict_topics, suppliers=suppliers)
    return cards[0] if cards else None


async def get_signal_cards(
    conn: Executor, ids: list[UUID], restrict_topics: list[int] | None = None, *, suppliers: SupplierView
) -> list[Signal]:
    """Full cards for ``ids`` that ``suppliers`` sees, in the order given (unknown ids and
    other suppliers' signals are left out). With ``restrict_topics`` a card's related
    coverage lists only signals carrying one of them."""
    rows = await queries.get_signal_cards.fetch(
        conn, ids=ids, restrict_topics=restrict_topics, **suppliers.params()
    )
    by_id = {row["id"]: _card(row) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


def _key_detail(stored: dict[str, Any]) -> KeyDetail:
    """A stored key detail; signals made before prompt 2026-12-07.1 have text and evidence only."""
    return KeyDetail(
        text=stored["text"],
        evidence=stored["evidence"],
        sentences=list(stored.get("sentences") or []),
        offsets=[(int(a), int(b)) for a, b in stored.get("offsets") or []],
        unsupported=stored.get("unsupported"),
    )


def _card(row: Any) -> Signal:
    return Signal(
        id=row["id"],
        title=row["title"],
        summary=row["summary"],
        eli5=row["eli5"],
        analysis=row["analysis"],
        impact=row["impact"],
        key_details=[_key_detail(d) for d in row["key_details"]],
        optimistic_outlook=row["optimistic_outlook"],
        pessimistic_outlook=row["pessimistic_outlook"],
        topics=[Topic(slug=t["slug"], label=t["label"]) for t in row["topics"]],
        entities=[Entity(name=e["name"], type=e["type"]) for e in row["entities"]],
        source=Source(
            origin="fetched" if row["input_kind"] == "url" else "supplied",
            url=row["url"],
            canonical_url=row["canonical_url"],
            site_name=row["site_name"],
            author=row["author"],
            published_date=row["published_date"],
            language=row["language"],
            image=row["image"],
            word_count=row["word_count"],
        ),
        grounding=Grounding(checked=row["grounding_checked"], grounded=row["grounding_grounded"]),
        provenance=Provenance(
            model=row["model"],
            prompt_version=row["prompt_version"],
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
            llm_latency_ms=row["llm_latency_ms"],
            llm_attempts=row["llm_attempts"],
            created_at=row["created_at"],
        ),
        sentiment=sentiment_value(row["sentiment"]),
        article_id=row["article_id"],
        story_id=row["story_id"],
        current=row["is_current"],
        related=[
            RelatedLink(id=UUID(r["id"]), title=r["title"], url=r["url"], reason=r["reason"])
            for r in row["related"]
        ],
        links=SignalLinks(self=f"/v1/signals/{row['id']}", article=f"/v1/articles/{row['article_id']}"),
    )


# --- lists --------------------------------------------------------------------------------------


RELEVANCE_TIERS = (2, 1, 0)
"""sort=relevance: headline matches, then other card matches (both ranked), then text-only matches."""


async def list_signal_rows(conn: Executor, *, relevance: bool, **params: Any) -> list[Any]:
    """Rows of one list page (plus one, to tell whether another page follows).

    By relevance, the tiers run in order from the cursor's, each only while the page is not
    full: a common word's first page ranks its headline matches and never the rest.
    """
    after_tier = params.pop("after_tier", None)
    after_rank = params.pop("after_rank", None)
    if not relevance:
        return await queries.list_signals_newest.fetch(conn, **params)
    limit = params.pop("limit")
    keyset = {"after_created": params.pop("after_created"), "after_id": params.pop("after_id")}
    rows: list[Any] = []
    for tier in RELEVANCE_TIERS:
        if after_tier is not None and tier > after_tier:
            continue  # the cursor is past this tier
        # a tier the cursor has not reached starts at its beginning
        position = keyset if tier == after_tier else dict.fromkeys(keyset)
        left = limit - len(rows)
        if tier > 0:
            ranked = {"tier": tier, "after_rank": after_rank if tier == after_tier else None}
            rows += await queries.list_signals_relevance_ranked.fetch(
                conn, **params, **position, **ranked, limit=left
            )
        else:
            rows += await queries.list_signals_relevance_text.fetch(conn, **params, **position, limit=left)
        if len(rows) >= limit:
            break
    return rows


async def search_snippets(conn: Executor, ids: list[UUID], q: str) -> dict[UUID, str]:
    rows = await queries.search_snippets.fetch(conn, ids=ids, q=q)
    return {row["id"]: row["snippet"] for row in rows}


async def existing_entity_ids(
    conn: Executor, ids: list[int], restrict_topics: list[int] | None = None, *, suppliers: SupplierView
) -> set[int]:
    """Which of ``ids`` exist for the reader (for a key restricted to ``restrict_topics``: are
    named on them; an entity only other suppliers' content names does not)."""
    rows = await queries.existing_entity_ids.fetch(
        conn, ids=ids, restrict_topics=restrict_topics, **suppliers.params()
    )
    return {row["id"] for row in rows}


async def signal_has_any_topic(
    conn: Executor, signal_id: UUID, topic_ids: list[int], *, suppliers: SupplierView
) -> bool:
    """Whether the signal, if ``suppliers`` sees it, carries one of ``topic_ids``."""
    return bool(
        await queries.signal_has_any_topic.fetchval(
            conn, id=signal_id, topic_ids=topic_ids, **suppliers.params()
        )
    )


async def article_has_signal_on_topics(conn: Executor, article_id: UUID, topic_ids: list[int]) -> bool:
    return bool(await queries.article_has_signal_on_topics.fetchval(conn, id=article_id, topic_ids=topic_ids))


# --- stories -----------------------------------------------------------------------------------
# A story summarises the signals sharing a ``signals.story_id`` (lead, count, dates): every write
# that changes who is in one (placing, deleting, restoring a version) recounts it in the same
# transaction, under one lock. Here, not in service/stories/, so that the signals write path
# needs nothing above it; story placement (service/stories/placement.py) uses both too.


async def lock_story_assignment(conn: Connection) -> None:
    await queries.lock_story_assignment.fetchval(conn)


async def refresh_story(conn: Executor, story_id: UUID) -> None:
    await queries.refresh_story.fetchrow(conn, story_id=story_id)


# --- deletion -----------------------------------------------------------------------------------


async def lock_signal_for_deletion(conn: Connection, signal_id: UUID) -> Any:
    """The signal's article, story, currency and topics, row-locked; None when it does not exist."""
    return await queries.lock_signal_for_deletion.fetchrow(conn, id=signal_id)


async def delete_signal(conn: Executor, signal_id: UUID) -> None:
    # Triggers: signals_log_delete → a signal_changes tombstone; day counts (README "Architecture").
    await queries.delete_signal.execute(conn, id=signal_id)


async def restore_newest_version(conn: Executor, article_id: UUID) -> Any:
    """Make the article's newest remaining version current; its id and story, or None."""
    # Triggers: signals_log_restore → signal_changes → webhook_events; day counts (README "Architecture").
    return await queries.restore_newest_version.fetchrow(conn, article_id=article_id)
