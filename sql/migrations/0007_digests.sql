-- Daily and weekly briefings (digests) written from stored signals, and the jobs that write them.
-- Never edit this file once released: add a new numbered migration instead.

-- One version of one briefing. A period (a UTC day, or a week starting Monday), optionally
-- for one topic, may be written many times: each writing is a new version, older ones stay.
CREATE TABLE digests (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    period           text NOT NULL CHECK (period IN ('daily', 'weekly')),
    period_start     date NOT NULL,
    -- NULL: every topic; otherwise a topic briefing
    topic_id         bigint REFERENCES topics (id) ON DELETE CASCADE,
    version          integer NOT NULL CHECK (version >= 1),
    -- only the newest version of its (period, start, topic) is latest
    is_latest        boolean NOT NULL DEFAULT true,
    headline         text NOT NULL,
    dek              text NOT NULL,
    opening          text NOT NULL,
    -- [{title, body, signal_ids}]; body cites with [n] markers (see citations)
    sections         jsonb NOT NULL,
    -- [{text, signal_id}]
    quick_hits       jsonb NOT NULL,
    -- [{n, signal_id, title, url, site_name}]: what each [n] marker links to, as written
    citations        jsonb NOT NULL,
    -- the signals the briefing was written from (every one is cited)
    signal_ids       uuid[] NOT NULL,
    word_count       integer NOT NULL CHECK (word_count >= 0),
    reading_minutes  integer NOT NULL CHECK (reading_minutes >= 1),
    -- llm: planned and written by the model; template: one signal, written without a model
    kind             text NOT NULL CHECK (kind IN ('llm', 'template')),
    model            text,
    prompt_version   text NOT NULL,
    llm_calls        integer NOT NULL DEFAULT 0,
    input_tokens     integer,
    output_tokens    integer,
    llm_latency_ms   integer,
    input_budget     integer NOT NULL,
    signals_considered integer NOT NULL,
    stories_considered integer NOT NULL,
    trigger          text NOT NULL CHECK (trigger IN ('schedule', 'request')),
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX digests_version_key ON digests (period, period_start, coalesce(topic_id, 0), version);
-- GET /v1/digests and the feeds: latest versions, newest period first.
CREATE INDEX digests_latest_idx ON digests (period_start DESC, created_at DESC, id DESC) WHERE is_latest;
CREATE INDEX digests_all_idx ON digests (period_start DESC, created_at DESC, id DESC);

-- A request to write one briefing (POST /v1/digests, or the schedule) and where it stands.
CREATE TABLE digest_jobs (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    period        text NOT NULL CHECK (period IN ('daily', 'weekly')),
    period_start  date NOT NULL,
    topic_id      bigint REFERENCES topics (id) ON DELETE CASCADE,
    trigger       text NOT NULL CHECK (trigger IN ('schedule', 'request')),
    -- empty: the period had no signals, nothing was written (and no model called)
    status        text NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'writing', 'done', 'failed', 'empty')),
    digest_id     uuid REFERENCES digests (id) ON DELETE SET NULL,
    error_code    text,
    error_reason  text,
    error_detail  text,
    api_key_id    uuid REFERENCES api_keys (id) ON DELETE SET NULL,
    attempts      integer NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    CHECK ((status = 'failed') = (error_code IS NOT NULL)),
    CHECK (status <> 'done' OR digest_id IS NOT NULL)
);
-- The schedule writes a period's briefing once: a second firing for the same period (another
-- worker's scheduler, a re-picked run) finds this row and does nothing.
CREATE UNIQUE INDEX digest_jobs_scheduled_key ON digest_jobs (period, period_start, coalesce(topic_id, 0))
    WHERE trigger = 'schedule';
-- One writing of a period at a time: a second request while one is in flight joins it.
CREATE UNIQUE INDEX digest_jobs_active_key ON digest_jobs (period, period_start, coalesce(topic_id, 0))
    WHERE status IN ('queued', 'writing');

-- Waiters (Prefer: wait) listen on the same channel as for analysis jobs (ids are uuids).
CREATE TRIGGER digest_jobs_notify_finished
    AFTER UPDATE OF status ON digest_jobs
    FOR EACH ROW
    WHEN (NEW.status IN ('done', 'failed', 'empty') AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION signals_notify_job_finished();
