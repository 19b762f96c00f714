"""Change-log rows for sync, through the named queries in sql/queries/sync.sql."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from service.db.connections import Executor
from service.db.queries import queries
from service.keys.suppliers import SupplierView


@dataclass(frozen=True, slots=True)
class ChangeRow:
    """One row of signal_changes as sync reads it."""

    id: int
    xid: int
    kind: str
    signal_id: UUID
    replaces: UUID | None
    changed_at: datetime
    visible: bool


@dataclass(frozen=True, slots=True)
class ChangeScan:
    """What one scan of the log found: the rows up to the page's end, how many it looked at
    (visible or not), and the horizon (the snapshot's xmin) the scan stopped below."""

    rows: list[ChangeRow]
    visible_total: int
    scanned_total: int
    horizon: int


async def scan_changes(
    conn: Executor,
    *,
    after_xid: int,
    after_id: int,
    restrict: list[int] | None,
    suppliers: SupplierView,
    limit: int,
    scan_limit: int,
) -> ChangeScan:
    """Rows after (after_xid, after_id), below the horizon, until the (limit + 1)-th visible one
    (visible: within ``restrict`` and of a supplier ``suppliers`` sees)."""
    records = await queries.sync_changes_page.fetch(
        conn,
        after_xid=after_xid,
        after_id=after_id,
        restrict=restrict,
        **suppliers.params(),
        limit=limit,
        scan_limit=scan_limit,
    )
    rows = [
        ChangeRow(
            id=r["id"],
            xid=int(r["xid"]),
            kind=r["kind"],
            signal_id=r["signal_id"],
            replaces=r["replaces"],
            changed_at=r["changed_at"],
            visible=r["visible"],
        )
        for r in records
        if r["id"] is not None
    ]
    first = records[0]
    return ChangeScan(
        rows=rows,
        visible_total=int(first["visible_total"]),
        scanned_total=int(first["scanned_total"]),
        horizon=int(first["horizon"]),
    )
