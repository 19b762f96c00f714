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
    llm_mode: str | None = None
    """How structured output is asked for: json_schema, tools or json (SIGNALS_LLM_MODE=auto
    decides at start-up); null without a model, or while the server has not answered."""
    llm_context_tokens: int | None = None
    """The context window prompts are fitted into (SIGNALS_LLM_CONTEXT_TOKENS, else the
    server's own report, else 32768); null until the server has answered."""
