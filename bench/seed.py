"""Seed a benchmark database with N synthetic signals, through the pipeline's own SQL.

    .venv/bin/python -m bench.seed --signals 100000 --data-dir /tmp/signals-bench-100k

Uses (or creates) an embedded PostgreSQL in --data-dir, migrated as the service does. Steps,
each resumable (a crashed run picks up where it stopped; run the same command again):

1. signals: ``tests.support.seeding.seed_signal`` per signal (the pipeline's article, signal,
   topic and entity queries, one transaction each) over a few connections;
2. embeddings: one 384-dimension vector per signal (model 'bench') by COPY;
3. the HNSW expression index, as the related-coverage code creates it;
4. stored related links (signal_related), as a relate step would leave them;
5. stories: one per event, as relate steps leave them (every signal of the event in it, the
   newest current one its lead, counts and first / last seen set);
6. VACUUM ANALYZE.

``--bulk`` writes step 1 set-based (bench/bulk.py: the same rows, ~8x faster, for a million);
``--verify-bulk`` checks that claim on 300 signals. Use one --signals value per data dir:
arrival times are spread by index over the corpus size.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import asyncpg

from bench.bulk import bulk_seed_signals, retry_deadlocks, verify_bulk
from bench.synthetic import DIMS, Corpus, decode_vector, encode_vector
from service.db.database import Database
from service.db.embedded import EmbeddedServer
from service.embeddings import create_embedding_index
from service.settings import Settings
from tests.support.seeding import seed_signal

MODEL = "bench"
RELATED_PER_SIGNAL = 5  # links written per signal; each is stored in both directions


def bench_settings(data_dir: Path, pool: int = 10) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=None,
        db_pool_max=pool,
        extract_workers=1,
        openai_base_url=None,
        llm_model=None,
    )


def relating_settings(data_dir: Path) -> Settings:
    """Settings under which relate steps use the seeded embeddings (model 'bench')."""
    return bench_settings(data_dir).model_copy(
        update={
            "embedding_model": MODEL,
            "embedding_dimensions": DIMS,
            "openai_base_url": "http://127.0.0.1:9/v1",  # never called: the vectors are stored
        }
    )


async def set_vector_codec(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "vector", schema="public", encoder=encode_vector, decoder=decode_vector, format="binary"
    )


class Progress:
    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.started = self.last_time = time.perf_counter()
        self.last_done = 0

    def report(self, final: bool = False) -> None:
        now = time.perf_counter()
        recent = (self.done - self.last_done) / max(now - self.last_time, 1e-9)
        overall = self.done / max(now - self.started, 1e-9)
        state = "done" if final else f"{recent:7.0f}/s now"
        print(
            f"{self.label}: {self.done:>9,}/{self.total:,}  {overall:7.0f}/s overall  {state}"
            f"  ({now - self.started:6.0f} s)",
            flush=True,
        )
        self.last_time, self.last_done = now, self.done


async def seed_signals(db: Database, corpus: Corpus, connections: int, bulk: bool) -> None:
    async with db.pool.acquire() as conn:
        urls = await conn.fetch("SELECT canonical_url FROM signals WHERE canonical_url LIKE '%/a/%'")
    done = {Corpus.index_of(row[0]) for row in urls}
    pending = [i for i in range(corpus.total) if i not in done]
    todo = iter(pending)
    progress = Progress("signals", len(pending))
    if not progress.total:
        print(f"signals: all {corpus.total:,} present")
        return
    if bulk:
        await bulk_seed_signals(db.pool, corpus, pending, connections)
        return

    async def worker() -> None:
        async with db.pool.acquire() as conn:
            # Seeding only: skip the WAL flush wait per transaction (the SQL is unchanged).
            await conn.execute("SET synchronous_commit = off")
            for i in todo:  # one shared iterator: each index is taken once
                await retry_deadlocks(lambda: seed_signal(conn, corpus.signal(i)))  # noqa: B023 (awaited at once)
                progress.done += 1

    async def reporter() -> None:
        while True:
            await asyncio.sleep(15)
            progress.report()

    ticker = asyncio.create_task(reporter())
    try:
        await asyncio.gather(*(worker() for _ in range(connections)))
    finally:
        ticker.cancel()
    progress.report(final=True)


async def seed_embeddings(conn: asyncpg.Connection, corpus: Corpus, batch: int = 5000) -> None:
    rows = await conn.fetch(
        """SELECT s.id, s.canonical_url FROM signals s
           WHERE NOT EXISTS (SELECT 1 FROM signal_embeddings e WHERE e.signal_id = s.id)"""
    )
    pending = sorted((Corpus.index_of(row["canonical_url"]), row["id"]) for row in rows)
    progress = Progress("embeddings", len(pending))
    if len(pending) > 10_000:
        # Inserting into a built HNSW graph costs milliseconds a row; building it afterwards is far cheaper.
        await conn.execute(f"DROP INDEX IF EXISTS signal_embeddings_hnsw_{DIMS}")
    for start in range(0, len(pending), batch):
        records = [(sid, MODEL, DIMS, corpus.embedding(i)) for i, sid in pending[start : start + batch]]
        await conn.copy_records_to_table(
            "signal_embeddings", records=records, columns=["signal_id", "model", "dims", "embedding"]
        )
        progress.done += len(records)
        if (start // batch) % 20 == 19:
            progress.report()
    progress.report(final=True)


async def build_hnsw(conn: asyncpg.Connection) -> None:
    started = time.perf_counter()
    # The graph of 1M vectors fits in ~3 GB; below that the build spills and slows many-fold.
    await conn.execute("SET maintenance_work_mem = '3GB'")
    # the service's own DDL (same name, same build parameters)
    await create_embedding_index(conn, DIMS)
    print(f"hnsw index: ready in {time.perf_counter() - started:.0f} s", flush=True)


async def seed_related(conn: asyncpg.Connection, corpus: Corpus) -> None:
    """Links each signal to its event's other signals and to others near the same centroid,
    scored by their real cosine similarity (what a relate step keeps, in both directions)."""
    if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM signal_related)"):
        print("related: present")
        return
    started = time.perf_counter()
    rows = await conn.fetch("SELECT id, canonical_url FROM signals")
    by_index = {Corpus.index_of(row["canonical_url"]): row["id"] for row in rows}
    by_event: dict[int, list[int]] = defaultdict(list)
    by_centroid: dict[int, list[int]] = defaultdict(list)
    for i in by_index:
        event = corpus.event_of(i)
        by_event[event.key].append(i)
        by_centroid[event.centroid].append(i)
    rng = random.Random(7)
    pairs: list[tuple[Any, Any, bool]] = []
    for i, sid in by_index.items():
        event = corpus.event_of(i)
        mates = [j for j in by_event[event.key] if j != i][:RELATED_PER_SIGNAL]
        pairs += [(sid, by_index[j], True) for j in mates]
        near = by_centroid[event.centroid]
        for _ in range(RELATED_PER_SIGNAL - len(mates)):
            j = near[rng.randrange(len(near))]
            if j != i and corpus.event_of(j).key != event.key:
                pairs.append((sid, by_index[j], False))
    async with conn.transaction():
        await conn.execute(
            "CREATE TEMP TABLE bench_pairs (a uuid, b uuid, same_story boolean) ON COMMIT DROP"
        )
        await conn.copy_records_to_table("bench_pairs", records=pairs)
        await conn.execute(
            """INSERT INTO signal_related (signal_id, related_id, score, reason, same_story)
               SELECT x, y, 1 - (ea.embedding <=> eb.embedding), reason, same_story
               FROM bench_pairs p
               CROSS JOIN LATERAL (VALUES (p.a, p.b), (p.b, p.a)) AS d (x, y)
               JOIN signal_embeddings ea ON ea.signal_id = p.a
               JOIN signal_embeddings eb ON eb.signal_id = p.b
               CROSS JOIN LATERAL (SELECT CASE WHEN p.same_story THEN 'same story'
                                               ELSE 'similar coverage' END AS reason) r
               WHERE x <> y
               ON CONFLICT DO NOTHING"""
        )
    count = await conn.fetchval("SELECT count(*) FROM signal_related")
    print(f"related: {count:,} links in {time.perf_counter() - started:.0f} s", flush=True)


async def seed_stories(conn: asyncpg.Connection, corpus: Corpus) -> None:
    """One story per event (the corpus's ground truth), written as the relate steps of its
    signals would leave it (``refresh_story``): each signal's ``story_id``, only the newest
    current signal flagged ``is_story_lead``, and the story's lead, title, count of current
    signals, first and last seen. Set-based, one transaction (resumes by starting again)."""
    if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM stories)"):
        print("stories: present")
        return
    started = time.perf_counter()
    rows = await conn.fetch("SELECT id, canonical_url FROM signals")
    events = [(row["id"], corpus.event_of(Corpus.index_of(row["canonical_url"])).key) for row in rows]
    async with conn.transaction():
        await conn.execute("CREATE TEMP TABLE bench_events (signal_id uuid, event bigint) ON COMMIT DROP")
        await conn.copy_records_to_table("bench_events", records=events)
        await conn.execute(
            """CREATE TEMP TABLE bench_stories ON COMMIT DROP AS
               SELECT e.event, gen_random_uuid() AS story_id, count(*) FILTER (WHERE s.is_current) AS n,
                      min(s.created_at) AS first_seen, max(s.created_at) AS last_seen,
                      (array_agg(s.id ORDER BY s.created_at DESC, s.id DESC)
                           FILTER (WHERE s.is_current))[1] AS lead_id,
                      (array_agg(s.title ORDER BY s.is_current DESC, s.created_at DESC, s.id DESC))[1]
                           AS title
               FROM bench_events e JOIN signals s ON s.id = e.signal_id
               GROUP BY e.event"""
        )
        await conn.execute(
            """INSERT INTO stories (id, title, lead_signal_id, signal_count, first_seen, last_seen)
               SELECT story_id, title, lead_id, n, first_seen, last_seen FROM bench_stories"""
        )
        await conn.execute(
            """UPDATE signals s SET story_id = b.story_id, is_story_lead = coalesce(s.id = b.lead_id, false)
               FROM bench_events e JOIN bench_stories b USING (event)
               WHERE s.id = e.signal_id"""
        )
    count = await conn.fetchval("SELECT count(*) FROM stories")
    elapsed = time.perf_counter() - started
    print(f"stories: {count:,} for {len(events):,} signals in {elapsed:.0f} s", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--signals", type=int, default=100_000)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--connections", type=int, default=3)
    parser.add_argument("--bulk", action="store_true", help="set-based writes (see bench/bulk.py)")
    parser.add_argument("--verify-bulk", action="store_true", help="compare bulk rows with seed_signal's")
    args = parser.parse_args()
    if args.verify_bulk:
        server = EmbeddedServer(args.data_dir)
        try:
            await verify_bulk(await asyncio.to_thread(server.start))
        finally:
            server.stop()
        return
    corpus = Corpus(args.signals)
    db = Database(bench_settings(args.data_dir, pool=args.connections + 1))
    await db.open()
    try:
        print(f"seeding {args.signals:,} signals into {args.data_dir}  (dsn {db.dsn})", flush=True)
        async with db.pool.acquire() as conn:
            # Fewer checkpoints while writing gigabytes (no effect on how queries run).
            await conn.execute("ALTER SYSTEM SET max_wal_size = '8GB'")
            await conn.execute("SELECT pg_reload_conf()")
        await seed_signals(db, corpus, args.connections, args.bulk)
        conn = await db.connect()
        try:
            await set_vector_codec(conn)
            await conn.execute("SET synchronous_commit = off")
            await seed_embeddings(conn, corpus)
            await build_hnsw(conn)
            await seed_related(conn, corpus)
            await seed_stories(conn, corpus)
            started = time.perf_counter()
            await conn.execute("VACUUM (ANALYZE)")
            print(f"vacuum analyze: {time.perf_counter() - started:.0f} s", flush=True)
            sizes = await conn.fetchrow(
                "SELECT count(*) AS signals, pg_size_pretty(pg_database_size(current_database())) AS size "
                "FROM signals"
            )
            print(f"database: {sizes['signals']:,} signals, {sizes['size']}", flush=True)
        finally:
            await conn.close()
    finally:
        await db.close()


if __name__ == "__main__":
    asyncio.run(main())
