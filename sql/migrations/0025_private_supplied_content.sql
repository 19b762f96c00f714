-- Content a caller supplies is private to its supplier, and a signal keeps the page metadata of
-- the version it analysed. Never edit this file once released: add a new numbered migration.
--
-- - Supplied text without a URL is keyed by its supplier too (it was keyed by its content hash
--   alone, shared by whoever sent the same text): every supplied article now has a supplier.
-- - A signal copies its article's supplier (NULL: fetched, public), so every read can keep a
--   supplier's signals to that supplier without a join.
-- - A signal copies the metadata of the version it analysed (author, image, word count, input
--   kind), as it already did the URL, site name, language and date: an older card no longer
--   shows the metadata of the article's newest version (which a topic-restricted key may not
--   be allowed to see).
-- - Articles and signals show only the canonical URL: the URL as a submitter sent it (its query
--   tokens, its fragment) stays on that submitter's job.

UPDATE articles a
SET supplier_id = coalesce((
    SELECT coalesce(k.partner_id, k.id)
    FROM jobs j JOIN api_keys k ON k.id = j.api_key_id
    WHERE j.article_id = a.id AND j.input_kind <> 'url'
    ORDER BY j.created_at DESC
    LIMIT 1
), '00000000-0000-0000-0000-000000000000'::uuid)
WHERE a.input_kind <> 'url' AND a.supplier_id IS NULL;

ALTER TABLE articles DROP CONSTRAINT articles_supplier_check;
ALTER TABLE articles ADD CONSTRAINT articles_supplier_check
    CHECK ((input_kind = 'url') = (supplier_id IS NULL));

DROP INDEX articles_urlless_hash_key;
-- supplied text without a URL: one article per supplier and text
CREATE UNIQUE INDEX articles_urlless_hash_key ON articles (supplier_id, content_hash)
    WHERE canonical_url IS NULL;

UPDATE articles SET url = canonical_url WHERE canonical_url IS NOT NULL AND url IS DISTINCT FROM canonical_url;

ALTER TABLE signals
    ADD COLUMN supplier_id uuid,
    ADD COLUMN input_kind  text,
    ADD COLUMN author      text,
    ADD COLUMN image       text,
    ADD COLUMN word_count  integer;

UPDATE signals s
SET supplier_id = a.supplier_id, input_kind = a.input_kind, author = a.author, image = a.image,
    word_count = a.word_count, url = coalesce(s.canonical_url, s.url)
FROM articles a
WHERE a.id = s.article_id;

ALTER TABLE signals
    ALTER COLUMN input_kind SET NOT NULL,
    ALTER COLUMN word_count SET NOT NULL,
    ADD CONSTRAINT signals_input_kind_check CHECK (input_kind IN ('url', 'html', 'text')),
    ADD CONSTRAINT signals_supplier_check CHECK ((input_kind = 'url') = (supplier_id IS NULL));

-- A supplier's own signals, newest first (its lists, its sync).
CREATE INDEX signals_supplier_idx ON signals (supplier_id, created_at DESC, id DESC)
    WHERE supplier_id IS NOT NULL;
