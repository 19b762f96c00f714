-- name: sync_changes_page
-- Changes after an (xid, id) position, in log order, from transactions that have all ended
-- (xid below the snapshot's xmin: nothing can still commit before them). Scans at most
-- :scan_limit rows; rows outside a key's topic restriction, and changes of another supplier's
-- signals (tombstones included), are scanned but marked hidden. A hidden change that replaces
-- a version the key could see (its topics) is shown as that version's tombstone: it left the
-- key's view, and a mirror must drop it.
WITH horizon AS MATERIALIZED (
    -- every transaction with a smaller xid has committed or rolled back
    SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin
), logged AS (
    -- the next rows of the log below the horizon, and what the reader may see of each
    SELECT c.*,
           (:restrict::bigint[] IS NULL OR c.topic_ids && :restrict::bigint[]) AS in_topics,
           (:all_suppliers::boolean OR c.supplier_id IS NULL
            OR c.supplier_id = :reader_supplier::uuid) AS of_supplier
    FROM signal_changes c
    WHERE (c.xid, c.id) > (:after_xid::xid8, :after_id::bigint)
      AND c.xid < (SELECT xmin FROM horizon)
    ORDER BY c.xid, c.id
    LIMIT :scan_limit
), scanned AS (
    SELECT l.id, l.xid,
           CASE WHEN l.in_topics THEN l.kind ELSE 'deleted' END AS kind,
           CASE WHEN l.in_topics THEN l.signal_id ELSE l.replaces END AS signal_id,
           CASE WHEN l.in_topics THEN l.replaces END AS replaces,
           l.changed_at,
           l.of_supplier AND (l.in_topics OR (l.replaces IS NOT NULL
                                              AND l.replaces_topic_ids && :restrict::bigint[])) AS visible
    FROM logged l
), counted AS (
    -- visible rows so far, and totals: the page stops before the (limit + 1)-th visible row
    SELECT s.*,
           count(*) FILTER (WHERE s.visible) OVER (ORDER BY s.xid, s.id) AS visible_upto,
           count(*) FILTER (WHERE s.visible) OVER () AS visible_total,
           count(*) OVER () AS scanned_total
    FROM scanned s
)
SELECT c.id, c.xid, c.kind, c.signal_id, c.replaces, c.changed_at, c.visible,
       c.visible_total, c.scanned_total, (SELECT xmin FROM horizon) AS horizon
FROM counted c
WHERE c.visible_upto <= :limit
UNION ALL
-- an empty scan still reports the horizon
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, (SELECT xmin FROM horizon)
WHERE NOT EXISTS (SELECT 1 FROM scanned)
ORDER BY 2, 1;
