-- name: insert_api_key
-- Stores a new key's hash and visible prefix, with its partner, topic restriction and limits.
INSERT INTO api_keys (name, prefix, key_hash, scopes, partner_id, topic_ids, rate_per_second, burst)
VALUES (:name, :prefix, :key_hash, :scopes, :partner_id, :topic_ids, :rate_per_second, :burst)
RETURNING id, name, prefix, scopes, created_at, partner_id, topic_ids, rate_per_second, burst;

-- name: get_api_key_by_hash
-- The key whose SHA-256 this is, revoked or not, with its partner's state and limits.
SELECT k.id, k.name, k.prefix, k.key_hash, k.scopes, k.revoked_at, k.last_used_at,
       k.partner_id, k.topic_ids, p.disabled_at AS partner_disabled_at,
       coalesce(k.rate_per_second, p.rate_per_second) AS rate_per_second,
       coalesce(k.burst, p.burst) AS burst
FROM api_keys k
LEFT JOIN partners p ON p.id = k.partner_id
WHERE k.key_hash = :key_hash;

-- name: list_api_keys
-- Every key, newest first (never the hash).
SELECT id, name, prefix, scopes, created_at, last_used_at, revoked_at, partner_id, topic_ids,
       rate_per_second, burst
FROM api_keys ORDER BY created_at DESC;

-- name: get_partner_by_name
-- A partner by its unique name.
SELECT id, name, rate_per_second, burst, created_at, disabled_at FROM partners WHERE name = :name;

-- name: insert_partner
-- Creates a partner (its name is unique); returns the row, existing or new.
INSERT INTO partners (name, rate_per_second, burst) VALUES (:name, :rate_per_second, :burst)
ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
RETURNING id, name, rate_per_second, burst, created_at, disabled_at;

-- name: revoke_api_key
-- Revokes a key by id or by its visible prefix; returns what was revoked and tells every
-- API process to drop its cached keys (the NOTIFY is delivered on commit).
WITH revoked AS (
    UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
    WHERE id::text = :ident OR prefix = :ident
    RETURNING id, name, prefix, scopes, created_at, last_used_at, revoked_at, partner_id, topic_ids,
              rate_per_second, burst
)
SELECT revoked.*, pg_notify('signals_keys_changed', revoked.id::text) AS notified FROM revoked;

-- name: touch_api_key
-- Records use, at most once a minute per key (a write per request would be waste).
UPDATE api_keys SET last_used_at = now()
WHERE id = :id AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');

-- name: ping
-- Readiness probe.
SELECT 1;
