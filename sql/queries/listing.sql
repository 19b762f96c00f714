-- fragment: signal_filters
-- The list filters of GET /v1/signals on signals s other than topic and entity ids (every
-- one optional: "IS NULL OR ..."; custom plans fold the unused ones away), shared by every
-- list page so that a filter means the same in every sort.
AND (NOT :collapse::boolean OR s.is_story_lead)
AND (:source::text IS NULL OR s.site_name = :source::text)
AND (:lang::text IS NULL OR s.language = :lang::text)
AND (:story::uuid IS NULL OR s.story_id = :story::uuid)
AND (:since_created::timestamptz IS NULL OR s.created_at >= :since_created::timestamptz)
AND (:until_created::timestamptz IS NULL OR s.created_at < :until_created::timestamptz)
AND (:since_published::date IS NULL OR s.published_date >= :since_published::date)
AND (:until_published::date IS NULL OR s.published_date <= :until_published::date)
-- include: signal_supplier_visible

-- fragment: signal_supplier_visible
-- A signal s its reader may see by its supplier (service/keys/suppliers.py): fetched content
-- (NULL), the reader's own supplied content, or every signal for an admin. Custom plans fold
-- it to "s.supplier_id IS NULL" for a keyless reader, to "(s.supplier_id IS NULL OR
-- s.supplier_id = $n)" for a partner's key, and away for an admin's.
AND (:all_suppliers::boolean OR s.supplier_id IS NULL OR s.supplier_id = :reader_supplier::uuid)

-- fragment: signal_id_filters
-- The topic and entity filters (and a key's topic restriction), which the topic and entity
-- GIN indexes may serve, and with :q the text and filters index (words, topics and entities
-- looked up in one scan): for the newest-first page and the text-only relevance tier.
AND (:restrict_topics::bigint[] IS NULL OR s.topic_ids && :restrict_topics::bigint[])
AND (:topic_any::bigint[] IS NULL OR s.topic_ids && :topic_any::bigint[])
AND (:topic_all::bigint[] IS NULL OR s.topic_ids @> :topic_all::bigint[])
AND (:entity_ids::bigint[] IS NULL OR s.entity_ids @> :entity_ids::bigint[])

-- fragment: signal_id_filters_by_row
-- The same filters for the ranked relevance tiers, checked on the rows their text index finds
-- and never driving the plan ("|| '{}'" makes each an expression no index covers; the result
-- is the same; tests/unit/test_listing_sql.py holds the two fragments alike). PostgreSQL
-- prices a big topic's GIN bitmap far below its cost (a topic on 19 % of a million signals:
-- costed as a few ms, 73 ms to build) and paired it with the headline index: 80 ms, where
-- the headline matches alone, filtered row by row, take 14.
AND (:restrict_topics::bigint[] IS NULL OR (s.topic_ids || '{}'::bigint[]) && :restrict_topics::bigint[])
AND (:topic_any::bigint[] IS NULL OR (s.topic_ids || '{}'::bigint[]) && :topic_any::bigint[])
AND (:topic_all::bigint[] IS NULL OR (s.topic_ids || '{}'::bigint[]) @> :topic_all::bigint[])
AND (:entity_ids::bigint[] IS NULL OR (s.entity_ids || '{}'::bigint[]) @> :entity_ids::bigint[])

-- fragment: item_labels
-- A list item's topic and entity labels in the model's order, looked up by primary key
-- (columns of a select list over signals s; shared by every list page).
(SELECT coalesce(jsonb_agg(jsonb_build_object('slug', t.slug, 'label', t.label)
                           ORDER BY array_position(s.topic_ids, t.id)), '[]')
 FROM topics t WHERE t.id = ANY(s.topic_ids)) AS topics,
(SELECT coalesce(jsonb_agg(jsonb_build_object('id', e.id, 'name', e.name, 'type', e.type)
                           ORDER BY array_position(s.entity_ids, e.id)), '[]')
 FROM entities e WHERE e.id = ANY(s.entity_ids)) AS entities

-- name: list_signals_newest
-- A page of current signals, newest first, after a (created_at, id) keyset position.
-- Every filter is optional ("IS NULL OR ..."): custom plans fold the unused ones away.
WITH page_ids AS (
    -- the page's keys only: signals_current_feed_idx carries every filter column but q, so
    -- this is an index-only walk in created_at order; wide rows are read for 21 ids only
    SELECT s.created_at, s.id
    FROM signals s
    WHERE s.is_current
      -- include: signal_id_filters
      -- include: signal_filters
      AND (:q::text IS NULL OR s.search @@ signal_search_query(:q::text))
      AND (:after_created::timestamptz IS NULL
           OR (s.created_at, s.id) < (:after_created::timestamptz, :after_id::uuid))
    ORDER BY s.created_at DESC, s.id DESC
    LIMIT :limit
)
SELECT
       -- include: item_columns
       NULL::real AS rank,
       -- include: item_labels
FROM page_ids p
JOIN signals s ON s.id = p.id
ORDER BY p.created_at DESC, p.id DESC;

-- fragment: item_columns
-- A list item's own columns over signals s (its rank and labels follow), shared by every list page.
s.id, s.title, s.summary, s.created_at, s.published_date, s.site_name,
coalesce(s.canonical_url, s.url) AS url, s.language, s.sentiment, s.story_id,
s.topic_ids, s.entity_ids, s.article_id,

