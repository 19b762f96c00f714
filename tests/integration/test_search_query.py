"""signal_search_query (migration 0016): a search's q as every full-text statement reads it."""

from __future__ import annotations

import pytest


async def parsed(db, q: str) -> tuple[str, str]:
    row = await db.fetchrow(
        "SELECT signal_search_query($1)::text AS ours, websearch_to_tsquery('english', $1)::text AS plain", q
    )
    return row["ours"], row["plain"]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("debate debate", "'debat'"),
        ("Debate debates debating", "'debat'"),  # one stem, typed three ways
        ("patent debate patent", "'debat' & 'patent'"),
        ("debate", "'debat'"),
    ],
)
async def test_a_plain_and_keeps_each_word_once(db, q, expected):
    ours, _ = await parsed(db, q)
    assert ours == expected


@pytest.mark.parametrize(
    "q",
    [
        '"rising costs" costs',  # a phrase: its words are not plain terms of the AND
        "debate -debate",  # negation
        "debate or debate",  # OR
        "patent or debate debate",
        "the",  # stop words only: an empty query, as before
    ],
)
async def test_any_other_query_is_websearch_to_tsquery_unchanged(db, q):
    ours, plain = await parsed(db, q)
    assert ours == plain


async def test_it_matches_what_the_words_once_match(db):
    sql = "SELECT to_tsvector('english', $1) @@ signal_search_query($2)"
    text = "The debate over patents continued."
    for q in ("debate debate", "patents patent debate"):
        assert await db.fetchval(sql, text, q) is True
    assert await db.fetchval(sql, text, "debate zebra") is False
