-- name: admin_create_partner
-- Creates a partner; nothing (no row) when the name is taken.
INSERT INTO partners (name, rate_per_second, burst)
VALUES (:name, :rate_per_second::real, :burst::integer)
ON CONFLICT (name) DO NOTHING
RETURNING id;

-- name: admin_list_partners
-- Partners by name (or the one :id), with their active keys and the latest use of any key.
SELECT p.id, p.name, p.rate_per_second, p.burst, p.created_at, p.disabled_at,
       count(k.id) FILTER (WHERE k.revoked_at IS NULL) AS active_keys,
       -- the bucket's stamp is per request (but lost on a crash); last_used_at is per minute
       max(greatest(k.last_used_at, b.updated_at)) AS last_used_at
FROM partners p
LEFT JOIN api_keys k ON k.partner_id = p.id
LEFT JOIN rate_limit_buckets b ON b.key_id = k.id
WHERE :id::uuid IS NULL OR p.id = :id::uuid
GROUP BY p.id
ORDER BY p.name, p.id;

-- name: admin_update_partner
-- Changes what the :set_* flags say, then tells every API process to drop its cached keys
-- (they carry the partner's limits); the NOTIFY is delivered on commit.
WITH updated AS (
    UPDATE partners
    SET name = CASE WHEN :set_name::boolean THEN :name::text ELSE name END,
        rate_per_second = CASE WHEN :set_rate::boolean THEN :rate_per_second::real ELSE rate_per_second END,
        burst = CASE WHEN :set_burst::boolean THEN :burst::integer ELSE burst END
    WHERE id = :id
    RETURNING id
)
SELECT id, pg_notify('signals_keys_changed', id::text) AS notified FROM updated;

-- name: admin_set_partner_disabled
-- Disables (keeping the first time) or enables a partner and tells every API process to drop
-- its cached keys, so the partner's keys stop (or start) working at once.
WITH updated AS (
    UPDATE partners
    SET disabled_at = CASE WHEN :disabled::boolean THEN coalesce(disabled_at, now()) END
    WHERE id = :id
    RETURNING id
)
SELECT id, pg_notify('signals_keys_changed', id::text) AS notified FROM updated;

-- name: admin_list_partner_keys
-- A partner's keys (or the one :key_id), newest first, with topic slugs, the partner's limits
-- and the latest use; never the hash.
SELECT k.id, k.partner_id, k.name, k.prefix, k.scopes, k.rate_per_second, k.burst,
       k.created_at, k.revoked_at, greatest(k.last_used_at, b.updated_at) AS last_used_at,
       k.topic_ids IS NOT NULL AS restricted,
       coalesce((
           -- the restriction's topics by canonical slug
           SELECT array_agg(t.slug ORDER BY t.slug) FROM topics t WHERE t.id = ANY(k.topic_ids)
       ), '{}'::text[]) AS topics,
       p.rate_per_second AS partner_rate_per_second, p.burst AS partner_burst
FROM api_keys k
JOIN partners p ON p.id = k.partner_id
LEFT JOIN rate_limit_buckets b ON b.key_id = k.id
WHERE k.partner_id = :partner_id AND (:key_id::uuid IS NULL OR k.id = :key_id::uuid)
ORDER BY k.created_at DESC, k.id;

-- name: admin_update_partner_key
-- Changes what the :set_* flags say of one key of a partner, then tells every API process to
-- drop its cached keys (the restriction and limits are cached with the key).
WITH updated AS (
    UPDATE api_keys
    SET name = CASE WHEN :set_name::boolean THEN :name::text ELSE name END,
        topic_ids = CASE WHEN :set_topics::boolean THEN :topic_ids::bigint[] ELSE topic_ids END,
        rate_per_second = CASE WHEN :set_rate::boolean THEN :rate_per_second::real ELSE rate_per_second END,
        burst = CASE WHEN :set_burst::boolean THEN :burst::integer ELSE burst END
    WHERE id = :key_id AND partner_id = :partner_id
    RETURNING id
)
SELECT id, pg_notify('signals_keys_changed', id::text) AS notified FROM updated;

-- name: admin_revoke_partner_key
-- Revokes one key of a partner (keeping the first time) and tells every API process to drop
-- its cached keys.
WITH revoked AS (
    UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
    WHERE id = :key_id AND partner_id = :partner_id
    RETURNING id
)
SELECT id, pg_notify('signals_keys_changed', id::text) AS notified FROM revoked;
