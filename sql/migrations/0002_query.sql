-- Querying, related coverage and stories.
-- Never edit this file once released: add a new numbered migration instead.

-- Denormalised onto signals so that lists, filters and full text read a single table.
ALTER TABLE signals
    ADD COLUMN url            text,
    ADD COLUMN canonical_url  text,
    ADD COLUMN site_name      text,
    ADD COLUMN language       text,
    ADD COLUMN published_date date,
    ADD COLUMN sentiment      real CHECK (sentiment BETWEEN -1 AND 1),
    ADD COLUMN is_current     boolean NOT NULL DEFAULT true,
    ADD COLUMN topic_ids      bigint[] NOT NULL DEFAULT '{}',
    ADD COLUMN entity_ids     bigint[] NOT NULL DEFAULT '{}',
    ADD COLUMN search         tsvector,
    ADD COLUMN story_id       uuid,
    ADD COLUMN is_story_lead  boolean NOT NULL DEFAULT true,
    ADD COLUMN related_at     timestamptz;

-- Backfill what 0001 stored: article metadata, current versions, topic and entity ids.
UPDATE signals s
SET url = a.url, canonical_url = a.canonical_url, site_name = a.site_name,
    language = a.language, published_date = a.published_date
FROM articles a
WHERE a.id = s.article_id;

UPDATE signals s
SET is_current = (s.id = latest.id)
FROM (
    -- the newest signal of each article is its current one
    SELECT DISTINCT ON (article_id) article_id, id
    FROM signals ORDER BY article_id, created_at DESC, id DESC
) latest
WHERE latest.article_id = s.article_id;

UPDATE signals s
SET topic_ids = coalesce((SELECT array_agg(topic_id ORDER BY position) FROM signal_topics WHERE signal_id = s.id), '{}'),
    entity_ids = coalesce((SELECT array_agg(entity_id ORDER BY position) FROM signal_entities WHERE signal_id = s.id), '{}');

UPDATE signals s
SET search = setweight(to_tsvector('english', s.title), 'A')
          || setweight(to_tsvector('english', s.summary), 'B')
          || setweight(to_tsvector('english', coalesce((SELECT string_agg(d ->> 'text', ' ') FROM jsonb_array_elements(s.key_details) d), '')), 'B')
          || setweight(to_tsvector('english', s.analysis), 'C')
          || setweight(to_tsvector('english', left(a.text, 100000)), 'D')
FROM articles a
WHERE a.id = s.article_id;

ALTER TABLE signals ALTER COLUMN search SET NOT NULL;

-- Newest-first pages of current signals, optionally one per story.
CREATE INDEX signals_current_created_idx ON signals (created_at DESC, id DESC) WHERE is_current;
CREATE INDEX signals_lead_created_idx ON signals (created_at DESC, id DESC) WHERE is_current AND is_story_lead;
CREATE INDEX signals_published_idx ON signals (published_date DESC, id DESC) WHERE is_current;
CREATE INDEX signals_site_created_idx ON signals (site_name, created_at DESC, id DESC) WHERE is_current;
CREATE INDEX signals_topic_ids_idx ON signals USING gin (topic_ids) WHERE is_current;
CREATE INDEX signals_entity_ids_idx ON signals USING gin (entity_ids) WHERE is_current;
CREATE INDEX signals_search_idx ON signals USING gin (search);
CREATE INDEX signals_story_idx ON signals (story_id, created_at DESC);
DROP INDEX signals_created_at_idx;

-- Another spelling of a topic the model used ("ai-infra" for "ai-infrastructure").
CREATE TABLE topic_aliases (
    alias      text PRIMARY KEY CHECK (alias ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    topic_id   bigint NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    source     text NOT NULL CHECK (source IN ('auto', 'admin')),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX topic_aliases_topic_idx ON topic_aliases (topic_id);
-- Prefix lookups for synonym candidates.
CREATE INDEX topics_slug_pattern_idx ON topics (slug text_pattern_ops);

-- Articles about one event, from any number of outlets.
CREATE TABLE stories (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    title          text NOT NULL,
    lead_signal_id uuid REFERENCES signals (id) ON DELETE SET NULL,
    signal_count   integer NOT NULL DEFAULT 0,
    first_seen     timestamptz NOT NULL,
    last_seen      timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stories_last_seen_idx ON stories (last_seen DESC, id DESC);
ALTER TABLE signals ADD CONSTRAINT signals_story_fk FOREIGN KEY (story_id) REFERENCES stories (id) ON DELETE SET NULL;

-- One embedding per signal from the configured model; dims may differ between models, so
-- the HNSW index is an expression index per dimension, created for the configured one.
CREATE TABLE signal_embeddings (
    signal_id  uuid PRIMARY KEY REFERENCES signals (id) ON DELETE CASCADE,
    model      text NOT NULL,
    dims       smallint NOT NULL CHECK (dims BETWEEN 1 AND 2000),
    embedding  vector NOT NULL CHECK (vector_dims(embedding) = dims),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Stored related links (both directions), so a read is one indexed query.
CREATE TABLE signal_related (
    signal_id  uuid NOT NULL REFERENCES signals (id) ON DELETE CASCADE,
    related_id uuid NOT NULL REFERENCES signals (id) ON DELETE CASCADE,
    score      real NOT NULL,
    reason     text NOT NULL,
    same_story boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (signal_id, related_id),
    CHECK (signal_id <> related_id)
);
CREATE INDEX signal_related_rank_idx ON signal_related (signal_id, score DESC, related_id);
CREATE INDEX signal_related_reverse_idx ON signal_related (related_id);
