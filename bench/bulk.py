"""Set-based seeding for large corpora (``bench.seed --bulk``): the same rows as seed_signal.

seed_signal writes a signal the pipeline's way: INSERT, then one UPDATE each for topic ids,
entity ids and created_at. topic_ids and entity_ids are GIN-indexed, so none of those updates
is HOT: each writes a new row version into every index of signals, the full-text GIN index
included. On this 2-core machine that caps seeding at ~140 signals/s (2 hours for a
million). This path writes each row once, per batch of a thousand, with the same column
expressions as sql/queries/signals.sql (the search vector is built by the identical
setweight/to_tsvector expression), and topics through the pipeline's own linking code.
``python -m bench.seed --verify-bulk`` checks a sample against seed_signal, column by column.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec

from bench.synthetic import Corpus
from service.topics.slugs import topic_ids_for
from service.topics.taxonomy import normalize_entities, topic_slug
from tests.support.seeding import SeedSignal

# Constant fields exactly as tests.support.seeding.seed_signal writes them.
ELI5 = "Like explaining it to a child, in a few short sentences."
IMPACT = "The impact, in one paragraph."
OPTIMISTIC = "The best realistic case."
PESSIMISTIC = "The worst realistic case."

BATCH_COLUMNS = [
    "url", "content_hash", "title", "site_name", "published_date", "language", "word_count", "text",
    "summary", "analysis", "key_details", "key_text", "sentiment", "topic_ids", "entity_ids", "created_at",
]  # fmt: skip

_BATCH_TABLE = """CREATE TEMP TABLE bench_batch (
    url text, content_hash text, title text, site_name text, published_date date, language text,
    word_count integer, text text, summary text, analysis text, key_details text, key_text text,
    sentiment real, topic_ids bigint[], entity_ids bigint[], created_at timestamptz
) ON COMMIT DROP"""

_INSERT_ARTICLES = """
INSERT INTO articles (canonical_url, url, input_kind, content_hash, title, author, site_name,
                      published_date, language, image, description, word_count, text, fetched_at)
SELECT url, url, 'url', content_hash, title, NULL, site_name, published_date, language, NULL, NULL,
       word_count, text, now()
FROM bench_batch"""

_INSERT_SIGNALS = """
INSERT INTO signals (
    article_id, content_hash, prompt_version, title, summary, eli5, analysis, impact,
    optimistic_outlook, pessimistic_outlook, key_details, grounding_checked, grounding_grounded,
    model, input_tokens, output_tokens, llm_latency_ms, llm_attempts, sentiment,
    url, canonical_url, site_name, language, published_date, search,
    topic_ids, entity_ids, created_at, input_kind, word_count
)
SELECT a.id, b.content_hash, 'seed', b.title, b.summary, $1, b.analysis, $2, $3, $4, b.key_details::jsonb,
       jsonb_array_length(b.key_details::jsonb), jsonb_array_length(b.key_details::jsonb),
       'seed', 100, 50, 10, 1, b.sentiment,
       a.url, a.canonical_url, a.site_name, a.language, a.published_date,
       -- the insert_signal expression, verbatim
       setweight(to_tsvector('english', b.title), 'A')
       || setweight(to_tsvector('english', b.summary || ' ' || b.key_text), 'B')
       || setweight(to_tsvector('english', b.analysis), 'C')
       || setweight(to_tsvector('english', left(a.text, 100000)), 'D'),
       b.topic_ids, b.entity_ids, b.created_at, 'url', a.word_count
