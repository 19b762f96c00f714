"""API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from schemas.base import Response

Scope = Literal["signals:read", "signals:write", "webhooks:manage", "admin"]
SCOPES: tuple[str, ...] = ("signals:read", "signals:write", "webhooks:manage", "admin")


class ApiKey(Response):
    """An API key as listed: never the key itself."""

    id: UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    partner_id: UUID | None = None
    topic_ids: list[int] | None = None
    """Topic restriction (None: every topic)."""
    rate_per_second: float | None = None
    burst: int | None = None


class ApiKeyCreated(Response):
    """A new key. ``key`` is shown this once and cannot be recovered."""

    id: UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    key: str
    partner_id: UUID | None = None
    topic_ids: list[int] | None = None
    rate_per_second: float | None = None
    burst: int | None = None
