"""Jobs: the state of one analysis request."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from schemas.base import Response

JobStatus = Literal["queued", "fetching", "extracting", "analyzing", "retrying", "done", "failed"]
InputKind = Literal["url", "html", "text"]


class JobError(Response):
    """Why a job failed. ``code`` is stable (e.g. ``extraction_failed``); ``reason`` refines it."""

    code: str
    reason: str | None
    detail: str
    type: str


class JobLLMUsage(Response):
    """What the job's model calls cost, recorded when it failed after calling the model (a
    stored signal carries its own in ``provenance``)."""

    model: str
    input_tokens: int | None
    """Prompt tokens over every call (re-asks included); null when the server reports none."""
    output_tokens: int | None
    latency_ms: int
    """Wall time of the model calls, from the first request to the failure."""
    attempts: int
    """Model calls made (a re-ask is one more)."""


class JobRetry(Response):
    """Why a ``retrying`` job waits, and when it runs again: its model call failed in passing
    (429, 5xx, timeout, unreachable) and the job is back in the queue."""

    at: datetime
    """When the next attempt starts (it may start a little later when workers are busy)."""
    code: str
    """The passing failure, e.g. ``llm_rate_limited`` or ``llm_unavailable``."""
    detail: str


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
    retry: JobRetry | None = None
    """Set while the job is ``retrying``: when its next attempt starts and why it waits."""
    llm: JobLLMUsage | None = None
    """Set on a job that failed after calling the model: what those calls cost."""
