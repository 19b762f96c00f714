-- name: insert_api_key
-- Stores a new key's hash and visible prefix.
INSERT INTO api_keys (name, prefix, key_hash, scopes)
VALUES (:name, :prefix, :key_hash, :scopes)
RETURNING id, name, prefix, scopes, created_at;

-- name: get_api_key_by_hash
-- The key whose SHA-256 this is, revoked or not.
SELECT id, name, prefix, key_hash, scopes, revoked_at, last_used_at
FROM api_keys WHERE key_hash = :key_hash;

-- name: list_api_keys
-- Every key, newest first (never the hash).
SELECT id, name, prefix, scopes, created_at, last_used_at, revoked_at
FROM api_keys ORDER BY created_at DESC;

-- name: revoke_api_key
-- Revokes a key by id or by its visible prefix; returns what was revoked and tells every
-- API process to drop its cached keys (the NOTIFY is delivered on commit).
WITH revoked AS (
    UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
    WHERE id::text = :ident OR prefix = :ident
    RETURNING id, name, prefix, scopes, created_at, last_used_at, revoked_at
)
SELECT revoked.*, pg_notify('signals_keys_changed', revoked.id::text) AS notified FROM revoked;

-- name: touch_api_key
-- Records use, at most once a minute per key (a write per request would be waste).
UPDATE api_keys SET last_used_at = now()
WHERE id = :id AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');

-- name: ping
-- Readiness probe.
SELECT 1;
