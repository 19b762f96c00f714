"""Webhooks: endpoints, their secrets, deliveries and attempts (Standard Webhooks)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from schemas.base import Request, Response

EventType = Literal["signal.created", "signal.updated", "digest.published"]
EVENT_TYPES: tuple[str, ...] = ("signal.created", "signal.updated", "digest.published")
DeliveryState = Literal["pending", "sending", "delivered", "failed"]

WebhookUrl = Annotated[
    str, msgspec.Meta(min_length=1, max_length=2048, description="An http(s) URL on a public address.")
]
TopicSlugs = Annotated[list[str], msgspec.Meta(min_length=1, max_length=50)]
EventTypes = Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=3)]
Description = Annotated[str, msgspec.Meta(max_length=500)]
OVERLAP_DEFAULT = 24 * 3600
OVERLAP_MAX = 7 * 24 * 3600


class WebhookCreate(Request):
    """A new endpoint. ``topics`` (slugs): only events carrying one of them (omitted: every
    topic the key may see). ``event_types``: what to send (default: both signal events)."""

    url: WebhookUrl
    topics: TopicSlugs | None = None
    event_types: EventTypes = msgspec.field(default_factory=lambda: ["signal.created", "signal.updated"])
    description: Description | None = None


class WebhookUpdate(Request):
    """Fields to change; absent fields stay. ``topics: null`` means every topic the key may
    see; ``enabled: true`` re-enables an endpoint that was disabled (e.g. after a 410)."""

    url: WebhookUrl | msgspec.UnsetType = msgspec.UNSET
    topics: TopicSlugs | msgspec.UnsetType | None = msgspec.UNSET
    event_types: EventTypes | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType | None = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET


class SecretRotation(Request):
    """``overlap_seconds``: how long the previous secret keeps signing too (0-604800)."""

    overlap_seconds: Annotated[int, msgspec.Meta(ge=0, le=OVERLAP_MAX)] = OVERLAP_DEFAULT


class WebhookLinks(Response):
    self: str
    deliveries: str


class Webhook(Response):
    """An endpoint, never with its secret."""

    id: UUID
    api_key_id: UUID
    """The key that created the endpoint and owns it: its topic restriction (as it is at each
    delivery) bounds what the endpoint receives, and revoking it stops the endpoint."""
    url: str
    topics: list[str] | None
    """Topic slugs; null: every topic the owning key may see (at the time of each event)."""
    event_types: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None
    """Why it stopped (``gone``: the receiver answered 410), while disabled."""
    created_at: datetime
    updated_at: datetime
    secret_rotated_at: datetime | None
    previous_secret_expires_at: datetime | None
    """Until then every delivery also carries a signature made with the previous secret."""
    links: WebhookLinks


class WebhookCreated(Webhook):
    """A new endpoint with its signing secret, shown this once."""

    secret: str
    """``whsec_`` + base64 of 32 random bytes: the Standard Webhooks secret format."""


class SecretRotated(Response):
    """The new secret, shown this once; the previous one signs too until the overlap ends."""

    id: UUID
    secret: str
    previous_secret_expires_at: datetime | None


class WebhookPage(Response):
    items: list[Webhook]
    next: str | None
    limit: int


class DeliveryAttempt(Response):
    """One try. ``status_code`` null: no HTTP answer (``error`` says why)."""

    attempt: int
    started_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None
    next_retry_at: datetime | None
    """When the next try is due (null: none follows)."""


class Delivery(Response):
    """One event to one endpoint. ``message_id`` is the ``webhook-id`` header, the same on every
    attempt and redelivery (receivers drop duplicates by it)."""

    id: UUID
    webhook_id: UUID
    message_id: str
    event_type: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    redelivery_of: UUID | None
    created_at: datetime
    delivered_at: datetime | None
    attempt_log: list[DeliveryAttempt]


class DeliveryPage(Response):
    items: list[Delivery]
    next: str | None
    limit: int
