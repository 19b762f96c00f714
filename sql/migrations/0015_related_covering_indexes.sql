-- Stored related links read from two covering indexes, never from the tables' heaps
-- (sql/queries/related.sql list_related_signals, the card's related list in signals.sql,
-- bench/related_reads.py). Never edit this file once released: add a new numbered migration.

-- A related read walks one signal's links best first, then reads each linked signal's card
-- fields (title, url, site, dates, story) and checks it is current and, for a topic-restricted
-- key, on an allowed topic. Before this migration that was, per link, a leaf of the links'
-- rank index, the link's heap row (for its reason: a signal's links are written when it is
-- related and when later signals link to it, so they lie on scattered pages), a leaf of
-- signals_pkey and the signal's heap row (about 2 kB wide, four to a page): up to four
-- random reads a link when the pages are not cached.
--
-- Carrying the few card columns in the indexes makes both reads index-only: a signal's links
-- sit next to each other in one or two leaves, and a linked signal is one leaf of an index
-- seven times denser than the table (about 300 bytes an entry: at 1M signals 290 MB against
-- a 2 GB heap), which therefore stays cached far more easily. Non-current versions are never
-- shown, so the signals index holds only current ones. Pages not yet marked all-visible
-- (rows written since the last vacuum) still visit the heap, as before. At a million signals,
-- a list read from cold pages took 2.2 ms at p50 and 12.3 at p99 before, 0.8 and 1.9 after.
CREATE INDEX signals_card_idx ON signals (id)
    INCLUDE (title, url, canonical_url, site_name, published_date, created_at, story_id, topic_ids)
    WHERE is_current;

DROP INDEX signal_related_rank_idx;
CREATE INDEX signal_related_rank_idx ON signal_related (signal_id, score DESC, related_id)
    INCLUDE (reason, same_story);
