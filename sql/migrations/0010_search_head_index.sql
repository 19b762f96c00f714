-- Relevance ranks only signals whose card words match (bench/queries.py, bench/README.md).
-- Never edit this file once released: add a new numbered migration instead.

-- sort=relevance orders signals in two tiers: those whose title, summary or key details
-- match (ranked by ts_rank_cd over search_head), then those matching only in the analysis or
-- article text (newest first). This index finds the first tier without visiting every
-- signal that mentions the words somewhere: for a word in 8 % of a million articles, the
-- cards that carry it are a fraction of those.
CREATE INDEX signals_search_head_idx ON signals USING gin (search_head);
