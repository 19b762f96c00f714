-- name: insert_job
-- Creates a queued job; a URL already in flight conflicts and returns nothing (join that job).
INSERT INTO jobs (input_kind, url, dedupe_url, payload, api_key_id, idempotency_key, request_fingerprint)
VALUES (:input_kind, :url, :dedupe_url, :payload, :api_key_id, :idempotency_key, :request_fingerprint)
ON CONFLICT (dedupe_url)
    WHERE dedupe_url IS NOT NULL AND status IN ('queued', 'fetching', 'extracting', 'analyzing', 'retrying')
    DO NOTHING
RETURNING *;

-- name: get_active_job_for_submitter
-- The unfinished job this submitter already has for a URL in flight (the leader or a follower).
SELECT j.*
FROM jobs l
JOIN jobs j ON j.id = l.id OR j.follows = l.id
WHERE l.dedupe_url = :dedupe_url AND l.status IN ('queued', 'fetching', 'extracting', 'analyzing', 'retrying')
  AND j.api_key_id IS NOT DISTINCT FROM :api_key_id::uuid
  AND j.status NOT IN ('done', 'failed')
ORDER BY j.created_at
LIMIT 1;

-- name: insert_follower_job
-- A job of its own for a submitter whose URL another job is working on: it follows that job.
-- The leader's row is locked (FOR SHARE) so it cannot finish before this insert commits (its
-- final update then copies its outcome here); nothing when no job is in flight any more.
WITH leader AS (
    SELECT id FROM jobs
    WHERE dedupe_url = :dedupe_url AND status IN ('queued', 'fetching', 'extracting', 'analyzing', 'retrying')
    FOR SHARE
)
INSERT INTO jobs (input_kind, url, api_key_id, idempotency_key, request_fingerprint, follows)
SELECT :input_kind, :url, :api_key_id, :idempotency_key, :request_fingerprint, leader.id
FROM leader
RETURNING *;

-- name: get_job_by_idempotency_key
-- The job an Idempotency-Key already created for this API key (or for keyless callers).
SELECT * FROM jobs
WHERE coalesce(api_key_id, '00000000-0000-0000-0000-000000000000'::uuid)
      = coalesce(:api_key_id::uuid, '00000000-0000-0000-0000-000000000000'::uuid)
  AND idempotency_key = :idempotency_key;

-- name: get_job_by_id
-- One job, with its submitter's partner; a follower not yet final shows its leader's stage.
SELECT j.id,
       CASE WHEN j.status IN ('done', 'failed') OR l.id IS NULL THEN j.status ELSE l.status END AS status,
       j.input_kind, j.url, j.dedupe_url, j.payload, j.signal_id, j.article_id, j.reused,
       j.error_code, j.error_reason, j.error_detail, j.api_key_id, j.idempotency_key,
       j.request_fingerprint, j.attempts, j.created_at,
       greatest(j.updated_at, l.updated_at) AS updated_at,
       j.started_at, j.finished_at, j.follows,
       j.llm_model, j.llm_input_tokens, j.llm_output_tokens, j.llm_latency_ms, j.llm_attempts,
       -- a follower waiting on a retrying leader shows when the leader tries again
       coalesce(l.retry_at, j.retry_at) AS retry_at, coalesce(l.retry_code, j.retry_code) AS retry_code,
       coalesce(l.retry_detail, j.retry_detail) AS retry_detail,
       k.partner_id AS submitter_partner_id
FROM jobs j
LEFT JOIN jobs l ON l.id = j.follows
LEFT JOIN api_keys k ON k.id = j.api_key_id
WHERE j.id = :id;

-- name: start_job_attempt
-- Claims a job for a new attempt; returns nothing when the job is already finished.
UPDATE jobs
SET status = 'fetching', attempts = attempts + 1, started_at = coalesce(started_at, now()),
    retry_at = NULL, updated_at = now()
