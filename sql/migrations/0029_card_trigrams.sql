-- Each signal's card trigrams, kept once: stories and related coverage compare a new card's
-- wording with up to a few hundred candidates per relate step, and pg_trgm's similarity()
-- made both texts' trigrams again for every pair (the step's costliest statement: ~0.15 ms a
-- pair). The trigrams are stored as the first 4 bytes of each trigram's md5 (stable across
-- PostgreSQL versions, unlike hashtext), sorted; the service compares the sets
-- (service/similarity/wording.py) and gets pg_trgm's similarity: shared / (a + b - shared).
-- A stored generated column: made on insert, and again only when the card's text changes
-- (PostgreSQL 18 leaves it alone on updates of other columns).

CREATE FUNCTION signal_card_trigrams(title text, summary text, key_details jsonb) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_catalog
AS $$
    SELECT coalesce(decode(string_agg(left(md5(t), 8), '' ORDER BY left(md5(t), 8)), 'hex'), ''::bytea)
    FROM unnest(show_trgm(
        title || ' ' || summary || ' '
        || coalesce((SELECT string_agg(d ->> 'text', ' ') FROM jsonb_array_elements(key_details) d), '')
    )) AS t
$$;

ALTER TABLE signals
    ADD COLUMN card_trigrams bytea GENERATED ALWAYS AS (signal_card_trigrams(title, summary, key_details)) STORED;
