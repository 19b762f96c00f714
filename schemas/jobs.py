"""Jobs: the state of one analysis request."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from schemas.base import Response

JobStatus = Literal["queued", "fetching", "extracting", "analyzing", "done", "failed"]
InputKind = Literal["url", "html", "text"]


class JobError(Response):
    """Why a job failed. ``code`` is stable (e.g. ``extraction_failed``); ``reason`` refines it."""

    code: str
    reason: str | None
    detail: str
    type: str


class JobLinks(Response):
    self: str
    signal: str | None


class Job(Response):
    """One analysis request and where it stands."""

    id: UUID
    status: JobStatus
    signal_id: UUID | None
    signal_outside_topics: bool
    """True when the job made (or found) a signal that carries none of the reading key's topics:
    ``signal_id`` is then null, as the key cannot read that signal."""
    error: JobError | None
    links: JobLinks
    input_kind: InputKind
    url: str | None
    """The URL as this job's submitter sent it (each submitter sees only its own)."""
    reused: bool
    """True when an existing signal answered the request and no model was called."""
    attempts: int
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
