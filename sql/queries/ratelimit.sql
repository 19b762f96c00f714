-- name: take_rate_token^
-- Refills a key's token bucket by the time since its last request and takes one token if a
-- whole one is there; returns the tokens left and whether this request may proceed.
-- One atomic statement: concurrent requests of one key queue on the row lock, and each one
-- computes its refill from the row version the previous one committed (ON CONFLICT DO UPDATE
-- sees the latest version even in READ COMMITTED), so no token is taken twice.
-- The clock is the database's clock_timestamp() read after the row lock is held: every API
-- process uses the same clock, and time spent waiting for the lock counts as elapsed.
-- A clock stepped backwards refills nothing (greatest(0, ...)); a step forward fills at most
-- to the burst.
INSERT INTO rate_limit_buckets AS b (key_id, tokens, updated_at, allowed)
VALUES (:key_id, :burst::float8 - 1, clock_timestamp(), true)
ON CONFLICT (key_id) DO UPDATE
SET (tokens, updated_at, allowed) = (
    SELECT CASE WHEN level.tokens >= 1 THEN level.tokens - 1 ELSE level.tokens END,
           now_.at,
           level.tokens >= 1
    FROM (SELECT clock_timestamp() AS at) AS now_,
         LATERAL (
             -- the bucket as it stands now: refilled at :rate per second, capped at :burst
             SELECT least(
                 :burst::float8,
                 b.tokens + greatest(0, extract(epoch FROM now_.at - b.updated_at)::float8) * :rate::float8
             ) AS tokens
         ) AS level
)
RETURNING tokens, allowed;

