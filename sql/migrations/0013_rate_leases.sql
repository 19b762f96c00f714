-- Rate limits: a process may take several tokens in one statement (a lease it spends
-- locally), so the bucket row records how many the last statement took. Never edit this file
-- once released: add a new numbered migration instead.

-- A constant default: a catalogue change, no table rewrite.
ALTER TABLE rate_limit_buckets ADD COLUMN taken integer NOT NULL DEFAULT 0 CHECK (taken >= 0);
