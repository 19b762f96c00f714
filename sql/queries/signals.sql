-- name: find_signal_for_content
-- The signal already made from this exact text by this prompt version, if any (zero LLM calls).
SELECT id FROM signals
WHERE article_id = :article_id AND content_hash = :content_hash AND prompt_version = :prompt_version;

-- name: insert_signal
-- Stores one signal; a concurrent twin (same article, text and prompt) wins and we get nothing back.
INSERT INTO signals (
    article_id, content_hash, prompt_version, title, summary, eli5, analysis, impact,
    optimistic_outlook, pessimistic_outlook, key_details, grounding_checked, grounding_grounded,
    model, input_tokens, output_tokens, llm_latency_ms, llm_attempts
) VALUES (
    :article_id, :content_hash, :prompt_version, :title, :summary, :eli5, :analysis, :impact,
    :optimistic_outlook, :pessimistic_outlook, :key_details, :grounding_checked, :grounding_grounded,
    :model, :input_tokens, :output_tokens, :llm_latency_ms, :llm_attempts
)
ON CONFLICT (article_id, content_hash, prompt_version) DO NOTHING
RETURNING id;

-- name: link_signal_topics
-- Upserts topics by slug and links them to a signal in the given order.
WITH input AS (
    -- one row per topic, position = order the model gave
    SELECT slug, label, position
    FROM unnest(:slugs::text[], :labels::text[]) WITH ORDINALITY AS t (slug, label, position)
), upserted AS (
    -- DO UPDATE (a no-op) rather than DO NOTHING so existing rows come back too, locked
    INSERT INTO topics (slug, label)
    SELECT slug, label FROM input
    ON CONFLICT (slug) DO UPDATE SET slug = EXCLUDED.slug
    RETURNING id, slug
)
INSERT INTO signal_topics (signal_id, topic_id, position)
SELECT :signal_id, upserted.id, input.position
FROM input JOIN upserted USING (slug);

-- name: link_signal_entities
-- Upserts entities by (type, folded name) and links them to a signal in the given order.
WITH input AS (
    -- one row per entity, position = order the model gave
    SELECT name, type, key, position
    FROM unnest(:names::text[], :types::text[], :keys::text[]) WITH ORDINALITY AS t (name, type, key, position)
), upserted AS (
    -- no-op update so existing rows are returned (and locked) as well
    INSERT INTO entities (name, type, key)
    SELECT name, type, key FROM input
    ON CONFLICT (type, key) DO UPDATE SET key = EXCLUDED.key
    RETURNING id, type, key
)
INSERT INTO signal_entities (signal_id, entity_id, position)
SELECT :signal_id, upserted.id, input.position
FROM input JOIN upserted USING (type, key);

-- name: get_signal_by_id
-- One signal card with its source, topics and entities.
SELECT s.id, s.article_id, s.title, s.summary, s.eli5, s.analysis, s.impact,
       s.optimistic_outlook, s.pessimistic_outlook, s.key_details,
       s.grounding_checked, s.grounding_grounded, s.model, s.prompt_version,
       s.input_tokens, s.output_tokens, s.llm_latency_ms, s.llm_attempts, s.created_at,
       a.url, a.canonical_url, a.site_name, a.author, a.published_date, a.language, a.image,
       a.word_count,
       coalesce((
           -- topics in the order the model gave them
           SELECT jsonb_agg(jsonb_build_object('slug', t.slug, 'label', t.label) ORDER BY st.position)
           FROM signal_topics st JOIN topics t ON t.id = st.topic_id
           WHERE st.signal_id = s.id
       ), '[]'::jsonb) AS topics,
       coalesce((
           -- entities in the order the model gave them
           SELECT jsonb_agg(jsonb_build_object('name', e.name, 'type', e.type) ORDER BY se.position)
           FROM signal_entities se JOIN entities e ON e.id = se.entity_id
           WHERE se.signal_id = s.id
       ), '[]'::jsonb) AS entities
FROM signals s
JOIN articles a ON a.id = s.article_id
WHERE s.id = :id;