WHERE id = :id AND status NOT IN ('done', 'failed') AND follows IS NULL
RETURNING *, (SELECT coalesce(k.partner_id, k.id) FROM api_keys k WHERE k.id = jobs.api_key_id) AS supplier_id;

-- name: set_job_status
-- Moves a running job to its next stage, only if this attempt still owns it.
UPDATE jobs SET status = :status, updated_at = now()
WHERE id = :id AND attempts = :attempt AND status NOT IN ('done', 'failed');

-- name: finish_job_done
-- Marks a job done with its signal; drops the submitted body, which the article now holds.
UPDATE jobs
SET status = 'done', signal_id = :signal_id, article_id = :article_id, reused = :reused,
    payload = NULL, updated_at = now(), finished_at = now()
WHERE id = :id AND attempts = :attempt AND status NOT IN ('done', 'failed')
RETURNING id;

-- fragment: add_llm_usage
-- SET items adding what an attempt's model calls cost to what earlier attempts recorded (a
-- null argument: no call was made, the column stays as it is).
llm_model = coalesce(:llm_model::text, llm_model),
llm_input_tokens = CASE WHEN :llm_input_tokens::integer IS NULL THEN llm_input_tokens
                        ELSE coalesce(llm_input_tokens, 0) + :llm_input_tokens::integer END,
llm_output_tokens = CASE WHEN :llm_output_tokens::integer IS NULL THEN llm_output_tokens
                         ELSE coalesce(llm_output_tokens, 0) + :llm_output_tokens::integer END,
llm_latency_ms = CASE WHEN :llm_latency_ms::integer IS NULL THEN llm_latency_ms
                      ELSE coalesce(llm_latency_ms, 0) + :llm_latency_ms::integer END,
llm_attempts = CASE WHEN :llm_attempts::integer IS NULL THEN llm_attempts
                    ELSE coalesce(llm_attempts, 0) + :llm_attempts::integer END,

-- name: finish_job_failed
-- Marks a job failed with a typed reason, only if this attempt still owns it; what its model
-- calls cost is added to what earlier attempts recorded (null arguments: no call was made).
UPDATE jobs
SET status = 'failed', error_code = :error_code, error_reason = :error_reason,
    error_detail = :error_detail, article_id = coalesce(:article_id::uuid, article_id),
    -- include: add_llm_usage
    updated_at = now(), finished_at = now()
WHERE id = :id AND attempts = :attempt AND status NOT IN ('done', 'failed')
RETURNING id;

-- name: finish_followers
-- Copies a finished job's outcome onto the jobs that follow it; run after the job's final update,
-- in the same transaction (a follower inserted meanwhile committed before that update could
-- take the row, so this later statement sees it). Followers never called the model: reused.
UPDATE jobs f
SET status = l.status, signal_id = l.signal_id, article_id = l.article_id,
    reused = (l.status = 'done'), error_code = l.error_code, error_reason = l.error_reason,
    error_detail = l.error_detail, updated_at = now(), finished_at = now()
FROM jobs l
WHERE l.id = :id AND l.status IN ('done', 'failed')
  AND f.follows = l.id AND f.status NOT IN ('done', 'failed');

-- name: retry_job_later
-- Puts a running job back to wait for another attempt after a passing model failure (only if
-- this attempt still owns it); adds what its model calls cost, as finish_job_failed does.
UPDATE jobs
SET status = 'retrying', retry_at = now() + make_interval(secs => :delay_seconds),
    retry_code = :retry_code, retry_detail = :retry_detail,
    transient_failures = transient_failures + 1,
    -- include: add_llm_usage
    updated_at = now()
WHERE id = :id AND attempts = :attempt AND status NOT IN ('done', 'failed')
RETURNING retry_at;

-- name: hand_back_job
-- A stopping worker gives a running job back to the queue (only if this attempt still owns it).
UPDATE jobs SET status = 'queued', updated_at = now()
WHERE id = :id AND attempts = :attempt AND status NOT IN ('done', 'failed')
RETURNING id;
