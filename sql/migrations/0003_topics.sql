-- Topic and entity counts per time window.
-- Never edit this file once released: add a new numbered migration instead.

-- GET /v1/topics and /v1/entities count every current signal created in a window by the
-- topic and entity ids it carries; topic and entity pages count a topic's signals of the
-- last 30 days, and timelines average their sentiment. With those columns in the index,
-- each is an index-only range scan whose cost follows the window's size, instead of a
-- visit to every (wide, often TOASTed) signal row.
CREATE INDEX signals_current_window_idx ON signals (created_at)
    INCLUDE (topic_ids, entity_ids, sentiment)
    WHERE is_current;

-- GET /v1/entities?sort=name pages through entities in (name, id) order.
CREATE INDEX entities_name_idx ON entities (name, id);
