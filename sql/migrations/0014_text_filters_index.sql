-- Full text within a topic or about an entity, newest first (sql/queries/listing.sql,
-- bench/README.md). Never edit this file once released: add a new numbered migration instead.

-- A search narrowed to a topic ANDed two GIN bitmaps: the words' and the whole topic's. For a
-- topic on a fifth of a million signals that bitmap holds 186 000 entries and took 117 ms to
-- build, while PostgreSQL priced it at a few; two common words in such a topic took 150 ms.
-- One GIN index over the words, topics and entities answers such a search in one scan: GIN
-- walks the posting lists of every condition together and skips ahead in the long ones
-- (a topic's) to the next row the short ones (the words') hold, so the topic costs what the
-- words find, not what it holds: 32 ms for the same search. A search without a filter uses
-- the same scan over the words alone, so this index replaces the words-only one. Every full
-- text search is on current signals, hence the predicate.
CREATE INDEX signals_text_filters_idx ON signals USING gin (search, topic_ids, entity_ids) WHERE is_current;
DROP INDEX signals_search_idx;
