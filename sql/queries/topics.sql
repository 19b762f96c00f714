-- fragment: topic_window_hits
-- One row per topic and whole day (from the daily counts) or per topic and signal (partial
-- days, from the signals) in the DayPieces of [previous_since, until) cut at since
-- (service/time_window.py): n signals, in_window = at or after since. A topic-restricted key
-- counts its own topics only. Public signals only, as the daily counts (migration 0026).
SELECT d.topic_id, d.signals AS n, d.day::timestamp AT TIME ZONE 'UTC' >= :since::timestamptz AS in_window
FROM unnest(:day_from::date[], :day_to::date[]) AS r (day_from, day_to)
JOIN topic_days d ON d.day >= r.day_from AND d.day < r.day_to
WHERE (:restrict_topics::bigint[] IS NULL OR d.topic_id = ANY(:restrict_topics::bigint[]))
UNION ALL
SELECT t.topic_id, 1, s.created_at >= :since::timestamptz
FROM unnest(:raw_from::timestamptz[], :raw_to::timestamptz[]) AS r (raw_from, raw_to)
JOIN signals s ON s.is_current AND s.created_at >= r.raw_from AND s.created_at < r.raw_to
    AND s.supplier_id IS NULL
CROSS JOIN LATERAL unnest(s.topic_ids) AS t (topic_id)
WHERE (:restrict_topics::bigint[] IS NULL OR t.topic_id = ANY(:restrict_topics::bigint[]))

-- name: count_topics_by_count
-- A page of topics by current signals in [since, until), most first, with the previous window's counts.
WITH hits AS (
    -- include: topic_window_hits
), counted AS (
    -- per topic: this window and the one before; only topics seen in this window are listed
    SELECT topic_id,
           coalesce(sum(n) FILTER (WHERE in_window), 0) AS count,
           coalesce(sum(n) FILTER (WHERE NOT in_window), 0) AS previous_count
    FROM hits
    GROUP BY topic_id
    HAVING sum(n) FILTER (WHERE in_window) > 0
), page AS (
    -- keyset and limit before the join: labels are looked up for one page only
    SELECT topic_id, count, previous_count
    FROM counted
    WHERE :after_count::bigint IS NULL
       OR count < :after_count::bigint
       OR (count = :after_count::bigint AND topic_id > :after_id::bigint)
    ORDER BY count DESC, topic_id
    LIMIT :limit
)
SELECT p.topic_id, tp.slug, tp.label, p.count, p.previous_count,
       (p.count - p.previous_count)::float8 / greatest(p.previous_count, 1) AS trending
FROM page p
JOIN topics tp ON tp.id = p.topic_id
ORDER BY p.count DESC, p.topic_id;

-- name: count_topics_by_trending
-- A page of topics seen in [since, until), fastest growing against the previous window first.
WITH hits AS (
    -- include: topic_window_hits
), counted AS (
    -- per topic: this window, the one before, and the growth between them
    SELECT topic_id, count, previous_count,
           (count - previous_count)::float8 / greatest(previous_count, 1) AS trending
    FROM (
        SELECT topic_id,
               coalesce(sum(n) FILTER (WHERE in_window), 0) AS count,
               coalesce(sum(n) FILTER (WHERE NOT in_window), 0) AS previous_count
        FROM hits
        GROUP BY topic_id
        HAVING sum(n) FILTER (WHERE in_window) > 0
    ) sums
), page AS (
    -- keyset and limit before the join: labels are looked up for one page only
    SELECT topic_id, count, previous_count, trending
    FROM counted
    WHERE :after_trending::float8 IS NULL
       OR trending < :after_trending::float8
       OR (trending = :after_trending::float8
           AND (count < :after_count::bigint OR (count = :after_count::bigint AND topic_id > :after_id::bigint)))
    ORDER BY trending DESC, count DESC, topic_id
    LIMIT :limit
)
SELECT p.topic_id, tp.slug, tp.label, p.count, p.previous_count, p.trending
FROM page p
JOIN topics tp ON tp.id = p.topic_id
ORDER BY p.trending DESC, p.count DESC, p.topic_id;

