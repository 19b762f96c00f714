-- name: find_signal_for_content
-- The signal already made from this exact text by this prompt version, if any (zero LLM calls).
SELECT id FROM signals
WHERE article_id = :article_id AND content_hash = :content_hash AND prompt_version = :prompt_version;

-- name: insert_signal
-- Stores one signal with its article's metadata, its topic and entity ids (resolved first, so
-- the wide row and its full-text entries are written once, not rewritten by two updates) and
-- its full-text vector; a concurrent twin (same article, text and prompt) wins and we get
-- nothing back. At commit its triggers log it (signal_changes → webhook_events → NOTIFY) and
-- count it in topic_days and entity_days (README "Architecture").
INSERT INTO signals (
    article_id, content_hash, prompt_version, title, summary, eli5, analysis, impact,
    optimistic_outlook, pessimistic_outlook, key_details, grounding_checked, grounding_grounded,
    model, input_tokens, output_tokens, llm_latency_ms, llm_attempts, sentiment,
    topic_ids, entity_ids,
    url, canonical_url, site_name, language, published_date, search,
    supplier_id, input_kind, author, image, word_count
)
SELECT
    :article_id, :content_hash, :prompt_version, :title, :summary, :eli5, :analysis, :impact,
    :optimistic_outlook, :pessimistic_outlook, :key_details, :grounding_checked, :grounding_grounded,
    :model, :input_tokens, :output_tokens, :llm_latency_ms, :llm_attempts, :sentiment,
    :topic_ids::bigint[], :entity_ids::bigint[],
    a.url, a.canonical_url, a.site_name, a.language, a.published_date,
    -- weights: headline A, claim and key facts B, analysis C, article text D
    setweight(to_tsvector('english', :title), 'A')
    || setweight(to_tsvector('english', :summary || ' ' || :key_text), 'B')
    || setweight(to_tsvector('english', :analysis), 'C')
    || setweight(to_tsvector('english', left(a.text, 100000)), 'D'),
    -- the version's metadata and its supplier (NULL: fetched, public), as the article has them now
    a.supplier_id, a.input_kind, a.author, a.image, a.word_count
FROM articles a
WHERE a.id = :article_id
ON CONFLICT (article_id, content_hash, prompt_version) DO NOTHING
RETURNING id;

-- name: supersede_article_signals
-- Older signals of an article stop being current once a newer one exists.
UPDATE signals SET is_current = false
WHERE article_id = :article_id AND id <> :signal_id AND is_current;

-- name: resolve_topic_slugs
-- The topic each slug names, directly or through an alias (NULL: unknown slug).
SELECT input.slug, coalesce(t.id, al.topic_id) AS topic_id
FROM unnest(:slugs::text[]) AS input (slug)
LEFT JOIN topics t ON t.slug = input.slug
LEFT JOIN topic_aliases al ON al.alias = input.slug;

-- name: topics_with_slug_prefix
-- Existing topic slugs starting with a prefix: synonym candidates for a new slug.
SELECT id, slug FROM topics WHERE slug LIKE :prefix || '%' ORDER BY slug LIMIT 200;

-- name: insert_topic_alias
-- Records that a slug is another spelling of a topic.
INSERT INTO topic_aliases (alias, topic_id, source) VALUES (:alias, :topic_id, :source)
ON CONFLICT (alias) DO NOTHING;

-- name: upsert_topic
-- The id of the topic with this slug, creating it if needed.
INSERT INTO topics (slug, label) VALUES (:slug, :label)
ON CONFLICT (slug) DO UPDATE SET slug = EXCLUDED.slug
RETURNING id;

