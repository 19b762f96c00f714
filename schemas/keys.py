"""API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from schemas.base import Response

Scope = Literal["signals:read", "signals:write", "admin"]
SCOPES: tuple[str, ...] = ("signals:read", "signals:write", "admin")


class ApiKey(Response):
    """An API key as listed: never the key itself."""

    id: UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(Response):
    """A new key. ``key`` is shown this once and cannot be recovered."""

    id: UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    key: str
