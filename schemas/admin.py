"""Administration of partners and their keys (``/v1/admin/…``, scope ``admin``).

In update bodies an absent field is left as it is, and ``null`` resets it: a limit to the
partner's (or the service default), a topic restriction to "every topic".
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from schemas.base import Request, Response
from schemas.keys import Scope
from schemas.topics import TopicSlug

PartnerName = Annotated[str, msgspec.Meta(min_length=1, max_length=200, description="Unique name.")]
KeyName = Annotated[str, msgspec.Meta(min_length=1, max_length=200, description="What the key is for.")]
# At least 0.001 (one request per 1000 s): the column is a PostgreSQL real, where a rate much
# nearer 0 rounds to 0 and breaks the column's CHECK (rate_per_second > 0).
Rate = Annotated[
    float, msgspec.Meta(ge=0.001, le=100_000, description="Tokens (requests) regained per second.")
]
Burst = Annotated[int, msgspec.Meta(ge=1, le=1_000_000, description="Bucket size: requests at once.")]
TopicSlugs = Annotated[
    list[TopicSlug],
    msgspec.Meta(min_length=1, max_length=100, description="The key sees only signals on these topics."),
]
PartnerScope = Annotated[
    list[Literal["signals:read", "signals:write", "webhooks:manage"]],
    msgspec.Meta(min_length=1, description="What the key may do (partner keys never hold admin)."),
]


class PartnerCreate(Request):
    name: PartnerName
    rate_per_second: Rate | None = None
    """None: the service default (SIGNALS_RATE_PER_SECOND)."""
    burst: Burst | None = None
    """None: the service default (SIGNALS_RATE_BURST)."""


class PartnerUpdate(Request):
    """Only the fields sent change; ``null`` returns a limit to the service default."""

    name: PartnerName | msgspec.UnsetType = msgspec.UNSET
    rate_per_second: Rate | msgspec.UnsetType | None = msgspec.UNSET
    burst: Burst | msgspec.UnsetType | None = msgspec.UNSET


class EffectiveLimit(Response):
    """The token bucket that applies, and where each number comes from."""

    rate_per_second: float
    burst: int
    rate_source: Literal["key", "partner", "default"]
    burst_source: Literal["key", "partner", "default"]


class PartnerLinks(Response):
    self: str
    keys: str


class Partner(Response):
    id: UUID
    name: str
    rate_per_second: float | None
    """The partner's own rate (None: the service default)."""
    burst: int | None
    limit: EffectiveLimit
    """What the partner's keys get unless a key overrides it."""
    active_keys: int
    """Keys not revoked."""
    created_at: datetime
    disabled_at: datetime | None
    """Set: every key of the partner is refused (401, reason partner_disabled)."""
    last_used_at: datetime | None
    """The latest request made with any of its keys."""
    links: PartnerLinks


class PartnerList(Response):
    """Every partner, by name."""

    items: list[Partner]


class PartnerKeyCreate(Request):
    name: KeyName
    scopes: PartnerScope = msgspec.field(default_factory=lambda: ["signals:read"])
    topics: TopicSlugs | None = None
    """Restrict the key to signals carrying one of these topics (slugs or aliases)."""
    rate_per_second: Rate | None = None
    """None: the partner's rate, else the service default."""
    burst: Burst | None = None


class PartnerKeyUpdate(Request):
    """Only the fields sent change; ``null`` removes the override or the topic restriction."""

    name: KeyName | msgspec.UnsetType = msgspec.UNSET
    topics: TopicSlugs | msgspec.UnsetType | None = msgspec.UNSET
    rate_per_second: Rate | msgspec.UnsetType | None = msgspec.UNSET
    burst: Burst | msgspec.UnsetType | None = msgspec.UNSET


class PartnerKeyLinks(Response):
    self: str
    partner: str


class PartnerKey(Response):
    """A partner's key as listed: never the key itself."""

    id: UUID
    partner_id: UUID
    name: str
    prefix: str
    """The visible start of the key (sk_live_ and 8 characters), to recognise it by."""
    scopes: list[Scope]
    topics: list[str] | None
    """Topic restriction, as canonical slugs (None: every topic)."""
    rate_per_second: float | None
    """The key's own rate (None: the partner's, else the default)."""
    burst: int | None
    limit: EffectiveLimit
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    links: PartnerKeyLinks


class PartnerKeyCreated(PartnerKey):
    """A new key. ``key`` is shown this once: only its hash is stored."""

    key: str


class PartnerKeyList(Response):
    """A partner's keys, newest first, revoked ones included."""

    items: list[PartnerKey]
