-- Current signals per topic and per entity per UTC day, kept by triggers on signals, for the
-- analysts' aggregates (sql/queries/topics.sql, entities.sql: GET /v1/topics, /v1/entities,
-- a topic's timeline). Never edit this file once released: add a new numbered migration.

-- Before this migration every aggregate counted signal rows: an index-only range scan of
-- signals_current_feed_idx and an unnest per signal. That costs what the window holds: at a
-- million signals over two years, topics over 365 days took 548 ms, entities 426 ms, and the
-- weekly timeline of a big topic over both years 271 ms (bench/queries.py). Here a window's
-- whole days are read from these tables (one row per topic or entity and day it has signals
-- in: about 5 % of the topic-signal pairs and 30 % of the entity-signal pairs of that corpus),
-- and only the partial days at the window's ends from signals (service/time_window.py
-- DayPieces): the answers are the same to the signal.

CREATE TABLE topic_days (
    topic_id      bigint  NOT NULL,
    day           date    NOT NULL,   -- created_at's UTC date
    signals       integer NOT NULL,   -- current signals carrying the topic (once per occurrence)
    sentiment_sum numeric NOT NULL,   -- sum of those signals' sentiment, where they have one
    sentiment_n   integer NOT NULL,   -- how many have one (the timeline's mean = sum / n)
    PRIMARY KEY (topic_id, day)
);
-- all topics over a range of days, without visiting the table
CREATE INDEX topic_days_day_idx ON topic_days (day) INCLUDE (topic_id, signals);

CREATE TABLE entity_days (
    entity_id bigint  NOT NULL,
    day       date    NOT NULL,
    signals   integer NOT NULL,
    PRIMARY KEY (entity_id, day)
);
CREATE INDEX entity_days_day_idx ON entity_days (day) INCLUDE (entity_id, signals);

-- Moves one signal's counts from its old version to its new one: the old version's topics and
-- entities (on its day) go down by one, the new version's go up, and only rows whose totals
-- change are written (linking entities does not rewrite the topics' rows). Rows are written
-- in key order; a row that falls to zero is deleted (a merged-away topic leaves none behind).
CREATE FUNCTION signal_days_move(
    old_at timestamptz, old_topics bigint[], old_entities bigint[], old_sentiment real,
    new_at timestamptz, new_topics bigint[], new_entities bigint[], new_sentiment real
) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO topic_days AS d (topic_id, day, signals, sentiment_sum, sentiment_n)
    SELECT c.id, c.day, sum(c.n), sum(c.n * c.sentiment), sum(c.n * c.rated)
    FROM (
        SELECT t.id, (old_at AT TIME ZONE 'UTC')::date AS day, -1 AS n,
               coalesce(old_sentiment::numeric, 0) AS sentiment, (old_sentiment IS NOT NULL)::int AS rated
        FROM unnest(old_topics) AS t (id)
        UNION ALL
        SELECT t.id, (new_at AT TIME ZONE 'UTC')::date, 1,
               coalesce(new_sentiment::numeric, 0), (new_sentiment IS NOT NULL)::int
        FROM unnest(new_topics) AS t (id)
    ) c
    GROUP BY c.id, c.day
    HAVING sum(c.n) <> 0 OR sum(c.n * c.sentiment) <> 0 OR sum(c.n * c.rated) <> 0
    ORDER BY c.id, c.day
    ON CONFLICT (topic_id, day) DO UPDATE
    SET signals = d.signals + EXCLUDED.signals,
        sentiment_sum = d.sentiment_sum + EXCLUDED.sentiment_sum,
        sentiment_n = d.sentiment_n + EXCLUDED.sentiment_n;

    -- only the old version's rows went down
    DELETE FROM topic_days
    WHERE topic_id = ANY(old_topics) AND day = (old_at AT TIME ZONE 'UTC')::date
      AND signals = 0 AND sentiment_n = 0;

    INSERT INTO entity_days AS d (entity_id, day, signals)
    SELECT c.id, c.day, sum(c.n)
    FROM (
        SELECT e.id, (old_at AT TIME ZONE 'UTC')::date AS day, -1 AS n FROM unnest(old_entities) AS e (id)
        UNION ALL
        SELECT e.id, (new_at AT TIME ZONE 'UTC')::date, 1 FROM unnest(new_entities) AS e (id)
    ) c
    GROUP BY c.id, c.day
    HAVING sum(c.n) <> 0
    ORDER BY c.id, c.day
    ON CONFLICT (entity_id, day) DO UPDATE SET signals = d.signals + EXCLUDED.signals;

    DELETE FROM entity_days
    WHERE entity_id = ANY(old_entities) AND day = (old_at AT TIME ZONE 'UTC')::date AND signals = 0;
$$;

-- A version counts while it is current. The triggers' WHEN conditions keep updates that
-- change nothing counted (story, related_at, ...) from reaching here.
CREATE FUNCTION signals_count_days() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_counts boolean := TG_OP <> 'INSERT' AND OLD.is_current;
    new_counts boolean := TG_OP <> 'DELETE' AND NEW.is_current;
BEGIN
    IF old_counts AND new_counts THEN
        PERFORM signal_days_move(OLD.created_at, OLD.topic_ids, OLD.entity_ids, OLD.sentiment,
                                 NEW.created_at, NEW.topic_ids, NEW.entity_ids, NEW.sentiment);
    ELSIF old_counts THEN
        PERFORM signal_days_move(OLD.created_at, OLD.topic_ids, OLD.entity_ids, OLD.sentiment,
                                 NULL, '{}', '{}', NULL);
    ELSIF new_counts THEN
        PERFORM signal_days_move(NULL, '{}', '{}', NULL,
                                 NEW.created_at, NEW.topic_ids, NEW.entity_ids, NEW.sentiment);
    END IF;
    RETURN NULL;
END;
$$;

-- The counts are written when the transaction commits (deferred constraint triggers), so a
-- writer holds a day's row only for the moment of its commit: a long transaction that stored
-- a signal (or a merge moving thousands) does not stall every other writer on that topic
-- until it ends. Each deferred event still sees the row versions of its own statement, so a
-- signal stored, linked and re-dated in one transaction adds up to its final version.
-- Creating the triggers locks signals against writes until this migration commits, so the
-- backfill below and the triggers see every signal exactly once.
CREATE CONSTRAINT TRIGGER signals_count_days_insert
    AFTER INSERT ON signals
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (NEW.is_current AND (cardinality(NEW.topic_ids) > 0 OR cardinality(NEW.entity_ids) > 0))
    EXECUTE FUNCTION signals_count_days();

CREATE CONSTRAINT TRIGGER signals_count_days_update
    AFTER UPDATE OF is_current, topic_ids, entity_ids, sentiment, created_at ON signals
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN ((OLD.is_current OR NEW.is_current) AND (
        OLD.is_current IS DISTINCT FROM NEW.is_current
        OR OLD.topic_ids IS DISTINCT FROM NEW.topic_ids
        OR OLD.entity_ids IS DISTINCT FROM NEW.entity_ids
        OR OLD.sentiment IS DISTINCT FROM NEW.sentiment
        OR OLD.created_at IS DISTINCT FROM NEW.created_at))
    EXECUTE FUNCTION signals_count_days();

CREATE CONSTRAINT TRIGGER signals_count_days_delete
    AFTER DELETE ON signals
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (OLD.is_current AND (cardinality(OLD.topic_ids) > 0 OR cardinality(OLD.entity_ids) > 0))
    EXECUTE FUNCTION signals_count_days();

INSERT INTO topic_days (topic_id, day, signals, sentiment_sum, sentiment_n)
SELECT t.id, (s.created_at AT TIME ZONE 'UTC')::date, count(*),
       coalesce(sum(s.sentiment::numeric), 0), count(s.sentiment)
FROM signals s
CROSS JOIN LATERAL unnest(s.topic_ids) AS t (id)
WHERE s.is_current
GROUP BY 1, 2;

INSERT INTO entity_days (entity_id, day, signals)
SELECT e.id, (s.created_at AT TIME ZONE 'UTC')::date, count(*)
FROM signals s
CROSS JOIN LATERAL unnest(s.entity_ids) AS e (id)
WHERE s.is_current
GROUP BY 1, 2;

ANALYZE topic_days;
ANALYZE entity_days;
