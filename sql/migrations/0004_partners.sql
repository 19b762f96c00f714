-- Partners and what their keys may do: scopes (incl. webhooks:manage), topic restriction,
-- rate limits. Never edit this file once released: add a new numbered migration instead.

CREATE TABLE partners (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name            text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    -- token bucket for every key of the partner (NULL: the service default)
    rate_per_second real CHECK (rate_per_second > 0),
    burst           integer CHECK (burst >= 1),
    created_at      timestamptz NOT NULL DEFAULT now(),
    disabled_at     timestamptz
);

ALTER TABLE api_keys
    ADD COLUMN partner_id uuid REFERENCES partners (id) ON DELETE CASCADE,
    -- NULL: every topic; otherwise the key sees only signals carrying one of these topics
    ADD COLUMN topic_ids bigint[] CHECK (topic_ids IS NULL OR cardinality(topic_ids) > 0),
    -- per-key override of the partner's (or the default) token bucket
    ADD COLUMN rate_per_second real CHECK (rate_per_second > 0),
    ADD COLUMN burst integer CHECK (burst >= 1);

CREATE INDEX api_keys_partner_idx ON api_keys (partner_id);
