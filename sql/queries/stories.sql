-- name: lock_story_assignment
-- Serialises story assignment between workers (to the end of the transaction): two reports of
-- one event relating at once must not both start a story.
SELECT pg_advisory_xact_lock(hashtext('signals.story'));

-- name: story_placement_mark
-- The newest placement a fresh snapshot sees: a relate step reads it before searching, and
-- under the lock reads the placements after it (placements are numbered in commit order).
SELECT coalesce(max(seq), 0) FROM story_placements;

-- name: signals_placed_since
-- Signals placed in a story after :mark, which a search begun at :mark may not have seen.
SELECT signal_id FROM story_placements WHERE seq > :mark ORDER BY seq;

-- name: record_story_placement
-- Logs that a signal was just placed in a story (under the lock), for concurrent searches.
INSERT INTO story_placements (signal_id) VALUES (:signal_id) RETURNING seq;

-- name: prune_story_placements
-- Forgets placements older than any search still in flight can be (see the migration 0018).
DELETE FROM story_placements WHERE placed_at < clock_timestamp() - make_interval(secs => :keep_seconds);

-- name: current_story_of_signals
-- The story each of these signals is in now, current ones only (read under the lock).
SELECT id, story_id FROM signals WHERE id = ANY(:ids::uuid[]) AND is_current;

-- name: story_of_signal
-- The story a signal is in now (read under the lock: another job may just have set it).
SELECT story_id FROM signals WHERE id = :id;

-- name: story_of_other_versions
-- The story of an older version of the same article, if any: a new version stays in it.
SELECT story_id FROM signals
WHERE article_id = :article_id AND id <> :signal_id AND story_id IS NOT NULL
ORDER BY created_at DESC, id DESC
LIMIT 1;

-- name: create_story
-- Starts a story with its first signal (counts and lead are set by refresh_story).
INSERT INTO stories (title, lead_signal_id, signal_count, first_seen, last_seen)
SELECT s.title, s.id, 1, s.created_at, s.created_at FROM signals s WHERE s.id = :signal_id
RETURNING id;

-- name: set_signal_story
-- Puts a signal in a story.
UPDATE signals SET story_id = :story_id WHERE id = :signal_id;

-- name: refresh_story
-- Recomputes a story from its signals: the newest current signal leads (and only it is
-- flagged is_story_lead), count of current signals, first and last seen, title of the lead.
WITH members AS (
    -- every signal ever placed in the story, older versions of articles included
    SELECT id, created_at, title, is_current, is_story_lead FROM signals WHERE story_id = :story_id
), lead AS (
    -- the most recent current signal
    SELECT id, title FROM members WHERE is_current ORDER BY created_at DESC, id DESC LIMIT 1
), flags AS (
    -- exactly one lead; written only where the flag changes
    UPDATE signals s SET is_story_lead = coalesce(s.id = (SELECT id FROM lead), false)
    FROM members m
    WHERE s.id = m.id AND m.is_story_lead IS DISTINCT FROM coalesce(m.id = (SELECT id FROM lead), false)
    RETURNING s.id
)
UPDATE stories st
SET lead_signal_id = (SELECT id FROM lead),
    title = coalesce((SELECT title FROM lead), st.title),
    signal_count = (SELECT count(*) FROM members WHERE is_current),
    first_seen = coalesce((SELECT min(created_at) FROM members), st.first_seen),
    last_seen = coalesce((SELECT max(created_at) FROM members), st.last_seen),
    updated_at = now()
WHERE st.id = :story_id
RETURNING st.id, (SELECT count(*) FROM flags) AS flags_changed;

-- name: list_stories_page
-- A page of stories, most recently active first, after a (last_seen, id) keyset position.
SELECT id, title, lead_signal_id, signal_count, first_seen, last_seen
FROM stories
WHERE signal_count > 0
  AND (:after_seen::timestamptz IS NULL OR (last_seen, id) < (:after_seen::timestamptz, :after_id::uuid))
ORDER BY last_seen DESC, id DESC
LIMIT :limit;

-- name: get_story
-- One story's summary row.
SELECT id, title, lead_signal_id, signal_count, first_seen, last_seen FROM stories WHERE id = :id;

-- name: story_signals
-- A story's current signals, newest first (the lead is the first); with :restrict_topics, only
-- those carrying one of them (a topic-restricted key), and the newest of those leads.
SELECT s.id, s.title, s.summary, coalesce(s.canonical_url, s.url) AS url, s.site_name,
       s.published_date, s.created_at,
       CASE WHEN :restrict_topics::bigint[] IS NULL THEN s.is_story_lead
            ELSE row_number() OVER (ORDER BY s.created_at DESC, s.id DESC) = 1 END AS is_story_lead
