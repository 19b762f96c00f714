-- Rate limits: one token bucket per API key (and one shared by keyless public reads), shared
-- by every API process through this table. Never edit this file once released: add a new
-- numbered migration instead.

-- UNLOGGED: a bucket is written on every request, and its state is worth nothing after a
-- crash (the buckets start full again). Writing it skips the WAL, so a request's commit does
-- not wait for a WAL flush, and replicas do not receive a row per request. fillfactor leaves
-- room on each page for the next version of a row: updates stay HOT (no index entry per write).
CREATE UNLOGGED TABLE rate_limit_buckets (
    -- an api_keys id, or the nil uuid for the bucket keyless public reads share
    -- (no foreign key: the public bucket has no key, and keys are revoked, never deleted)
    key_id     uuid PRIMARY KEY,
    -- tokens left after the last request (fractional: refill is continuous)
    tokens     double precision NOT NULL CHECK (tokens >= 0),
    -- the database clock at the last request: every API process measures refill on one clock
    updated_at timestamptz NOT NULL,
    -- whether the last request took a token (RETURNING cannot see the row before the update)
    allowed    boolean NOT NULL
) WITH (fillfactor = 50);
