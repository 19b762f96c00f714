-- name: get_signal_for_relating
-- One signal as relating needs it: card text and trigrams, entity keys and names, topic labels,
-- story, supplier.
SELECT s.id, s.article_id, s.content_hash, s.is_current, s.created_at, s.published_date,
       s.story_id, s.title, s.summary, s.supplier_id, s.card_trigrams,
       coalesce((SELECT array_agg(d ->> 'text') FROM jsonb_array_elements(s.key_details) d), '{}') AS key_texts,
       coalesce(topics.ids, '{}') AS topic_label_ids, coalesce(topics.labels, '{}') AS topic_labels,
       coalesce((SELECT array_agg(e.key ORDER BY array_position(s.entity_ids, e.id)) FROM entities e WHERE e.id = ANY(s.entity_ids)), '{}') AS entity_keys,
       coalesce((SELECT array_agg(e.name ORDER BY array_position(s.entity_ids, e.id)) FROM entities e WHERE e.id = ANY(s.entity_ids)), '{}') AS entity_names
FROM signals s
LEFT JOIN LATERAL (
    -- topic ids and labels in the model's order (labels are embedded with the card)
    SELECT array_agg(t.id ORDER BY st.position) AS ids, array_agg(t.label ORDER BY st.position) AS labels
    FROM signal_topics st JOIN topics t ON t.id = st.topic_id
    WHERE st.signal_id = s.id
) topics ON true
WHERE s.id = :id;

-- name: signal_embedding_exists
-- Whether the signal already has an embedding from this model and size (a retried job skips the call).
SELECT EXISTS (
    SELECT 1 FROM signal_embeddings WHERE signal_id = :signal_id AND model = :model AND dims = :dims
);

-- name: upsert_signal_embedding
-- Stores a signal's embedding (pgvector text form), replacing one from another model.
INSERT INTO signal_embeddings (signal_id, model, dims, embedding)
VALUES (:signal_id, :model, :dims, :embedding::text::vector)
ON CONFLICT (signal_id) DO UPDATE
SET model = EXCLUDED.model, dims = EXCLUDED.dims, embedding = EXCLUDED.embedding, created_at = now();

-- name: lock_embedding_index
-- Serialises index creation between processes starting at once (held to the end of the transaction).
SELECT pg_advisory_xact_lock(hashtext('signals.embedding_index'));

-- name: create_embedding_index
-- TEMPLATE: {dims} is replaced by a validated integer. An HNSW index for one embedding size:
-- the column is an untyped vector (models differ), so the index is on a typed cast, partial on dims.
CREATE INDEX IF NOT EXISTS signal_embeddings_hnsw_{dims} ON signal_embeddings
USING hnsw ((embedding::vector({dims})) vector_cosine_ops) WITH (m = 16, ef_construction = 128) WHERE dims = {dims};

-- name: set_vector_search_options
-- For this transaction: search wider than hnsw's default 40 and keep scanning when the model filter drops rows.
SELECT set_config('hnsw.ef_search', :ef_search, true), set_config('hnsw.iterative_scan', 'strict_order', true);

-- name: nearest_signals_by_embedding
-- TEMPLATE: {dims} is replaced by a validated integer. The :k signals closest in meaning to
-- :signal_id, by the HNSW index of that size (same cast expression and dims predicate as the index);
-- public ones only, as every candidate of relating (supplied content is its supplier's alone:
-- it joins no story and no other signal links to it).
SELECT n.signal_id, 1 - n.distance AS cosine
FROM (
    -- the index scan: ordered by distance, limited before any join
    SELECT e.signal_id,
           e.embedding::vector({dims}) <=> (
               SELECT t.embedding::vector({dims}) FROM signal_embeddings t WHERE t.signal_id = :signal_id
           ) AS distance
    FROM signal_embeddings e
    WHERE e.dims = {dims} AND e.model = :model
    ORDER BY distance
    LIMIT :k
) n
JOIN signals s ON s.id = n.signal_id
WHERE s.is_current AND s.id <> :signal_id AND s.supplier_id IS NULL
-- Sorted again on the exact distance: the index orders by its own copy of each vector
-- (normalised, single precision), which can swap neighbours ~1e-7 apart. Ordering by the
-- expression the index provides would let the planner trust that order; this sorts <= :k rows.
ORDER BY cosine DESC, n.signal_id;

