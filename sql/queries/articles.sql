-- name: upsert_fetched_article
-- Stores the latest extraction of the page fetched at a canonical URL; returns its id and previous hash.
WITH previous AS (
    -- the hash before this write, to tell the caller whether the text changed
    SELECT content_hash FROM articles WHERE canonical_url = :canonical_url AND supplier_id IS NULL
)
INSERT INTO articles AS a (
    canonical_url, url, input_kind, content_hash, title, author, site_name, published_date,
    language, image, description, word_count, text, fetched_at
) VALUES (
    :canonical_url, :url, 'url', :content_hash, :title, :author, :site_name, :published_date,
    :language, :image, :description, :word_count, :text, :fetched_at
)
ON CONFLICT (canonical_url) WHERE canonical_url IS NOT NULL AND supplier_id IS NULL DO UPDATE SET
    url = EXCLUDED.url,
    content_hash = EXCLUDED.content_hash,
    title = EXCLUDED.title,
    author = EXCLUDED.author,
    site_name = EXCLUDED.site_name,
    published_date = EXCLUDED.published_date,
    language = EXCLUDED.language,
    image = EXCLUDED.image,
    description = EXCLUDED.description,
    word_count = EXCLUDED.word_count,
    text = EXCLUDED.text,
    fetched_at = EXCLUDED.fetched_at,
    updated_at = now()
RETURNING a.id, (SELECT content_hash FROM previous) AS previous_hash;

-- name: upsert_supplied_article
-- Stores content a supplier sent for a canonical URL, replacing only that supplier's own article.
WITH previous AS (
    -- the hash before this write, to tell the caller whether the text changed
    SELECT content_hash FROM articles WHERE canonical_url = :canonical_url AND supplier_id = :supplier_id
)
INSERT INTO articles AS a (
    canonical_url, supplier_id, url, input_kind, content_hash, title, author, site_name,
    published_date, language, image, description, word_count, text, fetched_at
) VALUES (
    :canonical_url, :supplier_id, :url, :input_kind, :content_hash, :title, :author, :site_name,
    :published_date, :language, :image, :description, :word_count, :text, NULL
)
ON CONFLICT (supplier_id, canonical_url) WHERE canonical_url IS NOT NULL AND supplier_id IS NOT NULL
DO UPDATE SET
    url = EXCLUDED.url,
    input_kind = EXCLUDED.input_kind,
    content_hash = EXCLUDED.content_hash,
    title = EXCLUDED.title,
    author = EXCLUDED.author,
    site_name = EXCLUDED.site_name,
    published_date = EXCLUDED.published_date,
    language = EXCLUDED.language,
    image = EXCLUDED.image,
    description = EXCLUDED.description,
    word_count = EXCLUDED.word_count,
    text = EXCLUDED.text,
    updated_at = now()
RETURNING a.id, (SELECT content_hash FROM previous) AS previous_hash;

-- name: find_analysed_copy
-- The article and signal already made from this exact text at this URL, fetched or sent by this
-- supplier (never another supplier's), so a supplied copy of known text costs no LLM call.
SELECT a.id AS article_id, s.id AS signal_id
FROM articles a
JOIN signals s ON s.article_id = a.id AND s.content_hash = a.content_hash AND s.prompt_version = :prompt_version
WHERE a.canonical_url = :canonical_url
  AND a.content_hash = :content_hash
  AND (a.supplier_id IS NULL OR a.supplier_id = :supplier_id)
ORDER BY a.supplier_id IS NULL DESC
LIMIT 1;

-- name: upsert_urlless_article
-- Stores text a supplier sent without a URL, keyed by the supplier and the text; returns its id.
INSERT INTO articles AS a (
    canonical_url, supplier_id, url, input_kind, content_hash, title, author, site_name,
    published_date, language, image, description, word_count, text, fetched_at
) VALUES (
    NULL, :supplier_id, NULL, :input_kind, :content_hash, :title, :author, :site_name,
    :published_date, :language, :image, :description, :word_count, :text, NULL
)
ON CONFLICT (supplier_id, content_hash) WHERE canonical_url IS NULL DO UPDATE SET updated_at = now()
RETURNING a.id, a.content_hash AS previous_hash;

-- name: get_article_by_id
-- One article with the ids of the signals made from it, newest first (for a topic-restricted
-- key, only those carrying one of its topics); nothing when it is another supplier's
-- (service/keys/suppliers.py: supplied articles are their supplier's and admins' only).
SELECT a.*,
       coalesce(
           (SELECT array_agg(s.id ORDER BY s.created_at DESC) FROM signals s
            WHERE s.article_id = a.id
              AND (:restrict_topics::bigint[] IS NULL OR s.topic_ids && :restrict_topics::bigint[])),
           '{}'::uuid[]
       ) AS signal_ids
FROM articles a
WHERE a.id = :id
  AND (:all_suppliers::boolean OR a.supplier_id IS NULL OR a.supplier_id = :reader_supplier::uuid);
