-- name: digest_candidates
-- Current public signals that entered the service in [since, until), optionally carrying a
-- topic: what ranking needs (briefings are everyone's: never written from supplied content).
SELECT s.id, s.story_id, s.is_story_lead, s.created_at, s.entity_ids
FROM signals s
WHERE s.is_current AND s.supplier_id IS NULL
  AND s.created_at >= :since::timestamptz
  AND s.created_at < :until::timestamptz
  AND (:topic_id::bigint IS NULL OR s.topic_ids @> ARRAY[:topic_id::bigint])
ORDER BY s.created_at, s.id;

-- name: period_has_signals
-- Whether any current public signal entered the service in [since, until) (with the topic, if given).
SELECT EXISTS (
    SELECT 1 FROM signals s
    WHERE s.is_current AND s.supplier_id IS NULL
      AND s.created_at >= :since::timestamptz
      AND s.created_at < :until::timestamptz
      AND (:topic_id::bigint IS NULL OR s.topic_ids @> ARRAY[:topic_id::bigint])
);

-- name: digest_cards
-- The card fields a briefing is written from (no article text), for the given signal ids
-- (public ones only: a briefing never quotes supplied content).
SELECT s.id, s.title, s.summary, s.key_details, s.site_name, s.published_date,
       coalesce(s.canonical_url, s.url) AS url,
       (SELECT coalesce(array_agg(t.label ORDER BY u.ord), '{}')
        FROM unnest(s.topic_ids) WITH ORDINALITY AS u (id, ord) JOIN topics t ON t.id = u.id) AS topics,
       (SELECT coalesce(array_agg(e.name ORDER BY u.ord), '{}')
        FROM unnest(s.entity_ids) WITH ORDINALITY AS u (id, ord) JOIN entities e ON e.id = u.id) AS entities
FROM signals s
WHERE s.id = ANY(:ids::uuid[]) AND s.supplier_id IS NULL;

-- name: lock_digest_versions
-- Serialises version numbering of one (period, start, topic) to the end of the transaction.
SELECT pg_advisory_xact_lock(hashtext('signals.digest:' || :key::text));

-- name: next_digest_version
-- The version number the next writing of a (period, start, topic) gets.
SELECT coalesce(max(version), 0) + 1
FROM digests
WHERE period = :period AND period_start = :period_start AND topic_id IS NOT DISTINCT FROM :topic_id::bigint;

-- name: unmark_latest_digest
-- The previous versions of a (period, start, topic) stop being the latest.
UPDATE digests SET is_latest = false
WHERE period = :period AND period_start = :period_start AND topic_id IS NOT DISTINCT FROM :topic_id::bigint
  AND is_latest;

-- name: insert_digest
-- Stores one version of a briefing as the latest.
INSERT INTO digests (period, period_start, topic_id, version, headline, dek, opening, sections, quick_hits,
                     citations, signal_ids, word_count, reading_minutes, kind, model, prompt_version,
                     llm_calls, input_tokens, output_tokens, llm_latency_ms, input_budget,
                     signals_considered, stories_considered, trigger)
VALUES (:period, :period_start, :topic_id, :version, :headline, :dek, :opening, :sections, :quick_hits,
        :citations, :signal_ids::uuid[], :word_count, :reading_minutes, :kind, :model, :prompt_version,
        :llm_calls, :input_tokens, :output_tokens, :llm_latency_ms, :input_budget,
        :signals_considered, :stories_considered, :trigger)
RETURNING id;

-- name: get_digest
-- One briefing version with its topic.
SELECT d.*, t.slug AS topic_slug, t.label AS topic_label
FROM digests d LEFT JOIN topics t ON t.id = d.topic_id
WHERE d.id = :id;

-- name: latest_digest
-- The latest version of the newest (or the given) period's briefing, general or of one topic.
SELECT d.*, t.slug AS topic_slug, t.label AS topic_label
FROM digests d LEFT JOIN topics t ON t.id = d.topic_id
WHERE d.is_latest
  AND d.period = :period
  AND d.topic_id IS NOT DISTINCT FROM :topic_id::bigint
  AND (:period_start::date IS NULL OR d.period_start = :period_start::date)
ORDER BY d.period_start DESC, d.created_at DESC, d.id DESC
LIMIT 1;

-- name: list_digests_page
-- A page of briefings (general, or of one topic), newest period first, after a (start, created_at, id) keyset.
SELECT d.*, t.slug AS topic_slug, t.label AS topic_label
FROM digests d LEFT JOIN topics t ON t.id = d.topic_id
WHERE (NOT :latest_only::boolean OR d.is_latest)
  AND (:period::text IS NULL OR d.period = :period::text)
  AND d.topic_id IS NOT DISTINCT FROM :topic_id::bigint
  AND (:restrict_topics::bigint[] IS NULL OR d.topic_id = ANY(:restrict_topics::bigint[]))
  AND (:after_start::date IS NULL
       OR (d.period_start, d.created_at, d.id)
          < (:after_start::date, :after_created::timestamptz, :after_id::uuid))
ORDER BY d.period_start DESC, d.created_at DESC, d.id DESC
LIMIT :limit;

-- name: insert_digest_job
-- Records a request to write a briefing; nothing when the schedule already wrote the period or one is in flight.
INSERT INTO digest_jobs (period, period_start, topic_id, trigger, api_key_id)
VALUES (:period, :period_start, :topic_id, :trigger, :api_key_id)
ON CONFLICT DO NOTHING
RETURNING *;

-- name: get_active_digest_job_for_requester
-- The unfinished job this requester already has for a briefing being written (leader or follower).
SELECT j.*
FROM digest_jobs l
JOIN digest_jobs j ON j.id = l.id OR j.follows = l.id
WHERE l.period = :period AND l.period_start = :period_start
  AND l.topic_id IS NOT DISTINCT FROM :topic_id::bigint
  AND l.status IN ('queued', 'writing') AND l.follows IS NULL
  AND j.api_key_id IS NOT DISTINCT FROM :api_key_id::uuid
  AND j.status IN ('queued', 'writing')
ORDER BY j.created_at
LIMIT 1;

-- name: insert_follower_digest_job
-- A job of its own for a requester whose briefing another job is writing: it follows that job,
-- whose row is locked (FOR SHARE) so it cannot finish before this insert commits; nothing when
-- no job is in flight any more.
WITH leader AS (
    SELECT id FROM digest_jobs
    WHERE period = :period AND period_start = :period_start
      AND topic_id IS NOT DISTINCT FROM :topic_id::bigint
      AND status IN ('queued', 'writing') AND follows IS NULL
    FOR SHARE
)
INSERT INTO digest_jobs (period, period_start, topic_id, trigger, api_key_id, follows)
SELECT :period, :period_start, :topic_id, 'request', :api_key_id, leader.id
FROM leader
RETURNING *;

-- name: finish_digest_followers
-- Copies a finished job's outcome onto the jobs that follow it; run after the job's final update,
-- in the same transaction (a follower inserted meanwhile committed before that update could take
-- the row, so this later statement sees it).
UPDATE digest_jobs f
SET status = l.status, digest_id = l.digest_id, error_code = l.error_code,
    error_reason = l.error_reason, error_detail = l.error_detail, updated_at = now(),
    finished_at = now()
FROM digest_jobs l
WHERE l.id = :id AND l.status IN ('done', 'failed', 'empty')
  AND f.follows = l.id AND f.status IN ('queued', 'writing');

-- name: get_digest_job
-- One briefing job with its requester's partner; a follower not yet final shows its leader's stage.
SELECT j.id, j.period, j.period_start, j.topic_id, j.trigger,
       CASE WHEN j.status IN ('done', 'failed', 'empty') OR l.id IS NULL THEN j.status
            ELSE l.status END AS status,
       j.digest_id, j.error_code, j.error_reason, j.error_detail, j.api_key_id, j.attempts,
       j.created_at, greatest(j.updated_at, l.updated_at) AS updated_at, j.finished_at, j.follows,
       t.slug AS topic_slug, t.label AS topic_label, k.partner_id AS requester_partner_id
FROM digest_jobs j
LEFT JOIN digest_jobs l ON l.id = j.follows
LEFT JOIN topics t ON t.id = j.topic_id
LEFT JOIN api_keys k ON k.id = j.api_key_id
WHERE j.id = :id;

-- name: start_digest_job
-- Claims a queued (or retaken) job for writing and counts the attempt; nothing if it is final.
UPDATE digest_jobs SET status = 'writing', attempts = attempts + 1, updated_at = now()
WHERE id = :id AND status IN ('queued', 'writing') AND follows IS NULL
RETURNING *;

-- name: requeue_digest_job
-- Back to queued for another attempt (a scheduled job whose model call failed in passing).
UPDATE digest_jobs SET status = 'queued', updated_at = now()
WHERE id = :id AND status = 'writing';

-- name: finish_digest_job
-- A job's final state: done (with its briefing), empty, or failed (with the error).
UPDATE digest_jobs
SET status = :status, digest_id = :digest_id, error_code = :error_code, error_reason = :error_reason,
    error_detail = :error_detail, updated_at = now(), finished_at = now()
WHERE id = :id;