-- name: entity_spellings
-- Every entity row spelled like one of the keys (the model may type one name differently),
-- with how many current signals name it: the rarity behind entity weights. Summed from the
-- daily counts (migration 0017), a few hundred rows a name, where counting the signals
-- themselves read every one naming it: 4 s a relate step for the commonest names of a
-- million signals (bench/relate.py).
SELECT e.id, e.key, coalesce(sum(d.signals), 0)::bigint AS signals
FROM entities e
LEFT JOIN entity_days d ON d.entity_id = e.id
WHERE e.type IN ('person', 'organization', 'product', 'place') AND e.key = ANY(:keys::text[])
GROUP BY e.id, e.key;

-- name: signals_sharing
-- TEMPLATE: {ids} is entity_ids or topic_ids (service/stories/candidates.py sets it).
-- Current public signals naming any of these entities or on any of these topics, best first: the
-- weights of the keys they share (:ids[i] is spelled :keys[i], weighing :weights[i]; a name
-- counts once however many of its spellings a signal names), then the newest. Every signal
-- with one of :read_all is read; of those with one of :newest_of (common names, big topics:
-- split_by_reach), only the :newest newest, walked on signals_current_feed_idx. Reading every
-- signal of a common name or big topic and counting them took 2.0 s p50 / 4.9 s p99 (names)
-- and 0.6 s / 1.1 s (topics) a relate step at a million signals (bench/relate.py).
WITH spelled AS (
    SELECT * FROM unnest(:ids::bigint[], :keys::text[], :weights::float8[]) AS sp (id, key, weight)
), found AS (
    SELECT s.id, s.created_at, s.{ids} AS ids
    FROM signals s
    WHERE s.is_current AND s.{ids} && :read_all::bigint[] AND s.id <> :signal_id AND s.supplier_id IS NULL
    UNION
    (
        SELECT s.id, s.created_at, s.{ids}
        FROM signals s
        WHERE cardinality(:newest_of::bigint[]) > 0
          AND s.is_current AND s.{ids} && :newest_of::bigint[] AND s.id <> :signal_id
          AND s.supplier_id IS NULL
        ORDER BY s.created_at DESC, s.id DESC
        LIMIT :newest
    )
)
SELECT f.id AS signal_id, sum(m.weight::numeric) AS weight  -- exact: equal sets tie, then newest
FROM found f
CROSS JOIN LATERAL (SELECT DISTINCT sp.key, sp.weight FROM spelled sp WHERE sp.id = ANY(f.ids)) m
GROUP BY f.id
ORDER BY weight DESC, max(f.created_at) DESC, f.id
LIMIT :k;

-- name: signals_sharing_entities_within
-- signals_sharing_entities within a window (the story search's: a signal more than the
-- story window away from the subject cannot join its story, service/stories/matching.py).
-- The window's current public signals are walked on signals_current_feed_idx, which carries
-- entity_ids and supplier_id (a few thousand rows at a million signals over two years); the weights are summed
-- from the daily counts. Left to itself the planner reads the GIN index of entity_ids: every
-- signal naming a common name, then filtered on the window: 2.1 s p50 / 4.0 s p99 a step at a
-- million signals, as it was before (bench/relate.py).
WITH spellings AS (
    SELECT e.id, e.key
    FROM entities e
    WHERE e.type IN ('person', 'organization', 'product', 'place') AND e.key = ANY(:keys::text[])
), weights AS (
    -- rarer names weigh more: 1 / number of current signals naming them
    SELECT sp.key, 1.0 / greatest(sum(d.signals), 1) AS weight
    FROM spellings sp JOIN entity_days d ON d.entity_id = sp.id
    GROUP BY sp.key
), recent AS MATERIALIZED (
    SELECT s.id, s.created_at, s.entity_ids
    FROM signals s
    WHERE s.is_current AND s.created_at >= :since::timestamptz AND s.created_at <= :until::timestamptz
      AND s.supplier_id IS NULL
), sharing AS (
    -- one row per (signal, shared key)
    SELECT DISTINCT r.id, r.created_at, sp.key
    FROM recent r JOIN spellings sp ON sp.id = ANY(r.entity_ids)
    WHERE r.id <> :signal_id
)
SELECT sh.id AS signal_id, sum(w.weight) AS weight
FROM sharing sh JOIN weights w USING (key)
GROUP BY sh.id
ORDER BY weight DESC, max(sh.created_at) DESC
LIMIT :k;