-- name: get_topic_by_slug_or_alias
-- The topic a slug names, directly or through an alias, with all its aliases, and whether the
-- reader may know it exists (topic_known_to_reader: asked of every topic, hidden or not, so a
-- hidden one costs what a public one does).
SELECT t.id, t.slug, t.label, t.created_at,
       coalesce((
           -- every other spelling that resolves here
           SELECT array_agg(a.alias ORDER BY a.alias) FROM topic_aliases a WHERE a.topic_id = t.id
       ), '{}'::text[]) AS aliases,
       (true
        -- include: topic_known_to_reader
       ) AS known
FROM topics t
WHERE t.id = coalesce(
    (SELECT id FROM topics WHERE slug = :slug::text),
    (SELECT topic_id FROM topic_aliases WHERE alias = :slug::text)
);

-- name: topic_signal_counts
-- Current public signals of a topic in the day, 7 and 30 days before :now (bounded by the window, however popular the topic).
SELECT count(*) FILTER (WHERE created_at >= :now::timestamptz - interval '1 day') AS last_24h,
       count(*) FILTER (WHERE created_at >= :now::timestamptz - interval '7 days') AS last_7d,
       count(*) AS last_30d
FROM signals
WHERE is_current
  AND supplier_id IS NULL
  AND topic_ids @> ARRAY[:topic_id::bigint]
  AND created_at >= :now::timestamptz - interval '30 days'
  AND created_at <= :now::timestamptz;

-- name: topic_timeline
-- A topic's current public signals per UTC day or week (Monday) in [since, until): every bucket, with mean
-- sentiment (DayPieces of [since, until): whole days from the daily counts, the rest from signals).
WITH buckets AS (
    -- every bucket start as UTC wall time, so the session time zone cannot shift a bucket
    SELECT generate_series(
        date_trunc(:interval::text, :since::timestamptz AT TIME ZONE 'UTC'),
        :until::timestamptz AT TIME ZONE 'UTC' - interval '1 microsecond',
        ('1 ' || :interval::text)::interval
    ) AS start
), hits AS (
    -- the topic's whole days...
    SELECT d.day::timestamp AS at, d.signals AS n, d.sentiment_sum, d.sentiment_n
    FROM unnest(:day_from::date[], :day_to::date[]) AS r (day_from, day_to)
    JOIN topic_days d ON d.topic_id = :topic_id::bigint AND d.day >= r.day_from AND d.day < r.day_to
    UNION ALL
    -- ...and its signals in the partial days
    SELECT s.created_at AT TIME ZONE 'UTC', 1, coalesce(s.sentiment::numeric, 0), (s.sentiment IS NOT NULL)::int
    FROM unnest(:raw_from::timestamptz[], :raw_to::timestamptz[]) AS r (raw_from, raw_to)
    JOIN signals s ON s.is_current AND s.created_at >= r.raw_from AND s.created_at < r.raw_to
    WHERE s.topic_ids @> ARRAY[:topic_id::bigint] AND s.supplier_id IS NULL
), bucketed AS (
    SELECT date_trunc(:interval::text, at) AS start,
           sum(n) AS count,
           sum(sentiment_sum) / nullif(sum(sentiment_n), 0) AS mean_sentiment
    FROM hits
    GROUP BY 1
)
SELECT b.start AT TIME ZONE 'UTC' AS start,
       coalesce(h.count, 0)::bigint AS count,
       round(h.mean_sentiment, 4)::float8 AS mean_sentiment
FROM buckets b
LEFT JOIN bucketed h USING (start)
ORDER BY b.start;

-- name: lock_topics_for_merge
-- Locks the given topics in id order (two merges cannot deadlock); returns the ones that exist.
SELECT id, slug, label FROM topics WHERE id = ANY(:ids::bigint[]) ORDER BY id FOR UPDATE;

