-- Page metadata stored before extraction cleaned it (service/ingest/metadata.py): an og:image
-- that is not an http(s) URL (javascript:, data:, …) is dropped, and markup in a site name is
-- stripped, so no stored card carries either. Never edit this file once released: add a new
-- numbered migration instead.
UPDATE articles SET image = NULL
WHERE image IS NOT NULL
  AND (image !~* '^https?://[^[:space:][:cntrl:]/?#@]+([/?#][^[:space:][:cntrl:]]*)?$'
       OR image ~ '["<>`\\]'  -- could close an HTML attribute (new images are percent-encoded)
       OR length(image) > 2048);

-- script and style elements go with their content, other tags leave theirs
UPDATE articles SET site_name = nullif(btrim(regexp_replace(
    regexp_replace(site_name, '<(script|style)[^>]*>[^<]*</(script|style)>', '', 'gi'), '<[^>]*>', '', 'g'
)), '')
WHERE site_name LIKE '%<%';

-- signals keep a copy of the site name for the `source` filter and list items
UPDATE signals SET site_name = nullif(btrim(regexp_replace(
    regexp_replace(site_name, '<(script|style)[^>]*>[^<]*</(script|style)>', '', 'gi'), '<[^>]*>', '', 'g'
)), '')
WHERE site_name LIKE '%<%';