-- name: signals_with_similar_text
-- Current public signals whose headline, claim or key facts (search_head: weights A and B) share the
-- text's distinctive words, best first. Words are taken rarest first, by the planner's
-- statistics of search_head (a word it does not list as common counts as its least common
-- one), while the share of signals they may match together stays within :max_share; the
-- rarest is always taken. Every word of a headline and claim, common ones included, matched
-- most of a million signals and ranked their full TOASTed vectors: 18 s a relate step
-- (bench/relate.py). Without statistics (a young database) every word is taken, as before.
WITH stats AS (
    SELECT e.lexeme, e.freq
    FROM pg_stats p,
         unnest(p.most_common_elems::text::text[], p.most_common_elem_freqs) AS e (lexeme, freq)
    WHERE p.schemaname = current_schema() AND p.tablename = 'signals' AND p.attname = 'search_head'
      AND e.lexeme IS NOT NULL
), least_common AS (
    SELECT min(freq) AS freq FROM stats
), words AS (
    SELECT w.lexeme, coalesce(st.freq, lc.freq, 0) AS freq
    FROM unnest(tsvector_to_array(to_tsvector('english', :text))) AS w (lexeme)
    CROSS JOIN least_common lc
    LEFT JOIN stats st USING (lexeme)
), taken AS (
    SELECT lexeme, sum(freq) OVER (ORDER BY freq, lexeme) AS share,
           row_number() OVER (ORDER BY freq, lexeme) AS rarest
    FROM words
), query AS (
    SELECT string_agg(quote_literal(lexeme), ' | ')::tsquery AS tsq
    FROM taken
    WHERE share <= :max_share OR rarest = 1
)
SELECT s.id AS signal_id, ts_rank(s.search_head, query.tsq) AS weight
FROM signals s, query
WHERE s.search_head @@ query.tsq AND s.is_current AND s.id <> :signal_id AND s.supplier_id IS NULL
ORDER BY weight DESC
LIMIT :k;

-- name: related_candidate_features
-- What scoring needs of each candidate (public ones only): identity, story, entity keys, topics,
-- card trigrams (the service compares wording: service/similarity/wording.py) and meaning similarity.
WITH me AS (
    -- the embedding of the signal being related, if any
    SELECT e.model, e.dims, e.embedding
    FROM signals s LEFT JOIN signal_embeddings e ON e.signal_id = s.id
    WHERE s.id = :signal_id
)
SELECT s.id, s.article_id, s.content_hash, s.story_id, s.created_at, s.published_date, s.title,
       coalesce(s.canonical_url, s.url) AS url, s.topic_ids, s.card_trigrams,
       coalesce((SELECT array_agg(e.key) FROM entities e WHERE e.id = ANY(s.entity_ids)), '{}') AS entity_keys,
       CASE WHEN oe.model = me.model AND oe.dims = me.dims
            THEN 1 - (oe.embedding <=> me.embedding) END AS cosine
FROM signals s
CROSS JOIN me
LEFT JOIN signal_embeddings oe ON oe.signal_id = s.id
WHERE s.id = ANY(:ids::uuid[]) AND s.is_current AND s.id <> :signal_id AND s.supplier_id IS NULL;

-- name: topic_frequencies
-- How many current signals carry each topic: the rarity behind topic weights, from the daily
-- counts (a third of a million signals for the biggest topic, counted in 1 s before).
SELECT topic_id, sum(signals)::bigint AS signals
FROM topic_days
WHERE topic_id = ANY(:topic_ids::bigint[])
GROUP BY topic_id;

-- name: topic_labels_by_id
-- Labels of the given topics, for reasons.
SELECT id, label FROM topics WHERE id = ANY(:ids::bigint[]);

