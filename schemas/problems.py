"""RFC 9457 problem details: the body of every error response."""

from __future__ import annotations

from schemas.base import CompactResponse

PROBLEM_MEDIA_TYPE = "application/problem+json"


class FieldError(CompactResponse):
    """One invalid part of a request."""

    message: str
    key: str | None = None
    source: str | None = None


class Problem(CompactResponse):
    """An error, as RFC 9457 describes it. ``type`` is stable; clients branch on it."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    code: str | None = None
    """The same stable identifier as the last path segment of ``type``, for convenience."""
    reason: str | None = None
    """A finer-grained machine-readable cause where one exists (e.g. ``too_short``)."""
    errors: list[FieldError] | None = None
    missing: list[str] | None = None
    retry_after: int | None = None
    job: str | None = None
    """For a failed analysis: the job that records it."""
    request_id: str | None = None
    """The request's X-Request-ID (ours or the one sent): quote it when reporting a problem."""