FROM signals s
WHERE s.story_id = :story_id AND s.is_current
  AND (:restrict_topics::bigint[] IS NULL OR s.topic_ids && :restrict_topics::bigint[])
ORDER BY s.created_at DESC, s.id DESC
LIMIT :limit;

-- name: story_sources
-- The outlets that reported a story, with how many of its current signals each gave (with
-- :restrict_topics, of those carrying one of them).
SELECT s.site_name, count(*) AS signals, min(s.created_at) AS first_seen
FROM signals s
WHERE s.story_id = :story_id AND s.is_current
  AND (:restrict_topics::bigint[] IS NULL OR s.topic_ids && :restrict_topics::bigint[])
GROUP BY s.site_name
ORDER BY first_seen, s.site_name;

-- name: list_stories_page_restricted
-- A page of stories as a key restricted to :topic_ids sees them: only stories with a current
-- signal on one of those topics, each summarised from those signals alone (count, first and
-- last seen, lead and its title), most recently active first after a (last_seen, id) position.
-- The key's signals are walked newest first from the position, at most :scan of them (an
-- index-only walk of signals_current_feed_idx, which carries topic_ids and story_id): a
-- story's last_seen is where the walk first meets it, so the work grows with the page, not
-- with the topics' archive (a topic on a third of a million signals: every one of them was
-- aggregated for each page before). A story met only where the walk stopped is left for a
-- longer walk (another story may share that instant unwalked), and one with a signal above
-- the position was on an earlier page. The first row always comes (walked, the signals
-- walked): when the page is short and walked = :scan, the caller walks further.
WITH walk AS MATERIALIZED (
    SELECT s.story_id, s.created_at
    FROM signals s
    WHERE s.is_current AND s.story_id IS NOT NULL AND s.topic_ids && :topic_ids::bigint[]
      AND (:after_seen::timestamptz IS NULL OR s.created_at <= :after_seen::timestamptz)
    ORDER BY s.created_at DESC, s.id DESC
    LIMIT :scan
), bounds AS (
    SELECT count(*) AS walked, min(created_at) AS reached FROM walk
), page AS (
    SELECT w.story_id, max(w.created_at) AS last_seen
    FROM walk w
    GROUP BY w.story_id
    HAVING (max(w.created_at) > (SELECT reached FROM bounds) OR (SELECT walked FROM bounds) < :scan)
       AND (:after_seen::timestamptz IS NULL
            OR ((max(w.created_at), w.story_id) < (:after_seen::timestamptz, :after_id::uuid)
                AND NOT EXISTS (
                    SELECT 1 FROM signals n
                    WHERE n.story_id = w.story_id AND n.created_at > :after_seen::timestamptz
                      AND n.is_current AND n.topic_ids && :topic_ids::bigint[])))
    ORDER BY last_seen DESC, story_id DESC
    LIMIT :limit
)
SELECT b.walked, p.story_id AS id, v.title, v.lead_signal_id, v.signal_count, v.first_seen, p.last_seen
FROM bounds b
LEFT JOIN (
    page p CROSS JOIN LATERAL (
        -- the story as the key sees it: its visible signals (signals_story_idx)
        SELECT (array_agg(s.title ORDER BY s.created_at DESC, s.id DESC))[1] AS title,
               (array_agg(s.id ORDER BY s.created_at DESC, s.id DESC))[1] AS lead_signal_id,
               count(*) AS signal_count, min(s.created_at) AS first_seen
        FROM signals s
        WHERE s.story_id = p.story_id AND s.is_current AND s.topic_ids && :topic_ids::bigint[]
    ) v
) ON true
ORDER BY p.last_seen DESC, p.story_id DESC;

-- name: get_story_restricted
-- One story as a key restricted to :topic_ids sees it (nothing when none of its current
-- signals carries one of them).
SELECT s.story_id AS id,
       (array_agg(s.title ORDER BY s.created_at DESC, s.id DESC))[1] AS title,
       (array_agg(s.id ORDER BY s.created_at DESC, s.id DESC))[1] AS lead_signal_id,
       count(*) AS signal_count, min(s.created_at) AS first_seen, max(s.created_at) AS last_seen
FROM signals s
WHERE s.story_id = :id AND s.is_current AND s.topic_ids && :topic_ids::bigint[]
GROUP BY s.story_id;
