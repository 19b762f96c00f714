-- What a full-text search's q means to every statement that matches or ranks it
-- (sql/queries/listing.sql). Never edit this file once released: add a new numbered migration.

-- websearch_to_tsquery keeps a word as often as it is typed, and words sharing a stem count
-- again: "debate debates" is 'debat' & 'debat'. The matches are the same as for 'debat', but
-- PostgreSQL's estimate multiplies the selectivity of every term, so it expected 1 900 rows
-- where 25 800 matched in the biggest topic of a million signals, chose a plan for few rows
-- and sorted them all (75 ms, against 5-8 ms for the word once). When the query is only words
-- joined by AND (no phrase, negation or OR, whose meaning could change), each lexeme is kept
-- once; any other query is as websearch_to_tsquery parses it. The function is immutable, so
-- with q known (custom plans) it folds to a constant whose words the planner looks up in the
-- column statistics and the GIN indexes match.
CREATE FUNCTION signal_search_query(q text) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT CASE
        -- the text form of an AND of lexemes: 'a' & 'b' & 'a' (quotes inside a lexeme doubled)
        WHEN parsed::text ~ '^''(?:[^'']|'''')*''(?: & ''(?:[^'']|'''')*'')+$' THEN (
            SELECT string_agg(DISTINCT lexeme[1], ' & ')
            FROM regexp_matches(parsed::text, '(''(?:[^'']|'''')*'')', 'g') AS lexeme
        )::tsquery
        ELSE parsed
    END
    FROM websearch_to_tsquery('english', q) AS parsed
$$;
