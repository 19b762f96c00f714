"""Liveness and readiness."""

from __future__ import annotations

from schemas.base import Response


class Health(Response):
    status: str


class Readiness(Response):
    status: str
    database: str
    llm: str
    """"configured" or "not_configured": analysis requests need a model."""
