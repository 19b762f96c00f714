-- Core pipeline: articles, signals with topics and entities, jobs, API keys.
-- Never edit this file once released: add a new numbered migration instead.

-- pgvector stores embeddings (related coverage); pg_trgm serves fuzzy name matching.
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- One row per canonical URL, holding the latest extracted content.
-- Text submitted without a URL has no canonical URL and is keyed by its content hash.
CREATE TABLE articles (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    canonical_url  text,
    url            text,
    input_kind     text NOT NULL CHECK (input_kind IN ('url', 'html', 'text')),
    content_hash   text NOT NULL,
    title          text,
    author         text,
    site_name      text,
    published_date date,
    language       text,
    image          text,
    description    text,
    word_count     integer NOT NULL CHECK (word_count >= 0),
    text           text NOT NULL,
    fetched_at     timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX articles_canonical_url_key ON articles (canonical_url) WHERE canonical_url IS NOT NULL;
CREATE UNIQUE INDEX articles_urlless_hash_key ON articles (content_hash) WHERE canonical_url IS NULL;

-- One analysis of one version of an article's text by one prompt version.
CREATE TABLE signals (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    article_id          uuid NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    content_hash        text NOT NULL,
    prompt_version      text NOT NULL,
    title               text NOT NULL,
    summary             text NOT NULL,
    eli5                text NOT NULL,
    analysis            text NOT NULL,
    impact              text NOT NULL,
    optimistic_outlook  text NOT NULL,
    pessimistic_outlook text NOT NULL,
    key_details         jsonb NOT NULL,
    grounding_checked   integer NOT NULL CHECK (grounding_checked >= 0),
    grounding_grounded  integer NOT NULL CHECK (grounding_grounded BETWEEN 0 AND grounding_checked),
    model               text NOT NULL,
    input_tokens        integer,
    output_tokens       integer,
    llm_latency_ms      integer,
    llm_attempts        integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (article_id, content_hash, prompt_version)
);
CREATE INDEX signals_created_at_idx ON signals (created_at DESC, id DESC);
CREATE INDEX signals_article_idx ON signals (article_id, created_at DESC);

-- Topics are keyed by a normalised slug so the same label always lands on one row.
CREATE TABLE topics (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug       text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    label      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE signal_topics (
    signal_id uuid NOT NULL REFERENCES signals (id) ON DELETE CASCADE,
    topic_id  bigint NOT NULL REFERENCES topics (id),
    position  smallint NOT NULL,
    PRIMARY KEY (signal_id, topic_id)
);
CREATE INDEX signal_topics_topic_idx ON signal_topics (topic_id, signal_id);

-- Entities are keyed by type and a case- and space-folded name.
CREATE TABLE entities (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL,
    type       text NOT NULL CHECK (type IN ('person', 'organization', 'product', 'place')),
    key        text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (type, key)
);
CREATE INDEX entities_name_trgm_idx ON entities USING gin (name gin_trgm_ops);

CREATE TABLE signal_entities (
    signal_id uuid NOT NULL REFERENCES signals (id) ON DELETE CASCADE,
    entity_id bigint NOT NULL REFERENCES entities (id),
    position  smallint NOT NULL,
    PRIMARY KEY (signal_id, entity_id)
);
CREATE INDEX signal_entities_entity_idx ON signal_entities (entity_id, signal_id);

-- API keys: only a SHA-256 of the key is stored; the key itself is shown once.
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL,
    prefix       text NOT NULL,
    key_hash     bytea NOT NULL UNIQUE,
    scopes       text[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- What a user asked for and where it stands; the durable queue entry lives in pgqueuer.
CREATE TABLE jobs (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    status              text NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued', 'fetching', 'extracting', 'analyzing', 'done', 'failed')),
    input_kind          text NOT NULL CHECK (input_kind IN ('url', 'html', 'text')),
    url                 text,
    dedupe_url          text,
    payload             jsonb,
    signal_id           uuid REFERENCES signals (id) ON DELETE SET NULL,
    article_id          uuid REFERENCES articles (id) ON DELETE SET NULL,
    reused              boolean NOT NULL DEFAULT false,
    error_code          text,
    error_reason        text,
    error_detail        text,
    api_key_id          uuid REFERENCES api_keys (id) ON DELETE SET NULL,
    idempotency_key     text,
    request_fingerprint text,
    attempts            integer NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    finished_at         timestamptz,
    CHECK ((status = 'failed') = (error_code IS NOT NULL)),
    CHECK (status <> 'done' OR signal_id IS NOT NULL)
);
-- A URL has at most one job in flight: a second submission joins it.
CREATE UNIQUE INDEX jobs_active_url_key ON jobs (dedupe_url)
    WHERE dedupe_url IS NOT NULL AND status IN ('queued', 'fetching', 'extracting', 'analyzing');
-- Idempotency-Key is scoped to the key that sent it (requests without a key share one scope).
CREATE UNIQUE INDEX jobs_idempotency_key ON jobs (
    coalesce(api_key_id, '00000000-0000-0000-0000-000000000000'::uuid), idempotency_key
) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_created_at_idx ON jobs (created_at DESC);

-- Waiters (Prefer: wait) listen on this channel for a job reaching a final state.
CREATE FUNCTION signals_notify_job_finished() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('signals_job_finished', NEW.id::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER jobs_notify_finished
    AFTER UPDATE OF status ON jobs
    FOR EACH ROW
    WHEN (NEW.status IN ('done', 'failed') AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION signals_notify_job_finished();
