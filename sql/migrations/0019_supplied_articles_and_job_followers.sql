-- Content a caller supplies is its own article, and every submitter has its own job.
-- Never edit this file once released: add a new numbered migration instead.
--
-- Before this, an article was one row per canonical URL whatever its origin, so a `text` or
-- `html` submission naming the URL of a fetched article (or of another partner's submission)
-- replaced that article's text and superseded its signal. Now:
-- - fetched content (input_kind 'url') is keyed by its canonical URL alone, as before;
-- - supplied content (input_kind 'html' or 'text') with a URL is keyed by its supplier and the
--   URL: the supplier is the submitting key's partner, or the key itself for a key without a
--   partner (the zero uuid for a job without a key). A supplier replaces only its own article.
-- - supplied text without a URL stays keyed by its content hash (the same text is the same
--   article whoever sends it; nothing is ever replaced there).
ALTER TABLE articles ADD COLUMN supplier_id uuid;

-- Existing supplied articles belong to the supplier of the newest job that stored them.
UPDATE articles a
SET supplier_id = coalesce((
    SELECT coalesce(k.partner_id, k.id)
    FROM jobs j JOIN api_keys k ON k.id = j.api_key_id
    WHERE j.article_id = a.id AND j.input_kind <> 'url'
    ORDER BY j.created_at DESC
    LIMIT 1
), '00000000-0000-0000-0000-000000000000'::uuid)
WHERE a.input_kind <> 'url' AND a.canonical_url IS NOT NULL;

ALTER TABLE articles ADD CONSTRAINT articles_supplier_check
    CHECK (canonical_url IS NULL OR (input_kind = 'url') = (supplier_id IS NULL));

DROP INDEX articles_canonical_url_key;
-- fetched pages: one article per canonical URL
CREATE UNIQUE INDEX articles_fetched_url_key ON articles (canonical_url)
    WHERE canonical_url IS NOT NULL AND supplier_id IS NULL;
-- supplied content: one article per supplier and canonical URL
CREATE UNIQUE INDEX articles_supplied_url_key ON articles (supplier_id, canonical_url)
    WHERE canonical_url IS NOT NULL AND supplier_id IS NOT NULL;

-- A second submission of a URL already in flight gets a job of its own that follows the first
-- (the leader): it is never queued or run itself, and when the leader finishes, its outcome is
-- copied onto every follower in the same transaction. Each job keeps its own submitter and URL.
ALTER TABLE jobs ADD COLUMN follows uuid REFERENCES jobs (id) ON DELETE SET NULL;
CREATE INDEX jobs_follows_idx ON jobs (follows) WHERE follows IS NOT NULL;

-- The same for briefing jobs: a request joining a briefing in flight gets its own job.
ALTER TABLE digest_jobs ADD COLUMN follows uuid REFERENCES digest_jobs (id) ON DELETE SET NULL;
CREATE INDEX digest_jobs_follows_idx ON digest_jobs (follows) WHERE follows IS NOT NULL;
DROP INDEX digest_jobs_active_key;
CREATE UNIQUE INDEX digest_jobs_active_key ON digest_jobs (period, period_start, coalesce(topic_id, 0))
    WHERE status IN ('queued', 'writing') AND follows IS NULL;
