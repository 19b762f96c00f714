-- name: take_rate_tokens^
-- Refills a key's token bucket by the time since its last request and takes up to :want
-- whole tokens (as many as are there, at least one to proceed); returns the tokens left and
-- how many were taken (0: this request is refused). :want above 1 is a lease: the API
-- process spends the extra tokens on the key's next requests without asking again.
-- One atomic statement: concurrent requests of one key queue on the row lock, and each one
-- computes its refill from the row version the previous one committed (ON CONFLICT DO UPDATE
-- sees the latest version even in READ COMMITTED), so no token is taken twice.
-- The clock is the database's clock_timestamp() read after the row lock is held: every API
-- process uses the same clock, and time spent waiting for the lock counts as elapsed.
-- A clock stepped backwards refills nothing (greatest(0, ...)); a step forward fills at most
-- to the burst.
INSERT INTO rate_limit_buckets AS b (key_id, tokens, updated_at, allowed, taken)
SELECT :key_id, first.burst - first.n, clock_timestamp(), first.n > 0, first.n
FROM (SELECT :burst::float8 AS burst, least(:want::int, floor(:burst::float8)::int) AS n) AS first
ON CONFLICT (key_id) DO UPDATE
SET (tokens, updated_at, allowed, taken) = (
    SELECT level.tokens - got.n, now_.at, got.n > 0, got.n
    FROM (SELECT clock_timestamp() AS at) AS now_,
         LATERAL (
             -- the bucket as it stands now: refilled at :rate per second, capped at :burst
             SELECT least(
                 :burst::float8,
                 b.tokens + greatest(0, extract(epoch FROM now_.at - b.updated_at)::float8) * :rate::float8
             ) AS tokens
         ) AS level,
         LATERAL (SELECT least(:want::int, floor(level.tokens)::int) AS n) AS got
)
RETURNING tokens, taken;
