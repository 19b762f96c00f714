-- name: insert_job
-- Creates a queued job; a URL already in flight conflicts and returns nothing (join that job).
INSERT INTO jobs (input_kind, url, dedupe_url, payload, api_key_id, idempotency_key, request_fingerprint)
VALUES (:input_kind, :url, :dedupe_url, :payload, :api_key_id, :idempotency_key, :request_fingerprint)
ON CONFLICT (dedupe_url)
    WHERE dedupe_url IS NOT NULL AND status IN ('queued', 'fetching', 'extracting', 'analyzing')
    DO NOTHING
RETURNING *;

-- name: get_active_job_by_dedupe_url
-- The job currently working on a URL, if any.
SELECT * FROM jobs
WHERE dedupe_url = :dedupe_url AND status IN ('queued', 'fetching', 'extracting', 'analyzing');

-- name: get_job_by_idempotency_key
-- The job an Idempotency-Key already created for this API key (or for keyless callers).
SELECT * FROM jobs
WHERE coalesce(api_key_id, '00000000-0000-0000-0000-000000000000'::uuid)
      = coalesce(:api_key_id::uuid, '00000000-0000-0000-0000-000000000000'::uuid)
  AND idempotency_key = :idempotency_key;

-- name: get_job_by_id
-- One job.
SELECT * FROM jobs WHERE id = :id;

-- name: start_job_attempt
-- Claims a job for a new attempt; returns nothing when the job is already finished.
UPDATE jobs
SET status = 'fetching', attempts = attempts + 1, started_at = coalesce(started_at, now()),
    updated_at = now()
WHERE id = :id AND status NOT IN ('done', 'failed')
RETURNING *;

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

-- name: finish_job_failed
-- Marks a job failed with a typed reason, only if this attempt still owns it.
UPDATE jobs
SET status = 'failed', error_code = :error_code, error_reason = :error_reason,
    error_detail = :error_detail, article_id = coalesce(:article_id::uuid, article_id),
    updated_at = now(), finished_at = now()
WHERE id = :id AND attempts = :attempt AND status NOT IN ('done', 'failed')
RETURNING id;
