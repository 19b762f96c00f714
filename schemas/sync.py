"""Incremental sync: every change to signals since a cursor, in log order."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from schemas.base import Response
from schemas.signals import Signal

ChangeKind = Literal["created", "updated", "deleted"]


class SignalChange(Response):
    """One change. ``created``: a new signal; ``updated``: a newer analysis of an article
    (``replaces`` names the version it supersedes; null when an older version became current
    again because its successor was deleted); ``deleted``: a tombstone."""

    kind: ChangeKind
    signal_id: UUID
    changed_at: datetime
    replaces: UUID | None
    signal: Signal | None
    """The full card as it is now, for created and updated (null for deleted, and for a signal
    deleted since: its tombstone follows later in the stream)."""


class SyncPage(Response):
    """One page of changes. Store ``cursor`` (or follow ``next``) and ask again: the next
    page starts right after the last change of this one, whether or not it held any."""

    items: list[SignalChange]
    cursor: str
    """Opaque position after this page; always present, even on an empty page."""
    next: str
    """The URL of the next page (this request with ``cursor`` set)."""
    has_more: bool
    """True when more changes are ready now: ask again at once instead of waiting."""
    limit: int