-- name: link_signal_topics
-- Links a stored signal to its topics (ids in the model's order; the signal carries them already).
INSERT INTO signal_topics (signal_id, topic_id, position)
SELECT :signal_id, topic_id, position
FROM unnest(:topic_ids::bigint[]) WITH ORDINALITY AS t (topic_id, position)
ON CONFLICT DO NOTHING;

-- name: insert_entities
-- Creates the entities not stored yet, in (type, key) order: every transaction takes new
-- names in the same order, so two signals naming the same new entities cannot deadlock.
-- Existing rows are left alone (no new row version, no lock held against other signals).
INSERT INTO entities (name, type, key)
SELECT name, type, key
FROM unnest(:names::text[], :types::text[], :keys::text[]) AS t (name, type, key)
ORDER BY type, key
ON CONFLICT (type, key) DO NOTHING;

-- name: entity_ids_for_keys
-- The ids of entities (stored by insert_entities just before, in its own statement so that
-- names another transaction committed meanwhile are seen), in the order given.
SELECT e.id
FROM unnest(:types::text[], :keys::text[]) WITH ORDINALITY AS t (type, key, position)
JOIN entities e USING (type, key)
ORDER BY t.position;

-- name: link_signal_entities
-- Links a stored signal to its entities (ids in the model's order; the signal carries them already).
INSERT INTO signal_entities (signal_id, entity_id, position)
SELECT :signal_id, entity_id, position
FROM unnest(:entity_ids::bigint[]) WITH ORDINALITY AS t (entity_id, position);

-- name: get_signal_cards
-- Signal cards (source, topics, entities, top related links) for the given ids that the reader
-- may see (signal_supplier_visible: another supplier's are left out), any order.
SELECT s.id, s.article_id, s.title, s.summary, s.eli5, s.analysis, s.impact,
       s.optimistic_outlook, s.pessimistic_outlook, s.key_details,
       s.grounding_checked, s.grounding_grounded, s.model, s.prompt_version,
       s.input_tokens, s.output_tokens, s.llm_latency_ms, s.llm_attempts, s.created_at,
       s.sentiment, s.story_id, s.is_current,
       -- the metadata of the version this signal analysed (the article holds only its newest)
       s.url, s.canonical_url, s.site_name, s.author, s.published_date, s.language, s.image,
       s.word_count, s.input_kind, s.supplier_id,
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
       ), '[]'::jsonb) AS entities,
       coalesce((
           -- the top related links, as the card's "related coverage"
           SELECT jsonb_agg(jsonb_build_object('id', r.id, 'title', r.title, 'url', r.url, 'reason', r.reason) ORDER BY r.score DESC)
           FROM (
               SELECT o.id, o.title, coalesce(o.canonical_url, o.url) AS url, sr.reason, sr.score
               FROM signal_related sr JOIN signals o ON o.id = sr.related_id
               -- related coverage is public signals only (relating links nothing else)
               WHERE sr.signal_id = s.id AND o.is_current AND o.supplier_id IS NULL
                 -- a topic-restricted key sees related signals on its topics only
                 AND (:restrict_topics::bigint[] IS NULL OR o.topic_ids && :restrict_topics::bigint[])
               ORDER BY sr.score DESC, sr.related_id
               LIMIT 5
           ) r
       ), '[]'::jsonb) AS related
FROM signals s
WHERE s.id = ANY(:ids::uuid[])
  -- include: signal_supplier_visible
;

-- name: signal_has_any_topic
-- Whether a signal the reader may see (signal_supplier_visible) carries at least one of the
-- given topics (topic-restricted keys).
SELECT EXISTS (
    SELECT 1 FROM signals s
    WHERE s.id = :id AND s.topic_ids && :topic_ids::bigint[]
      -- include: signal_supplier_visible
);

-- name: article_has_signal_on_topics
-- Whether the signal of the article's text as stored now carries one of the given topics: a
-- topic-restricted key reads an article only when it may see the analysis of that very text
-- (an older version on its topics does not open a newer text that is not).
SELECT EXISTS (
    SELECT 1
    FROM articles a
    JOIN signals s ON s.article_id = a.id AND s.content_hash = a.content_hash
    WHERE a.id = :id AND s.topic_ids && :topic_ids::bigint[]
);

-- name: make_signal_current
-- An article's older version answered again (its page changed back): that signal becomes
-- current and the one current until now stops being it; returns the stories either is in.
-- signals_log_restore logs it as updated (→ webhook_events → NOTIFY; README "Architecture").
WITH target AS (
    -- the older version, unless it is current already
    UPDATE signals SET is_current = true WHERE id = :signal_id AND NOT is_current
    RETURNING article_id, story_id
), demoted AS (
    -- the version current until now
    UPDATE signals s SET is_current = false
    FROM target
    WHERE s.article_id = target.article_id AND s.id <> :signal_id AND s.is_current
    RETURNING s.story_id
)
SELECT story_id FROM target WHERE story_id IS NOT NULL
UNION
SELECT story_id FROM demoted WHERE story_id IS NOT NULL;
