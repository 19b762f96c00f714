-- Relevance ranks on the card's words, not the article's (bench/queries.py, bench/README.md).
-- Never edit this file once released: add a new numbered migration instead.

-- sort=relevance ranked every match with ts_rank_cd over the whole search vector: title,
-- summary, key details, analysis and up to 100 000 characters of article text, ~2.3 kB a
-- row and TOASTed. For a word in 8 % of a million signals that detoasted 77 000 vectors
-- (310 000 extra buffer reads, 1.7 s p50). The title (weight A) and the summary and key
-- details (weight B) are what a signal is about; ~350 bytes, stored in the row. Matching
-- still uses the full vector and its GIN index; signals matching only in the analysis or
-- the article text rank 0 and follow, newest first.
-- Derived from search itself (ts_filter keeps lexemes of the given weights, with their
-- positions, so cover density still works): no writer has to change.
-- STORAGE MAIN keeps it in the row (compressed if need be): a signal row is ~5 kB before
-- TOAST, and with the default (EXTENDED) the toaster moved this column out as well, which
-- left ranking as slow as before. One statement: the table is rewritten once, with it.
ALTER TABLE signals
    ADD COLUMN search_head tsvector GENERATED ALWAYS AS (ts_filter(search, '{a,b}')) STORED,
    ALTER COLUMN search_head SET STORAGE MAIN;
