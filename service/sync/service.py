"""Incremental sync: every change to signals since a cursor, exactly once, in log order.

The change log (``signal_changes``) is written by triggers on ``signals`` inside the writing
transaction, and each row carries that transaction's id (xid8). A reader takes only rows whose
xid is below its snapshot's xmin: every transaction that could still add a row with a smaller
xid has ended, so the log below that horizon is final. Ordered by (xid, id), a position handed
out in a cursor never has anything committed before it later — a slow transaction holds the
horizon back until it ends, and its rows are then delivered, after what was delivered before.

The price: delivery waits for the oldest running writer of the whole server. A page that
finds nothing new moves the cursor up to the horizon, so an idle poll costs one index probe.
"""

from __future__ import annotations

import msgspec

from schemas.sync import SignalChange, SyncPage
from service.db.connections import Pool
from service.errors import BadRequest
from service.keys.suppliers import SupplierView
from service.pagination import decode_cursor_as, encode_cursor
from service.signals.repository import get_signal_cards
from service.sync import repository

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_ID = 2**63 - 1
"""Largest bigint: (xid, MAX_ID) sorts after every row of transaction xid."""
_CURSOR_KIND = "sync-signals"
_RESTRICTED_SCAN = 20
"""A topic-restricted page scans up to this many rows per row it may return."""


class _Position(msgspec.Struct, forbid_unknown_fields=True):
    x: int
    """xid of the last change delivered (or of the horizon reached, minus one)."""
    i: int
    """id of that change (MAX_ID: every change of transaction x)."""


def encode_position(xid: int, change_id: int) -> str:
    """The opaque cursor for a log position."""
    return encode_cursor(_CURSOR_KIND, {"x": xid, "i": change_id})


def decode_position(token: str | None) -> tuple[int, int]:
    """The log position in ``token`` (the start of the log without one); 400 when invalid."""
    if token is None:
        return (0, 0)
    position = decode_cursor_as(token, _CURSOR_KIND, _Position)
    if position.x < 0 or not 0 <= position.i <= MAX_ID:
        raise BadRequest("the cursor is not valid; start again without one", reason="bad_cursor")
    return (position.x, position.i)


async def pull_changes(
    pool: Pool,
    *,
    cursor: str | None,
    limit: int,
    restrict: tuple[int, ...] | None,
    suppliers: SupplierView,
) -> SyncPage:
    """One page of changes after ``cursor``; ``next`` is left for the route to fill in.

    ``restrict`` (a key's topic ids) hides changes of signals outside those topics; tombstones
    are judged by the topics the signal had, so a key only learns of deletions it could see.
    Changes of a signal made of supplied content (tombstones too) reach only readers that see
    its supplier (``suppliers``). Such rows are rare, so an unrestricted page still scans
    limit + 1 rows: one that meets some is shorter, and ``has_more`` says to go on.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}", reason="bad_parameter")
    after = decode_position(cursor)
    scan_limit = limit + 1 if restrict is None else min(limit * _RESTRICTED_SCAN, 20_000)
    async with pool.acquire() as conn:
        scan = await repository.scan_changes(
            conn,
            after_xid=after[0],
            after_id=after[1],
            restrict=sorted(restrict) if restrict is not None else None,
            suppliers=suppliers,
            limit=limit,
            scan_limit=scan_limit,
        )
        visible = [row for row in scan.rows if row.visible]
        card_ids = [row.signal_id for row in visible if row.kind != "deleted"]
        restricted = sorted(restrict) if restrict is not None else None
        found = await get_signal_cards(conn, card_ids, restricted, suppliers=suppliers) if card_ids else []
        cards = {card.id: card for card in found}
    has_more = scan.visible_total > limit or scan.scanned_total >= scan_limit
    if has_more:
        last = scan.rows[-1]
        position = (last.xid, last.id)
    else:
        # Everything below the horizon was read: start the next scan there.
        position = max(after, (scan.horizon - 1, MAX_ID))
    items = [
        SignalChange(
            kind=row.kind,  # type: ignore[arg-type]
            signal_id=row.signal_id,
            changed_at=row.changed_at,
            replaces=row.replaces,
            signal=cards.get(row.signal_id) if row.kind != "deleted" else None,
        )
        for row in visible
    ]
    token = encode_position(*position)
    return SyncPage(items=items, cursor=token, next=token, has_more=has_more, limit=limit)
