"""Storing signals directly through the repository (the same SQL the pipeline uses), for tests
that need many signals with chosen topics, entities, sources and times, without the LLM."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from service.signals import repository
from service.signals.linking import link_topics_and_entities, resolve_topics_and_entities


@dataclass
class SeedSignal:
    title: str
    summary: str = "A development worth knowing about, as the article reports it."
    topics: list[str] = field(default_factory=lambda: ["General"])
    entities: list[tuple[str, str]] = field(default_factory=list)
    site_name: str = "The Harbour Courier"
    language: str = "en"
    published: date | None = None
    created_at: datetime | None = None
    sentiment: float | None = 0.0
    text: str = "The article body says several things about the matter at hand. " * 20
    analysis: str = "An analysis paragraph that explains why the development matters. " * 3
    key_details: list[str] = field(
        default_factory=lambda: ["A first fact.", "A second fact.", "A third fact."]
    )
    url: str | None = None


async def seed_signal(conn: Any, seed: SeedSignal, *, before_0019: bool = False) -> UUID:
    """Store one article and its signal (topics, entities, search vector); return the signal id.

    ``before_0019``: write the article with SQL for a database migrated only part of the way,
    before 0019 (one article per canonical URL, whatever its origin)."""
    digest = hashlib.sha256((seed.title + seed.text).encode()).hexdigest()
    url = seed.url or f"https://{seed.site_name.lower().replace(' ', '-')}.example/{digest[:16]}"
    async with conn.transaction():
        if before_0019:
            article_id = await conn.fetchval(
                "INSERT INTO articles (canonical_url, url, input_kind, content_hash, title, site_name,"
                " published_date, language, word_count, text, fetched_at)"
                " VALUES ($1, $1, 'url', $2, $3, $4, $5, $6, $7, $8, now())"
                " ON CONFLICT (canonical_url) WHERE canonical_url IS NOT NULL DO UPDATE"
                " SET content_hash = EXCLUDED.content_hash, title = EXCLUDED.title, text = EXCLUDED.text"
                " RETURNING id",
                url, digest, seed.title, seed.site_name, seed.published, seed.language,
                len(seed.text.split()), seed.text,
            )  # fmt: skip
        else:
            article_id, _ = await repository.upsert_article(
                conn,
                canonical_url=url,
                url=url,
                input_kind="url",
                content_hash=digest,
                title=seed.title,
                author=None,
                site_name=seed.site_name,
                published_date=seed.published,
                language=seed.language,
                image=None,
                description=None,
                word_count=len(seed.text.split()),
                text=seed.text,
                fetched_at=datetime.now(UTC),
            )
        topic_ids, entity_ids = await resolve_topics_and_entities(conn, seed.topics, seed.entities)
        insert_signal = _insert_signal_before_0019 if before_0019 else repository.insert_signal
        signal_id = await insert_signal(
            conn,
            article_id=article_id,
            content_hash=digest,
            prompt_version="seed",
            title=seed.title,
            summary=seed.summary,
            eli5="Like explaining it to a child, in a few short sentences.",
            analysis=seed.analysis,
            impact="The impact, in one paragraph.",
            optimistic_outlook="The best realistic case.",
            pessimistic_outlook="The worst realistic case.",
            key_details=[{"text": t, "evidence": t} for t in seed.key_details],
            grounding_checked=len(seed.key_details),
            grounding_grounded=len(seed.key_details),
            model="seed",
            input_tokens=100,
            output_tokens=50,
            llm_latency_ms=10,
            llm_attempts=1,
            sentiment=seed.sentiment,
            topic_ids=topic_ids,
            entity_ids=entity_ids,
            key_text=" ".join(seed.key_details),
        )
        assert signal_id is not None
        await repository.supersede_article_signals(conn, article_id, signal_id)
        await link_topics_and_entities(conn, signal_id, topic_ids, entity_ids)
        if seed.created_at is not None:
            await conn.execute("UPDATE signals SET created_at = $2 WHERE id = $1", signal_id, seed.created_at)
    return signal_id


async def _insert_signal_before_0019(conn: Any, **fields: Any) -> UUID | None:
    """The signal row as the schema before 0019 took it (service.signals.repository's
    insert_signal of that time, which later migrations outgrew)."""
    value: UUID | None = await conn.fetchval(
        """
        INSERT INTO signals (
            article_id, content_hash, prompt_version, title, summary, eli5, analysis, impact,
            optimistic_outlook, pessimistic_outlook, key_details, grounding_checked,
            grounding_grounded, model, input_tokens, output_tokens, llm_latency_ms, llm_attempts,
            sentiment, topic_ids, entity_ids, url, canonical_url, site_name, language,
            published_date, search
        )
        SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
               $19, $20, $21, a.url, a.canonical_url, a.site_name, a.language, a.published_date,
               setweight(to_tsvector('english', $4), 'A')
               || setweight(to_tsvector('english', $5 || ' ' || $22), 'B')
               || setweight(to_tsvector('english', $7), 'C')
               || setweight(to_tsvector('english', left(a.text, 100000)), 'D')
        FROM articles a WHERE a.id = $1
        RETURNING id
        """,
        *(fields[name] for name in _BEFORE_0019_FIELDS),
    )
    return value


_BEFORE_0019_FIELDS = (
    "article_id", "content_hash", "prompt_version", "title", "summary", "eli5", "analysis", "impact",
    "optimistic_outlook", "pessimistic_outlook", "key_details", "grounding_checked",
    "grounding_grounded", "model", "input_tokens", "output_tokens", "llm_latency_ms", "llm_attempts",
    "sentiment", "topic_ids", "entity_ids", "key_text",
)  # fmt: skip