-- name: merge_topic_into_signal_arrays
-- Replaces the source topic by the target in the topic_ids of every signal carrying it, keeping order, no repeats.
-- Triggers move the day counts to the target; no signal_changes row (README "Architecture").
UPDATE signals s
SET topic_ids = (
    SELECT array_agg(u.topic_id ORDER BY u.first)
    FROM (
        -- each topic once, at the first position it holds after the replacement
        SELECT x.topic_id, min(x.ord) AS first
        FROM unnest(array_replace(s.topic_ids, :source_id::bigint, :target_id::bigint))
             WITH ORDINALITY AS x (topic_id, ord)
        GROUP BY x.topic_id
    ) u
)
-- driven by the link table's (topic_id, signal_id) index: non-current signals are included
WHERE s.id IN (SELECT signal_id FROM signal_topics WHERE topic_id = :source_id::bigint);

-- name: merge_topic_links
-- Moves the source topic's signal_topics rows to the target; a signal linked to both keeps one row, at the earlier position.
WITH both_rows AS (
    -- signals linked to both: the target's row takes the earlier of the two positions
    UPDATE signal_topics tgt
    SET position = least(tgt.position, src.position)
    FROM signal_topics src
    WHERE src.topic_id = :source_id::bigint
      AND tgt.topic_id = :target_id::bigint
      AND tgt.signal_id = src.signal_id
    RETURNING tgt.signal_id
), dropped AS (
    -- ...and their source rows go
    DELETE FROM signal_topics
    WHERE topic_id = :source_id::bigint AND signal_id IN (SELECT signal_id FROM both_rows)
    RETURNING signal_id
)
-- every other source row now points at the target (the CTEs' snapshot still shows the dropped rows)
UPDATE signal_topics
SET topic_id = :target_id::bigint
WHERE topic_id = :source_id::bigint AND signal_id NOT IN (SELECT signal_id FROM dropped);

-- name: merge_topic_aliases
-- The source topic's aliases, and the source slug itself, become aliases of the target.
WITH moved AS (
    -- earlier spellings of the source follow it
    UPDATE topic_aliases SET topic_id = :target_id::bigint WHERE topic_id = :source_id::bigint
    RETURNING alias
)
INSERT INTO topic_aliases (alias, topic_id, source)
VALUES (:source_slug::text, :target_id::bigint, 'admin')
ON CONFLICT (alias) DO UPDATE SET topic_id = EXCLUDED.topic_id, source = 'admin';

-- name: merge_topic_into_key_restrictions
-- Keys restricted to the source topic are restricted to the target instead (no repeats), and
-- every API process drops its cached keys (a key's restriction is cached with it); the
-- NOTIFY is delivered when the merge commits.
WITH changed AS (
    UPDATE api_keys k
    SET topic_ids = (
        SELECT array_agg(DISTINCT x ORDER BY x)
        FROM unnest(array_replace(k.topic_ids, :source_id::bigint, :target_id::bigint)) AS x
    )
    WHERE k.topic_ids @> ARRAY[:source_id::bigint]
    RETURNING k.id
)
SELECT id, pg_notify('signals_keys_changed', id::text) AS notified FROM changed;

-- name: notify_topics_changed
-- Every process empties its slug -> topic cache (service/topics/cache.py) when the merge commits.
SELECT pg_notify('signals_topics_changed', :source_slug::text);

-- name: delete_topic
-- Deletes a topic that no signal links to any more.
DELETE FROM topics WHERE id = :id::bigint;

-- fragment: topic_known_to_reader
-- A topic t the reader may know exists: one a fetched (public) signal has carried (migration
-- 0026), any for an admin, else one a signal of the reader's own supplied content carries
-- (read through signals_supplier_idx: a supplier's own signals only).
AND (:all_suppliers::boolean OR t.is_public OR EXISTS (
    SELECT 1 FROM signals o
    WHERE o.supplier_id = :reader_supplier::uuid AND o.topic_ids @> ARRAY[t.id]
))

-- name: resolve_topic_slugs_for_reader
-- The topic each slug names, directly or through an alias (no row: an unknown slug), whether
-- it is public (a cache may keep it) and whether the reader may know it exists
-- (topic_known_to_reader).
SELECT input.slug, t.id AS topic_id, t.is_public,
       (true
        -- include: topic_known_to_reader
       ) AS known
FROM unnest(:slugs::text[]) AS input (slug)
LEFT JOIN topic_aliases al ON al.alias = input.slug
JOIN topics t ON t.id = coalesce((SELECT id FROM topics WHERE slug = input.slug), al.topic_id);
