-- Faster list pages at a million signals (bench/queries.py, see bench/README.md).
-- Never edit this file once released: add a new numbered migration instead.

-- Newest-first pages walk this index in order and filter on its INCLUDE columns without
-- touching the (wide, TOASTed) rows: an index-only scan finds the page's 21 ids, and only
-- those rows are read. It also serves the window counts of topics and entities, so it
-- replaces both older created_at indexes.
CREATE INDEX signals_current_feed_idx ON signals (created_at DESC, id DESC)
    INCLUDE (topic_ids, entity_ids, sentiment, language, site_name, story_id, is_story_lead, published_date)
    WHERE is_current;
DROP INDEX signals_current_created_idx;
DROP INDEX signals_current_window_idx;

-- The default statistics know too few words: a rare word was estimated at 5 000 matches
-- and searched by walking every signal newest first (525 ms p99 at 1 M) instead of the
-- GIN index (8 ms). A larger sample keeps rare words in the statistics.
ALTER TABLE signals ALTER COLUMN search SET STATISTICS 1000;
ANALYZE signals;