-- name: list_signals_relevance_ranked
-- sort=relevance, a ranked tier, best ts_rank_cd over the card words first. :tier 2: current
-- signals whose headline carries :q (the weight-A part of search_head, found through
-- signals_headline_idx); :tier 1: those whose summary or key details carry it but whose
-- headline does not (found through signals_search_head_idx). :tier is a constant in each
-- custom plan, so the other tier's condition folds away. For a common word the headlines are
-- a tenth of the cards that carry it, so a first page ranks a tenth as many rows; the lower
-- tiers run only when the higher one cannot fill the page.
-- signal_search_query (migration 0016: websearch_to_tsquery, each word of a plain AND once)
-- is written inline, not in a CTE: planned per execution, it folds to a constant whose words
-- the planner finds in the column statistics.
WITH page_keys AS (
    SELECT s.id, s.created_at, ts_rank_cd(s.search_head, signal_search_query(:q::text)) AS rank
    FROM signals s
    WHERE s.is_current
      AND (:tier::int = 1 OR ts_filter(s.search_head, '{a}') @@ signal_search_query(:q::text))
      AND (:tier::int = 2
           OR (s.search_head @@ signal_search_query(:q::text)
               -- "not in the headline", asked of the vector as stored: the query with every
               -- word restricted to weight A ('debat':A) means what ts_filter(.., '{a}') @@
               -- means, without building a filtered copy of each of a common word's ~16 000
               -- card vectors (15% of this tier's time at 1M signals). The rewrite is of the
               -- query's text form, where each lexeme is one quoted string; it folds to a
               -- constant in the custom plan.
               AND NOT (s.search_head @@ regexp_replace(
                   signal_search_query(:q::text)::text, '(''(?:[^'']|'''')*'')', '\1:A', 'g'
               )::tsquery)))
      -- without negation, matching the card's words implies matching the full vector
      -- (search_head is a subset of it, positions kept): no need to read that one
      AND (strpos(signal_search_query(:q::text)::text, '!') = 0
           OR s.search @@ signal_search_query(:q::text))
      -- include: signal_id_filters_by_row
      -- include: signal_filters
      -- the keyset position, when the page continues inside this tier
      AND (:after_id::uuid IS NULL
           OR (ts_rank_cd(s.search_head, signal_search_query(:q::text)), s.created_at, s.id)
              < (:after_rank::real, :after_created::timestamptz, :after_id::uuid))
    ORDER BY rank DESC, s.created_at DESC, s.id DESC
    LIMIT :limit
)
SELECT
       -- include: item_columns
       p.rank, :tier::int AS tier,
       -- include: item_labels
FROM page_keys p
JOIN signals s ON s.id = p.id
ORDER BY p.rank DESC, p.created_at DESC, p.id DESC;

-- name: list_signals_relevance_text
-- sort=relevance, tier 0 of 3: current signals matching :q only in the analysis or article
-- text, newest first (rank 0): the same walk as a newest-first search.
WITH page_keys AS (
    SELECT s.id, s.created_at
    FROM signals s
    WHERE s.is_current
      AND s.search @@ signal_search_query(:q::text)
      AND NOT (s.search_head @@ signal_search_query(:q::text))
      -- include: signal_id_filters
      -- include: signal_filters
      AND (:after_id::uuid IS NULL
           OR (s.created_at, s.id) < (:after_created::timestamptz, :after_id::uuid))
    ORDER BY s.created_at DESC, s.id DESC
    LIMIT :limit
)
SELECT
       -- include: item_columns
       0::real AS rank, 0 AS tier,
       -- include: item_labels
FROM page_keys p
JOIN signals s ON s.id = p.id
ORDER BY p.created_at DESC, p.id DESC;

-- name: search_snippets
-- Highlighted fragments of the card text for a page of search results (only the page: ts_headline re-parses text).
SELECT s.id,
       ts_headline(
           'english',
           s.summary || ' ' || coalesce((SELECT string_agg(d ->> 'text', ' ') FROM jsonb_array_elements(s.key_details) d), '')
               || ' ' || s.analysis,
           signal_search_query(:q::text),
           -- private-use characters mark matches; Python escapes the text, then turns them into <mark>
           'StartSel=' || chr(57344) || ', StopSel=' || chr(57345) || ', MaxFragments=2, MaxWords=28, MinWords=12, FragmentDelimiter=" … "'
       ) AS snippet
FROM signals s
WHERE s.id = ANY(:ids::uuid[]);

-- name: existing_entity_ids
-- Which of the given entity ids exist for the reader: one only its own supplied signals may
-- name is unknown to others (entity_known_to_reader); with :restrict_topics (a
-- topic-restricted key's topics) only those a current signal on one of them, visible to the
-- reader, names: the others do not exist for that key.
SELECT en.id FROM entities en
WHERE en.id = ANY(:ids::bigint[])
  -- include: entity_known_to_reader
  AND (:restrict_topics::bigint[] IS NULL OR EXISTS (
      -- one probe of the entity_ids GIN index per entity, as entity_named_on_topics
      SELECT 1 FROM signals s
      WHERE s.is_current AND s.entity_ids @> ARRAY[en.id] AND s.topic_ids && :restrict_topics::bigint[]
        -- include: signal_supplier_visible
  ));

-- fragment: entity_known_to_reader
-- An entity en the reader may know exists: one a fetched (public) signal has named (migration
-- 0026), any for an admin, else one a signal of the reader's own supplied content names (read
-- through signals_supplier_idx: a supplier's own signals only).
AND (:all_suppliers::boolean OR en.is_public OR EXISTS (
    SELECT 1 FROM signals o
    WHERE o.supplier_id = :reader_supplier::uuid AND o.entity_ids @> ARRAY[en.id]
))
