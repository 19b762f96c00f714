-- name: create_migrations_table
-- Records which numbered migration files were applied, with their checksums.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- name: list_applied_migrations
-- Every migration already applied, in order.
SELECT version, name, checksum FROM schema_migrations ORDER BY version;

-- name: record_migration
-- Marks one migration as applied.
INSERT INTO schema_migrations (version, name, checksum) VALUES (:version, :name, :checksum);

-- name: lock_migrations
-- Serialises migration runs of concurrent processes (held until the session unlocks it).
SELECT pg_advisory_lock(hashtext('signals.migrate'));

-- name: unlock_migrations
-- Releases the migration lock.
SELECT pg_advisory_unlock(hashtext('signals.migrate'));

-- name: vector_extension_available
-- Whether the server can provide pgvector at all.
SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector');
