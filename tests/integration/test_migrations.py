import json
import shutil
import uuid
from pathlib import Path

import asyncpg
import pytest

from service.db.database import init_connection
from service.db.embedded import with_database
from service.db.migrate import migrate
from service.db.paths import MIGRATIONS_DIR
from service.errors import StartupError
from tests.support.seeding import SeedSignal, seed_signal


@pytest.fixture
async def empty_db(pg_maintenance_dsn: str):
    name = f"mig_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(pg_maintenance_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    conn = await asyncpg.connect(with_database(pg_maintenance_dsn, name))
    try:
        yield conn
    finally:
        await conn.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_migrations_apply_once_with_checksums_and_install_the_queue(empty_db):
    applied = await migrate(empty_db)
    files = sorted(p.stem for p in MIGRATIONS_DIR.glob("*.sql"))
    assert applied == files and files[0] == "0001_core"
    rows = await empty_db.fetch("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
    assert [r["name"] for r in rows] == files
    assert all(len(r["checksum"]) == 64 for r in rows)
    assert await empty_db.fetchval("SELECT to_regclass('pgqueuer') IS NOT NULL")
    assert await empty_db.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    assert await migrate(empty_db) == []


async def test_an_edited_applied_migration_stops_startup(empty_db, tmp_path: Path):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    await migrate(empty_db, folder)
    target = folder / "0001_core.sql"
    target.write_text(target.read_text() + "\n-- a later edit\n")
    with pytest.raises(StartupError, match=r"0001_core\.sql was edited after it was applied"):
        await migrate(empty_db, folder)


async def test_new_migrations_apply_in_order_and_a_failing_one_leaves_nothing(empty_db, tmp_path: Path):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    (folder / "9998_extra.sql").write_text("CREATE TABLE extra_a (id int);")
    (folder / "9999_broken.sql").write_text("CREATE TABLE extra_b (id int); SELECT no_such_function();")
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await migrate(empty_db, folder)
    versions = [
        r["version"] for r in await empty_db.fetch("SELECT version FROM schema_migrations ORDER BY 1")
    ]
    assert versions[-1] == 9998 and 9999 not in versions
    assert await empty_db.fetchval("SELECT to_regclass('extra_b')") is None  # rolled back whole


async def test_a_database_newer_than_the_code_is_refused(empty_db, tmp_path: Path):
    await migrate(empty_db)
    await empty_db.execute(
        "INSERT INTO schema_migrations (version, name, checksum) VALUES (999, '0999_future', 'x')"
    )
    with pytest.raises(StartupError, match="0999_future"):
        await migrate(empty_db)


def test_badly_named_migration_files_are_refused(tmp_path: Path):
    from service.db.migrate import load_migrations

    (tmp_path / "1_core.sql").write_text("SELECT 1;")
    with pytest.raises(StartupError, match=r"NNNN_name\.sql"):
        load_migrations(tmp_path)


async def test_the_headline_index_has_statistics_as_soon_as_it_exists(empty_db, tmp_path: Path):
    """A database with signals migrated to 0012: the planner knows how common a headline word
    is at once (not after autovacuum's next analyze), so it does not pair the index with a big
    topic's on a guess."""
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    later = sorted(path.name for path in folder.glob("*.sql") if path.name >= "0012")
    for name in later:  # set aside: the database is first migrated to 0011
        (folder / name).rename(tmp_path / name)
    await migrate(empty_db, folder)
    await init_connection(empty_db)
    for i in range(60):
        title = f"Harbour strike ends, day {i}" if i % 3 == 0 else f"Council budget vote {i}"
        await seed_signal(empty_db, SeedSignal(title=title), before_0019=True)
    for name in later:
        (tmp_path / name).rename(folder / name)
    await migrate(empty_db, folder)
    stats = await empty_db.fetchval("SELECT count(*) FROM pg_stats WHERE tablename = 'signals_headline_idx'")
    assert stats == 1
    plan = await empty_db.fetchval(
        "EXPLAIN (FORMAT JSON) SELECT id FROM signals "
        "WHERE ts_filter(search_head, '{a}') @@ to_tsquery('english', 'strike')"
    )
    estimate = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"]
    assert 10 <= estimate <= 40  # 20 of 60 headlines say it (without statistics: a fixed guess)


async def test_supplied_articles_get_their_supplier_when_migrating_to_0019(empty_db, tmp_path: Path):
    """Articles a caller supplied before 0019 belong to the partner (or the key) whose job stored
    them; afterwards a fetch of the same URL is an article of its own, not an overwrite."""
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    later = sorted(path.name for path in folder.glob("*.sql") if path.name >= "0019")
    for name in later:
        (folder / name).rename(tmp_path / name)
    await migrate(empty_db, folder)
    partner = await empty_db.fetchval("INSERT INTO partners (name) VALUES ('Old Partner') RETURNING id")
    keys = []
    for name, partner_id in (("partnered", partner), ("loose", None)):
        key_id = await empty_db.fetchval(
            "INSERT INTO api_keys (name, prefix, key_hash, scopes, partner_id)"
            " VALUES ($1, $1, $2, '{signals:write}', $3) RETURNING id",
            name, uuid.uuid4().bytes, partner_id,
        )  # fmt: skip
        keys.append(key_id)
    articles = []
    for i, kind in enumerate(("text", "html", "text", "url")):
        article_id = await empty_db.fetchval(
            "INSERT INTO articles (canonical_url, url, input_kind, content_hash, word_count, text)"
            " VALUES ($1, $1, $2, $3, 1, 'x') RETURNING id",
            f"https://old.example/{i}", kind, f"hash{i}",
        )  # fmt: skip
        articles.append(article_id)
    for article, key in ((articles[0], keys[0]), (articles[1], keys[1])):
        await empty_db.execute(
            "INSERT INTO jobs (status, input_kind, url, api_key_id, article_id, error_code)"
            " VALUES ('failed', 'text', 'u', $1, $2, 'llm_error')",
            key, article,
        )  # fmt: skip
    for name in later:
        (tmp_path / name).rename(folder / name)
    await migrate(empty_db, folder)
    suppliers = [
        await empty_db.fetchval("SELECT supplier_id FROM articles WHERE id = $1", a) for a in articles
    ]
    assert suppliers == [partner, keys[1], uuid.UUID(int=0), None]
    # a fetch of a supplied URL is an article of its own now
    await empty_db.execute(
        "INSERT INTO articles (canonical_url, url, input_kind, content_hash, word_count, text)"
        " VALUES ('https://old.example/0', 'https://old.example/0', 'url', 'h', 1, 'fetched')"
    )
    same_url = "SELECT count(*) FROM articles WHERE canonical_url = 'https://old.example/0'"
    assert await empty_db.fetchval(same_url) == 2


async def test_stored_hostile_page_metadata_is_scrubbed_by_0021(empty_db, tmp_path: Path):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    later = sorted(path.name for path in folder.glob("*.sql") if path.name >= "0021")
    for name in later:
        (folder / name).rename(tmp_path / name)
    await migrate(empty_db, folder)
    images = {
        "javascript:alert(document.cookie)": None,
        "data:image/png;base64,AAAA": None,
        "https://user:pw@img.example/a.png": None,
        'https://img.example/x.png"onerror="alert(1)': None,
        "https://img.example/photo.jpg?w=800": "https://img.example/photo.jpg?w=800",
        "http://img.example/": "http://img.example/",
    }
    for i, image in enumerate(images):
        await empty_db.execute(
            "INSERT INTO articles (canonical_url, url, input_kind, content_hash, word_count, text, image,"
            " site_name) VALUES ($1, $1, 'url', $1, 1, 'x', $2, $3)",
            f"https://meta.example/{i}", image, "<b>The</b> <script>x</script>Courier" if i == 0 else "Plain",
        )  # fmt: skip
    for name in later:
        (tmp_path / name).rename(folder / name)
    await migrate(empty_db, folder)
    rows = await empty_db.fetch("SELECT canonical_url, image, site_name FROM articles ORDER BY canonical_url")
    assert [r["image"] for r in rows] == list(images.values())
    assert rows[0]["site_name"] == "The Courier" and rows[1]["site_name"] == "Plain"


async def test_0026_takes_what_was_supplied_out_of_everything_shared(empty_db, tmp_path: Path):
    """Before 0026 supplied signals joined stories, other signals' related lists and the daily
    counts, and named topics and entities for everyone; 0026 undoes it all and marks the
    supplier on the change log and the webhook outbox."""
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    later = sorted(path.name for path in folder.glob("*.sql") if path.name >= "0026")
    for name in later:
        (folder / name).rename(tmp_path / name)
    await migrate(empty_db, folder)
    await init_connection(empty_db)
    supplier = await empty_db.fetchval("INSERT INTO partners (name) VALUES ('Supplier') RETURNING id")
    public = await seed_signal(empty_db, SeedSignal(
        title="Cranes return to the harbour", topics=["Harbour cranes"],
        entities=[("Port Authority Group", "organization")],
    ))  # fmt: skip
    supplied, alone = [
        await seed_signal(empty_db, SeedSignal(
            title=title, topics=["Harbour cranes", "Secret berths"],
            entities=[("Port Authority Group", "organization"), ("Hidden Quay Ltd", "organization")],
        ))
        for title in ("Supplied: the cranes will be sold", "Supplied: a second memo")
    ]  # fmt: skip
    # as a supplied text was stored then (0025's columns)
    for signal_id in (supplied, alone):
        await empty_db.execute(
            "UPDATE articles SET input_kind = 'text', supplier_id = $2"
            " WHERE id = (SELECT article_id FROM signals WHERE id = $1)", signal_id, supplier,
        )  # fmt: skip
        await empty_db.execute(
            "UPDATE signals SET input_kind = 'text', supplier_id = $2 WHERE id = $1", signal_id, supplier
        )
    shared = await empty_db.fetchval(
        "INSERT INTO stories (title, signal_count, first_seen, last_seen) VALUES ('Supplied: the cranes"
        " will be sold', 2, now(), now()) RETURNING id"
    )
    own = await empty_db.fetchval(
        "INSERT INTO stories (title, signal_count, first_seen, last_seen)"
        " VALUES ('Supplied: a second memo', 1, now(), now()) RETURNING id"
    )
    await empty_db.execute(
        "UPDATE signals SET story_id = CASE WHEN id = $3::uuid THEN $2::uuid ELSE $1::uuid END,"
        " is_story_lead = (id <> $4::uuid) WHERE id = ANY($5::uuid[])",
        shared, own, alone, public, [public, supplied, alone],
    )  # fmt: skip
    await empty_db.execute(
        "INSERT INTO signal_related (signal_id, related_id, score, reason)"
        " VALUES ($1, $2, 0.9, 'names'), ($2, $1, 0.9, 'names')", public, supplied,
    )  # fmt: skip
    counted = "SELECT sum(d.signals) FROM topic_days d JOIN topics t ON t.id = d.topic_id WHERE t.slug = $1"
    assert await empty_db.fetchval(counted, "harbour-cranes") == 3  # counted as everyone's then

    for name in later:
        (tmp_path / name).rename(folder / name)
    await migrate(empty_db, folder)

    public_names = dict(await empty_db.fetch(
        "SELECT slug, is_public FROM topics UNION ALL SELECT name, is_public FROM entities"
    ))  # fmt: skip
    assert public_names == {
        "harbour-cranes": True,
        "secret-berths": False,
        "Port Authority Group": True,
        "Hidden Quay Ltd": False,
    }
    assert await empty_db.fetchval(counted, "harbour-cranes") == 1
    assert await empty_db.fetchval(counted, "secret-berths") is None
    entity_rows = await empty_db.fetchval(
        "SELECT count(*) FROM entity_days d JOIN entities e ON e.id = d.entity_id"
        " WHERE e.name = 'Hidden Quay Ltd'"
    )
    assert entity_rows == 0
    rows = {r["id"]: r for r in await empty_db.fetch("SELECT id, story_id, is_story_lead FROM signals")}
    assert rows[supplied]["story_id"] is None and rows[alone]["story_id"] is None
    assert rows[supplied]["is_story_lead"] and rows[public]["is_story_lead"]
    story = await empty_db.fetchrow(
        "SELECT title, lead_signal_id, signal_count FROM stories WHERE id = $1", shared
    )
    assert dict(story) == {
        "title": "Cranes return to the harbour",
        "lead_signal_id": public,
        "signal_count": 1,
    }
    assert await empty_db.fetchval("SELECT count(*) FROM stories WHERE id = $1", own) == 0
    links = await empty_db.fetch("SELECT signal_id, related_id FROM signal_related")
    assert [(r["signal_id"], r["related_id"]) for r in links] == [(supplied, public)]
    logged = await empty_db.fetch("SELECT signal_id, supplier_id FROM signal_changes")
    suppliers = {r["signal_id"]: r["supplier_id"] for r in logged}
    assert suppliers == {public: None, supplied: supplier, alone: supplier}
    # from now on the first public signal naming a private name makes it public, for good
    opens = SeedSignal(
        title="Hidden Quay Ltd opens its books",
        topics=["Harbour cranes"],
        entities=[("Hidden Quay Ltd", "organization")],
    )
    await seed_signal(empty_db, opens)
    assert await empty_db.fetchval("SELECT is_public FROM entities WHERE name = 'Hidden Quay Ltd'")
    assert await empty_db.fetchval(counted, "harbour-cranes") == 2
