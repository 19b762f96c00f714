-- name: sync_changes_page
-- Changes after an (xid, id) position, in log order, from transactions that have all ended
-- (xid below the snapshot's xmin: nothing can still commit before them). Scans at most
-- :scan_limit rows; rows outside a key's topic restriction, and changes of another supplier's
-- signals (tombstones included), are scanned but marked hidden.
WITH horizon AS MATERIALIZED (
    -- every transaction with a smaller xid has committed or rolled back
    SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin
), scanned AS (
    -- the next rows of the log below the horizon
    SELECT c.id, c.xid, c.kind, c.signal_id, c.replaces, c.changed_at,
           (:restrict::bigint[] IS NULL OR c.topic_ids && :restrict::bigint[])
           AND (:all_suppliers::boolean OR c.supplier_id IS NULL
                OR c.supplier_id = :reader_supplier::uuid) AS visible
    FROM signal_changes c
    WHERE (c.xid, c.id) > (:after_xid::xid8, :after_id::bigint)
      AND c.xid < (SELECT xmin FROM horizon)
    ORDER BY c.xid, c.id
    LIMIT :scan_limit
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
