"""Related coverage: other signals on the same thread as one signal, with a readable reason."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

import msgspec

from schemas.base import Response


class RelatedSignalLinks(Response):
    self: str


class RelatedSignal(Response):
    """Another current signal related to the one asked about."""

    id: UUID
    title: str
    url: str | None
    site_name: str | None
    published_date: date | None
    created_at: datetime
    story_id: UUID | None
    score: Annotated[float, msgspec.Meta(ge=0, le=1)]
    """How closely related, from 0 to 1 (higher is closer); only comparable within one list."""
    reason: str
    """Why, for a person: e.g. "Same story · Both mention Copperleaf Bank and Lena Hartmann"."""
    same_story: bool
    """Both signals report the same event (they are in one story)."""
    links: RelatedSignalLinks


class RelatedSignals(Response):
    """A signal's related coverage, best first."""

    signal_id: UUID
    items: list[RelatedSignal]
    limit: int
