"""Related coverage's word-sharing candidates use a signal's distinctive words, not its
common ones: every word of a headline, matched over a million signals, took 15 s a relate
step (bench/relate.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import asyncpg
import pytest

from service.db.database import init_connection
from service.stories import candidates

COMMON = 1500  # signals naming only the common word
RARE = 8  # signals naming the rare word too


@pytest.fixture(scope="module")
async def corpus(database_url: str) -> AsyncIterator[set[UUID]]:
    """Signals whose headlines share a common word, a few of which share a rare one; analysed,
    as autovacuum leaves a served database. The rare word's signals."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1, init=init_connection)
    try:
        async with pool.acquire() as conn:
            article = await conn.fetchval(
                "INSERT INTO articles (input_kind, content_hash, word_count, text)"
                " VALUES ('url', 'words-test', 3, 'words test text') RETURNING id"
            )
            rows = await conn.fetch(
                """
                INSERT INTO signals (article_id, content_hash, prompt_version, title, summary, eli5,
                    analysis, impact, optimistic_outlook, pessimistic_outlook, key_details,
                    grounding_checked, grounding_grounded, model, input_kind, word_count, search)
                SELECT $1, 'words-' || g, 'v1', headline, '', '', '', '', '', '', '[]'::jsonb, 0, 0,
                       'stub', 'url', 3, setweight(to_tsvector('english', headline), 'A')
                FROM generate_series(1, $2::int) AS g,
                     LATERAL (SELECT CASE WHEN g <= $3 THEN 'harbour quixotry' ELSE 'harbour' END
                              AS headline WHERE g > 0) AS h
                RETURNING id, title
                """,
                article,
                COMMON + RARE,
                RARE,
            )
            await conn.execute("ANALYZE signals")
        yield {r["id"] for r in rows if "quixotry" in r["title"]}
    finally:
        await pool.close()


async def test_a_common_word_does_not_bring_its_signals_in(corpus, db):
    found = await candidates.signals_with_similar_text(db, uuid4(), "Harbour quixotry", 30)
    assert set(found) == corpus


async def test_the_rarest_word_is_taken_even_when_common(corpus, db):
    """A signal with nothing but common words still finds candidates by its rarest one."""
    found = await candidates.signals_with_similar_text(db, uuid4(), "Harbour", 30)
    assert len(found) == 30


async def test_a_larger_share_takes_the_common_word_too(corpus, db):
    found = await candidates.signals_with_similar_text(db, uuid4(), "Harbour quixotry", 30, max_share=2.0)
    assert corpus <= set(found) and len(found) == 30  # the rare word's signals rank first
