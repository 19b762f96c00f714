-- name: count_entities_by_count
-- A page of entities by current public signals in [since, until), most first; optionally one
-- type or names matching q. The window comes as DayPieces (service/time_window.py): whole days
-- from the daily counts, partial days from the signals. Public signals only, as the daily
-- counts (migration 0026): an entity only supplied signals name is never listed.
WITH hits AS (
    SELECT d.entity_id, d.signals AS n
    FROM unnest(:day_from::date[], :day_to::date[]) AS r (day_from, day_to)
    JOIN entity_days d ON d.day >= r.day_from AND d.day < r.day_to
    UNION ALL
    SELECT e.entity_id, 1
    FROM unnest(:raw_from::timestamptz[], :raw_to::timestamptz[]) AS r (raw_from, raw_to)
    JOIN signals s ON s.is_current AND s.created_at >= r.raw_from AND s.created_at < r.raw_to
        AND s.supplier_id IS NULL
    CROSS JOIN LATERAL unnest(s.entity_ids) AS e (entity_id)
), counted AS (
    SELECT entity_id, sum(n) AS count
    FROM hits
    GROUP BY entity_id
    HAVING sum(n) > 0
)
-- include: entity_count_page

-- name: count_entities_on_topics
-- The same page counted from the current public signals in [since, until) on one of :topic_any (the
-- topic filter) and on one of :restrict_topics (a topic-restricted key's topics); either may be
-- NULL, not both. The daily counts cannot tell which of an entity's signals carry a topic. The
-- bounds are plain values, not DayPieces arrays, so the planner sees the window and the
-- topics and chooses: a small topic's signals through its GIN index, a big one's by walking
-- signals_current_feed_idx over the window (it carries topic_ids and entity_ids). Behind the
-- arrays it always walked the window: a year for a topic on 1.3 % of a million signals took
-- 149 ms, 28 now (bench/README.md, "Daily counts").
WITH counted AS (
    SELECT e.entity_id, count(*) AS count
    FROM signals s
    CROSS JOIN LATERAL unnest(s.entity_ids) AS e (entity_id)
    WHERE s.is_current AND s.supplier_id IS NULL
      -- include: entity_signal_topics
      AND s.created_at >= :since::timestamptz AND s.created_at < :until::timestamptz
    GROUP BY e.entity_id
)
-- include: entity_count_page

-- fragment: entity_signal_topics
-- A signal s of the entity listings: on one of the requested topics (GET /v1/entities?topic=)
-- and on one of the key's topics (a topic-restricted key), each when given; as
-- GET /v1/signals combines topic and a key's restriction.
AND (:topic_any::bigint[] IS NULL OR s.topic_ids && :topic_any::bigint[])
AND (:restrict_topics::bigint[] IS NULL OR s.topic_ids && :restrict_topics::bigint[])

-- fragment: entity_count_page
-- The page of entities over ``counted (entity_id, count)``: one type or names matching q, most
-- first after a (count, id) position.
SELECT en.id, en.name, en.type, c.count
FROM counted c
JOIN entities en ON en.id = c.entity_id
WHERE (:type::text IS NULL OR en.type = :type::text)
  AND (:q::text IS NULL OR en.name ILIKE :prefix::text OR :q::text <% en.name)
  AND (:after_count::bigint IS NULL
       OR c.count < :after_count::bigint
       OR (c.count = :after_count::bigint AND en.id > :after_id::bigint))
ORDER BY c.count DESC, en.id
LIMIT :limit;

-- name: list_entities_by_name
-- A page of entities in name order (optionally one type or names matching q), after a (name, id) position,
-- that the reader may know (entity_known_to_reader); with :topic_any and / or :restrict_topics,
-- only entities named by a current signal visible to the reader on one of each
-- (entity_signal_topics).
SELECT en.id, en.name, en.type
FROM entities en
WHERE (:type::text IS NULL OR en.type = :type::text)
  -- include: entity_known_to_reader
  AND (:q::text IS NULL OR en.name ILIKE :prefix::text OR :q::text <% en.name)
  AND (:after_name::text IS NULL OR (en.name, en.id) > (:after_name::text, :after_id::bigint))
  AND ((:restrict_topics::bigint[] IS NULL AND :topic_any::bigint[] IS NULL) OR EXISTS (
      -- one probe of the entity_ids GIN index per candidate
      SELECT 1 FROM signals s
      WHERE s.is_current AND s.entity_ids @> ARRAY[en.id]
        -- include: entity_signal_topics
        -- include: signal_supplier_visible
  ))
ORDER BY en.name, en.id
LIMIT :limit;

-- name: search_entities
-- A page of entities matching q (name prefix or trigram word similarity, pg_trgm index) that the
-- reader may know (entity_known_to_reader), best first; with :topic_any and / or
-- :restrict_topics, only entities named by a current signal visible to the reader on one of
-- each (entity_signal_topics).
WITH scored AS (
    -- a name that starts with q outranks any fuzzy match; similarity orders the rest
    SELECT en.id, en.name, en.type,
           ((en.name ILIKE :prefix::text)::int + word_similarity(:q::text, en.name))::float8 AS score
    FROM entities en
    WHERE (:type::text IS NULL OR en.type = :type::text)
      AND (en.name ILIKE :prefix::text OR :q::text <% en.name)
      -- include: entity_known_to_reader
      AND ((:restrict_topics::bigint[] IS NULL AND :topic_any::bigint[] IS NULL) OR EXISTS (
          SELECT 1 FROM signals s
          WHERE s.is_current AND s.entity_ids @> ARRAY[en.id]
            -- include: entity_signal_topics
            -- include: signal_supplier_visible
      ))
)
SELECT id, name, type, score
FROM scored
WHERE :after_score::float8 IS NULL
   OR score < :after_score::float8
   OR (score = :after_score::float8 AND id > :after_id::bigint)
ORDER BY score DESC, id
LIMIT :limit;

-- name: entity_window_counts
-- Current public signals in [since, until) naming each of the given entities (one page's worth); with
-- :topic_any and / or :restrict_topics, only signals on one of each (entity_signal_topics).
SELECT e.entity_id AS id, count(*) AS count
FROM signals s
CROSS JOIN LATERAL unnest(s.entity_ids) AS e (entity_id)
WHERE s.is_current AND s.supplier_id IS NULL
  AND s.entity_ids && :ids::bigint[]
  AND s.created_at >= :since::timestamptz
  AND s.created_at < :until::timestamptz
  -- include: entity_signal_topics
  AND e.entity_id = ANY(:ids::bigint[])
GROUP BY e.entity_id;

-- name: get_entity_by_id
-- One entity, and whether the reader may know it exists (entity_known_to_reader: asked of
-- every entity, hidden or not, so a hidden one costs what a public one does).
SELECT en.id, en.name, en.type, en.created_at,
       (true
        -- include: entity_known_to_reader
       ) AS known
FROM entities en
WHERE en.id = :id::bigint;

-- name: entity_signal_counts
-- Current public signals naming an entity in the day, 7 and 30 days before :now (bounded by the window);
-- with :restrict_topics, only signals on one of those topics.
SELECT count(*) FILTER (WHERE created_at >= :now::timestamptz - interval '1 day') AS last_24h,
       count(*) FILTER (WHERE created_at >= :now::timestamptz - interval '7 days') AS last_7d,
       count(*) AS last_30d
FROM signals
WHERE is_current AND supplier_id IS NULL
  AND entity_ids @> ARRAY[:id::bigint]
  AND created_at >= :now::timestamptz - interval '30 days'
  AND created_at <= :now::timestamptz
  AND (:restrict_topics::bigint[] IS NULL OR topic_ids && :restrict_topics::bigint[]);

-- name: entity_cooccurrences
-- Entities and topics most often on an entity's newest :sample current public signals, and the sample's size;
-- with :restrict_topics, signals on one of those topics only.
WITH recent AS MATERIALIZED (
    -- a bounded sample, so a very common entity costs no more than a rare one
    SELECT s.entity_ids, s.topic_ids
    FROM signals s
    WHERE s.is_current AND s.supplier_id IS NULL AND s.entity_ids @> ARRAY[:id::bigint]
      AND (:restrict_topics::bigint[] IS NULL OR s.topic_ids && :restrict_topics::bigint[])
    ORDER BY s.created_at DESC, s.id DESC
    LIMIT :sample
), co_entities AS (
    -- shared signals per other entity
    SELECT x.id, count(*) AS count
    FROM recent
    CROSS JOIN LATERAL unnest(recent.entity_ids) AS x (id)
    WHERE x.id <> :id::bigint
    GROUP BY x.id
    ORDER BY count DESC, x.id
    LIMIT :limit
), co_topics AS (
    -- signals per topic
    SELECT x.id, count(*) AS count
    FROM recent
    CROSS JOIN LATERAL unnest(recent.topic_ids) AS x (id)
    GROUP BY x.id
    ORDER BY count DESC, x.id
    LIMIT :limit
)
-- one result: kind says which list a row belongs to; name/detail are name/type or slug/label
SELECT 'entity' AS kind, en.id, en.name, en.type AS detail, c.count
FROM co_entities c JOIN entities en ON en.id = c.id
UNION ALL
SELECT 'topic', t.id, t.slug, t.label, c.count
FROM co_topics c JOIN topics t ON t.id = c.id
UNION ALL
SELECT 'sample', NULL, NULL, NULL, count(*)
FROM recent
ORDER BY kind, count DESC, name;

-- name: entity_named_on_topics
-- Whether a current signal on one of the given topics, visible to the reader, names the entity
-- (topic-restricted keys see only such entities).
SELECT EXISTS (
    SELECT 1 FROM signals s
    WHERE s.is_current AND s.entity_ids @> ARRAY[:id::bigint] AND s.topic_ids && :topic_ids::bigint[]
      -- include: signal_supplier_visible
);
