-- A job whose model call failed in passing (429, 5xx, timeout, unreachable, after the HTTP
-- retries) waits in the queue for another attempt instead of failing for good: status
-- 'retrying', with the time of the next attempt and what went wrong (service/signals/pipeline.py).
-- A retrying job is still in flight: a second submission of its URL joins it.
-- Never edit this file once released: add a new numbered migration instead.
ALTER TABLE jobs DROP CONSTRAINT jobs_status_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_status_check
    CHECK (status IN ('queued', 'fetching', 'extracting', 'analyzing', 'retrying', 'done', 'failed'));

ALTER TABLE jobs
    ADD COLUMN retry_at timestamptz,
    ADD COLUMN retry_code text,
    ADD COLUMN retry_detail text,
    ADD COLUMN transient_failures integer NOT NULL DEFAULT 0;

-- The next attempt's time is shown only while the job waits for it.
ALTER TABLE jobs ADD CONSTRAINT jobs_retry_at_check CHECK ((status = 'retrying') = (retry_at IS NOT NULL));

DROP INDEX jobs_active_url_key;
CREATE UNIQUE INDEX jobs_active_url_key ON jobs (dedupe_url)
    WHERE dedupe_url IS NOT NULL AND status IN ('queued', 'fetching', 'extracting', 'analyzing', 'retrying');