FROM bench_batch b
JOIN articles a ON a.canonical_url = b.url
RETURNING id, topic_ids, entity_ids"""


async def prepare_taxonomy(conn: asyncpg.Connection, corpus: Corpus) -> tuple[list[int], dict[Any, int]]:
    """Topic ids (through the pipeline's linking code) and entity ids, created if missing."""
    topic_ids: list[int] = []
    for at in range(0, len(corpus.topics), 5):  # the pipeline links at most 5 topics a signal
        async with conn.transaction():
            topic_ids += await topic_ids_for(conn, corpus.topics[at : at + 5])
    assert len(topic_ids) == len(corpus.topics), "topic labels merged into one another"
    triples = normalize_entities(corpus.entities, limit=len(corpus.entities))
    await conn.execute(
        """INSERT INTO entities (name, type, key)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT (type, key) DO NOTHING""",
        [n for n, _, _ in triples],
        [t for _, t, _ in triples],
        [k for _, _, k in triples],
    )
    rows = await conn.fetch("SELECT id, type, key FROM entities")
    return topic_ids, {(row["type"], row["key"]): row["id"] for row in rows}


def batch_record(seed: SeedSignal, topic_id: dict[str, int], entity_id: dict[Any, int]) -> tuple[Any, ...]:
    digest = hashlib.sha256((seed.title + seed.text).encode()).hexdigest()
    slugs = list(dict.fromkeys(topic_slug(label) for label in seed.topics))
    entities = [entity_id[(kind, key)] for _, kind, key in normalize_entities(seed.entities)]
    return (
        seed.url,
        digest,
        seed.title,
        seed.site_name,
        seed.published,
        seed.language,
        len(seed.text.split()),
        seed.text,
        seed.summary,
        seed.analysis,
        msgspec.json.encode([{"text": t, "evidence": t} for t in seed.key_details]).decode(),
        " ".join(seed.key_details),
        seed.sentiment,
        [topic_id[s] for s in slugs],
        entities,
        seed.created_at,
    )


async def retry_deadlocks(write: Callable[[], Awaitable[Any]], attempts: int = 5) -> Any:
    """Run a write transaction again when PostgreSQL broke a deadlock by rolling it back.

    Two writers commit concurrently, and the daily counts (migration 0017) are written at
    commit, a day's row at a time: two transactions on neighbouring times can take the same
    rows in a different order. The pipeline retries the same way (service/signals/pipeline.py).
    """
    for attempt in range(1, attempts):
        try:
            return await write()
        except asyncpg.DeadlockDetectedError:
            await asyncio.sleep(random.uniform(0.01, 0.1) * attempt)
    return await write()


async def write_batch(conn: asyncpg.Connection, records: list[tuple[Any, ...]]) -> None:
    async with conn.transaction():
        await conn.execute(_BATCH_TABLE)
        await conn.copy_records_to_table("bench_batch", records=records, columns=BATCH_COLUMNS)
        await conn.execute(_INSERT_ARTICLES)
        rows = await conn.fetch(_INSERT_SIGNALS, ELI5, IMPACT, OPTIMISTIC, PESSIMISTIC)
        topic_links = [(r["id"], t, p) for r in rows for p, t in enumerate(r["topic_ids"], 1)]
        entity_links = [(r["id"], e, p) for r in rows for p, e in enumerate(r["entity_ids"], 1)]
        await conn.copy_records_to_table(
            "signal_topics", records=topic_links, columns=["signal_id", "topic_id", "position"]
        )
        await conn.copy_records_to_table(
            "signal_entities", records=entity_links, columns=["signal_id", "entity_id", "position"]
        )


async def bulk_seed_signals(
    pool: asyncpg.Pool, corpus: Corpus, pending: list[int], connections: int, batch: int = 1000
) -> None:
    async with pool.acquire() as conn:
        topic_ids, entity_id = await prepare_taxonomy(conn, corpus)
    topic_id = {topic_slug(label): tid for label, tid in zip(corpus.topics, topic_ids, strict=True)}
    chunks = iter([pending[at : at + batch] for at in range(0, len(pending), batch)])
    started, done = time.perf_counter(), 0

    async def worker() -> None:
        nonlocal done
        async with pool.acquire() as conn:
            await conn.execute("SET synchronous_commit = off")
            for chunk in chunks:
                records = [batch_record(corpus.signal(i), topic_id, entity_id) for i in chunk]
                await retry_deadlocks(lambda: write_batch(conn, records))  # noqa: B023 (awaited at once)
                done += len(chunk)
                if done % (20 * batch) < batch:
                    rate = done / (time.perf_counter() - started)
                    print(f"signals (bulk): {done:>9,}/{len(pending):,}  {rate:6.0f}/s", flush=True)

    await asyncio.gather(*(worker() for _ in range(connections)))
    rate = done / (time.perf_counter() - started)
    print(f"signals (bulk): {done:,} done, {rate:.0f}/s overall", flush=True)


_COMPARE = """
SELECT s.canonical_url, s.title, s.summary, s.analysis, s.key_details, s.search::text AS search,
       s.site_name, s.language, s.published_date, s.created_at, s.sentiment, s.is_current,
       s.grounding_checked, s.model, s.prompt_version, a.text, a.word_count, a.content_hash,
       ARRAY(SELECT t.slug FROM unnest(s.topic_ids) WITH ORDINALITY u (id, o) JOIN topics t ON t.id = u.id
             ORDER BY u.o) AS topic_slugs,
       ARRAY(SELECT e.key FROM unnest(s.entity_ids) WITH ORDINALITY u (id, o) JOIN entities e ON e.id = u.id
             ORDER BY u.o) AS entity_keys,
       ARRAY(SELECT t.slug || ':' || st.position FROM signal_topics st JOIN topics t ON t.id = st.topic_id
             WHERE st.signal_id = s.id ORDER BY st.position) AS topic_links,
       ARRAY(SELECT e.key || ':' || se.position FROM signal_entities se JOIN entities e ON e.id = se.entity_id
             WHERE se.signal_id = s.id ORDER BY se.position) AS entity_links
FROM signals s JOIN articles a ON a.id = s.article_id
ORDER BY s.canonical_url"""


async def verify_bulk(maintenance_dsn: str, count: int = 300) -> None:
    """Seed ``count`` signals both ways into two scratch databases and compare every column."""
    from service.db.database import init_connection
    from service.db.embedded import ensure_database
    from service.db.migrate import migrate
    from tests.support.seeding import seed_signal

    corpus = Corpus(count)
    conns = []
    for name in ("bench_verify_rows", "bench_verify_bulk"):
        admin = await asyncpg.connect(maintenance_dsn)
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()
        conn = await asyncpg.connect(await ensure_database(maintenance_dsn, name))
        await migrate(conn)
        await init_connection(conn)
        conns.append(conn)
    by_rows, by_bulk = conns
    for i in range(count):
        await seed_signal(by_rows, corpus.signal(i))
    topic_ids, entity_id = await prepare_taxonomy(by_bulk, corpus)
    topic_id = {topic_slug(label): tid for label, tid in zip(corpus.topics, topic_ids, strict=True)}
    await write_batch(by_bulk, [batch_record(corpus.signal(i), topic_id, entity_id) for i in range(count)])
    a, b = await by_rows.fetch(_COMPARE), await by_bulk.fetch(_COMPARE)
    assert len(a) == len(b) == count, (len(a), len(b))
    differences = [
        (x["canonical_url"], k)
        for x, y in zip(a, b, strict=True)
        for k in x.keys()  # noqa: SIM118 - iterating a Record yields its values
        if x[k] != y[k]
    ]
    for conn in conns:
        await conn.close()
    if differences:
        raise SystemExit(f"bulk rows differ from seed_signal rows: {differences[:10]}")
    print(f"verify-bulk: {count} signals, {len(a[0])} columns each: identical to seed_signal")