-- name: current_signal_estimate
-- About how many current signals exist (exact up to 10 000, the planner's estimate beyond).
SELECT greatest(
    (SELECT count(*) FROM (SELECT 1 FROM signals WHERE is_current LIMIT 10000) AS capped),
    (SELECT reltuples::bigint FROM pg_class WHERE oid = 'signals'::regclass)
);

-- name: lock_related_writes
-- Serialises writes to related lists, so concurrent jobs trimming the same list cannot deadlock.
SELECT pg_advisory_xact_lock(hashtext('signals.related'));

-- name: delete_related_of_signal
-- Drops a signal's own related list before it is written again.
DELETE FROM signal_related WHERE signal_id = :signal_id;

-- name: upsert_related_links
-- Stores related links (one row per pair and direction); a retried job updates instead of duplicating.
INSERT INTO signal_related (signal_id, related_id, score, reason, same_story)
SELECT * FROM unnest(:signal_ids::uuid[], :related_ids::uuid[], :scores::real[], :reasons::text[], :same_story::boolean[])
ON CONFLICT (signal_id, related_id) DO UPDATE
SET score = EXCLUDED.score, reason = EXCLUDED.reason, same_story = EXCLUDED.same_story, created_at = now();

-- name: delete_links_to_other_versions
-- Links to older versions of an article free their place (the new version is linked instead).
DELETE FROM signal_related
WHERE related_id IN (SELECT id FROM signals WHERE article_id = :article_id AND id <> :signal_id);

-- name: trim_related_lists
-- Keeps only the :keep best links in each of the given signals' lists.
DELETE FROM signal_related sr
USING (
    -- rank every link of those lists, best first
    SELECT signal_id, related_id,
           row_number() OVER (PARTITION BY signal_id ORDER BY score DESC, related_id) AS position
    FROM signal_related
    WHERE signal_id = ANY(:signal_ids::uuid[])
) ranked
WHERE sr.signal_id = ranked.signal_id AND sr.related_id = ranked.related_id AND ranked.position > :keep;

-- name: mark_signal_related
-- Records when a signal's embedding, story and related links were last computed.
UPDATE signals SET related_at = now() WHERE id = :signal_id;

-- name: signal_is_known
-- Whether a signal exists for the reader (404 otherwise): another supplier's does not.
SELECT EXISTS (
    SELECT 1 FROM signals s
    WHERE s.id = :id
      -- include: signal_supplier_visible
);

-- name: list_related_signals
-- A signal's stored related links, best first, current public signals only (the related list
-- endpoint); with :restrict_topics, only those carrying one of them (topic-restricted keys).
-- Nothing when the reader may not see the signal itself (another supplier's).
-- A signal has tens of links: walk them in rank order and read each row by primary key.
-- OFFSET 0 keeps the planner from flattening the lateral read into a join that scans the
-- topic index of all signals (it did, for a restricted key, under SSD page costs).
SELECT o.id, o.title, o.url, o.site_name, o.published_date,
       o.created_at, o.story_id, sr.score, sr.reason, sr.same_story
FROM signal_related sr
CROSS JOIN LATERAL (
    SELECT s.id, s.title, coalesce(s.canonical_url, s.url) AS url, s.site_name, s.published_date,
           s.created_at, s.story_id
    FROM signals s
    WHERE s.id = sr.related_id AND s.is_current AND s.supplier_id IS NULL
      AND (:restrict_topics::bigint[] IS NULL OR s.topic_ids && :restrict_topics::bigint[])
    OFFSET 0
) o
WHERE sr.signal_id = :signal_id
  AND (:all_suppliers::boolean OR EXISTS (
      -- the signal itself, by primary key: the reader's to see
      SELECT 1 FROM signals m
      WHERE m.id = :signal_id
        AND (m.supplier_id IS NULL OR m.supplier_id = :reader_supplier::uuid)
  ))
ORDER BY sr.score DESC, sr.related_id
LIMIT :limit;

-- name: signals_to_reembed
-- Current signals without an embedding from :model at :dims, after :after_id (keyset, by
-- id), with what their card text is made of: `signals reembed` after a model change.
SELECT s.id, s.title, s.summary,
       coalesce((SELECT array_agg(d ->> 'text') FROM jsonb_array_elements(s.key_details) d), '{}') AS key_texts,
       coalesce((SELECT array_agg(t.label ORDER BY st.position)
                 FROM signal_topics st JOIN topics t ON t.id = st.topic_id
                 WHERE st.signal_id = s.id), '{}') AS topic_labels
FROM signals s
WHERE s.is_current
  AND (:after_id::uuid IS NULL OR s.id > :after_id::uuid)
  AND NOT EXISTS (
      SELECT 1 FROM signal_embeddings e
      WHERE e.signal_id = s.id AND e.model = :model AND e.dims = :dims
  )
ORDER BY s.id
LIMIT :limit;

-- name: count_signals_to_reembed
-- How many current signals lack an embedding from :model at :dims.
SELECT count(*)
FROM signals s
WHERE s.is_current
  AND NOT EXISTS (
      SELECT 1 FROM signal_embeddings e
      WHERE e.signal_id = s.id AND e.model = :model AND e.dims = :dims
  );
